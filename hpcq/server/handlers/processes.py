"""Single processes with the real server's semantics: submit, get/list/remove, close/fail and
output. Handlers take (ctx, caller id, message) and expect the caller to hold ``ctx.store.lock``
inside a transaction (hpcq.server.api does)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hpcq.colonyos import ProcessState as S
from hpcq.server.auth import Ctx, require_assignee, require_colony_owner, require_member
from hpcq.server.handlers import graphs
from hpcq.server.wire import (
    ATTR_ENV,
    DAY_NS,
    MAX_COUNT,
    attribute_id,
    bad,
    deadline,
    field,
    normalise_spec,
    notfound,
    now_ns,
    random_id,
    render_process,
)


# --- helpers ---------------------------------------------------------------------------------
def attributes_of(ctx: Ctx, targetid: str) -> list[dict]:
    return ctx.store.all("SELECT doc FROM attributes WHERE targetid=? ORDER BY seq", targetid)


def render(ctx: Ctx, p: dict) -> dict:
    return render_process(p, attributes_of(ctx, p["processid"]))


def load(ctx: Ctx, processid: Any) -> dict:
    if not isinstance(processid, str):
        raise bad("failed to parse msg: field 'processid' must be a string")
    p = ctx.store.get_process(processid)
    if p is None:
        raise notfound(f"Process with id <{processid}> not found")
    return p


def put_attribute(ctx: Ctx, attr: dict) -> None:
    try:
        ctx.store.db.execute(
            "INSERT INTO attributes (attributeid, targetid, seq, doc) VALUES (?,?,?,?)",
            (attr["attributeid"], attr["targetid"], ctx.store.next_seq("attribute"), json.dumps(attr)),
        )
    except sqlite3.IntegrityError:
        raise bad(
            f"attribute with key <{attr['key']}> and type {attr['attributetype']} already "
            f"exists for target <{attr['targetid']}> (keys can only be added once)"
        ) from None


def new_process(spec: dict, initiatorid: str, initiatorname: str, now: int) -> dict:
    maxwait = spec["maxwaittime"]
    return {
        "processid": random_id(),
        "initiatorid": initiatorid,
        "initiatorname": initiatorname,
        "assignedexecutorid": "",
        "isassigned": False,
        "state": S.WAITING,
        "prioritytime": spec["priority"] * -DAY_NS + now,
        "submissiontime": now,
        "starttime": 0,
        "endtime": 0,
        "waitdeadline": deadline(now, maxwait),
        "execdeadline": 0,
        "retries": 0,
        "spec": spec,
        "waitforparents": False,
        "parents": [],
        "children": [],
        "processgraphid": "",
        "in": [],
        "out": [],
        "errors": [],
    }


def store_new(ctx: Ctx, p: dict) -> None:
    ctx.store.put_process(p)
    for key, value in p["spec"]["env"].items():
        put_attribute(
            ctx,
            {
                "attributeid": attribute_id(p["processid"], key, ATTR_ENV),
                "targetid": p["processid"],
                "targetcolonyname": p["spec"]["conditions"]["colonyname"],
                "targetprocessgraphid": p["processgraphid"],
                "state": S.WAITING,
                "attributetype": ATTR_ENV,
                "key": key,
                "value": value,
            },
        )


# --- submit / get / list / remove ------------------------------------------------------------
def submit(ctx: Ctx, caller: str, msg: dict) -> dict:
    spec = normalise_spec(field(msg, "spec", dict, required=True))
    name = require_member(ctx, caller, spec["conditions"]["colonyname"])
    p = new_process(spec, caller, name, now_ns())
    store_new(ctx, p)
    ctx.store.cond.notify_all()
    return render(ctx, p)


def get(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = load(ctx, msg.get("processid"))
    require_member(ctx, caller, p["spec"]["conditions"]["colonyname"])
    return render(ctx, p)


ORDER = {
    S.WAITING: "prioritytime ASC",
    S.RUNNING: "starttime ASC",
    S.SUCCESS: "endtime DESC",
    S.FAILED: "endtime DESC",
    S.CANCELLED: "endtime DESC",
}
STATE_NAMES = {
    S.WAITING: "waiting",
    S.RUNNING: "running",
    S.SUCCESS: "successful",
    S.FAILED: "failed",
    S.CANCELLED: "cancelled",
}


def check_count(msg: dict, limit: int = MAX_COUNT) -> int:
    count = field(msg, "count", int, 0)
    if count > limit:
        raise bad(f"Count exceeds max count ({limit})")
    if count < 0:
        raise bad(f"invalid count {count}: must be between 0 and {limit}")
    return count


def list_(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    count = check_count(msg)
    state = field(msg, "state", int, 0)
    if state not in ORDER:
        raise bad("invalid msg.State")
    require_member(ctx, caller, colonyname)
    sql = "SELECT doc FROM processes WHERE colonyname=? AND state=?"
    args: list[Any] = [colonyname, state]
    for key, col in (("executortype", "executortype"), ("label", "label"), ("initiator", "initiatorname")):
        value = field(msg, key, str, "")
        if value:
            sql += f" AND {col}=?"
            args.append(value)
    sql += f" ORDER BY {ORDER[state]} LIMIT ?"
    args.append(count)
    rows = ctx.store.all(sql, *args)
    return [render(ctx, p) for p in rows] or None


def delete_processes(ctx: Ctx, pids: list[str]) -> None:
    db = ctx.store.db
    for pid in pids:
        db.execute("DELETE FROM processes WHERE processid=?", (pid,))
        db.execute("DELETE FROM attributes WHERE targetid=?", (pid,))


def remove(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = load(ctx, msg.get("processid"))
    require_member(ctx, caller, p["spec"]["conditions"]["colonyname"])
    if p["processgraphid"]:
        raise bad("Failed to remove process, process is part of a processgraph: remove the processgraph instead")
    if p["state"] == S.RUNNING:
        raise bad("Failed to remove process, process is running")
    delete_processes(ctx, [p["processid"]])
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
    delete_processes(ctx, pids)
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
    p = load(ctx, msg.get("processid"))
    out = _out_list(msg, "out")
    executor = require_assignee(ctx, caller, p)
    if p["state"] != S.RUNNING:
        raise bad(f"Failed to close process as successful, process is in {STATE_NAMES[p['state']]} state")
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
    p = load(ctx, msg.get("processid"))
    errors = _out_list(msg, "errors")
    if not all(isinstance(e, str) for e in errors):
        raise bad("failed to parse msg: field 'errors' must be an array of strings")
    require_assignee(ctx, caller, p)
    if S(p["state"]).final:
        raise bad(f"Failed to close process as failed, process is already {STATE_NAMES[p['state']]}")
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
    p = load(ctx, msg.get("processid"))
    out = _out_list(msg, "out")
    require_assignee(ctx, caller, p)
    if p["state"] != S.RUNNING:
        raise bad("Failed to set output, process is not running")
    if out:
        p["out"] = out
        ctx.store.put_process(p)
    return {}


# --- cancellation (colonies v1.9.12) ---------------------------------------------------------------
def mark_cancelled(ctx: Ctx, p: dict) -> None:
    """WAITING or RUNNING -> CANCELLED (as MarkCancelled): never assigned again; its executor sees
    the state, stops the work, and its close is refused."""
    if S(p["state"]).final:
        raise bad(
            f"Tried to cancel {STATE_NAMES[p['state']]} process"
            + (" (already cancelled)" if p["state"] == S.CANCELLED else "")
        )
    p["state"] = S.CANCELLED
    p["endtime"] = now_ns()
    ctx.store.put_process(p)
    ctx.store.cond.notify_all()


def cancel(ctx: Ctx, caller: str, msg: dict) -> dict:
    """cancelprocessmsg: any colony member; a workflow member is cancelled with its workflow."""
    p = load(ctx, msg.get("processid"))
    require_member(ctx, caller, p["spec"]["conditions"]["colonyname"])
    if p["processgraphid"]:
        raise bad(
            "Failed to cancel, cannot cancel a process part of a workflow, cancel the entire "
            "workflow instead (cancelprocessgraphmsg)"
        )
    mark_cancelled(ctx, p)
    return {}
