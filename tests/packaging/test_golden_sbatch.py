"""Golden sbatch scripts: the exact text hpcq's Slurm backend has submitit write for one fixed
process on two profiles (the lab's `local` and LUMI-C). Any change in what reaches Slurm (profile
values, the conditions mapping, the USR2 lead and guard, submitit's own format) shows up as a diff.

Regenerate after an intended change, then review the diff like code:

    HPCQ_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/packaging/test_golden_sbatch.py -q
    git diff tests/packaging/golden/
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hpcq.executor.backends.slurm import make_executor
from hpcq.executor.profiles import load_profile, resolve_resources, submitit_params

GOLDEN = Path(__file__).parent / "golden"
JOBS = Path("/shared/hpcq/jobs")  # fixed paths, so the text does not depend on the machine
PYTHON = "/opt/hpcq/venv/bin/python"
CASES = {
    "local": ({}, {"nodes": 2, "processespernode": 2, "cpu": "2000m", "mem": "1024Mi", "walltime": 600}),
    "lumi-c": (
        {"account": "project_465000123"},
        {"nodes": 2, "processespernode": 16, "cpu": "8000m", "walltime": 3600},
    ),
}


def render(profile: str) -> str:
    overrides, conditions = CASES[profile]
    prof = load_profile(profile, overrides or None)
    params = submitit_params(resolve_resources(prof, conditions), prof)
    ex = make_executor(params, f"hpcq-golden-{profile}", JOBS, python=PYTHON)._executor
    return ex._make_submission_file_text(ex._submitit_command_str, "golden")


@pytest.mark.parametrize("profile", sorted(CASES))
def test_sbatch_script_matches_golden(profile):
    path = GOLDEN / f"{profile}.sbatch"
    text = render(profile)
    if os.environ.get("HPCQ_REGEN_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"sbatch for {profile} changed; see this file's docstring to regenerate"
    assert "#SBATCH --signal=USR2@" in text and 'trap "" USR2; exec' in text
