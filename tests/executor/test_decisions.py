"""The executor's and watcher's decisions, run on a fake Slurm and a fake ColonyOS (seconds, no root).

Why: the other modules of tests/executor prove these decisions against the real Slurm lab and the
real embedded server, which takes minutes and needs root. Here the real ``Executor`` and
``Watcher`` serve :class:`hpcq.testing.fakes.FakeColony` and submit to
:class:`hpcq.testing.fakes.FakeBackend`, so each decision is checked in well under a second on
any machine: packing, adoption after a restart, maxexectime re-queue, cancel, orphan recovery,
transient vs permanent sbatch errors, lost vs finished jobs, refusals. Every test asserts what the
services saw: process states and accepted closes in the fake colony, sbatch/scancel calls in the
fake backend, rows in the executor's journal.

Run: ``pytest tests/executor/test_decisions.py`` (docs/executor.md, "Fast unit tests").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from hpcq.colonyos import ProcessState as PS
from hpcq.config import S3_VARS
from hpcq.executor.backends.slurm import SlurmError
from hpcq.executor.slurm_errors import INFRA_RETRIES
from hpcq.executor.watcher import Watched
from hpcq.job.runner import run_tasks
from hpcq.server.timeouts import EXEC_TIMEOUT_MSG
from hpcq.testing import wait_for
from hpcq.testing.fakes import (
    HOLD,
    Crash,
    FakeBackend,
    FakeColony,
    FakeJob,
    JobScript,
    make_executor,
    outputs,
    serving,
)

UNREACHABLE = "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No user profiles, no S3, no pre-approved key from the developer's environment."""
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "config"))
    for name in [*S3_VARS, "HPCQ_EXECUTOR_PRVKEY"]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def colony() -> FakeColony:
    return FakeColony()


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


