"""The RPC handlers of single processes with the real server's semantics: submit, get/list/remove,
close/fail, output and cancel (the process documents themselves: hpcq.server.procs). Handlers take
(ctx, caller id, message) and expect the caller to hold ``ctx.store.lock`` inside a transaction
(hpcq.server.api does)."""

from __future__ import annotations

import json
from typing import Any

import hpcq.server.handlers.graphs as graphs  # not via the package: its __init__ imports every handler
from hpcq.colonyos import ProcessState as S
from hpcq.server import procs
from hpcq.server.auth import require_assignee, require_colony_owner, require_member
from hpcq.server.context import Ctx
from hpcq.server.wire import bad, field, normalise_spec, now_ns


# --- submit / get / list / remove ------------------------------------------------------------
def submit(ctx: Ctx, caller: str, msg: dict) -> dict:
    spec = normalise_spec(field(msg, "spec", dict, required=True))
    name = require_member(ctx, caller, spec["conditions"]["colonyname"])
    p = procs.new_process(spec, caller, name, now_ns())
    procs.store_new(ctx, p)
    ctx.store.cond.notify_all()
    return procs.render(ctx, p)


def get(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = procs.load(ctx, msg.get("processid"))
    require_member(ctx, caller, p["spec"]["conditions"]["colonyname"])
    return procs.render(ctx, p)


def list_(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    count = procs.check_count(msg)
    state = field(msg, "state", int, 0)
    if state not in procs.ORDER:
        raise bad("invalid msg.State")
    require_member(ctx, caller, colonyname)
    sql = "SELECT doc FROM processes WHERE colonyname=? AND state=?"
    args: list[Any] = [colonyname, state]
    for key, col in (("executortype", "executortype"), ("label", "label"), ("initiator", "initiatorname")):
        value = field(msg, key, str, "")
        if value:
            sql += f" AND {col}=?"
            args.append(value)
    sql += f" ORDER BY {procs.ORDER[state]} LIMIT ?"
    args.append(count)
    rows = ctx.store.all(sql, *args)
    return [procs.render(ctx, p) for p in rows] or None


def remove(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = procs.load(ctx, msg.get("processid"))
    require_member(ctx, caller, p["spec"]["conditions"]["colonyname"])
    if p["processgraphid"]:
        raise bad("Failed to remove process, process is part of a processgraph: remove the processgraph instead")
    if p["state"] == S.RUNNING:
        raise bad("Failed to remove process, process is running")
    procs.delete_processes(ctx, [p["processid"]])
    return {}


def remove_all(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    state = field(msg, "state", int, 0)
    require_colony_owner(ctx, caller, colonyname)
    if state not in set(S):
        raise bad("invalid msg.State")
    sql = "SELECT processid FROM processes WHERE colonyname=? AND processgraphid='' AND state!=?"
    args: list[Any] = [colonyname, S.RUNNING]
    if state != S.NOTSET:
        sql += " AND state=?"
        args.append(state)
    pids = [r[0] for r in ctx.store.db.execute(sql, args)]
    procs.delete_processes(ctx, pids)
    return {}


# --- close / fail / output -------------------------------------------------------------------
def _out_list(msg: dict, key: str) -> list:
    v = msg.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise bad(f"failed to parse msg: field '{key}' must be an array")
    return v


def _update_function_stats(ctx: Ctx, p: dict, executor: dict) -> None:
    row = ctx.store.db.execute(
        "SELECT functionid, doc FROM functions WHERE colonyname=? AND executorname=? AND funcname=?",
        (p["spec"]["conditions"]["colonyname"], executor["executorname"], p["spec"]["funcname"]),
    ).fetchone()
    if row is None:
        return
    f = json.loads(row["doc"])
    wait = max(0.0, (p["starttime"] - p["submissiontime"]) / 1e9)
    exe = max(0.0, (p["endtime"] - p["starttime"]) / 1e9)
    n = f["counter"]
    if n == 0:
        f.update(minwaittime=wait, maxwaittime=wait, minexectime=exe, maxexectime=exe)
    f["minwaittime"] = min(f["minwaittime"], wait)
    f["maxwaittime"] = max(f["maxwaittime"], wait)
    f["minexectime"] = min(f["minexectime"], exe)
    f["maxexectime"] = max(f["maxexectime"], exe)
    f["avgwaittime"] = (f["avgwaittime"] * n + wait) / (n + 1)
    f["avgexectime"] = (f["avgexectime"] * n + exe) / (n + 1)
    f["counter"] = n + 1
    ctx.store.db.execute("UPDATE functions SET doc=? WHERE functionid=?", (json.dumps(f), row["functionid"]))


def close_successful(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = procs.load(ctx, msg.get("processid"))
    out = _out_list(msg, "out")
    executor = require_assignee(ctx, caller, p)
    if p["state"] != S.RUNNING:
        raise bad(f"Failed to close process as successful, process is in {procs.STATE_NAMES[p['state']]} state")
    if out:
        p["out"] = out
    p["state"] = S.SUCCESS
    p["endtime"] = now_ns()
    ctx.store.put_process(p)
    _update_function_stats(ctx, p, executor)
    if p["processgraphid"]:
        graphs.resolve(ctx, p["processgraphid"], p["processid"])
    ctx.store.cond.notify_all()
    return {}


def close_failed(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = procs.load(ctx, msg.get("processid"))
    errors = _out_list(msg, "errors")
    if not all(isinstance(e, str) for e in errors):
        raise bad("failed to parse msg: field 'errors' must be an array of strings")
    require_assignee(ctx, caller, p)
    if S(p["state"]).final:
        raise bad(f"Failed to close process as failed, process is already {procs.STATE_NAMES[p['state']]}")
    mark_failed(ctx, p, errors)
    return {}


def mark_failed(ctx: Ctx, p: dict, errors: list[str]) -> None:
    p["state"] = S.FAILED
    p["errors"] = list(errors)
    p["endtime"] = now_ns()
    ctx.store.put_process(p)
    if p["processgraphid"]:
        graphs.resolve(ctx, p["processgraphid"], p["processid"])
    ctx.store.cond.notify_all()


def set_output(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = procs.load(ctx, msg.get("processid"))
    out = _out_list(msg, "out")
    require_assignee(ctx, caller, p)
    if p["state"] != S.RUNNING:
        raise bad("Failed to set output, process is not running")
    if out:
        p["out"] = out
        ctx.store.put_process(p)
    return {}


# --- cancellation (colonies v1.9.12) ---------------------------------------------------------------
def cancel(ctx: Ctx, caller: str, msg: dict) -> dict:
    """cancelprocessmsg: any colony member; a workflow member is cancelled with its workflow."""
    p = procs.load(ctx, msg.get("processid"))
    require_member(ctx, caller, p["spec"]["conditions"]["colonyname"])
    if p["processgraphid"]:
        raise bad(
            "Failed to cancel, cannot cancel a process part of a workflow, cancel the entire "
            "workflow instead (cancelprocessgraphmsg)"
        )
    procs.mark_cancelled(ctx, p)
    return {}
