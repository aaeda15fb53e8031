"""Colonies (server owner) and their users (colony owner)."""

from __future__ import annotations

from hpcq.server import procs
from hpcq.server.auth import get_colony, require_colony_owner, require_member, require_server_owner
from hpcq.server.context import Ctx
from hpcq.server.store import dumps
from hpcq.server.wire import bad, check_id, field, nonempty, notfound


def add_colony(ctx: Ctx, caller: str, msg: dict) -> dict:
    require_server_owner(ctx, caller)
    colony = field(msg, "colony", dict, required=True)
    name = field(colony, "name", str, "")
    if not name:
        raise bad("colony name is empty: set colony.name")
    cid = check_id(colony.get("colonyid"), "colony.colonyid")
    if ctx.store.scalar("SELECT 1 FROM colonies WHERE name=?", name):
        raise bad(f"A colony with name <{name}> already exists")
    doc = {"colonyid": cid, "name": name}
    ctx.store.db.execute("INSERT INTO colonies (name, colonyid, doc) VALUES (?,?,?)", (name, cid, dumps(doc)))
    return doc


def remove_colony(ctx: Ctx, caller: str, msg: dict) -> dict:
    require_server_owner(ctx, caller)
    name = field(msg, "colonyname", str, "")
    get_colony(ctx, name)
    db = ctx.store.db
    pids = [r[0] for r in db.execute("SELECT processid FROM processes WHERE colonyname=?", (name,))]
    procs.delete_processes(ctx, pids)
    for table in (
        "graphs",
        "executors",
        "users",
        "functions",
        "files",
        "snapshots",
        "logs",
        "crons",
        "generators",
        "blueprint_definitions",
        "blueprints",
    ):
        db.execute(f"DELETE FROM {table} WHERE colonyname=?", (name,))
    db.execute("DELETE FROM colonies WHERE name=?", (name,))
    return {}


def get_colonies(ctx: Ctx, caller: str, msg: dict) -> list | None:
    require_server_owner(ctx, caller)
    return ctx.store.all("SELECT doc FROM colonies ORDER BY rowid") or None


def get_colony_msg(ctx: Ctx, caller: str, msg: dict) -> dict:
    name = field(msg, "colonyname", str, "")
    require_member(ctx, caller, name)
    return get_colony(ctx, name)


# --- users -------------------------------------------------------------------------------------------
def add_user(ctx: Ctx, caller: str, msg: dict) -> dict:
    user = field(msg, "user", dict, required=True)
    colonyname = field(user, "colonyname", str, "")
    require_colony_owner(ctx, caller, colonyname)
    name = nonempty(user, "name", "user", "give the user a name")
    uid = check_id(user.get("userid"), "user.userid")
    if ctx.store.scalar("SELECT 1 FROM users WHERE colonyname=? AND (name=? OR userid=?)", colonyname, name, uid):
        raise bad(f"A user with name <{name}> or id <{uid}> already exists in colony <{colonyname}>")
    doc = {
        "colonyname": colonyname,
        "userid": uid,
        "name": name,
        "email": field(user, "email", str, ""),
        "phone": field(user, "phone", str, ""),
    }
    ctx.store.db.execute(
        "INSERT INTO users (colonyname, name, userid, doc) VALUES (?,?,?,?)", (colonyname, name, uid, dumps(doc))
    )
    return doc


def get_users(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname, approved=False)
    return ctx.store.all("SELECT doc FROM users WHERE colonyname=? ORDER BY name", colonyname) or None


def get_user(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname, approved=False)
    name = field(msg, "name", str, "")
    u = ctx.store.one("SELECT doc FROM users WHERE colonyname=? AND name=?", colonyname, name)
    if u is None:
        raise notfound(f"User with name <{name}> not found")
    return u


def remove_user(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_colony_owner(ctx, caller, colonyname)
    name = field(msg, "name", str, "")
    cur = ctx.store.db.execute("DELETE FROM users WHERE colonyname=? AND name=?", (colonyname, name))
    if cur.rowcount == 0:
        raise notfound(f"User with name <{name}> not found")
    return {}
