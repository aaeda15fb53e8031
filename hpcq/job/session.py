"""A primitive session's job side: one Slurm job (``primitive_session``) serving many
``primitive_run`` calls (the executor side that routes calls here: hpcq.executor.sessions).

``serve`` is the catalog function ``primitive_session``: rank 0 polls the inbox on the shared
filesystem, runs each Task with the ordinary job runner (so every call writes its own Outcome and
log markers), and ends on a close call, after ``idle_timeout_s`` without calls, or at the
walltime. On the way out it renames the inbox (a call routed after that is refused by the
executor) and fails what is left. Other ranks receive each Task from rank 0 over MPI.

No ColonyOS key reaches the job: it only reads files the executor wrote. Standard library only.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hpcq.functions import FunctionResult, JobContext
from hpcq.job.runner import run_tasks
from hpcq.job.task import Outcome, Task

log = logging.getLogger(__name__)

INBOX = "inbox"  # <session workdir>/inbox: one Task JSON file per routed call
RETIRED = INBOX + ".ended-"  # + Unix time: the inbox renamed when the session ends


def inbox_of(session_workdir: str | Path) -> Path:
    return Path(session_workdir) / INBOX


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


def _refuse(task: Task, why: str, ctx: JobContext) -> None:
    Outcome(
        process_id=task.process_id,
        ok=False,
        error=f"SessionEnded: {why}",
        started=time.time(),
        finished=time.time(),
        slurm_job_id=ctx.slurm_job_id,
        nodes=ctx.nodes,
    ).write(task.outcome_path)


def _close_ok(task: Task, ctx: JobContext) -> None:
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

    def __init__(self, ctx: JobContext):
        self.comm: Any = None
        if ctx.size > 1:
            from hpcq.mpi import mpi_world

            self.comm = mpi_world()
        self.rank = self.comm.Get_rank() if self.comm else 0

    def send(self, task: Task | None) -> None:
        if self.comm is not None:
            for r in range(1, self.comm.Get_size()):
                self.comm.send(None if task is None else asdict(task), dest=r, tag=21)

    def recv(self) -> Task | None:
        assert self.comm is not None, "only ranks > 0 receive"
        while not self.comm.iprobe(source=0, tag=21):
            time.sleep(0.01)
        data = self.comm.recv(source=0, tag=21)
        return None if data is None else Task(**data)


def serve(kwargs: dict[str, Any], ctx: JobContext) -> FunctionResult | None:
    """The session loop (every rank). Returns the session summary on rank 0."""
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
        retired = inbox.with_name(f"{RETIRED}{int(time.time())}")
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
