"""getcolonystatsmsg: counts per state."""

from __future__ import annotations

from hpcq.colonyos import ProcessState as S
from hpcq.server.auth import require_member
from hpcq.server.context import Ctx
from hpcq.server.wire import APPROVED, UNREGISTERED, field


def colony_stats(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    s = ctx.store.scalar
    pc = {
        st: s("SELECT COUNT(*) FROM processes WHERE colonyname=? AND state=?", colonyname, st)
        for st in (S.WAITING, S.RUNNING, S.SUCCESS, S.FAILED)
    }
    gc = {
        st: s("SELECT COUNT(*) FROM graphs WHERE colonyname=? AND state=?", colonyname, st)
        for st in (S.WAITING, S.RUNNING, S.SUCCESS, S.FAILED)
    }
    return {
        "colonies": s("SELECT COUNT(*) FROM colonies"),
        "executors": s("SELECT COUNT(*) FROM executors WHERE colonyname=?", colonyname),
        "activeexecutors": s("SELECT COUNT(*) FROM executors WHERE colonyname=? AND state=?", colonyname, APPROVED),
        "unregisteredexecutors": s(
            "SELECT COUNT(*) FROM executors WHERE colonyname=? AND state=?", colonyname, UNREGISTERED
        ),
        "waitingprocesses": pc[S.WAITING],
        "runningprocesses": pc[S.RUNNING],
        "successfulprocesses": pc[S.SUCCESS],
        "failedprocesses": pc[S.FAILED],
        "waitingworkflows": gc[S.WAITING],
        "runningworkflows": gc[S.RUNNING],
        "successfulworkflows": gc[S.SUCCESS],
        "failedworkflows": gc[S.FAILED],
    }
