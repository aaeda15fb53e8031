"""The local Slurm lab grants a QPU to a real job (issue 23; docs/qpu.md): a one-node lab cluster with
``qpu="vlq"`` declares GresTypes=qpu (qpu:1 per node) and Licenses=iqm_qc_vlq:1, and a TaskProlog
stands in for QRMI's SPANK plugin's environment effect. A job submitted through real sbatch with the
request lines a profile emits (``request: [gres, licenses]``) is granted both and its task sees the
QRMI environment (hpcq.qpu.env.check_qrmi_env passes inside the job); a job without them gets the
empty export and the diagnosis naming the fix. No Qiskit: runs in .venv (~20 s: the cluster's start)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from hpcq.executor.backends.slurm import make_executor
from hpcq.executor.profiles import load_profile, resolve_resources, submitit_params
from hpcq.qpu.env import check_qrmi_env
from hpcq.testing import need
from hpcq.testing.slurm import local_cluster, prerequisites

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def qpu_lab(tmp_path_factory):
    ok, reason = prerequisites()
    need(ok, reason)
    tmp = tmp_path_factory.mktemp("qpu-lab")
    with local_cluster(tmp / "slurm", nodes=1, cpus=2, dbd=False, set_env=True, qpu="vlq", qpu_endpoint=ENDPOINT) as c:
        yield c, tmp


def _lab_profile(tmp: Path):
    prof = yaml.safe_load((ROOT / "slurm_templates" / "profiles" / "local.yaml").read_text())
    prof.update(max_nodes=1, cores_per_node=2)
    prof["qpus"] = {
        "vlq": {
            "vendor": "iqm",
            "access": "qrmi",
            "resource": "vlq",
            "request": ["gres", "licenses"],
            "license": "iqm_qc_vlq",
            "twin": {"kind": "iqm_star", "qubits": 6},
        }
    }
    path = tmp / "lab-vlq.yaml"
    path.write_text(yaml.safe_dump(prof))
    return load_profile(path)


def _wait(job, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not job.done():
        assert time.monotonic() < deadline, f"job {job.job_id} not done after {timeout} s"
        time.sleep(0.5)


def test_the_lab_grants_gres_and_license_and_the_job_sees_qrmis_environment(qpu_lab):
    cluster, tmp = qpu_lab
    prof = _lab_profile(tmp)
    params = submitit_params(resolve_resources(prof, {"walltime": 120}, qpu="vlq"), prof)
    job = make_executor(params, "hpcq-qpu-lab", tmp / "jobs").submit(check_qrmi_env, "vlq", "iqm-server")
    text = Path(job.paths.submission_file).read_text()
    assert "#SBATCH --gres=qpu:1" in text and "#SBATCH --licenses=iqm_qc_vlq:1" in text
    show = cluster.run("scontrol", "-o", "show", "job", str(job.job_id)).stdout
    assert "Licenses=iqm_qc_vlq" in show and "qpu" in show, show
    _wait(job)
    assert job.result() is None  # check_qrmi_env passed inside the job: the QPU's environment is there


def test_a_job_without_the_request_gets_the_diagnosis(qpu_lab):
    cluster, tmp = qpu_lab
    params = submitit_params(resolve_resources(_lab_profile(tmp), {"walltime": 120}), _lab_profile(tmp))
    job = make_executor(params, "hpcq-qpu-lab-none", tmp / "jobs").submit(check_qrmi_env, "vlq", "iqm-server")
    _wait(job)
    with pytest.raises(Exception, match="QRMI_JOB_QPU_RESOURCES is empty"):
        job.result()
