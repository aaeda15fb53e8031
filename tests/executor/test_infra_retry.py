"""A job that dies of Slurm itself before the function runs is given a fresh job, not failed.

Deterministic: a site profile whose setup line sleeps keeps the batch script before its srun
step; slurmctld is stopped during that sleep, so srun cannot confirm the allocation and the job
ends FAILED having run nothing. The process must still end SUCCESS, with exactly one run."""

import time
from pathlib import Path

import pytest
import yaml

from hpcq.colonyos import ProcessState as PS
from hpcq.testing.faults import jobs_by_process


def test_step_launch_failure_while_slurmctld_down_is_resubmitted(lab):
    prof_dir = lab.tmp / "config" / "profiles"
    prof_dir.mkdir(parents=True, exist_ok=True)
    local = yaml.safe_load(Path("slurm_templates/profiles/local.yaml").read_text())
    local.update(name="slowstart", description="local, with a 6 s pause before the step", setup=["sleep 6"])
    (prof_dir / "slowstart.yaml").write_text(yaml.safe_dump(local))
    ex = lab.executor("infra", "--profile", "slowstart", "--batch-wait-s", "0.2", "--query-every-s", "1")
    col = lab.col
    pid = col.submit("hpcq_echo", {"message": "survives"}).processid
    job = col.wait_attr(pid, "slurm_job_id", timeout=60)
    col.wait_attr(pid, "slurm_nodes", timeout=60)  # sent once the job runs: it is in its setup sleep
    from hpcq.executor.backends.slurm import SlurmBackend, SlurmError

    SlurmBackend().ping()  # slurmctld answers (what a paused executor asks, hpcq.executor.daemon)
    lab.cluster.stop_ctld()
    t0 = time.monotonic()
    try:
        with pytest.raises(SlurmError):  # and now it does not
            SlurmBackend().ping()
        time.sleep(max(0.0, 30 - (time.monotonic() - t0)))  # the setup sleep ends; srun gives up: the job fails
    finally:
        lab.cluster.start_ctld()
    p = col.wait(pid, timeout=180)
    assert p.state == PS.SUCCESS, p.errors
    assert "resubmitting process=" + pid in ex.log_text()
    jobs = sorted(jobs_by_process(ex.state_dir / "jobs")[pid], key=lambda j: int(j.split("_")[0]))
    assert len(jobs) == 2 and jobs[0] == job.split("_")[0]
    assert lab.wait_sacct_state(jobs[0]).startswith("FAILED")
    assert lab.wait_sacct_state(jobs[1]) == "COMPLETED"
    assert col.logs(pid).count("hpcq_echo: survives") == 1  # ran once
    ex.stop()


def test_resubmit_decision_reads_every_rank_and_is_bounded(tmp_path):
    """Which lost jobs get a fresh job: srun could not reach slurmctld before the function began,
    or MPI failed to start on any rank (that text is in rank 1's own stderr file); a job whose
    function began and then failed for any other reason is failed as usual; at most INFRA_RETRIES."""
    from hpcq.config import ExecutorSettings
    from hpcq.executor.backends.slurm import SlurmBackend
    from hpcq.executor.watcher import INFRA_RETRIES, Watched, Watcher
    from hpcq.job.runner import BEGIN

    folder = tmp_path / "jobs"

    def lost(job: str, pid: str, rank0: str, rank1: str = "") -> Watched:
        d = folder / job
        d.mkdir(parents=True)
        (d / f"{job}_0_log.err").write_text(rank0)
        if rank1:
            (d / f"{job}_1_log.err").write_text(rank1)
        return Watched(
            process_id=pid,
            job_id=job,
            batch_id="b",
            element=0,
            folder=str(folder),
            funcname="vqe_sweep",
            outcome_path=str(tmp_path / f"{pid}.json"),
            workdir=str(tmp_path),
        )

    handed_back = []
    w = Watcher(None, None, SlurmBackend(), ExecutorSettings(), resubmit=handed_back.extend)
    ctld = lost("1", "p1", "srun: error: Unable to confirm allocation for job 1: Unable to contact slurm controller\n")
    mpi = lost(
        "2",
        "p2",
        BEGIN + "p2\nsrun: error: n1: task 1: Exited with exit code 15\n",
        BEGIN + "p2\nAbort(1) on node 1: Fatal error in internal_Init_thread: Other MPI error\n",
    )
    began = lost("3", "p3", BEGIN + "p3\nsrun: error: Unable to contact slurm controller\n")
    crashed = lost("4", "p4", BEGIN + "p4\nSegmentation fault\n")
    rest = w._resubmit_infra_failures([ctld, mpi, began, crashed])
    assert [x.process_id for x in handed_back] == ["p1", "p2"]
    assert [x.process_id for x in rest] == ["p3", "p4"]
    for _ in range(INFRA_RETRIES):
        w._resubmit_infra_failures([ctld])
    assert w._resubmit_infra_failures([ctld]) == [ctld]  # bounded: then it is failed
