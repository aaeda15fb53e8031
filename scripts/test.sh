#!/usr/bin/env bash
# Set everything up and run the whole default test suite (real Slurm, MPI, browser included).
#   bash scripts/test.sh [pytest args...]
# Long soak/benchmark runs are separate: see docs/performance.md (bash scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PYTHONUNBUFFERED=1
exec .venv/bin/python -m pytest "$@"