def settle(pred: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    return wait_for(pred, timeout, 0.005, what)


def closed(colony: FakeColony, *pids: str) -> None:
    settle(lambda: all(colony.state(p).final for p in pids), f"{len(pids)} process(es) closed")


def job_of(backend: FakeBackend, pid: str) -> FakeJob:
    return settle(lambda: backend.jobs_of(pid), f"a job for {pid[:8]}")[-1]


# --- the plain path ----------------------------------------------------------------------------------
def test_process_runs_as_a_job_and_is_closed_success_once(tmp_path, backend, colony):
    pid = colony.submit("hpcq_echo", {"message": "hi", "write_file": True})
    with serving(make_executor(tmp_path, backend, colony)) as run:
        closed(colony, pid)
    assert colony.state(pid) == PS.SUCCESS and colony.closes(pid) == ["success"]
    ref, summary = outputs(colony, pid)
    assert summary["message"] == "hi" and ref.endswith("echo.txt")
    [sub] = backend.submissions
    assert sub.process_ids == [pid] and sub.fn is run_tasks
    attrs = colony.attributes(pid)
    assert attrs["slurm_job_id"] == sub.job_ids[0] and "run_time_s" in attrs
    [stored] = colony.files  # registered as a shared-filesystem reference
    assert stored["ref"]["protocol"] == "file" and stored["ref"]["s3object"]["object"] == ref
    assert "hpcq_echo: hi" in colony.log_text(pid)
    row = run.executor.journal.proc(pid)
    assert (row.state, row.closed_as, row.job_id) == ("closed", "success", sub.job_ids[0])


# --- packing -------------------------------------------------------------------------------------------
def test_packing_a_lone_process_goes_at_once_the_burst_fills_arrays(tmp_path, backend, colony):
    pids = [colony.submit("hpcq_echo", {"message": str(i)}) for i in range(10)]
    ex = make_executor(tmp_path, backend, colony, batch_max=4, pack=2, batch_wait_s=30, burst_gap_s=30)
    with serving(ex):
        closed(colony, *pids)
    subs = backend.submissions
    assert [s.process_ids for s in subs] == [pids[:1], pids[1:5], pids[5:9], pids[9:]]
    assert [[len(element) for element in s.tasks] for s in subs] == [[1], [2, 2], [2, 2], [1]]
    assert [len(s.job_ids) for s in subs] == [1, 2, 2, 1]  # one array element per 2 processes
    assert [s.params["timeout_min"] for s in subs] == [1, 2, 2, 1]  # elements run 2 tasks in turn
    assert all(colony.closes(p) == ["success"] for p in pids)


def test_processes_asking_for_other_resources_get_other_jobs(tmp_path, backend, colony):
    short = [colony.submit("hpcq_echo", {"message": "s"}, walltime=60) for _ in range(3)]
    long = [colony.submit("hpcq_echo", {"message": "l"}, walltime=120) for _ in range(3)]
    with serving(make_executor(tmp_path, backend, colony, batch_wait_s=30, burst_gap_s=30)):
        closed(colony, *short, *long)
    kinds = [{s.params["timeout_min"]} for s in backend.submissions]
    assert all(len(k) == 1 for k in kinds) and {1, 2} == set().union(*kinds)
    for sub in backend.submissions:
        assert set(sub.process_ids) <= set(short) or set(sub.process_ids) <= set(long)


# --- restarts ----------------------------------------------------------------------------------------
def test_restart_adopts_the_jobs_in_slurm_instead_of_resubmitting(tmp_path, backend, colony):
    backend.default = HOLD
    pids = [colony.submit("hpcq_echo", {"message": str(i)}) for i in range(3)]
    with serving(make_executor(tmp_path, backend, colony)):
        settle(lambda: all("slurm_job_id" in colony.attributes(p) for p in pids), "jobs submitted")
    assert all(colony.state(p) == PS.RUNNING for p in pids)  # stopped: the jobs stay, nothing closed
    submitted = len(backend.submissions)
    for job_id in list(backend.jobs):
        backend.extend(job_id, "COMPLETED")
    with serving(make_executor(tmp_path, backend, colony)) as second:  # same name: same key and journal
        closed(colony, *pids)
    assert len(backend.submissions) == submitted and second.executor.submitted_jobs == 0
    assert backend.found == []  # the journal had the job ids: nothing to look up
    assert all(colony.closes(p) == ["success"] for p in pids)


@pytest.mark.parametrize("created", [True, False], ids=["crash-after-sbatch", "crash-before-sbatch"])
def test_crash_between_intent_and_job_id_gives_one_job_and_one_close(tmp_path, backend, colony, created):
    backend.fail_submit(Crash(), created=created)
    pid = colony.submit("hpcq_echo", {"message": "window"})
    with serving(make_executor(tmp_path, backend, colony)) as first:
        settle(lambda: first.crashed, "the crash")
    [row] = first.executor.journal.open_procs()
    assert (row.process_id, row.state) == (pid, "intent")
    with serving(make_executor(tmp_path, backend, colony)) as second:
        closed(colony, pid)
    assert colony.closes(pid) == ["success"]
    assert len(backend.submissions) == 1 and backend.attempts == (1 if created else 2)
    assert backend.found == [first.executor.journal.batch(row.batch_id).job_name]  # looked up by its name
    assert second.executor.submitted_jobs == (0 if created else 1)


# --- orphans -----------------------------------------------------------------------------------------
def test_restart_runs_a_process_assigned_to_it_but_never_journaled(tmp_path, backend, colony):
    pid = colony.submit("hpcq_echo", {"message": "orphan"})
    first = make_executor(tmp_path, backend, colony)
    first.setup()
    assert colony.assign(colony.colony, 1, first.key.prvkey).processid == pid  # then it died
    with serving(make_executor(tmp_path, backend, colony)):
        closed(colony, pid)
    assert colony.closes(pid) == ["success"]
    assert [s.process_ids for s in backend.submissions] == [[pid]]


def test_an_assign_whose_reply_was_lost_is_run_as_an_orphan(tmp_path, backend, colony):
    with serving(make_executor(tmp_path, backend, colony)):
        colony.inject(
            "assignprocessmsg", "('Connection aborted.', RemoteDisconnected('Remote end closed'))", after=True
        )
        pid = colony.submit("hpcq_echo", {"message": "lost reply"})
        closed(colony, pid)
    assert any(c.lost and c.msgtype == "assignprocessmsg" for c in colony.calls)
    assert colony.closes(pid) == ["success"]
    assert [s.process_ids for s in backend.submissions] == [[pid]]


# --- maxexectime and cancellation ------------------------------------------------------------------------
def test_maxexectime_requeue_cancels_the_old_job_and_closes_once(tmp_path, backend, colony):
    backend.script(HOLD)  # the first job waits in the queue
    pid = colony.submit("hpcq_echo", {"message": "again"}, maxretries=1)
    with serving(make_executor(tmp_path, backend, colony)) as run:
        old = job_of(backend, pid)
        settle(lambda: "slurm_job_id" in colony.attributes(pid), "the watcher has the job")
        colony.expire(pid)  # the server hands it back, and assigns it to us again
        closed(colony, pid)
    p = colony.process(pid)
    assert (p["state"], p["retries"]) == (PS.SUCCESS, 1) and colony.closes(pid) == ["success"]
    assert old.job_id in backend.cancelled and not old.ran
    new = backend.jobs_of(pid)[-1]
    assert new.job_id != old.job_id and new.ran
    row = run.executor.journal.proc(pid)
    assert (row.job_id, row.closed_as) == (new.job_id, "success")


def test_a_process_assigned_again_before_the_watcher_took_its_job_in_is_dropped(tmp_path, backend, colony):
    """The watcher takes new jobs in at its next cycle; a drop (the process came back from the
    server and was assigned to us again) queued before that cycle must still win over the watch
    queued before it, or the old job's end would close the new attempt (seen: closed FAILED)."""
    ex = make_executor(tmp_path, backend, colony)
    ex.setup()
    pid = "a" * 64
    old = Watched(pid, "1000", "b1", 0, str(tmp_path), "hpcq_echo", str(tmp_path / "o.json"), str(tmp_path))
    ex.watcher.watch([old])
    ex.watcher.drop(pid)
    ex.watcher.cycle()
    assert pid not in ex.watcher.active


def test_last_maxexectime_expiry_fails_on_the_server_and_the_job_is_cancelled(tmp_path, backend, colony):
    backend.script(HOLD)
    pid = colony.submit("hpcq_echo", {"message": "too slow"}, maxretries=0)
    with serving(make_executor(tmp_path, backend, colony)) as run:
        job = job_of(backend, pid)
        colony.expire(pid)
        settle(lambda: run.executor.journal.proc(pid).state == "closed", "the executor lets go")
    assert colony.state(pid) == PS.FAILED and colony.process(pid)["errors"] == [EXEC_TIMEOUT_MSG]
    assert colony.closes(pid) == [] and job.job_id in backend.cancelled
    assert run.executor.journal.proc(pid).closed_as == "gone"


def test_server_side_cancel_cancels_the_job_and_closes_nothing(tmp_path, backend, colony):
    backend.script(HOLD)
    pid = colony.submit("hpcq_echo", {"message": "cancel me"})
    with serving(make_executor(tmp_path, backend, colony)) as run:
        job = job_of(backend, pid)
        colony.cancel_process(pid, colony.user_prvkey)
        settle(lambda: run.executor.journal.proc(pid).state == "closed", "the executor lets go")
    assert colony.state(pid) == PS.CANCELLED and colony.closes(pid) == []
    assert job.job_id in backend.cancelled and job.state == "CANCELLED"
    assert run.executor.journal.proc(pid).closed_as == "gone"


def test_hpcq_cancel_fails_the_process_cancels_its_job_and_reports(tmp_path, backend, colony):
    backend.script(HOLD)
    pid = colony.submit("hpcq_echo", {"message": "cancel me"})
    stranger = "f" * 64
    with serving(make_executor(tmp_path, backend, colony)) as run:
        job = job_of(backend, pid)
        ctl = colony.submit("hpcq_cancel", {"processids": [pid, stranger], "reason": "stopped by the user"})
        closed(colony, pid, ctl)
    assert colony.process(pid)["errors"] == ["stopped by the user"] and colony.closes(pid) == ["failed"]
    assert job.job_id in backend.cancelled
    assert run.executor.journal.proc(pid).closed_as == "failed"
    assert colony.state(ctl) == PS.SUCCESS
    assert json.loads(colony.process(ctl)["out"][0]) == {"cancelled": 1, "not_ours": [stranger]}


def test_hpcq_cancel_leaves_a_packed_element_to_its_other_process(tmp_path, backend, colony):
    backend.default = HOLD
    first, *pair = [colony.submit("hpcq_echo", {"message": str(i)}) for i in range(3)]
    with serving(make_executor(tmp_path, backend, colony, pack=2, batch_wait_s=30, burst_gap_s=30)):
        element = settle(lambda: [j for j in backend.jobs.values() if j.process_ids == pair], "one element")[0]
        ctl = colony.submit("hpcq_cancel", {"processids": [pair[0]]})
        closed(colony, pair[0], ctl)
        for job_id in list(backend.jobs):
            backend.extend(job_id, "COMPLETED")
        closed(colony, first, pair[1])
    assert element.job_id not in backend.cancelled  # the other process still needed it
    assert colony.closes(pair[0]) == ["failed"]
    assert colony.closes(pair[1]) == ["success"], colony.process(pair[1])["errors"]


def test_hpcq_cancel_while_sbatch_is_retried_means_never_submitted(tmp_path, backend, colony):
    backend.fail_submit(SlurmError(UNREACHABLE), times=1000)
    pid = colony.submit("hpcq_echo", {"message": "never"})
    with serving(make_executor(tmp_path, backend, colony)) as run:
        settle(lambda: backend.attempts >= 2, "sbatch retried")
        ctl = colony.submit("hpcq_cancel", {"processids": [pid], "reason": "not needed"})
        closed(colony, pid, ctl)
        backend.heal()
        time.sleep(0.3)  # several retry periods (backoff capped at 0.05 s): none may submit it now
    assert backend.submissions == [] and colony.closes(pid) == ["failed"]
    assert run.executor.journal.proc(pid).closed_as == "failed"


# --- sbatch errors -----------------------------------------------------------------------------------------
def test_transient_sbatch_error_is_retried_until_slurm_answers(tmp_path, backend, colony):
    backend.fail_submit(SlurmError(UNREACHABLE), times=2)
    pid = colony.submit("hpcq_echo", {"message": "patience"})
    with serving(make_executor(tmp_path, backend, colony)):
        closed(colony, pid)
    assert colony.state(pid) == PS.SUCCESS and colony.closes(pid) == ["success"]
    assert backend.attempts == 3 and len(backend.submissions) == 1
    assert len(backend.found) == 2  # each retry first looks for a job sbatch may have made


def test_sbatch_that_timed_out_after_making_the_job_is_adopted_not_resubmitted(tmp_path, backend, colony):
    backend.fail_submit(SlurmError("sbatch --parsable did not answer in 60 s"), created=True)
    pid = colony.submit("hpcq_echo", {"message": "once"})
    with serving(make_executor(tmp_path, backend, colony)):
        closed(colony, pid)
    assert colony.closes(pid) == ["success"]
    assert backend.attempts == 1 and len(backend.submissions) == 1 and len(backend.found) == 1


def test_permanent_sbatch_error_fails_the_process_and_the_executor_keeps_serving(tmp_path, backend, colony):
    backend.fail_submit(SlurmError("sbatch: error: invalid partition specified: nope"))
    bad = colony.submit("hpcq_echo", {"message": "refused"})
    with serving(make_executor(tmp_path, backend, colony)) as run:
        closed(colony, bad)
        good = colony.submit("hpcq_echo", {"message": "fine"})
        closed(colony, good)
    [error] = colony.process(bad)["errors"]
    assert error.startswith("submitting the Slurm job failed") and "invalid partition" in error
    assert colony.closes(bad) == ["failed"] and run.executor.journal.proc(bad).closed_as == "failed"
    assert colony.state(good) == PS.SUCCESS


# --- refusals -----------------------------------------------------------------------------------------
REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"funcname": "no_such_function"}, "is not in hpcq's function catalog"),
    ({"params": {"colour": "red"}}, "kwargs.colour"),
    ({"kwargs": {"params": "{not json"}}, "kwargs.params is not valid JSON"),
    ({"maxexectime": 0}, "maxexectime=0 makes ColonyOS expire the process at once"),
    ({"walltime": 7200, "maxexectime": 600}, "cannot fit in maxexectime=600 s"),
    ({"nodes": 1, "processespernode": 4}, "not MPI-enabled"),
    ({"env": {"HPCQ_PROFILE": "../site.yaml"}}, "is not a profile name"),
]


