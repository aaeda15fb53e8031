"""Process attributes and process/executor logs (written by the assigned executor)."""

from __future__ import annotations

from hpcq.colonyos import ProcessState as S
from hpcq.server import procs
from hpcq.server.auth import require_assignee, require_member
from hpcq.server.context import Ctx
from hpcq.server.store import dumps
from hpcq.server.wire import ATTR_NAMES, MAX_LOG_COUNT, attribute_id, bad, field, forbidden, nonempty, notfound, now_ns


def _require_running(ctx: Ctx, caller: str, p: dict, refusal: str) -> None:
    """Colonies' order for an executor's report on a process: a colony member (403), a RUNNING
    process (403, also to the assignee of an expired or cancelled one), then the assignee (403)."""
    require_member(ctx, caller, p["spec"]["conditions"]["colonyname"])
    if p["state"] != S.RUNNING:
        raise forbidden(refusal)


# --- attributes --------------------------------------------------------------------------------------
def add_attribute(ctx: Ctx, caller: str, msg: dict) -> dict:
    a = field(msg, "attribute", dict, required=True)
    p = procs.load(ctx, a.get("targetid"))
    key = nonempty(a, "key", "attribute", "give the attribute a key")
    value = field(a, "value", str, "")
    atype = field(a, "attributetype", int, 0)
    if atype not in ATTR_NAMES:
        use = ", ".join(f"{n} ({name})" for n, name in ATTR_NAMES.items())
        raise bad(f"invalid attribute.attributetype {atype}: use {use}")
    _require_running(ctx, caller, p, "Failed to add attribute, process is not running")
    require_assignee(ctx, caller, p)
    doc = {
        "attributeid": attribute_id(p["processid"], key, atype),
        "targetid": p["processid"],
        "targetcolonyname": p["spec"]["conditions"]["colonyname"],
        "targetprocessgraphid": p["processgraphid"],
        "state": p["state"],
        "attributetype": atype,
        "key": key,
        "value": value,
    }
    procs.put_attribute(ctx, doc)
    return doc


def get_attribute(ctx: Ctx, caller: str, msg: dict) -> dict:
    aid = field(msg, "attributeid", str, "")
    a = ctx.store.one("SELECT doc FROM attributes WHERE attributeid=?", aid)
    if a is None:
        raise notfound(f"Attribute with id <{aid}> not found")
    require_member(ctx, caller, a["targetcolonyname"])
    return a


# --- logs --------------------------------------------------------------------------------------------
def add_log(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = procs.load(ctx, msg.get("processid"))
    message = field(msg, "message", str, "")
    _require_running(ctx, caller, p, "Failed to add log, process is not running")
    ex = require_assignee(ctx, caller, p)
    ts = now_ns()
    colonyname = p["spec"]["conditions"]["colonyname"]
    doc = {
        "processid": p["processid"],
        "colonyname": colonyname,
        "executorname": ex["executorname"],
        "message": message,
        "timestamp": ts,
    }
    ctx.store.db.execute(
        "INSERT INTO logs (colonyname, processid, executorname, timestamp, doc) VALUES (?,?,?,?,?)",
        (colonyname, p["processid"], ex["executorname"], ts, dumps(doc)),
    )
    return {}


def get_logs(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    count = procs.check_count(msg, MAX_LOG_COUNT)
    since = field(msg, "since", int, 0)
    latest = field(msg, "latest", bool, False)
    require_member(ctx, caller, colonyname)
    pid = field(msg, "processid", str, "")
    exname = field(msg, "executorname", str, "")
    if pid:
        p = procs.load(ctx, pid)
        if p["spec"]["conditions"]["colonyname"] != colonyname:
            raise forbidden("Access denied, process is not in colony")
        where, args = "processid=?", [pid]
    elif exname:
        where, args = "colonyname=? AND executorname=?", [colonyname, exname]
    else:
        raise bad("getlogsmsg needs processid or executorname")
    if latest:
        rows = ctx.store.all(
            f"SELECT doc FROM logs WHERE {where} AND timestamp>? ORDER BY timestamp DESC, seq DESC LIMIT ?",
            *args,
            since,
            count,
        )
        rows.reverse()
    else:
        rows = ctx.store.all(
            f"SELECT doc FROM logs WHERE {where} AND timestamp>? ORDER BY timestamp ASC, seq ASC LIMIT ?",
            *args,
            since,
            count,
        )
    return rows or None
