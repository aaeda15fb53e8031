#!/usr/bin/env bash
# Thin wrapper: the lab scripts ship inside the package (hpcq/executor/lab_scripts/, so that a
# wheel install has them too; see docs/slurm-lab.md). Same arguments and environment knobs.
exec bash "$(dirname "$0")/../hpcq/executor/lab_scripts/slurm-down.sh" "$@"
