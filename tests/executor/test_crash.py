"""Crash safety: exactly one Slurm job and one close per process across executor SIGKILLs.

Independent evidence, not the executor's own journal: the counters of hpcq.testing.faults
(submitit's submitted pickles = jobs, begin markers in rank 0's stdout = runs, one per job,
``closed process=`` lines of every executor incarnation = closes).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from hpcq.colonyos import ProcessState as PS
from hpcq.config import ExecutorSettings, Settings
from hpcq.executor.daemon import Executor, Paths
from hpcq.executor.journal import BatchRow
from hpcq.job.task import Task
from hpcq.logfmt import ADOPTING_RE
from hpcq.testing.faults import closes_by_process, jobs_by_process, runs_by_process

pytestmark = [pytest.mark.slurm, pytest.mark.both_servers]


def test_sigkill_while_jobs_run_then_restart(lab):
    col = lab.col
    ex = lab.executor("exec-crash", "--batch-wait-s", "0.5", executor_type="hpcq-crash")
    pids = [col.submit("hpcq_sleep", {"seconds": 6}, executortype="hpcq-crash").processid for _ in range(6)]
    for pid in pids:
        col.wait_attr(pid, "slurm_job_id", 60)  # submitted and watched
    running = [r for r in lab.cluster.squeue() if r["State"] in ("RUNNING", "PENDING")]
    assert running, "the jobs ended before the crash; the test would prove nothing"
    ex.kill()  # SIGKILL: no cleanup
    pids += [
        col.submit("hpcq_echo", {"message": f"while down {i}"}, executortype="hpcq-crash").processid for i in range(2)
    ]
    time.sleep(1)
    ex.start()  # same name, state dir, key
    done = {pid: col.wait(pid, 120) for pid in pids}
    assert all(p.state == PS.SUCCESS for p in done.values()), {
        k: p.errors for k, p in done.items() if p.state != PS.SUCCESS
    }
    jobs_dir = ex.state_dir / "jobs"
    assert {pid: len(js) for pid, js in jobs_by_process(jobs_dir).items()} == {pid: 1 for pid in pids}
    assert runs_by_process(jobs_dir) == Counter({pid: 1 for pid in pids})
    closes = closes_by_process(ex.log_text())
    assert {pid: closes[pid] for pid in pids} == {pid: 1 for pid in pids}
    # the restarted executor adopted exactly the 6 jobs that were in Slurm when it died
    assert [int(n) for n in ADOPTING_RE.findall(ex.log_text())] == [6], ex.log_text()[-3000:]
    assert ex.stop() == 0


def _executor(lab, name: str, etype: str) -> Executor:
    s = Settings(
        host="127.0.0.1",
        port=int(lab.col.env["COLONIES_SERVER_PORT"]),
        colony_name=lab.col.colony,
        colony_prvkey=lab.col.colony_prvkey,
    )
    s.executor = ExecutorSettings(type=etype, backend="slurm", batch_wait_s=0)
    ex = Executor(s, Paths.under(lab.tmp / name / "state"), name=name)
    ex.setup()
    return ex


def _assign_and_plan(ex: Executor, col, etype: str):
    pid = col.submit("hpcq_echo", {"message": "crash window"}, executortype=etype).processid
    process = ex.client.assign(col.colony, 10, ex.key.prvkey)
    assert process.processid == pid
    return ex.prepare(process)


def _journal_intent(ex: Executor, prep) -> tuple[BatchRow, list[list[Task]]]:
    batch = ex.new_batch(prep.plan.params)
    element_tasks = [[ex.task(prep, batch)]]
    ex.journal.record_intent(batch, batch.procs(element_tasks))
    return batch, element_tasks


def _serve_until_closed(ex: Executor, col, pid: str):
    ex.recover()
    ex.watcher.start()
    try:
        return col.wait(pid, 90)
    finally:
        ex.watcher.stop()
        ex.watcher.join(10)


def _jobs_named(lab, name: str) -> list[str]:
    out = lab.cluster.run("squeue", "-h", "-t", "all", "--name", name, "-o", "%i").stdout.split()
    return out


@pytest.mark.parametrize("crash_after_sbatch", [True, False])
def test_restart_after_crash_between_intent_and_job_id(lab, crash_after_sbatch):
    """Crash after the intent was journaled: if sbatch happened, the restart adopts that job (found
    by its unique name); if not, it submits now. Either way: one job, one close."""
    etype = f"hpcq-window-{int(crash_after_sbatch)}"
    ex1 = _executor(lab, f"exec-window-{int(crash_after_sbatch)}", etype)
    prep = _assign_and_plan(ex1, lab.col, etype)
    pid = prep.process.processid
    batch, element_tasks = _journal_intent(ex1, prep)
    if crash_after_sbatch:
        from hpcq.job.runner import run_tasks

        ex1.backend.submit(run_tasks, element_tasks, batch.params, batch.job_name, Path(batch.folder))
    ex1.journal.close()  # the "crash": the job id never reaches the journal

    ex2 = _executor(lab, f"exec-window-{int(crash_after_sbatch)}", etype)
    p = _serve_until_closed(ex2, lab.col, pid)
    assert p.state == PS.SUCCESS, p.errors
    assert ex2.submitted_jobs == (0 if crash_after_sbatch else 1)
    assert len(_jobs_named(lab, batch.job_name)) == 1
    assert ex2.journal.proc(pid).state == "closed"


def test_restart_recovers_a_process_assigned_but_never_journaled(lab):
    etype = "hpcq-orphan"
    ex1 = _executor(lab, "exec-orphan", etype)
    prep = _assign_and_plan(ex1, lab.col, etype)  # assigned to us; crash before any journal write
    pid = prep.process.processid
    ex1.journal.close()
    ex2 = _executor(lab, "exec-orphan", etype)
    p = _serve_until_closed(ex2, lab.col, pid)
    assert p.state == PS.SUCCESS, p.errors
    assert ex2.submitted_jobs == 1
