#!/usr/bin/env bash
# Set everything up, lint, and run the whole default test suite (real Slurm, MPI, browser included).
#   bash scripts/test.sh [pytest args...]
# Before any test runs (config in pyproject.toml): ruff (lint + format), import-linter (the layers of
# docs/architecture.md) and mypy (the core packages) must pass.
# Long soak/benchmark runs are separate: see docs/performance.md (bash bench/run_all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the real colonies server (built once from the Go module proxy, then cached: docs/server.md)
.venv/bin/python -m hpcq.testing.colonies_lab install
.venv/bin/ruff check hpcq tests bench scripts
.venv/bin/ruff format --check hpcq tests bench scripts
.venv/bin/lint-imports --no-cache
.venv/bin/mypy
export PYTHONUNBUFFERED=1
exec .venv/bin/python -m pytest "$@"
