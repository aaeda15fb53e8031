"""Executors (added/approved by the colony owner) and the functions they register."""

from __future__ import annotations

from hpcq.colonyos import ProcessState as S
from hpcq.server import wire
from hpcq.server.auth import require_colony_owner, require_member
from hpcq.server.context import Ctx
from hpcq.server.store import dumps
from hpcq.server.wire import bad, check_id, field, forbidden, nonempty, notfound, now_ns, random_id, render_executor


# --- executors ----------------------------------------------------------------------------------
def add_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    ex = field(msg, "executor", dict, required=True)
    colonyname = field(ex, "colonyname", str, "")
    require_colony_owner(ctx, caller, colonyname)
    name = nonempty(ex, "executorname", "executor", "give the executor a name")
    etype = nonempty(ex, "executortype", "executor", "give the executor a type")
    eid = check_id(ex.get("executorid"), "executor.executorid")
    db = ctx.store.db
    existing = ctx.store.one("SELECT doc FROM executors WHERE colonyname=? AND executorname=?", colonyname, name)
    if existing and not ctx.settings.reregister:
        raise bad(f"Executor with name <{name}> already exists in colony <{colonyname}>")
    other = ctx.store.one("SELECT doc FROM executors WHERE executorid=? AND colonyname=?", eid, colonyname)
    if other and other["executorname"] != name:
        raise bad(f"Executor with id <{eid}> already exists in colony <{colonyname}>")
    caps = ex.get("capabilities") if isinstance(ex.get("capabilities"), dict) else {}
    allocs = ex.get("allocations") if isinstance(ex.get("allocations"), dict) else {}
    doc = {
        "executorid": eid,
        "executortype": etype,
        "executorname": name,
        "colonyname": colonyname,
        "state": wire.PENDING,
        "requirefuncreg": bool(ex.get("requirefuncreg", False)),
        "commissiontime": now_ns(),
        "lastheardfromtime": 0,
        "locationname": field(ex, "locationname", str, ""),
        "capabilities": {"hardware": caps.get("hardware"), "software": caps.get("software")},
        "allocations": {"projects": allocs.get("projects") or {}},
        "blueprintid": field(ex, "blueprintid", str, ""),
        "blueprintgen": field(ex, "blueprintgen", int, 0),
    }
    db.execute("DELETE FROM executors WHERE colonyname=? AND executorname=?", (colonyname, name))
    db.execute(
        "INSERT INTO executors (colonyname, executorname, executorid, executortype, state,"
        " lastheard, doc) VALUES (?,?,?,?,?,?,?)",
        (colonyname, name, eid, etype, wire.PENDING, 0, dumps(doc)),
    )
    return render_executor(doc)


def _load_executor(ctx: Ctx, colonyname: str, name: str) -> dict:
    ex = ctx.store.one("SELECT doc FROM executors WHERE colonyname=? AND executorname=?", colonyname, name)
    if ex is None:
        raise notfound(f"Executor with name <{name}> not found in colony <{colonyname}>")
    return ex


def _owned_executor(ctx: Ctx, caller: str, msg: dict) -> tuple[str, dict]:
    """(colony, executor) that ``msg`` names, for the colony's owner."""
    colonyname = field(msg, "colonyname", str, "")
    require_colony_owner(ctx, caller, colonyname)
    return colonyname, _load_executor(ctx, colonyname, field(msg, "executorname", str, ""))


def _set_executor_state(ctx: Ctx, caller: str, msg: dict, state: int) -> dict:
    colonyname, ex = _owned_executor(ctx, caller, msg)
    ex["state"] = state
    ctx.store.db.execute(
        "UPDATE executors SET state=?, doc=? WHERE colonyname=? AND executorname=?",
        (state, dumps(ex), colonyname, ex["executorname"]),
    )
    return {}


def approve_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    return _set_executor_state(ctx, caller, msg, wire.APPROVED)


def reject_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    return _set_executor_state(ctx, caller, msg, wire.REJECTED)


