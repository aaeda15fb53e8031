#!/usr/bin/env bash
# Set everything up and run the main job: a small VQE noise study end to end
# (embedded ColonyOS server -> executor -> local Slurm -> MPI Aer -> HDF5 -> ranked table).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/hpcq demo "$@"