def test_bad_input_is_closed_failed_with_its_message_and_the_executor_keeps_serving(tmp_path, backend, colony):
    bad = [
        colony.submit(spec.pop("funcname", "hpcq_echo"), spec.pop("params", {"message": "x"}), **spec)
        for spec in (dict(case) for case, _ in REFUSED)
    ]
    good = colony.submit("hpcq_echo", {"message": "still serving"})
    with serving(make_executor(tmp_path, backend, colony)):
        closed(colony, *bad, good)
    for pid, (_, message) in zip(bad, REFUSED, strict=True):
        assert colony.state(pid) == PS.FAILED and colony.closes(pid) == ["failed"]
        assert message in colony.process(pid)["errors"][0]
    assert colony.state(good) == PS.SUCCESS
    assert [s.process_ids for s in backend.submissions] == [[good]]  # nothing refused reached Slurm


# --- lost vs finished ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "state, explained",
    [
        ("NODE_FAIL", "a node of the job failed"),
        ("TIMEOUT", "reached its Slurm time limit"),
        ("OUT_OF_MEMORY", "used more memory than it asked for"),
        ("CANCELLED", "the job was cancelled"),
    ],
)
def test_job_that_ended_without_a_result_fails_its_process_naming_the_state(
    tmp_path, backend, colony, state, explained
):
    backend.script(JobScript(("PENDING", "RUNNING", state), run=False))
    pid = colony.submit("hpcq_echo", {"message": "lost"})
    with serving(make_executor(tmp_path, backend, colony)):
        closed(colony, pid)
    job = backend.jobs_of(pid)[0]
    error = colony.process(pid)["errors"][0]
    assert error.startswith(f"Slurm job {job.job_id} ended {state}: ") and explained in error
    assert colony.attributes(pid)["slurm_state"] == state and colony.closes(pid) == ["failed"]


