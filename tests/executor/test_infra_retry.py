"""A job that dies of Slurm itself before the function runs is given a fresh job, not failed.

Deterministic: a site profile whose setup line sleeps keeps the batch script before its srun
step; slurmctld is stopped during that sleep, so srun cannot confirm the allocation and the job
ends FAILED having run nothing. The process must still end SUCCESS, with exactly one run."""

import time

import yaml

from hpcq.testing.faults import jobs_by_process


def test_step_launch_failure_while_slurmctld_down_is_resubmitted(lab):
    prof_dir = lab.tmp / "config" / "profiles"
    prof_dir.mkdir(parents=True, exist_ok=True)
    local = yaml.safe_load(open("slurm_templates/profiles/local.yaml"))
    local.update(name="slowstart", description="local, with a 6 s pause before the step",
                 setup=["sleep 6"])
    (prof_dir / "slowstart.yaml").write_text(yaml.safe_dump(local))
    ex = lab.executor("infra", "--profile", "slowstart", "--batch-wait", "0.2", "--query-every", "1")
    col = lab.col
    pid = col.submit("hpcq_echo", {"message": "survives"}).processid
    job = col.wait_attr(pid, "slurm_job_id", timeout=60)
    col.wait_attr(pid, "slurm_nodes", timeout=60)  # sent once the job runs: it is in its setup sleep
    lab.cluster.stop_ctld()
    try:
        time.sleep(30)  # the setup sleep ends; srun retries, then gives up: the job fails
    finally:
        lab.cluster.start_ctld()
    p = col.wait(pid, timeout=180)
    assert p.state == 2, p.errors
    assert "resubmitting process=" + pid in ex.log_text()
    jobs = sorted(jobs_by_process(ex.state_dir / "jobs")[pid], key=lambda j: int(j.split("_")[0]))
    assert len(jobs) == 2 and jobs[0] == job.split("_")[0]
    assert lab.wait_sacct_state(jobs[0]).startswith("FAILED")
    assert lab.wait_sacct_state(jobs[1]) == "COMPLETED"
    assert col.logs(pid).count("hpcq_echo: survives") == 1  # ran once
    ex.stop()
