"""Issue 14 item 7: Slurm's time-limit warning (SIGUSR2) must never kill a job.

submitit asked for ``--signal=USR2@90`` whatever the walltime, so a 60-s process got the signal at
once, and a rank whose Python had not yet installed hpcq's handler died of it ("srun: error: n1:
task 0: User defined signal 2"). Now the lead follows the walltime, and every rank ignores USR2
from its first instruction (hpcq.job.runner.job_python_command) until hpcq's handler is in place.
Slurm may send the signal up to a minute early, so the real-job test does not wait for it: it
sends USR2 to the job's steps itself, again and again from the moment the job runs, under CPU load.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest

from hpcq.executor.backends.slurm import SlurmBackend, make_executor
from hpcq.executor.profiles import load_profile, resolve_resources, submitit_params
from hpcq.job.runner import job_python_command, run_tasks
from hpcq.job.task import Outcome, Task

pytestmark = pytest.mark.slurm
STEP_START_S = 0.2  # the bash wrapper's own start-up (trap before exec), not Python's


def _params(walltime: int) -> dict:
    prof = load_profile("local")
    return submitit_params(resolve_resources(prof, {"walltime": walltime}), prof)


def test_the_signal_lead_follows_the_walltime(tmp_path):
    for walltime, lead in ((60, 10), (600, 60), (3600, 90)):
        ex = make_executor(_params(walltime), "hpcq-lead", tmp_path)
        text = ex._executor._make_submission_file_text("true", "uid")
        assert f"#SBATCH --signal=USR2@{lead}\n" in text, text
        assert lead < walltime
        assert ex._executor.python == job_python_command()


def test_a_rank_ignores_usr2_from_its_first_instruction(slurm_cluster, tmp_path):
    """What srun starts through job_python_command has SIGUSR2 ignored before Python runs a line
    (plain srun tasks start with the default action, which kills)."""
    probe = "import signal; print(signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN)"
    wrapped = f"{job_python_command()} -c {probe!r}"
    plain = f"{sys.executable} -c {probe!r}"
    out = slurm_cluster.run("srun", "-N1", "-n1", "bash", "-c", f"{wrapped}; {plain}", timeout=120).stdout
    assert out.split() == ["True", "False"], out


def _load(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _sleep_task(tmp_path, seconds: float) -> tuple[str, Task]:
    pid = uuid.uuid4().hex
    return pid, Task(
        process_id=pid,
        funcname="hpcq_sleep",
        params={"seconds": seconds},
        workdir=str(tmp_path / "w"),
        outcome_path=str(tmp_path / "outcome.json"),
    )


def test_a_60s_walltime_process_under_load_survives_usr2(slurm_cluster, tmp_path):
    pid, task = _sleep_task(tmp_path, 3.0)
    backend = SlurmBackend()
    busy = _load(2)  # the 2-core CI machine: Python's start-up now takes seconds
    sent = 0
    step_seen = 0.0
    try:
        [job_id] = backend.submit(run_tasks, [[task]], _params(60), f"hpcq-usr2-{pid[:8]}", tmp_path / "jobs")
        deadline = time.monotonic() + 120
        state = ""
        while time.monotonic() < deadline:
            state = slurm_cluster.run("squeue", "-h", "-j", job_id, "-o", "%T", check=False).stdout.strip()
            if state == "RUNNING":
                if not step_seen:
                    # the task's wrapper ignores USR2 from its first line; what it wraps (Python's
                    # start-up, submitit, hpcq) is what must be covered: start once the step exists
                    steps = slurm_cluster.run("squeue", "-h", "-s", "-j", job_id, "-o", "%i", check=False).stdout
                    if f"{job_id}.0" in steps.split():
                        step_seen = time.monotonic()
                elif time.monotonic() - step_seen > STEP_START_S:
                    # to every step of the job, as Slurm's --signal does (never the batch shell)
                    r = slurm_cluster.run("scancel", "--signal=USR2", job_id, check=False)
                    sent += r.returncode == 0
            elif state not in ("PENDING", "CONFIGURING", "") or not state and sent:
                break
            time.sleep(0.05)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert slurm_cluster.wait_job(job_id, timeout=60) == "COMPLETED"
    assert sent >= 10, sent  # signalled all along the job's life, from its first moments
    out = Outcome.read(task.outcome_path)
    assert out.ok and out.summary == {"slept_s": 3.0}, out.error
    _, stderr = backend.log_paths(job_id, tmp_path / "jobs")
    assert "Slurm time-limit warning received" in stderr.read_text()  # hpcq's handler saw them


def test_usr1_prints_where_the_job_is_and_the_job_goes_on(slurm_cluster, tmp_path):
    """``scancel --signal=USR1 JOB`` on a job that seems stuck: every rank prints its Python stacks
    into the job's stderr (hpcq.logfmt.dump_stacks_on_signal, installed by run_tasks) and carries on."""
    from hpcq.logfmt import BEGIN

    pid, task = _sleep_task(tmp_path, 6.0)
    backend = SlurmBackend()
    [job_id] = backend.submit(run_tasks, [[task]], _params(120), f"hpcq-usr1-{pid[:8]}", tmp_path / "jobs")
    stdout, stderr = backend.log_paths(job_id, tmp_path / "jobs")
    deadline = time.monotonic() + 120
    # the handler is in place before the task's begin line; the function runs once it ticks (signalled
    # earlier, a clean-clone run's stack showed the job importing hpcq_sleep's module: right, but racy)
    while not (
        stderr.exists() and BEGIN + pid in stderr.read_text() and stdout.exists() and "tick 0" in stdout.read_text()
    ):
        assert time.monotonic() < deadline, "the job never began its task"
        time.sleep(0.1)
    slurm_cluster.run("scancel", "--signal=USR1", job_id)
    assert slurm_cluster.wait_job(job_id, timeout=60) == "COMPLETED"
    assert Outcome.read(task.outcome_path).summary == {"slept_s": 6.0}
    log = stderr.read_text()
    assert "Current thread 0x" in log and "selftest.py" in log and "in sleep" in log, log[-3000:]
