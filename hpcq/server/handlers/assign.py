"""assignprocessmsg: the long-poll and the atomic pick of the best waiting process for an executor."""

from __future__ import annotations

import json
import time
from typing import Any

import hpcq.server.handlers.graphs as graphs  # not via the package: its __init__ imports every handler
from hpcq.colonyos import ProcessState as S
from hpcq.server import procs
from hpcq.server.auth import member_executor, require_member
from hpcq.server.context import Ctx
from hpcq.server.wire import APPROVED, RPCError, bad, deadline, field, mem_mib, norm_mem, notfound, now_ns

MAX_INT8 = 127


def _names_ok(p: dict, executorname: str) -> bool:
    names = p["spec"]["conditions"].get("executornames") or []
    return not names or names == ["*"] or executorname in names


def _cpu_m(v: Any) -> int | None:
    s = str(v or "").strip()
    if not s:
        return None
    if s.endswith("m") and s[:-1].isdigit():
        return int(s[:-1])
    return int(s) * 1000 if s.isdigit() else None


def _fits(p: dict, executor: dict, avail_cpu: int | None, avail_mem: int | None) -> bool:
    """What colonies v1.9.12's default (distributed) assign checks, and nothing more
    (``SelectAndAssign``): names, nodes/processes/processespernode <= 127, location (any case),
    cpu/mem within what the executor says it has available; storage is compared with MaxInt64
    (never blocks), GPUs and the executor's capabilities are not looked at (docs/sites.md)."""
    c = p["spec"]["conditions"]
    if not _names_ok(p, executor["executorname"]):
        return False
    if c["nodes"] > MAX_INT8 or c["processes"] > MAX_INT8 or c["processespernode"] > MAX_INT8:
        return False
    loc = (c.get("locationname") or "").lower()
    if loc and loc != (executor.get("locationname") or "").lower():
        return False
    if avail_cpu is not None and int(c["cpu"][:-1] or 0) > avail_cpu:
        return False
    return avail_mem is None or mem_mib(c["mem"]) <= avail_mem


def _inputs_from_parents(ctx: Ctx, p: dict) -> list:
    """The child's `in` is its parents' `out`, concatenated in the order of its dependencies."""
    parents = [x for x in (ctx.store.get_process(pid) for pid in p["parents"]) if x]
    order = {n: i for i, n in enumerate(p["spec"]["conditions"]["dependencies"])}
    parents.sort(key=lambda x: order.get(x["spec"]["nodename"], len(order)))
    out: list = []
    for parent in parents:
        out.extend(parent["out"] or [])
    return out


def try_assign(ctx: Ctx, executor: dict, colonyname: str, avail_cpu: int | None, avail_mem: int | None) -> dict | None:
    """Atomic pick (caller holds the lock and a transaction) of the lowest prioritytime match."""
    cur = ctx.store.db.execute(
        "SELECT doc FROM processes WHERE colonyname=? AND executortype=? AND state=? AND "
        "isassigned=0 AND waitforparents=0 ORDER BY prioritytime ASC",
        (colonyname, executor["executortype"], S.WAITING),
    )
    chosen = None
    for row in cur:
        p = json.loads(row["doc"])
        if _fits(p, executor, avail_cpu, avail_mem):
            chosen = p
            break
    cur.close()
    if chosen is None:
        return None
    now = now_ns()
    chosen.update(state=S.RUNNING, isassigned=True, assignedexecutorid=executor["executorid"], starttime=now)
    maxexec = chosen["spec"]["maxexectime"]
    chosen["execdeadline"] = deadline(now, maxexec)
    if chosen["processgraphid"] and chosen["parents"]:  # roots keep theirs (a cron's previous output)
        chosen["in"] = _inputs_from_parents(ctx, chosen)
    ctx.store.put_process(chosen)
    if chosen["processgraphid"]:
        graphs.resolve(ctx, chosen["processgraphid"], chosen["processid"])
    return chosen


def assign(ctx: Ctx, caller: str, msg: dict, wait) -> dict:
    """Long-poll: try, then block on the store condition until woken or the timeout passes.
    ``wait(seconds)`` releases the lock while blocked (Condition.wait)."""
    colonyname = field(msg, "colonyname", str, "")
    timeout = field(msg, "timeout", int, 0)
    avail_cpu = _cpu_m(field(msg, "availablecpu", str, ""))
    avail_mem_s = field(msg, "availablemem", str, "")
    avail_mem = None
    if avail_mem_s:
        avail_mem = mem_mib(norm_mem(avail_mem_s, "availablemem"))
    give_up = time.monotonic() + timeout
    first = True
    while True:
        if ctx.closing:
            raise RPCError(503, "server is shutting down")
        with ctx.store.tx():
            executor = member_executor(ctx, caller, colonyname)
            if first and (executor is None or executor["state"] != APPROVED):
                require_member(ctx, caller, colonyname)  # refuses with the real server's reason
            if executor is None:  # a user, or removed while we waited
                raise RPCError(500, "executor not found")
            if first:
                if timeout == 0:
                    raise bad(
                        "invalid timeout 0: assign needs a timeout in seconds (> 0 to "
                        "long-poll, < 0 for a single attempt)"
                    )
                executor["lastheardfromtime"] = now_ns()  # assign is the liveness signal
                ctx.store.db.execute(
                    "UPDATE executors SET lastheard=?, doc=? WHERE executorid=? AND colonyname=?",
                    (executor["lastheardfromtime"], json.dumps(executor), caller, colonyname),
                )
                first = False
            p = try_assign(ctx, executor, colonyname, avail_cpu, avail_mem)
            if p is not None:
                out = procs.render(ctx, p)
        if p is not None:
            return out
        remaining = give_up - time.monotonic()
        if timeout < 0 or remaining <= 0:
            raise notfound("No process available for assignment")
        wait(min(remaining, 60.0))  # re-check at least every minute (and stay < TIMEOUT_MAX)
