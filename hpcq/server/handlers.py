"""Colonies, executors, users, attributes, logs, functions, statistics, file metadata and
snapshots. Handlers take (ctx, caller id, message) and return the reply payload; the caller
(hpcq.server.api) holds the store lock and a transaction."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from hpcq.server import processes as procs
from hpcq.server.auth import (
    Ctx, get_colony, require_assignee, require_colony_owner, require_member, require_server_owner,
)
from hpcq.server.store import dumps
from hpcq.server.wire import (
    APPROVED, FAILED, MAX_LOG_COUNT, PENDING, REJECTED, RUNNING, SUCCESS, UNREGISTERED,
    WAITING, attribute_id, bad, field, forbidden, gotime, notfound, now_ns, random_id,
    render_executor,
)

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise bad(f"invalid {what} {value!r}: must be 64 lowercase hex characters (an id from "
                  "a private key)")
    return value


# --- colonies -----------------------------------------------------------------------------------
def add_colony(ctx: Ctx, caller: str, msg: dict) -> dict:
    require_server_owner(ctx, caller)
    colony = field(msg, "colony", dict, required=True)
    name = field(colony, "name", str, "")
    if not name:
        raise bad("colony name is empty: set colony.name")
    cid = _id(colony.get("colonyid"), "colony.colonyid")
    if ctx.store.scalar("SELECT 1 FROM colonies WHERE name=?", name):
        raise bad(f"A colony with name <{name}> already exists")
    doc = {"colonyid": cid, "name": name}
    ctx.store.db.execute("INSERT INTO colonies (name, colonyid, doc) VALUES (?,?,?)",
                         (name, cid, dumps(doc)))
    return doc


def remove_colony(ctx: Ctx, caller: str, msg: dict) -> dict:
    require_server_owner(ctx, caller)
    name = field(msg, "colonyname", str, "")
    get_colony(ctx, name)
    db = ctx.store.db
    pids = [r[0] for r in db.execute("SELECT processid FROM processes WHERE colonyname=?", (name,))]
    procs.delete_processes(ctx, pids)
    for table in ("graphs", "executors", "users", "functions", "files", "snapshots", "logs"):
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


# --- executors ----------------------------------------------------------------------------------
def add_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    ex = field(msg, "executor", dict, required=True)
    colonyname = field(ex, "colonyname", str, "")
    require_colony_owner(ctx, caller, colonyname)
    name = field(ex, "executorname", str, "")
    etype = field(ex, "executortype", str, "")
    if not name:
        raise bad("executor.executorname is empty: give the executor a name")
    if not etype:
        raise bad("executor.executortype is empty: give the executor a type")
    eid = _id(ex.get("executorid"), "executor.executorid")
    db = ctx.store.db
    existing = ctx.store.one("SELECT doc FROM executors WHERE colonyname=? AND executorname=?",
                             colonyname, name)
    if existing and not ctx.allow_reregister:
        raise bad(f"Executor with name <{name}> already exists in colony <{colonyname}>")
    other = ctx.store.one("SELECT doc FROM executors WHERE executorid=? AND colonyname=?",
                          eid, colonyname)
    if other and other["executorname"] != name:
        raise bad(f"Executor with id <{eid}> already exists in colony <{colonyname}>")
    caps = ex.get("capabilities") if isinstance(ex.get("capabilities"), dict) else {}
    allocs = ex.get("allocations") if isinstance(ex.get("allocations"), dict) else {}
    doc = {
        "executorid": eid, "executortype": etype, "executorname": name, "colonyname": colonyname,
        "state": PENDING, "requirefuncreg": bool(ex.get("requirefuncreg", False)),
        "commissiontime": now_ns(), "lastheardfromtime": 0,
        "locationname": field(ex, "locationname", str, ""),
        "capabilities": {"hardware": caps.get("hardware"), "software": caps.get("software")},
        "allocations": {"projects": allocs.get("projects") or {}},
        "blueprintid": field(ex, "blueprintid", str, ""),
        "blueprintgen": field(ex, "blueprintgen", int, 0),
    }
    db.execute("DELETE FROM executors WHERE colonyname=? AND executorname=?", (colonyname, name))
    db.execute("INSERT INTO executors (colonyname, executorname, executorid, executortype, state,"
               " lastheard, doc) VALUES (?,?,?,?,?,?,?)",
               (colonyname, name, eid, etype, PENDING, 0, dumps(doc)))
    return render_executor(doc)


def _load_executor(ctx: Ctx, colonyname: str, name: str) -> dict:
    ex = ctx.store.one("SELECT doc FROM executors WHERE colonyname=? AND executorname=?",
                       colonyname, name)
    if ex is None:
        raise notfound(f"Executor with name <{name}> not found in colony <{colonyname}>")
    return ex


def _set_executor_state(ctx: Ctx, caller: str, msg: dict, state: int) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_colony_owner(ctx, caller, colonyname)
    ex = _load_executor(ctx, colonyname, field(msg, "executorname", str, ""))
    ex["state"] = state
    ctx.store.db.execute("UPDATE executors SET state=?, doc=? WHERE colonyname=? AND executorname=?",
                         (state, dumps(ex), colonyname, ex["executorname"]))
    return {}


def approve_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    return _set_executor_state(ctx, caller, msg, APPROVED)


def reject_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    return _set_executor_state(ctx, caller, msg, REJECTED)


def remove_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_colony_owner(ctx, caller, colonyname)
    ex = _load_executor(ctx, colonyname, field(msg, "executorname", str, ""))
    ctx.store.db.execute("DELETE FROM executors WHERE colonyname=? AND executorname=?",
                         (colonyname, ex["executorname"]))
    ctx.store.db.execute("DELETE FROM functions WHERE colonyname=? AND executorname=?",
                         (colonyname, ex["executorname"]))
    return {}


def get_executors(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname, approved=False)
    rows = ctx.store.all("SELECT doc FROM executors WHERE colonyname=? ORDER BY executorname",
                         colonyname)
    return [render_executor(e) for e in rows] or None


def get_executor(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname, approved=False)
    return render_executor(_load_executor(ctx, colonyname, field(msg, "executorname", str, "")))


# --- users -------------------------------------------------------------------------------------------
def add_user(ctx: Ctx, caller: str, msg: dict) -> dict:
    user = field(msg, "user", dict, required=True)
    colonyname = field(user, "colonyname", str, "")
    require_colony_owner(ctx, caller, colonyname)
    name = field(user, "name", str, "")
    if not name:
        raise bad("user.name is empty: give the user a name")
    uid = _id(user.get("userid"), "user.userid")
    if ctx.store.scalar("SELECT 1 FROM users WHERE colonyname=? AND (name=? OR userid=?)",
                        colonyname, name, uid):
        raise bad(f"A user with name <{name}> or id <{uid}> already exists in colony <{colonyname}>")
    doc = {"colonyname": colonyname, "userid": uid, "name": name,
           "email": field(user, "email", str, ""), "phone": field(user, "phone", str, "")}
    ctx.store.db.execute("INSERT INTO users (colonyname, name, userid, doc) VALUES (?,?,?,?)",
                         (colonyname, name, uid, dumps(doc)))
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


# --- attributes --------------------------------------------------------------------------------------
def add_attribute(ctx: Ctx, caller: str, msg: dict) -> dict:
    a = field(msg, "attribute", dict, required=True)
    p = procs.load(ctx, a.get("targetid"))
    key = field(a, "key", str, "")
    value = field(a, "value", str, "")
    atype = field(a, "attributetype", int, 0)
    if not key:
        raise bad("attribute.key is empty: give the attribute a key")
    if atype not in (0, 1, 2, 3):
        raise bad(f"invalid attribute.attributetype {atype}: use 0 (IN), 1 (OUT), 2 (ERR) or 3 (ENV)")
    require_assignee(ctx, caller, p)
    if p["state"] != RUNNING:
        raise bad("Failed to add attribute, process is not running")
    doc = {"attributeid": attribute_id(p["processid"], key, atype), "targetid": p["processid"],
           "targetcolonyname": p["spec"]["conditions"]["colonyname"],
           "targetprocessgraphid": p["processgraphid"], "state": p["state"],
           "attributetype": atype, "key": key, "value": value}
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
    ex = require_assignee(ctx, caller, p)
    if p["state"] != RUNNING:
        raise bad("Failed to add log, process is not running")
    ts = now_ns()
    colonyname = p["spec"]["conditions"]["colonyname"]
    doc = {"processid": p["processid"], "colonyname": colonyname,
           "executorname": ex["executorname"], "message": message, "timestamp": ts}
    ctx.store.db.execute("INSERT INTO logs (colonyname, processid, executorname, timestamp, doc)"
                         " VALUES (?,?,?,?,?)", (colonyname, p["processid"], ex["executorname"],
                                                 ts, dumps(doc)))
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
        rows = ctx.store.all(f"SELECT doc FROM logs WHERE {where} AND timestamp>? ORDER BY "
                             "timestamp DESC, seq DESC LIMIT ?", *args, since, count)
        rows.reverse()
    else:
        rows = ctx.store.all(f"SELECT doc FROM logs WHERE {where} AND timestamp>? ORDER BY "
                             "timestamp ASC, seq ASC LIMIT ?", *args, since, count)
    return rows or None


# --- functions ---------------------------------------------------------------------------------------
def add_function(ctx: Ctx, caller: str, msg: dict) -> dict:
    fun = field(msg, "fun", dict, required=True)
    colonyname = field(fun, "colonyname", str, "")
    exname = field(fun, "executorname", str, "")
    funcname = field(fun, "funcname", str, "")
    require_member(ctx, caller, colonyname)
    ex = ctx.store.one("SELECT doc FROM executors WHERE colonyname=? AND executorname=?",
                       colonyname, exname)
    if ex is None or ex["executorid"] != caller:
        raise forbidden("Access denied, only the executor itself may register its functions")
    if not funcname:
        raise bad("fun.funcname is empty: name the function")
    if ctx.store.scalar("SELECT 1 FROM functions WHERE colonyname=? AND executorname=? AND "
                        "funcname=?", colonyname, exname, funcname):
        raise bad(f"Function <{funcname}> already registered for executor <{exname}>")
    doc = {"functionid": random_id(), "executorname": exname, "executortype": ex["executortype"],
           "colonyname": colonyname, "funcname": funcname, "counter": 0,
           "minwaittime": 0.0, "maxwaittime": 0.0, "minexectime": 0.0, "maxexectime": 0.0,
           "avgwaittime": 0.0, "avgexectime": 0.0}
    ctx.store.db.execute("INSERT INTO functions (functionid, colonyname, executorname, funcname, doc)"
                         " VALUES (?,?,?,?,?)", (doc["functionid"], colonyname, exname, funcname,
                                                 dumps(doc)))
    return doc


def get_functions(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    exname = field(msg, "executorname", str, "")
    require_member(ctx, caller, colonyname)
    if exname:
        return ctx.store.all("SELECT doc FROM functions WHERE colonyname=? AND executorname=? "
                             "ORDER BY rowid", colonyname, exname) or None
    return ctx.store.all("SELECT doc FROM functions WHERE colonyname=? ORDER BY rowid",
                         colonyname) or None


def remove_function(ctx: Ctx, caller: str, msg: dict) -> dict:
    fid = field(msg, "functionid", str, "")
    f = ctx.store.one("SELECT doc FROM functions WHERE functionid=?", fid)
    if f is None:
        raise notfound(f"Function with id <{fid}> not found")
    ex = ctx.store.one("SELECT doc FROM executors WHERE colonyname=? AND executorname=?",
                       f["colonyname"], f["executorname"])
    if ex is None or ex["executorid"] != caller:
        raise forbidden("Access denied, only the executor itself may remove its functions")
    ctx.store.db.execute("DELETE FROM functions WHERE functionid=?", (fid,))
    return {}


# --- statistics --------------------------------------------------------------------------------------
def stats(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    s = ctx.store.scalar
    pc = {st: s("SELECT COUNT(*) FROM processes WHERE colonyname=? AND state=?", colonyname, st)
          for st in (WAITING, RUNNING, SUCCESS, FAILED)}
    gc = {st: s("SELECT COUNT(*) FROM graphs WHERE colonyname=? AND state=?", colonyname, st)
          for st in (WAITING, RUNNING, SUCCESS, FAILED)}
    return {
        "colonies": s("SELECT COUNT(*) FROM colonies"),
        "executors": s("SELECT COUNT(*) FROM executors WHERE colonyname=?", colonyname),
        "activeexecutors": s("SELECT COUNT(*) FROM executors WHERE colonyname=? AND state=?",
                             colonyname, APPROVED),
        "unregisteredexecutors": s("SELECT COUNT(*) FROM executors WHERE colonyname=? AND state=?",
                                   colonyname, UNREGISTERED),
        "waitingprocesses": pc[WAITING], "runningprocesses": pc[RUNNING],
        "successfulprocesses": pc[SUCCESS], "failedprocesses": pc[FAILED],
        "waitingworkflows": gc[WAITING], "runningworkflows": gc[RUNNING],
        "successfulworkflows": gc[SUCCESS], "failedworkflows": gc[FAILED],
    }


# --- files and snapshots (metadata only; blobs live in S3) ------------------------------------------
def _label(value: Any) -> str:
    if value is None:
        return "/"
    if not isinstance(value, str):
        raise bad("failed to parse msg: field 'label' must be a string")
    return "/" + value.strip("/")


def _render_file(f: dict) -> dict:
    return dict(f, added=gotime(f["added"]))


def add_file(ctx: Ctx, caller: str, msg: dict) -> dict:
    f = field(msg, "file", dict, required=True)
    colonyname = field(f, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    name = field(f, "name", str, "")
    if not name:
        raise bad("file.name is empty: name the file")
    if "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        raise bad(f"file.name {name!r} is not a plain file name: drop directories (use file.label for them)")
    ref = f.get("ref")
    if not isinstance(ref, dict) or not isinstance(ref.get("s3object"), dict):
        raise bad("file.ref.s3object is missing: a file reference needs protocol and s3object")
    s3 = ref["s3object"]
    s3doc = {"server": field(s3, "server", str, ""), "port": field(s3, "port", int, 0),
             "tls": field(s3, "tls", bool, False), "accesskey": field(s3, "accesskey", str, ""),
             "secretkey": field(s3, "secretkey", str, ""), "region": field(s3, "region", str, ""),
             "encryptionkey": field(s3, "encryptionkey", str, ""),
             "encryptionalg": field(s3, "encryptionalg", str, ""),
             "object": field(s3, "object", str, ""), "bucket": field(s3, "bucket", str, "")}
    doc = {"fileid": random_id(), "colonyname": colonyname, "label": _label(f.get("label")),
           "name": name, "size": field(f, "size", int, 0), "sequencenr": ctx.store.next_seq("file"),
           "checksum": field(f, "checksum", str, ""), "checksumalg": field(f, "checksumalg", str, ""),
           "ref": {"protocol": field(ref, "protocol", str, ""), "s3object": s3doc},
           "added": now_ns()}
    ctx.store.db.execute("INSERT INTO files (fileid, colonyname, label, name, sequencenr, doc) "
                         "VALUES (?,?,?,?,?,?)", (doc["fileid"], colonyname, doc["label"], name,
                                                  doc["sequencenr"], dumps(doc)))
    return _render_file(doc)


def _find_files(ctx: Ctx, msg: dict) -> list[dict]:
    colonyname = field(msg, "colonyname", str, "")
    fileid = field(msg, "fileid", str, "")
    if fileid:
        return ctx.store.all("SELECT doc FROM files WHERE fileid=? AND colonyname=?", fileid,
                             colonyname)
    return ctx.store.all("SELECT doc FROM files WHERE colonyname=? AND label=? AND name=? "
                         "ORDER BY sequencenr DESC", colonyname, _label(msg.get("label")),
                         field(msg, "name", str, ""))


def get_file(ctx: Ctx, caller: str, msg: dict) -> list:
    require_member(ctx, caller, field(msg, "colonyname", str, ""))
    files = _find_files(ctx, msg)
    if not files:
        raise notfound("File not found")
    if field(msg, "latest", bool, False):
        files = files[:1]
    return [_render_file(f) for f in files]


def _latest_under(ctx: Ctx, colonyname: str, label: str, sublabels: bool) -> list[dict]:
    rows = ctx.store.all("SELECT doc FROM files WHERE colonyname=? ORDER BY sequencenr DESC",
                         colonyname)
    seen, out = set(), []
    for f in rows:
        inside = f["label"] == label or (sublabels and f["label"].startswith(label.rstrip("/") + "/"))
        if inside and (f["label"], f["name"]) not in seen:
            seen.add((f["label"], f["name"]))
            out.append(f)
    return out


def get_files(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    files = _latest_under(ctx, colonyname, _label(msg.get("label")), sublabels=False)
    return [{"name": f["name"], "checksum": f["checksum"], "size": f["size"],
             "s3filename": f["ref"]["s3object"]["object"]} for f in files] or None


def get_file_labels(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    name = field(msg, "name", str, "")
    exact = field(msg, "exact", bool, False)
    counts: dict[str, set] = {}
    for row in ctx.store.db.execute("SELECT label, name FROM files WHERE colonyname=?", (colonyname,)):
        counts.setdefault(row["label"], set()).add(row["name"])
    out = []
    for label in sorted(counts):
        if name:
            want = _label(name)
            if exact and label != want:
                continue
            if not exact and not (label == want or label.startswith(want.rstrip("/") + "/")):
                continue
        out.append({"name": label, "files": len(counts[label])})
    return out or None


def remove_file(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    files = _find_files(ctx, msg)
    if not files:
        raise notfound("File not found")
    for f in files:
        ctx.store.db.execute("DELETE FROM files WHERE fileid=?", (f["fileid"],))
    return {}


def _render_snapshot(s: dict) -> dict:
    return dict(s, added=gotime(s["added"]))


def create_snapshot(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    name = field(msg, "name", str, "")
    if not name:
        raise bad("snapshot name is empty: name the snapshot")
    label = _label(msg.get("label"))
    files = _latest_under(ctx, colonyname, label, sublabels=True)
    doc = {"snapshotid": random_id(), "colonyname": colonyname, "label": label, "name": name,
           "fileids": [f["fileid"] for f in files], "added": now_ns()}
    try:
        ctx.store.db.execute("INSERT INTO snapshots (snapshotid, colonyname, name, doc) VALUES "
                             "(?,?,?,?)", (doc["snapshotid"], colonyname, name, dumps(doc)))
    except sqlite3.IntegrityError:
        raise bad(f"A snapshot with name <{name}> already exists in colony <{colonyname}>") from None
    return _render_snapshot(doc)


def get_snapshot(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    sid = field(msg, "snapshotid", str, "")
    name = field(msg, "name", str, "")
    if sid:
        s = ctx.store.one("SELECT doc FROM snapshots WHERE snapshotid=? AND colonyname=?", sid,
                          colonyname)
    else:
        s = ctx.store.one("SELECT doc FROM snapshots WHERE name=? AND colonyname=?", name, colonyname)
    if s is None:
        raise notfound("Snapshot not found")
    return _render_snapshot(s)


def get_snapshots(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    return [_render_snapshot(s) for s in ctx.store.all(
        "SELECT doc FROM snapshots WHERE colonyname=? ORDER BY rowid", colonyname)] or None


def remove_snapshot(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    sid = field(msg, "snapshotid", str, "")
    name = field(msg, "name", str, "")
    cur = ctx.store.db.execute(
        "DELETE FROM snapshots WHERE colonyname=? AND (snapshotid=? OR (?='' AND name=?))",
        (colonyname, sid, sid, name))
    if cur.rowcount == 0:
        raise notfound("Snapshot not found")
    return {}


# --- dispatch table --------------------------------------------------------------------------------------
HANDLERS = {
    "addcolonymsg": add_colony, "removecolonymsg": remove_colony, "getcoloniesmsg": get_colonies,
    "getcolonymsg": get_colony_msg,
    "addexecutormsg": add_executor, "approveexecutormsg": approve_executor,
    "rejectexecutormsg": reject_executor, "removeexecutormsg": remove_executor,
    "getexecutorsmsg": get_executors, "getexecutormsg": get_executor,
    "addusermsg": add_user, "getusersmsg": get_users, "getusermsg": get_user,
    "removeusermsg": remove_user,
    "submitfuncspecmsg": procs.submit, "getprocessmsg": procs.get, "getprocessesmsg": procs.list_,
    "removeprocessmsg": procs.remove, "removeallprocessesmsg": procs.remove_all,
    "closesuccessfulmsg": procs.close_successful, "closefailedmsg": procs.close_failed,
    "setoutputmsg": procs.set_output,
    "submitworkflowspecmsg": procs.submit_workflow, "getprocessgraphmsg": procs.get_graph,
    "getprocessgraphsmsg": procs.list_graphs, "removeprocessgraphmsg": procs.remove_graph,
    "removeallprocessgraphsmsg": procs.remove_all_graphs,
    "addchildmsg": procs.add_child,
    "addattributemsg": add_attribute, "getattributemsg": get_attribute,
    "addlogmsg": add_log, "getlogsmsg": get_logs,
    "addfunctionmsg": add_function, "getfunctionsmsg": get_functions,
    "removefunctionmsg": remove_function,
    "getcolonystatsmsg": stats,
    "addfilemsg": add_file, "getfilemsg": get_file, "getfilesmsg": get_files,
    "getfilelabelsmsg": get_file_labels, "removefilemsg": remove_file,
    "createsnapshotmsg": create_snapshot, "getsnapshotmsg": get_snapshot,
    "getsnapshotsmsg": get_snapshots, "removesnapshotmsg": remove_snapshot,
}