def test_result_written_before_the_node_failed_counts_as_finished(tmp_path, backend, colony):
    backend.script(JobScript(("PENDING", "RUNNING", "NODE_FAIL"), run=True))
    pid = colony.submit("hpcq_echo", {"message": "made it"})
    with serving(make_executor(tmp_path, backend, colony)):
        closed(colony, pid)
    assert colony.state(pid) == PS.SUCCESS and colony.closes(pid) == ["success"]


def test_function_exception_fails_the_process_with_its_text(tmp_path, backend, colony):
    pid = colony.submit("hpcq_fail", {"message": "boom"})
    with serving(make_executor(tmp_path, backend, colony)):
        closed(colony, pid)
    job = backend.jobs_of(pid)[0]
    assert colony.process(pid)["errors"][0] == f"hpcq_fail failed in Slurm job {job.job_id}: RuntimeError: boom"
    assert colony.closes(pid) == ["failed"]


def test_job_killed_by_slurm_before_the_function_began_is_resubmitted_a_bounded_number_of_times(
    tmp_path, backend, colony
):
    died = JobScript(
        ("PENDING", "RUNNING", "FAILED"),
        run=False,
        stderr="srun: error: Unable to contact slurm controller (connect failure)",
    )
    backend.script(died)
    saved = colony.submit("hpcq_echo", {"message": "second try"})
    with serving(make_executor(tmp_path, backend, colony)):
        closed(colony, saved)
        backend.script(*[died] * (INFRA_RETRIES + 1))
        doomed = colony.submit("hpcq_echo", {"message": "never runs"})
        closed(colony, doomed)
    assert colony.state(saved) == PS.SUCCESS and len(backend.jobs_of(saved)) == 2
    assert colony.closes(saved) == ["success"]
    assert colony.state(doomed) == PS.FAILED and len(backend.jobs_of(doomed)) == INFRA_RETRIES + 1
    assert colony.closes(doomed) == ["failed"]


