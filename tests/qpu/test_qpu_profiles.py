"""QPUs in site profiles (docs/qpu.md): the shipped VLQ and Euro-Q-Exa profiles, the sbatch request
lines each emits (golden files: only the styles the profile lists), and a QPU step at a site
without that QPU refused before anything is queued. No Qiskit, no QPU client: runs in .venv.

Regenerate the golden files after an intended change, then review the diff:

    HPCQ_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/qpu/test_qpu_profiles.py -q
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hpcq.executor.backends.slurm import make_executor
from hpcq.executor.profiles import (
    ConditionsError,
    ProfileError,
    load_profile,
    parse_profile,
    resolve_resources,
    submitit_params,
)
from hpcq.executor.resources import PlanError, plan_process
from hpcq.qpu.params import QpuRunParams

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "slurm_templates" / "profiles"
GOLDEN = Path(__file__).parent / "golden"
JOBS = Path("/shared/hpcq/jobs")
PYTHON = "/opt/hpcq/venv-qpu/bin/python"
CASES = {"karolina-vlq": "vlq", "lrz-euroqexa": "euroqexa"}


def _profile(name: str, **overrides):
    return load_profile(PROFILES / f"{name}.yaml", {"account": "PROJ-1", **overrides})


def render(name: str) -> str:
    prof = _profile(name)
    params = submitit_params(resolve_resources(prof, {"walltime": 600}, qpu=CASES[name]), prof)
    ex = make_executor(params, f"hpcq-golden-{name}", JOBS, python=PYTHON)._executor
    return ex._make_submission_file_text(ex._submitit_command_str, "golden")


@pytest.mark.parametrize("name", sorted(CASES))
def test_qpu_sbatch_matches_golden(name):
    path = GOLDEN / f"{name}.sbatch"
    text = render(name)
    if os.environ.get("HPCQ_REGEN_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"sbatch for {name} changed; see this file's docstring to regenerate"


def test_request_lines_only_where_the_profile_says():
    vlq, lrz = render("karolina-vlq"), render("lrz-euroqexa")
    assert "#SBATCH --qpu=vlq" in vlq
    assert "--gres" not in vlq and "--licenses" not in vlq and "--iqm-qc-alias" not in vlq
    assert "#SBATCH --iqm-qc-alias=euroqexa" in lrz and "#SBATCH --licenses=iqm_qc_euroqexa:1" in lrz
    assert "--qpu=" not in lrz and "--gres" not in lrz
    # the same profile without a QPU step asks for no QPU
    prof = _profile("karolina-vlq")
    assert "slurm_additional_parameters" not in submitit_params(resolve_resources(prof, {}), prof)


def test_gres_style_and_quantum_partition():
    prof = _profile("karolina-vlq")
    data = prof.model_dump(exclude={"path", "verify", "notes"})
    data["qpus"]["vlq"].update(request=["spank-qpu", "gres", "licenses"], partition="qpu", verify=[])
    prof2 = parse_profile(__import__("yaml").safe_dump(data), "x.yaml", "karolina-vlq")
    params = submitit_params(resolve_resources(prof2, {}, qpu="vlq"), prof2)
    assert params["slurm_gres"] == "qpu:1"
    assert params["slurm_additional_parameters"] == {"qpu": "vlq", "licenses": "iqm_qc_vlq:1"}
    assert params["slurm_partition"] == "qpu"


def test_verify_markers_on_qpu_keys():
    vlq = _profile("karolina-vlq").qpus["vlq"]
    assert {"access", "resource", "request"} <= set(vlq.verify) and "resource" in vlq.notes
    assert vlq.twin.kind == "iqm_star" and vlq.twin.qubits == 24


def test_qpu_step_refused_at_a_site_without_it():
    params = QpuRunParams(target="vlq")
    with pytest.raises(PlanError, match=r"conditions.qpu: profile karolina has no QPU 'vlq'"):
        plan_process("karolina", {"walltime": 600}, params, mpi=False, maxexectime=1200)
    # the shipped VLQ profile has the QPU but no account: the site requirement names the fix
    with pytest.raises(PlanError, match="needs a Slurm account"):
        plan_process(str(PROFILES / "karolina-vlq.yaml"), {"walltime": 600}, params, mpi=False, maxexectime=1200)


def test_qpu_step_plans_with_the_profile_entry(tmp_path):
    text = (
        (PROFILES / "karolina-vlq.yaml")
        .read_text()
        .replace(
            'account: {value: null, verify: true, note: "your project ID with VLQ access, e.g. OPEN-12-34"}',
            "account: OPEN-1-2",
        )
    )
    (tmp_path / "vlq.yaml").write_text(text)
    plan = plan_process(str(tmp_path / "vlq.yaml"), {"walltime": 600}, QpuRunParams(target="vlq"), False, 1200)
    assert plan.params["slurm_additional_parameters"] == {"qpu": "vlq"}
    assert plan.detail["qpu"]["name"] == "vlq" and plan.detail["qpu"]["access"] == "qrmi"
    with pytest.raises(PlanError, match="QPU step runs as one task"):
        plan_process(str(tmp_path / "vlq.yaml"), {"processespernode": 2}, QpuRunParams(target="vlq"), True, 1200)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"vendor": "iqm", "access": "qrmi"}, "access: qrmi needs resource"),
        ({"vendor": "iqm", "access": "twin", "request": ["iqm-spank"]}, "needs qc_alias"),
        ({"vendor": "iqm", "access": "twin", "request": ["fax"]}, "request"),
        ({"vendor": "iqm", "access": "twin", "resource": "a b"}, "resource"),
    ],
)
def test_bad_qpu_entries_name_the_field(bad, match):
    base = (PROFILES / "karolina.yaml").read_text()
    with pytest.raises(ProfileError, match=match):
        parse_profile(base + "qpus:\n  q: " + __import__("json").dumps(bad) + "\n", "k.yaml")


def test_profile_qpu_lookup_error_names_the_fix():
    with pytest.raises(ConditionsError, match=r"its QPUs: vlq\).*access: twin"):
        _profile("karolina-vlq").qpu("garnet")
