#!/usr/bin/env bash
# Set up everything hpcq needs on a fresh Debian machine (Python >= 3.11):
#   - as root: Debian's Slurm 22.05 (+ slurmdbd, MariaDB) for the local test cluster and Chromium
#     for the dashboard's browser tests (skipped when already installed, or when not root);
#   - a virtual environment .venv with hpcq, every role's extras and the test extras (.[all,test]) (re-installed when setup.cfg changes).
#   - qiskit-aer built with MPI in .aer-mpi (scripts/build-aer-mpi.sh, ~7+ min on 2 cores), started in the
#     BACKGROUND under nice (log .aer-mpi/build.log); tests/scale/test_distributed.py waits for it.
#     HPCQ_AER_MPI=0 skips it.
# Idempotent: a second run takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hpcq needs Python >= 3.11; set PYTHON=/path/to/python3.11")'

APT_PKGS=(slurmctld slurmd slurm-client slurmdbd mariadb-server-core mariadb-client-core chromium psmisc procps)
# the real ColonyOS server's lab (hpcq.testing.colonies_lab): its database, and TLS in front of it
APT_PKGS+=(postgresql-15 nginx-light openssl)
# to build the MPI Aer (scripts/build-aer-mpi.sh)
APT_PKGS+=(g++ make cmake libopenblas-dev nlohmann-json3-dev libspdlog-dev)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: not root (or no apt-get): skipping Slurm/Chromium packages; tests that need them will say so and skip"
fi

if [ "${HPCQ_AER_MPI:-1}" != 0 ]; then  # background: it overlaps the venv install and the test suite
  bash scripts/build-aer-mpi.sh --install-into .aer-mpi --background | sed 's/^/setup: /'
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.hpcq-setup-stamp
want=$(cat setup.cfg setup.py pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing hpcq and its dependencies into .venv (first run: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[all,test]'
  echo "$want" > "$stamp"
fi
# The QPU route (docs/qpu.md): hpcq[qpu-iqm-qrmi] (qrmi 0.26.4 + iqm-client 35.0.3) keeps .venv's
# Qiskit and Aer but would downgrade its pydantic (<2.13) and packaging (<25), so it gets its own
# venv, .venv-qpu, with .venv's Qiskit and Aer versions: the Python of a job that drives a QPU.
# tests/qpu run their QPU jobs with it (HPCQ_QPU_PYTHON overrides). HPCQ_QPU_VENV=0 skips it.
if [ "${HPCQ_QPU_VENV:-1}" != 0 ]; then
  [ -x .venv-qpu/bin/python ] || { echo "setup: creating .venv-qpu"; "$PY" -m venv .venv-qpu; }
  qstamp=.venv-qpu/.hpcq-setup-stamp
  if [ "$(cat "$qstamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing hpcq[qpu-iqm-qrmi] into .venv-qpu"
    pins=$(.venv/bin/python -c 'import qiskit, qiskit_aer; print(f"qiskit=={qiskit.__version__} qiskit-aer=={qiskit_aer.__version__}")')
    .venv-qpu/bin/python -m pip install -q --upgrade pip
    # shellcheck disable=SC2086  # two pins, split on purpose
    .venv-qpu/bin/python -m pip install -q -e '.[worker,server,executor,qpu-iqm-qrmi]' pytest pytest-timeout $pins
    echo "$want" > "$qstamp"
  fi
fi
echo "setup: ready (.venv/bin/hpcq)"