def test_colony_check_reaches_every_watched_process_beyond_the_list_limit(tmp_path, backend, colony, monkeypatch):
    """colonies lists at most 100 RUNNING processes (the oldest) and cannot page: the watcher then
    confirms its processes one by one, 20 per check, taking turns, so that a process cancelled or
    removed on the server is found even when the 20 first it watches are still running."""
    from hpcq.executor.watcher import LIST_LIMIT

    ex = make_executor(tmp_path, backend, colony)
    ex.setup()
    w = ex.watcher
    pids = [f"{i:064x}" for i in range(130)]
    still_ours = set(pids[:40])
    w.active.update(
        {
            p: Watched(p, "1000", "b1", 0, str(tmp_path), "hpcq_echo", str(tmp_path / "o.json"), str(tmp_path))
            for p in pids
        }
    )
    others = [{"processid": f"x{i}", "assignedexecutorid": "someone-else"} for i in range(LIST_LIMIT)]
    monkeypatch.setattr(w.me.client, "list_processes", lambda *a, **k: others)
    monkeypatch.setattr(w, "colony_state", lambda pid: "ours" if pid in still_ours else "gone")
    monkeypatch.setattr(w, "_cancel_job_of", lambda watched: None)
    for _ in range(10):
        w._check_colony()
    assert set(w.active) == still_ours


