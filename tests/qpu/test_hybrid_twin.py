"""The hybrid workflow's QPU step on the twin (issue 23 item 5; docs/studies.md, docs/qpu.md), in
the QPU venv (iqm-client's fake backends): the shipped study h2-vlq-twin's DAG, its noiseless VQE
step's real output, then its qpu step planned by the executor for the shipped karolina-vlq profile
and run as the job would (hpcq.qpu.hybrid.study_qpu with the parent's outputs as ``in``). The
evaluation is of the parent's own parameters, circuit and Hamiltonian (its noiseless value equals
the VQE energy), costs the shots ``hpcq problems show`` states, lands in the catalog as the VQE's
child (rank --step compare), and ``hpcq rerun`` replays it on the twin (~30 s)."""

from __future__ import annotations

import json

import h5py
import pytest
import yaml
from click.testing import CliRunner

from hpcq.cli import main
from hpcq.client.dag import build_specs
from hpcq.client.study import load_study
from hpcq.executor.profiles.schema import profile_files
from hpcq.executor.resources import plan_process
from hpcq.functions import JobContext
from hpcq.qpu.hybrid import study_qpu
from hpcq.qpu.params import QpuStepParams
from hpcq.results import h5format as F
from hpcq.results.catalog import Catalog, default_db
from hpcq.results.rank import runs_for
from hpcq.sim.spec import parse_sweep
from hpcq.worker.entry import run_sweep


def _profile(tmp) -> str:
    """The shipped karolina-vlq profile with an account (the only key a user must add)."""
    prof = yaml.safe_load(profile_files()["karolina-vlq"].read_text())
    prof["account"] = "PROJ-1"
    (tmp / "karolina-vlq.yaml").write_text(yaml.safe_dump(prof))
    return str(tmp / "karolina-vlq.yaml")


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hybrid")
    study = load_study("h2-vlq-twin")
    specs = {s["nodename"]: s for s in build_specs(study)}
    vqe = next(s for n, s in specs.items() if n.startswith("vqe-"))
    (qpu,) = [s for n, s in specs.items() if n.startswith("qpu-")]
    assert qpu["conditions"]["dependencies"] == [vqe["nodename"]]  # a child of the VQE step
    parent = run_sweep(parse_sweep(json.loads(vqe["kwargs"]["params"])), JobContext(workdir=str(tmp)))
    assert parent is not None
    vqe_file = str(tmp / parent.files[0])
    kwargs = json.loads(qpu["kwargs"]["params"])
    plan = plan_process(_profile(tmp), qpu["conditions"], QpuStepParams(**kwargs), False, qpu["maxexectime"])
    ctx = JobContext(
        workdir=str(tmp),
        process_id="hybridtest",
        inputs=[vqe_file, json.dumps(parent.summary)],
        extra={"qpu": plan.detail["qpu"]},
    )
    res = study_qpu(kwargs, ctx)
    assert res is not None
    return study, plan, parent, vqe_file, res, tmp


def test_the_twin_step_asks_slurm_for_no_qpu_but_the_device_step_does(hybrid):
    study, plan, *_, tmp = hybrid
    assert "qpu" not in plan.params.get("slurm_additional_parameters", {})  # the twin needs no QPU grant
    kwargs = study.qpu.step_params(study.name, "qrmi", "t")
    device = plan_process(_profile(tmp), {"walltime": 300}, QpuStepParams(**kwargs), False, 1200)
    assert device.params["slurm_additional_parameters"]["qpu"] == "vlq"


def test_the_qpu_step_evaluates_the_parent_optimum_at_the_stated_cost(hybrid):
    study, _, parent, vqe_file, res, tmp = hybrid
    (pid,) = F.task_ids(vqe_file)
    path = tmp / res.files[0]
    (tid,) = F.task_ids(path)
    assert tid == f"{pid}-twin-vlq"
    t = F.read_task(path, tid)
    p = F.read_task(vqe_file, pid)
    assert (t.attrs["step"], t.attrs["parent_task_id"], t.attrs["noise_model"]) == ("qpu", pid, "twin:vlq")
    assert list(t.final_parameters) == list(p.final_parameters)
    # the same circuit, operator and parameters: their noiseless value is the VQE's energy
    assert abs(t.attrs["ideal_energy"] - p.metrics["energy"]) < 1e-8
    e, raw, ideal = t.metrics["energy"], t.attrs["energy_raw"], t.attrs["ideal_energy"]
    assert e != ideal and abs(e - ideal) < 0.1, (e, raw, ideal)
    assert abs(e - ideal) < abs(raw - ideal), (e, raw, ideal)  # readout mitigation moves it toward the ideal
    assert res.summary["shots_total"] == study.qpu.budget(groups=2)["total"] == 12000  # stated up front
    with h5py.File(path) as h:
        assert json.loads(h[F.QPU].attrs["twin_json"])["kind"] == "iqm_star"


def test_compare_table_and_rerun_on_the_twin(hybrid):
    *_, res, tmp = hybrid
    cat = Catalog(default_db(tmp))
    cat.index(tmp)
    table = runs_for(cat, "compare")
    (row,) = table.to_dict("records")
    assert row["simulator"] == row["energy"] and "twin:vlq" in row and row["twin:vlq std"] > 0
    r = CliRunner().invoke(main, ["rerun", str(tmp / res.files[0])])
    assert r.exit_code == 0, r.output
    assert "replayed on its twin" in r.output and "agrees within 4" in r.output, r.output
