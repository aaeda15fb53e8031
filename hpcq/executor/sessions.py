"""Primitive sessions: one Slurm job (``primitive_session``) serving many ``primitive_run`` calls.

Executor side (``route``): a call whose kwargs name a live session is not sbatched; its Task is
written as JSON into the session's inbox on the shared filesystem, journaled with the session's
Slurm job id (a restart adopts it like any submitted process) and handed to the watcher, which
closes it from its Outcome file as usual and fails it if the session job ends first.

Job side (``serve``, the catalog function ``primitive_session``): rank 0 polls the inbox, runs each
Task with the ordinary job runner (so every call writes its own Outcome and log markers), and
ends on a close call, after ``idle_timeout_s`` without calls, or at the walltime. On the way out it
renames the inbox (a call routed after that is refused by the executor) and fails what is left.

No ColonyOS key reaches the job: it only reads files the executor wrote. Standard library only.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hpcq.atomicfile import write_atomic
from hpcq.job.task import Outcome, Task

log = logging.getLogger("hpcq.executor")

SESSION_FUNC = "primitive_session"
CALL_FUNC = "primitive_run"
INBOX = "inbox"


def inbox_of(session_workdir: str | Path) -> Path:
    return Path(session_workdir) / INBOX


def wants_session(funcname: str, params: dict[str, Any]) -> bool:
    return funcname == CALL_FUNC and bool(params.get("session"))


class SessionRefused(ValueError):
    pass


# -- executor side -------------------------------------------------------------------------------
def route(ex, prepared) -> None:
    """Hand one validated call to its session's job (``ex``: the daemon's Executor). A call that
    cannot be routed is closed FAILED with the reason; the executor keeps serving."""
    from hpcq.executor.journal import BatchRow, ProcRow

    p = prepared.process
    pid, sid = p.processid, prepared.params["session"]
    try:
        row = ex.journal.proc(sid)
        if row is None or row.funcname != SESSION_FUNC:
            raise SessionRefused(
                f"kwargs.session: {sid!r} is not a session this executor ({ex.key.name}) serves; "
                "start a Session first, with the same executor type"
            )
        if row.state == "closed":
            raise SessionRefused(
                f"kwargs.session: session {sid} has ended (closed, idle timeout or walltime); start a new Session"
            )
        if not row.job_id:
            raise SessionRefused(f"kwargs.session: session {sid} has no Slurm job yet; retry in a moment")
        inbox = inbox_of(row.task["workdir"])
        old = ex.journal.batch(row.batch_id)
        folder = Path(old.folder if old else ex.cfg.jobs_dir)
        batch_id = uuid.uuid4().hex[:12]
        task = Task(
            process_id=pid,
            funcname=prepared.fd.name,
            params=prepared.params,
            workdir=str(ex.cfg.results_dir / ex.colony / pid),
            outcome_path=str(folder / "outcomes" / batch_id / f"{pid}.json"),
            inputs=list(p.input or []),
        )
        now = time.time()
        # the session job's own parameters: if a crash lands between intent and routing, recovery
        # runs the call as a job of its own (same result, never lost)
        batch = BatchRow(
            batch_id=batch_id,
            job_name=f"hpcq-{batch_id}",
            backend=ex.backend.name,
            folder=str(folder),
            params=dict(old.params) if old else {},
            elements=1,
            created=now,
            submitted=None,
        )
        ex.journal.record_intent(
            batch,
            [
                ProcRow(
                    process_id=pid,
                    batch_id=batch_id,
                    element=0,
                    funcname=task.funcname,
                    task=asdict(task),
                    assigned=now,
                )
            ],
        )
        try:
            post(inbox, task)
        except OSError as exc:
            ex.journal.record_submitted(batch_id, [])
            raise SessionRefused(
                f"kwargs.session: session {sid} is not accepting calls any more ({exc}); start a new Session"
            ) from None
        ex.journal.record_submitted(batch_id, [row.job_id])
    except SessionRefused as exc:
        ex._fail_many([pid], str(exc))
        return
    from hpcq.executor.daemon import _watched

    log.info("routed process=%s to session=%s job=%s", pid, sid, row.job_id)
    ex.watcher.watch(
        [
            _watched(
                ProcRow(
                    process_id=pid,
                    batch_id=batch_id,
                    element=0,
                    funcname=task.funcname,
                    task=asdict(task),
                    job_id=row.job_id,
                    state="submitted",
                    assigned=now,
                ),
                str(folder),
            )
        ]
    )


def post(inbox: Path, task: Task) -> Path:
    """Atomically put a Task into an inbox (write a hidden temp file, rename: the reader never
    sees half a file). Fails if the session has retired its inbox."""
    if not inbox.is_dir():
        if any(inbox.parent.glob(f"{INBOX}.ended-*")):
            raise FileNotFoundError(f"{inbox} was retired by the session job")
        inbox.mkdir(parents=True, exist_ok=True)  # the session job has not started yet
    target = inbox / f"{time.time_ns():020d}-{task.process_id}.json"
    return write_atomic(target, json.dumps(asdict(task)), durable=False, mkdir=False)


# -- job side ------------------------------------------------------------------------------------
def _take(inbox: Path) -> list[tuple[Path, Task]]:
    out = []
    for name in sorted(n for n in os.listdir(inbox) if n.endswith(".json") and not n.startswith(".")):
        path = inbox / name
        try:
            task = Task(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            log.warning("skipping unreadable inbox file %s: %s", path, exc)
            path.unlink(missing_ok=True)
            continue
        path.unlink(missing_ok=True)
        out.append((path, task))
    return out


def _refuse(task: Task, why: str, ctx) -> None:
    Outcome(
        process_id=task.process_id,
        ok=False,
        error=f"SessionEnded: {why}",
        started=time.time(),
        finished=time.time(),
        slurm_job_id=ctx.slurm_job_id,
        nodes=ctx.nodes,
    ).write(task.outcome_path)


def _close_ok(task: Task, ctx) -> None:
    Outcome(
        process_id=task.process_id,
        ok=True,
        summary={"closed": task.params.get("session")},
        started=time.time(),
        finished=time.time(),
        slurm_job_id=ctx.slurm_job_id,
        nodes=ctx.nodes,
    ).write(task.outcome_path)


class _Channel:
    """Rank 0 -> other ranks: the next Task (or None = stop), received by polling with a sleep so
    that idle ranks do not spin in MPI."""

    def __init__(self, ctx):
        self.comm = None
        if ctx.size > 1:
            from hpcq.mpi import mpi_world

            self.comm = mpi_world()
        self.rank = self.comm.Get_rank() if self.comm else 0

    def send(self, task: Task | None) -> None:
        if self.comm is not None:
            for r in range(1, self.comm.Get_size()):
                self.comm.send(None if task is None else asdict(task), dest=r, tag=21)

    def recv(self) -> Task | None:
        while not self.comm.iprobe(source=0, tag=21):
            time.sleep(0.01)
        data = self.comm.recv(source=0, tag=21)
        return None if data is None else Task(**data)


def serve(kwargs: dict, ctx):
    """The session loop (every rank). Returns the session summary on rank 0."""
    from hpcq.functions import FunctionResult
    from hpcq.job.runner import run_tasks

    idle = float(kwargs.get("idle_timeout_s", 300.0))
    poll = float(kwargs.get("poll_s", 0.02))
    chan = _Channel(ctx)
    if chan.rank != 0:
        while (task := chan.recv()) is not None:
            run_tasks([task])
        return None
    inbox = inbox_of(ctx.workdir)
    inbox.mkdir(parents=True, exist_ok=True)
    started = last = time.monotonic()
    served, reason = 0, "idle timeout"
    print(f"[hpcq] session {ctx.process_id} serving {inbox} (idle timeout {idle:g} s)", flush=True)
    try:
        while reason != "closed":
            batch = _take(inbox)
            if not batch:
                if time.monotonic() - last > idle:
                    break
                time.sleep(poll)
                continue
            for i, (_, task) in enumerate(batch):
                if task.params.get("op") == "close":
                    _close_ok(task, ctx)
                    for _, rest in batch[i + 1 :]:
                        _refuse(rest, f"session {ctx.process_id} was closed before this call ran", ctx)
                    reason = "closed"
                    break
                chan.send(task)
                run_tasks([task])
                served += 1
            last = time.monotonic()
    finally:
        chan.send(None)
        retired = inbox.with_name(f"{INBOX}.ended-{int(time.time())}")
        try:
            os.replace(inbox, retired)  # the executor's next post() fails: no call is left behind
            for _, task in _take(retired):
                _refuse(task, f"session {ctx.process_id} ended ({reason}) before this call ran", ctx)
        except OSError as exc:
            log.warning("retiring inbox %s failed: %s", inbox, exc)
    print(f"[hpcq] session {ctx.process_id} ended ({reason}) after {served} call(s)", flush=True)
    return FunctionResult(
        summary={
            "session": ctx.process_id,
            "calls": served,
            "ended": reason,
            "wall_time_s": round(time.monotonic() - started, 3),
        }
    )