# --- failover between sites (docs/reliability.md) -------------------------------------------------------
def test_slurm_not_answering_stops_taking_new_processes_until_it_does(tmp_path, backend, colony):
    """sbatch failing (slurmctld unreachable) for slurm_down_pause_s: the executor holds what it has
    and takes nothing new, so that another site's executor can; once sbatch works, it serves again."""
    backend.fail_submit(SlurmError(UNREACHABLE), times=1000)
    held = colony.submit("hpcq_echo", {"message": "held"})
    with serving(make_executor(tmp_path, backend, colony, slurm_down_pause_s=0)):
        settle(lambda: backend.attempts >= 2, "sbatch retried")
        later = colony.submit("hpcq_echo", {"message": "for another site"})
        time.sleep(0.3)  # many assign periods and sbatch retries (backoff capped at 0.05 s)
        assert colony.state(later) == PS.WAITING and colony.state(held) == PS.RUNNING
        backend.heal()
        closed(colony, held, later)
    assert colony.closes(held) == ["success"] and colony.closes(later) == ["success"]
    assert [s.process_ids for s in backend.submissions] == [[held], [later]]


def test_pause_waits_for_slurm_down_pause_s():
    from hpcq.executor.daemon import assign_paused

    assert not assign_paused(None, 100.0, 0)  # sbatch works
    assert not assign_paused(90.0, 100.0, 30)  # down for 10 s of 30
    assert assign_paused(70.0, 100.0, 30) and assign_paused(100.0, 100.0, 0)


def test_a_held_process_given_to_another_site_is_never_submitted_by_the_first(tmp_path, backend, colony):
    """Site a's Slurm stops answering while it holds a process; its maxexectime re-queues it and
    site b runs it. When a's Slurm is back, a must not submit it: one run, one close, by b."""
    backend.fail_submit(SlurmError(UNREACHABLE), times=1000)
    pid = colony.submit("hpcq_echo", {"message": "moves"}, maxretries=1)
    a = make_executor(tmp_path, backend, colony, name="site-a", slurm_down_pause_s=0)
    b_backend = FakeBackend()
    with serving(a):
        settle(lambda: backend.attempts >= 2, "a retries sbatch")
        colony.expire(pid)  # maxexectime: back in the queue; a is paused and does not take it again
        with serving(make_executor(tmp_path, b_backend, colony, name="site-b")):
            closed(colony, pid)
        backend.heal()
        settle(lambda: a.journal.proc(pid).state == "closed", "a lets go")
        time.sleep(0.2)  # more retry periods: none may submit it
    assert backend.submissions == [] and [s.process_ids for s in b_backend.submissions] == [[pid]]
    assert colony.closes(pid) == ["success"] and a.journal.proc(pid).closed_as == "gone"
    assert backend.pings >= 1  # holding nothing, a asked Slurm itself before taking work again
    assert len(colony.files) <= 1  # b's file at most (hpcq_echo writes none unless asked)


def test_a_late_site_registers_no_file_and_closes_nothing_of_a_process_another_site_owns(tmp_path, backend, colony):
    """Site a's job finished after ColonyOS had re-queued its process and site b had taken it (a was
    cut off for longer than maxexectime): a's watcher must neither register a's result file nor
    close, so the process's results are registered once, by b."""
    from hpcq.job.task import Outcome

    pid = colony.submit("hpcq_echo", {"message": "late"}, maxretries=1)
    a = make_executor(tmp_path, backend, colony, name="site-a")
    a.setup()
    b = make_executor(tmp_path, FakeBackend(), colony, name="site-b")
    b.setup()
    assert colony.assign(colony.colony, 1, a.ident.prvkey).processid == pid
    colony.expire(pid)
    assert colony.assign(colony.colony, 1, b.ident.prvkey).processid == pid  # b owns it now
    result = tmp_path / "late.h5"
    result.write_bytes(b"a's result")
    outcome = tmp_path / "outcome.json"
    Outcome(process_id=pid, ok=True, files=[str(result)], started=1.0, finished=2.0).write(outcome)
    a.watcher.watch([Watched(pid, "1000", "b1", 0, str(tmp_path), "hpcq_echo", str(outcome), str(tmp_path))])
    for _ in range(3):
        a.watcher.cycle()
    assert pid not in a.watcher.active and colony.files == [] and colony.closes(pid) == []
    assert colony.state(pid) == PS.RUNNING and colony.process(pid)["assignedexecutorid"] == b.ident.executor_id
