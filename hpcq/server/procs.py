"""The process repository: how a process document is made, stored, loaded, rendered, listed and
cancelled, shared by the RPC handlers (processes, graphs, attributes, channels, blueprints) and the
websocket. No RPC handler lives here, so the handler modules depend on this one and never on each
other for data. Callers hold ``ctx.store.lock`` inside a transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hpcq.colonyos import ProcessState as S
from hpcq.server.context import Ctx
from hpcq.server.wire import (
    ATTR_ENV,
    DAY_NS,
    MAX_COUNT,
    attribute_id,
    bad,
    deadline,
    field,
    notfound,
    now_ns,
    random_id,
    render_process,
)


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


def delete_processes(ctx: Ctx, pids: list[str]) -> None:
    db = ctx.store.db
    for pid in pids:
        db.execute("DELETE FROM processes WHERE processid=?", (pid,))
        db.execute("DELETE FROM attributes WHERE targetid=?", (pid,))


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
