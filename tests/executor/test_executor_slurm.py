"""The executor against a real local Slurm cluster and the real embedded server.

One executor subprocess serves the whole module; the slow cases (time limit, scancel, the
ColonyOS-side failure) are submitted first so that they run while the quick ones are checked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpcq.colonyos import ProcessState as PS
from hpcq.colonyos import file_label
from hpcq.testing import wait_for

pytestmark = [pytest.mark.slurm, pytest.mark.both_servers]


@pytest.fixture(scope="module")
def served(lab):
    ex = lab.executor("exec-a")
    col = lab.col
    early = {
        # Slurm's time limit is whole minutes: walltime 60 s -> --time=1; the sleep outlasts it
        "timeout": col.submit("hpcq_sleep", {"seconds": 600}, walltime=60, maxexectime=3600).processid,
        "scancel": col.submit("hpcq_sleep", {"seconds": 600}, walltime=300, maxexectime=3600).processid,
        # ColonyOS fails it after maxexectime=8 s (maxretries=0): its Slurm job must be cancelled
        "colony_fail": col.submit("hpcq_sleep", {"seconds": 600}, walltime=5, maxexectime=8).processid,
    }
    yield lab, ex, early
    assert ex.alive(), "executor died:\n" + ex.log_text()[-3000:]
    assert ex.stop() == 0, "executor did not exit cleanly on SIGTERM:\n" + ex.log_text()[-3000:]


def test_process_runs_as_slurm_job_and_closes_success(served):
    lab, ex, _ = served
    col = lab.col
    p = col.wait(col.submit("hpcq_echo", {"message": "hello slurm"}).processid, timeout=120)
    assert p.state == PS.SUCCESS, p.errors
    ref, summary = p.output
    assert json.loads(summary)["message"] == "hello slurm"
    assert ref.endswith(p.processid)  # no result file: the per-process work directory
    attrs = col.attrs(p)
    job = attrs["slurm_job_id"]
    assert attrs["slurm_nodes"].startswith("n")
    for key in ("queue_time_s", "run_time_s", "core_hours"):
        assert float(attrs[key]) >= 0
    assert lab.wait_sacct_state(job) == "COMPLETED"  # slurmdbd lags slurmctld by a few seconds
    rows = lab.sacct_jobs({job.split("_")[0]})
    assert [r["JobID"] for r in rows] == [job]
    assert lab.cluster.job_names()[job].startswith("hpcq-")  # slurmctld's name; sacct's may read "allocation"
    assert "hpcq_echo: hello slurm" in col.logs(p.processid)  # job stdout streamed to ColonyOS logs


def test_exception_fails_with_its_text(served):
    lab, _, _ = served
    col = lab.col
    p = col.wait(col.submit("hpcq_fail", {"message": "boom-42"}).processid, timeout=120)
    assert p.state == PS.FAILED
    assert "RuntimeError: boom-42" in p.errors[0]
    assert "Traceback" in p.errors[1]
    assert "slurm_job_id" in col.attrs(p)


def test_refusals_fail_clearly_and_executor_keeps_serving(served):
    lab, ex, _ = served
    col = lab.col
    unknown = col.submit("no_such_function", {})
    bad_kwargs = col.submit("hpcq_echo", {"mesage": "typo"})
    too_long = col.submit("hpcq_echo", {}, walltime=7200, maxexectime=600)
    bad_cond = col.submit("hpcq_echo", {}, processespernode=4)  # hpcq_echo is not MPI-enabled
    too_big = col.submit(
        "vqe_sweep", {"problems": [{"kind": "tfim", "n_qubits": 12}], "method": "density_matrix"}, mem="64Mi"
    )  # quantum sizing: ~1 GiB per rank does not fit in 64 MiB
    path_profile = col.submit("hpcq_echo", {}, env={"HPCQ_PROFILE": "/etc/passwd.yaml"})
    p = col.wait(unknown.processid, 30)
    assert p.state == PS.FAILED and "'no_such_function' is not in hpcq's function catalog" in p.errors[0]
    p = col.wait(bad_kwargs.processid, 30)
    assert p.state == PS.FAILED and "kwargs.mesage" in p.errors[0]
    p = col.wait(too_long.processid, 30)
    assert p.state == PS.FAILED and "walltime=7200" in p.errors[0] and "maxexectime=600" in p.errors[0]
    p = col.wait(bad_cond.processid, 30)
    assert p.state == PS.FAILED and ("processespernode" in p.errors[0] or "ranks" in p.errors[0]), p.errors
    p = col.wait(too_big.processid, 30)
    assert p.state == PS.FAILED and "conditions.mem" in p.errors[0] and "needs" in p.errors[0], p.errors
    p = col.wait(path_profile.processid, 30)
    assert p.state == PS.FAILED and "is not a profile name" in p.errors[0], p.errors
    for q in (unknown, bad_kwargs, too_long, bad_cond, too_big, path_profile):  # refused before anything was queued
        assert "slurm_job_id" not in col.attrs(col.get(q.processid))
    ok = col.wait(col.submit("hpcq_echo", {"message": "still here"}).processid, 120)
    assert ok.state == PS.SUCCESS and ex.alive()


def test_sweep_of_200_is_packed_into_few_slurm_jobs(served):
    lab, _, _ = served
    col = lab.col
    # a second executor (own type) that also packs 10 short processes into each array element
    sweeper = lab.executor("exec-sweep", "--pack", "10", "--batch-wait-s", "3", executor_type="hpcq-sweep")
    pids = [col.submit("hpcq_echo", {"message": f"task {i}"}, executortype="hpcq-sweep").processid for i in range(200)]
    done = [col.wait(pid, timeout=300) for pid in pids]
    assert all(p.state == PS.SUCCESS for p in done), [p.errors for p in done if p.state != PS.SUCCESS][:3]
    assert sorted(json.loads(p.output[1])["message"] for p in done) == sorted(f"task {i}" for i in range(200))
    jobs = {col.attrs(p)["slurm_job_id"].split("_")[0] for p in done}
    print(f"200 processes -> {len(jobs)} Slurm jobs")
    # a batch closes after --batch-wait-s without new processes: on a quiet host the 200 submissions give
    # <= 5 jobs; a loaded host (load 10 seen) submits slower and splits them further (9 seen), still packed
    assert len(jobs) <= 10, f"200 processes used {len(jobs)} Slurm jobs"
    assert len(lab.sacct_jobs(jobs)) >= len(jobs)  # real jobs, visible in accounting
    assert sweeper.stop() == 0


def test_scancel_fails_process_naming_cancelled(served):
    lab, _, early = served
    col = lab.col
    pid = early["scancel"]
    job = col.wait_attr(pid, "slurm_job_id", 60)
    wait_for(
        lambda: "hpcq_sleep: tick" in col.logs(pid),
        60,  # running and streaming its stdout
        what="log lines from the running job",
    )
    lab.cluster.run("scancel", job)
    p = col.wait(pid, 60)
    assert p.state == PS.FAILED and "CANCELLED" in p.errors[0], p.errors


def test_colony_side_failure_cancels_the_slurm_job(served):
    lab, _, early = served
    col = lab.col
    pid = early["colony_fail"]
    job = col.wait_attr(pid, "slurm_job_id", 60)
    p = col.wait(pid, 60)
    assert p.state == PS.FAILED and "Maximum execution time" in " ".join(p.errors)  # failed by ColonyOS, not us
    assert lab.wait_sacct_state(job, 60).startswith("CANCELLED")


def test_time_limit_fails_process_naming_timeout(served):
    lab, _, early = served
    col = lab.col
    pid = early["timeout"]
    p = col.wait(pid, 240)
    assert p.state == PS.FAILED and "TIMEOUT" in p.errors[0], p.errors
    assert col.attrs(p).get("slurm_state") == "TIMEOUT"


def test_result_file_registered_as_shared_filesystem_reference(served):
    import hashlib

    lab, _, _ = served
    col = lab.col
    p = col.wait(col.submit("hpcq_echo", {"message": "to a file", "write_file": True}).processid, 120)
    assert p.state == PS.SUCCESS, p.errors
    path = p.output[0]
    assert path.endswith("/echo.txt")
    data = Path(path).read_bytes()
    assert data == b"to a file\n"
    files = col.client.get_files(file_label(col.colony, p.processid), col.colony, col.prvkey)
    assert [(f["name"], f["size"], f["checksum"]) for f in files] == [
        ("echo.txt", len(data), hashlib.sha256(data).hexdigest())
    ]


def test_hpcq_cancel_control_process_cancels_job_and_fails_process(served):
    from hpcq.functions import encode_kwargs

    lab, _, _ = served
    col = lab.col
    pid = col.submit("hpcq_sleep", {"seconds": 600}, walltime=300).processid
    job = col.wait_attr(pid, "slurm_job_id", 60)
    wait_for(
        lambda: "hpcq_sleep: tick" in col.logs(pid),
        60,  # running and streaming its stdout
        what="log lines from the running job",
    )
    # what `hpcq cancel` submits (hpcq/client/api.py): a high-priority control process
    ctl = col.client.submit_func_spec(
        _control_spec(col, encode_kwargs({"processids": [pid], "reason": "cancelled by the user (test)"})), col.prvkey
    )
    c = col.wait(ctl.processid, 60)
    assert c.state == PS.SUCCESS and json.loads(c.output[0]) == {"cancelled": 1, "not_ours": []}
    p = col.wait(pid, 60)
    assert p.state == PS.FAILED and p.errors == ["cancelled by the user (test)"]
    assert lab.wait_sacct_state(job, 60).startswith("CANCELLED")


def _control_spec(col, kwargs):
    from pycolonies import func_spec

    spec = func_spec(
        "hpcq_cancel",
        [],
        col.colony,
        "hpcq-test",
        kwargs=kwargs,
        priority=50000,
        maxexectime=60,
        maxretries=3,
        maxwaittime=-1,
    )
    return spec


def test_selftest_command_succeeds(served):
    import subprocess
    import sys

    lab, _, _ = served
    env = lab.cluster.env(HPCQ_CONFIG_DIR=str(lab.tmp / "selftest-config"))
    for k in list(env):
        if k.startswith("COLONIES_"):
            env.pop(k)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpcq.executor",
            "selftest",
            "--env-file",
            str(lab.tmp / "colonies.env"),
            "--type",
            "hpcq-test",
            "--timeout-s",
            "120",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_result_file_uploaded_to_s3_when_configured(served, monkeypatch):
    """With AWS_S3_* set, result files go to S3 through pycolonies' upload_file (moto's S3 here)."""
    from hpcq.testing.s3 import s3_server

    lab, _, _ = served
    col = lab.col
    with s3_server() as s3env:
        ex = lab.executor("exec-s3", executor_type="hpcq-s3", extra_env=s3env)
        p = col.wait(
            col.submit("hpcq_echo", {"message": "to s3", "write_file": True}, executortype="hpcq-s3").processid, 120
        )
        assert p.state == PS.SUCCESS, p.errors
        label = file_label(col.colony, p.processid)
        for k, v in s3env.items():
            monkeypatch.setenv(k, v)
        assert col.client.download_data(col.colony, col.prvkey, label=label, filename="echo.txt") == b"to s3\n"
        meta = col.client.get_file(col.colony, col.prvkey, label=label, filename="echo.txt")
        assert meta[0]["ref"]["protocol"] == "s3" and meta[0]["ref"]["s3object"]["bucket"] == "hpcq-results"
        assert ex.stop() == 0


@pytest.mark.mpi
def test_mpi_vqe_sweep_runs_as_one_slurm_job_with_two_ranks(served):
    """The product path: a catalogued Qiskit Aer sweep, 2 MPI ranks (srun --mpi=pmi2 from the
    profile), HDF5 result registered, summary as output."""
    lab, _, _ = served
    col = lab.col
    params = {
        "study": "executor-mpi",
        "problems": [{"kind": "tfim", "n_qubits": 4}],
        "optimizers": [{"kind": "cobyla", "maxiter": 5}],
        "seeds": [0, 1, 2, 3],
    }
    p = col.wait(col.submit("vqe_sweep", params, walltime=300, processespernode=2, cpu="1000m").processid, 240)
    assert p.state == PS.SUCCESS, p.errors
    ref, summary = p.output
    summary = json.loads(summary)
    assert ref.endswith(".h5") and summary["mpi_ranks"] == 2 and summary["n_tasks"] == 4
    attrs = col.attrs(p)
    assert float(attrs["core_hours"]) > 0
    files = col.client.get_files(file_label(col.colony, p.processid), col.colony, col.prvkey)
    assert [f["name"] for f in files] == [ref.rsplit("/", 1)[1]]
