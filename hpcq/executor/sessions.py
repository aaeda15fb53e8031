"""Primitive sessions, executor side: a ``primitive_run`` call whose kwargs name a live session is
not sbatched but handed to that session's running Slurm job (the job side: hpcq.job.session).

``route`` writes the call's Task as JSON into the session's inbox on the shared filesystem,
journals it with the session's Slurm job id (a restart adopts it like any submitted process) and
hands it to the watcher, which closes it from its Outcome file as usual and fails it if the
session job ends first. It needs only a few things of the executor (``Submitter``), so the daemon
and this module do not import each other.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from hpcq.atomicfile import write_atomic
from hpcq.executor.journal import BatchRow, Journal, ProcRow
from hpcq.executor.resources import Prepared
from hpcq.functions import PRIMITIVE_RUN, PRIMITIVE_SESSION
from hpcq.job.session import RETIRED, inbox_of
from hpcq.job.task import Task
from hpcq.logfmt import EXECUTOR_LOG

log = logging.getLogger(EXECUTOR_LOG)


class Submitter(Protocol):
    """What routing needs of the executor (hpcq.executor.daemon.Executor is one)."""

    journal: Journal

    @property
    def name(self) -> str:
        """The executor's name, for messages."""
        ...

    def new_batch(self, params: dict[str, Any], folder: str | Path | None = None) -> BatchRow:
        """A one-element batch of this executor's backend (not journaled yet)."""
        ...

    def task(self, prepared: Prepared, batch: BatchRow) -> Task:
        """The Task that runs ``prepared`` in ``batch``."""
        ...

    def fail(self, pids: list[str], message: str) -> None:
        """Close these processes FAILED with ``message``."""
        ...

    def watch(self, batch: BatchRow, rows: list[ProcRow]) -> None:
        """Hand submitted rows of ``batch`` to the watcher."""
        ...


class SessionRefused(ValueError):
    pass


def wants_session(funcname: str, params: dict[str, Any]) -> bool:
    return funcname == PRIMITIVE_RUN and bool(params.get("session"))


def _session_row(sub: Submitter, sid: str) -> ProcRow:
    """The journal row of a live session job, or SessionRefused saying why there is none."""
    row = sub.journal.proc(sid)
    if row is None or row.funcname != PRIMITIVE_SESSION:
        raise SessionRefused(
            f"kwargs.session: {sid!r} is not a session this executor ({sub.name}) serves; "
            "start a Session first, with the same executor type"
        )
    if row.state == "closed":
        raise SessionRefused(
            f"kwargs.session: session {sid} has ended (closed, idle timeout or walltime); start a new Session"
        )
    if not row.job_id:
        raise SessionRefused(f"kwargs.session: session {sid} has no Slurm job yet; retry in a moment")
    return row


def route(sub: Submitter, prepared: Prepared) -> None:
    """Hand one validated call to its session's job. A call that cannot be routed is closed FAILED
    with the reason; the executor keeps serving."""
    pid, sid = prepared.process.processid, prepared.params["session"]
    try:
        row = _session_row(sub, sid)
        old = sub.journal.batch(row.batch_id)
        # the session job's own parameters: if a crash lands between intent and routing, recovery
        # runs the call as a job of its own (same result, never lost)
        batch = sub.new_batch(dict(old.params) if old else {}, old.folder if old else None)
        task = sub.task(prepared, batch)
        procs = batch.procs([[task]])
        sub.journal.record_intent(batch, procs)
        try:
            post(inbox_of(row.task["workdir"]), task)
        except OSError as exc:
            sub.journal.record_submitted(batch.batch_id, [])
            raise SessionRefused(
                f"kwargs.session: session {sid} is not accepting calls any more ({exc}); start a new Session"
            ) from None
        sub.journal.record_submitted(batch.batch_id, [row.job_id or ""])
    except SessionRefused as exc:
        sub.fail([pid], str(exc))
        return
    log.info("routed process=%s to session=%s job=%s", pid, sid, row.job_id)
    sub.watch(batch, [ProcRow(**{**asdict(p), "job_id": row.job_id, "state": "submitted"}) for p in procs])


def post(inbox: Path, task: Task) -> Path:
    """Atomically put a Task into an inbox (write a hidden temp file, rename: the reader never
    sees half a file). Fails if the session has retired its inbox."""
    if not inbox.is_dir():
        if any(inbox.parent.glob(f"{RETIRED}*")):
            raise FileNotFoundError(f"{inbox} was retired by the session job")
        inbox.mkdir(parents=True, exist_ok=True)  # the session job has not started yet
    target = inbox / f"{time.time_ns():020d}-{task.process_id}.json"
    return write_atomic(target, json.dumps(asdict(task)), durable=False, mkdir=False)
