"""The background sweeps: maxexectime/maxwaittime expiry (every second) and stale executors."""

from __future__ import annotations

from hpcq.colonyos import ProcessState as S
from hpcq.server.context import Ctx
from hpcq.server.handlers.executors import requeue_running
from hpcq.server.handlers.processes import mark_failed
from hpcq.server.wire import deadline, now_ns

EXEC_TIMEOUT_MSG = "Maximum execution time limit exceeded"
WAIT_TIMEOUT_MSG = "Maximum waiting time limit exceeded"


def sweep(ctx: Ctx) -> None:
    """maxexectime expiry (requeue with retries+1, or FAILED after maxretries) and maxwaittime."""
    now = now_ns()
    expired = ctx.store.all(
        "SELECT doc FROM processes WHERE state=? AND maxexectime!=-1 AND execdeadline<?", S.RUNNING, now
    )
    for p in expired:
        maxretries = p["spec"]["maxretries"]
        if maxretries > -1 and p["retries"] >= maxretries:
            mark_failed(ctx, p, [EXEC_TIMEOUT_MSG])
            continue
        maxwait = p["spec"]["maxwaittime"]
        p.update(
            state=S.WAITING,
            isassigned=False,
            assignedexecutorid="",
            retries=p["retries"] + 1,
            endtime=now,
            execdeadline=0,
            waitdeadline=deadline(now, maxwait),
        )
        ctx.store.put_process(p)
        ctx.store.cond.notify_all()
    late = ctx.store.all(
        "SELECT doc FROM processes WHERE state=? AND maxwaittime NOT IN (0, -1) AND waitdeadline<?", S.WAITING, now
    )
    for p in late:
        current = ctx.store.get_process(p["processid"])  # a graph may have changed it already
        if current and current["state"] == S.WAITING:
            mark_failed(ctx, current, [WAIT_TIMEOUT_MSG])


def cleanup_stale_executors(ctx: Ctx) -> int:
    cutoff = now_ns() - int(ctx.settings.stale_executor_s * 1e9)
    db = ctx.store.db
    stale = db.execute(
        "SELECT colonyname, executorname, executorid FROM executors WHERE lastheard!=0 AND lastheard<?", (cutoff,)
    ).fetchall()
    for colonyname, executorname, executorid in stale:
        requeue_running(ctx, colonyname, executorid)  # as colonies: its running processes go back to the queue
        db.execute("DELETE FROM executors WHERE colonyname=? AND executorname=?", (colonyname, executorname))
        db.execute("DELETE FROM functions WHERE colonyname=? AND executorname=?", (colonyname, executorname))
    return len(stale)
