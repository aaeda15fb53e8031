"""The study's qpu: section (the hybrid workflow, docs/studies.md): parsed and checked against the
site profile at submission, errors naming the field and the fix; the DAG gets one qpu step per
noiseless VQE run and route, a child of that VQE step, on one task. No Qiskit."""

import copy
import json

import pytest

from hpcq.client.dag import build_specs
from hpcq.client.study import StudyError, parse_study
from hpcq.qpu.params import QpuStepParams

BASE = {
    "name": "hyb",
    "qpu": {"target": "vlq", "profile": "karolina-vlq", "access": ["twin", "qrmi"], "shots": 1000},
    "sweep": {
        "problems": [{"kind": "h2", "bond_length": 0.735, "mapping": "parity"}],
        "optimizers": [{"kind": "cobyla", "maxiter": 5}, {"kind": "spsa", "maxiter": 5}],
        "noise": [{"kind": "none"}, {"kind": "depolarizing", "p": 0.01}],
    },
}


def study(**qpu):
    data = copy.deepcopy(BASE)
    data["qpu"].update(qpu)
    return data


def test_one_qpu_step_per_vqe_run_and_route_child_of_it():
    specs = build_specs(parse_study(study()))
    vqe = {s["nodename"] for s in specs if s["funcname"] == "study_vqe"}
    qpu = [s for s in specs if s["funcname"] == "study_qpu"]
    assert len(vqe) == 2 and len(qpu) == 4
    for s in qpu:
        (parent,) = s["conditions"]["dependencies"]
        assert parent in vqe and s["nodename"].startswith(parent.replace("vqe-", "qpu-", 1))
        assert (s["conditions"]["nodes"], s["conditions"]["processespernode"]) == (1, 1)  # one task drives the QPU
        p = QpuStepParams.model_validate_json(s["kwargs"]["params"])
        assert p.parent_task_id == parent.removeprefix("vqe-") and p.shots == 1000
        assert p.access == ("twin" if s["nodename"].endswith("-twin") else "profile")
    (agg,) = [s for s in specs if s["funcname"] == "study_aggregate"]
    assert {s["nodename"] for s in qpu} <= set(agg["conditions"]["dependencies"])


def test_a_single_route_may_be_a_string_and_the_default_is_the_twin():
    assert parse_study(study(access="twin")).qpu.access == ["twin"]
    data = study()
    data["qpu"].pop("access")
    assert parse_study(data).qpu.access == ["twin"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"access": "cloud"}, r"qpu\.access\[0\]: Input should be 'twin' or 'qrmi'"),
        ({"access": ["twin", "twin"]}, r"qpu\.access: .*names a route twice"),
        ({"target": "nosuch"}, r"qpu\.profile: .*nosuch.*qpus"),
        ({"shots": 200_000}, r"qpu\.shots: 200000 .*exceeds vlq's max_shots 100000 in profile karolina-vlq; lower it"),
        ({"profile": "lrz-euroqexa", "target": "euroqexa"}, r"qpu\.access: qrmi, but profile lrz-euroqexa reaches"),
        ({"shotz": 5}, r"qpu\.shotz: unknown field"),
    ],
)
def test_errors_name_the_field_and_the_fix(change, message):
    with pytest.raises(StudyError, match=message):
        parse_study(study(**change), "s.yaml")


def test_qpu_steps_need_the_workflow_mode():
    data = study()
    data["mode"] = "sweep"
    with pytest.raises(StudyError, match=r"qpu: the hybrid workflow's QPU steps .*use mode: workflow"):
        parse_study(data)


def test_placement_names_the_qpu_steps():
    data = study()
    data["placement"] = {"qpu": ["karolina-vlq-site"], "vqe": "any"}
    assert parse_study(data).placement.qpu.sites == ["karolina-vlq-site"]


def test_budget_is_stated_per_step():
    b = parse_study(study(calibration_shots=500)).qpu.budget(groups=2)
    assert b == {"circuits": 4, "shots": 4000, "calibration_shots": 1000, "total": 5000, "jobs": 2}
    assert json.dumps(b)