def requeue_running(ctx: Ctx, colonyname: str, executorid: str) -> int:
    """As colonies v1.9.12 ``RemoveExecutorByName`` (owner's removal and stale-executor cleanup):
    the executor's RUNNING processes go back to the queue, WAITING and unassigned, start and end
    time cleared, retries unchanged. Returns how many."""
    moved = 0
    for p in ctx.store.all("SELECT doc FROM processes WHERE colonyname=? AND state=?", colonyname, S.RUNNING):
        if p.get("assignedexecutorid") != executorid:
            continue
        p.update(state=S.WAITING, isassigned=False, assignedexecutorid="", starttime=0, endtime=0)
        ctx.store.put_process(p)
        moved += 1
    if moved:
        ctx.store.cond.notify_all()
    return moved


def remove_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname, ex = _owned_executor(ctx, caller, msg)
    requeue_running(ctx, colonyname, ex["executorid"])
    ctx.store.db.execute(
        "DELETE FROM executors WHERE colonyname=? AND executorname=?", (colonyname, ex["executorname"])
    )
    ctx.store.db.execute(
        "DELETE FROM functions WHERE colonyname=? AND executorname=?", (colonyname, ex["executorname"])
    )
    return {}


def get_executors(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname, approved=False)
    rows = ctx.store.all("SELECT doc FROM executors WHERE colonyname=? ORDER BY executorname", colonyname)
    return [render_executor(e) for e in rows] or None


def get_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    """As colonies v1.9.12: the name is looked up first (a missing one is "not found" to anyone), then
    the caller must be an *approved* member (a pending executor, or the colony owner, is refused)."""
    colonyname = field(msg, "colonyname", str, "")
    ex = _load_executor(ctx, colonyname, field(msg, "executorname", str, ""))
    require_member(ctx, caller, colonyname, approved=True)
    return render_executor(ex)


# --- functions ---------------------------------------------------------------------------------------
def add_function(ctx: Ctx, caller: str, msg: dict) -> dict:
    fun = field(msg, "fun", dict, required=True)
    colonyname = field(fun, "colonyname", str, "")
    exname = field(fun, "executorname", str, "")
    funcname = field(fun, "funcname", str, "")
    require_member(ctx, caller, colonyname)
    ex = ctx.store.one("SELECT doc FROM executors WHERE colonyname=? AND executorname=?", colonyname, exname)
    if ex is None or ex["executorid"] != caller:
        raise forbidden("Access denied, only the executor itself may register its functions")
    if not funcname:
        raise bad("fun.funcname is empty: name the function")
    if ctx.store.scalar(
        "SELECT 1 FROM functions WHERE colonyname=? AND executorname=? AND funcname=?", colonyname, exname, funcname
    ):
        raise bad(f"Function <{funcname}> already registered for executor <{exname}>")
    doc = {
        "functionid": random_id(),
        "executorname": exname,
        "executortype": ex["executortype"],
        "colonyname": colonyname,
        "funcname": funcname,
        "counter": 0,
        "minwaittime": 0.0,
        "maxwaittime": 0.0,
        "minexectime": 0.0,
        "maxexectime": 0.0,
        "avgwaittime": 0.0,
        "avgexectime": 0.0,
    }
    ctx.store.db.execute(
        "INSERT INTO functions (functionid, colonyname, executorname, funcname, doc) VALUES (?,?,?,?,?)",
        (doc["functionid"], colonyname, exname, funcname, dumps(doc)),
    )
    return doc


def get_functions(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    exname = field(msg, "executorname", str, "")
    require_member(ctx, caller, colonyname)
    if exname:
        return (
            ctx.store.all(
                "SELECT doc FROM functions WHERE colonyname=? AND executorname=? ORDER BY rowid", colonyname, exname
            )
            or None
        )
    return ctx.store.all("SELECT doc FROM functions WHERE colonyname=? ORDER BY rowid", colonyname) or None


def remove_function(ctx: Ctx, caller: str, msg: dict) -> dict:
    fid = field(msg, "functionid", str, "")
    f = ctx.store.one("SELECT doc FROM functions WHERE functionid=?", fid)
    if f is None:
        raise notfound(f"Function with id <{fid}> not found")
    ex = ctx.store.one(
        "SELECT doc FROM executors WHERE colonyname=? AND executorname=?", f["colonyname"], f["executorname"]
    )
    if ex is None or ex["executorid"] != caller:
        raise forbidden("Access denied, only the executor itself may remove its functions")
    ctx.store.db.execute("DELETE FROM functions WHERE functionid=?", (fid,))
    return {}
