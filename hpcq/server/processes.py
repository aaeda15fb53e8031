"""Processes and workflows with the real server's semantics: submit, the atomic assign pick,
close/fail, graph resolution (including the fail-everything rule) and the timeout sweep.
All functions here expect the caller to hold ``ctx.store.lock`` inside a transaction."""

from __future__ import annotations

import graphlib
import json
import sqlite3
import time
from typing import Any

from hpcq.server.auth import Ctx, require_assignee, require_colony_owner, require_member
from hpcq.server.wire import (
    ATTR_ENV, DAY_NS, FAILED, deadline, MAX_COUNT, NOTSET, RUNNING, SUCCESS, WAITING, RPCError, attribute_id,
    bad, field, mem_mib, norm_mem, normalise_spec, notfound, now_ns, random_id, render_graph, render_process,
)

MAX_INT8 = 127
EXEC_TIMEOUT_MSG = "Maximum execution time limit exceeded"
WAIT_TIMEOUT_MSG = "Maximum waiting time limit exceeded"


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
            (attr["attributeid"], attr["targetid"], ctx.store.next_seq("attribute"),
             json.dumps(attr)))
    except sqlite3.IntegrityError:
        raise bad(f"attribute with key <{attr['key']}> and type {attr['attributetype']} already "
                  f"exists for target <{attr['targetid']}> (keys can only be added once)") from None


def new_process(spec: dict, initiatorid: str, initiatorname: str, now: int) -> dict:
    maxwait = spec["maxwaittime"]
    return {
        "processid": random_id(),
        "initiatorid": initiatorid,
        "initiatorname": initiatorname,
        "assignedexecutorid": "",
        "isassigned": False,
        "state": WAITING,
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
        put_attribute(ctx, {
            "attributeid": attribute_id(p["processid"], key, ATTR_ENV),
            "targetid": p["processid"],
            "targetcolonyname": p["spec"]["conditions"]["colonyname"],
            "targetprocessgraphid": p["processgraphid"],
            "state": WAITING,
            "attributetype": ATTR_ENV,
            "key": key,
            "value": value,
        })


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


_ORDER = {WAITING: "prioritytime ASC", RUNNING: "starttime ASC", SUCCESS: "endtime DESC",
          FAILED: "endtime DESC"}


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
    if state not in _ORDER:
        raise bad("invalid msg.State")
    require_member(ctx, caller, colonyname)
    sql = "SELECT doc FROM processes WHERE colonyname=? AND state=?"
    args: list[Any] = [colonyname, state]
    for key, col in (("executortype", "executortype"), ("label", "label"),
                     ("initiator", "initiatorname")):
        value = field(msg, key, str, "")
        if value:
            sql += f" AND {col}=?"
            args.append(value)
    sql += f" ORDER BY {_ORDER[state]} LIMIT ?"
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
        raise bad("Failed to remove process, process is part of a processgraph: remove the "
                  "processgraph instead")
    if p["state"] == RUNNING:
        raise bad("Failed to remove process, process is running")
    delete_processes(ctx, [p["processid"]])
    return {}


def remove_all(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    state = field(msg, "state", int, 0)
    require_colony_owner(ctx, caller, colonyname)
    if state not in (NOTSET, WAITING, RUNNING, SUCCESS, FAILED):
        raise bad("invalid msg.State")
    sql = "SELECT processid FROM processes WHERE colonyname=? AND processgraphid='' AND state!=?"
    args: list[Any] = [colonyname, RUNNING]
    if state != NOTSET:
        sql += " AND state=?"
        args.append(state)
    pids = [r[0] for r in ctx.store.db.execute(sql, args)]
    delete_processes(ctx, pids)
    return {}


# --- assign ------------------------------------------------------------------------------------
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
    c = p["spec"]["conditions"]
    if not _names_ok(p, executor["executorname"]):
        return False
    if c["nodes"] > MAX_INT8 or c["processes"] > MAX_INT8 or c["processespernode"] > MAX_INT8:
        return False
    if mem_mib(c["storage"]) > 0:  # exclusive-mode quirk: never assignable
        return False
    loc = (c.get("locationname") or "").lower()
    if loc and loc != (executor.get("locationname") or "").lower():
        return False
    if avail_cpu is not None and int(c["cpu"][:-1] or 0) > avail_cpu:
        return False
    if avail_mem is not None and mem_mib(c["mem"]) > avail_mem:
        return False
    return True


def _inputs_from_parents(ctx: Ctx, p: dict) -> list:
    """The child's `in` is its parents' `out`, concatenated in the order of its dependencies."""
    parents = [ctx.store.get_process(pid) for pid in p["parents"]]
    parents = [x for x in parents if x]
    order = {n: i for i, n in enumerate(p["spec"]["conditions"]["dependencies"])}
    parents.sort(key=lambda x: order.get(x["spec"]["nodename"], len(order)))
    out: list = []
    for parent in parents:
        out.extend(parent["out"] or [])
    return out


def try_assign(ctx: Ctx, executor: dict, colonyname: str, avail_cpu: int | None,
               avail_mem: int | None) -> dict | None:
    """Atomic pick (caller holds the lock and a transaction) of the lowest prioritytime match."""
    cur = ctx.store.db.execute(
        "SELECT doc FROM processes WHERE colonyname=? AND executortype=? AND state=0 AND "
        "isassigned=0 AND waitforparents=0 ORDER BY prioritytime ASC",
        (colonyname, executor["executortype"]))
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
    chosen.update(state=RUNNING, isassigned=True, assignedexecutorid=executor["executorid"],
                  starttime=now)
    maxexec = chosen["spec"]["maxexectime"]
    chosen["execdeadline"] = deadline(now, maxexec)
    if chosen["processgraphid"]:
        chosen["in"] = _inputs_from_parents(ctx, chosen)
    ctx.store.put_process(chosen)
    if chosen["processgraphid"]:
        resolve(ctx, chosen["processgraphid"], chosen["processid"])
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
            if first:
                require_member(ctx, caller, colonyname)
            executor = ctx.store.one(
                "SELECT doc FROM executors WHERE executorid=? AND colonyname=?", caller, colonyname)
            if executor is None:
                raise RPCError(500, "executor not found")
            if first:
                if timeout == 0:
                    raise bad("invalid timeout 0: assign needs a timeout in seconds (> 0 to "
                              "long-poll, < 0 for a single attempt)")
                executor["lastheardfromtime"] = now_ns()  # assign is the liveness signal
                ctx.store.db.execute(
                    "UPDATE executors SET lastheard=?, doc=? WHERE executorid=? AND colonyname=?",
                    (executor["lastheardfromtime"], json.dumps(executor), caller, colonyname))
                first = False
            p = try_assign(ctx, executor, colonyname, avail_cpu, avail_mem)
            if p is not None:
                out = render(ctx, p)
        if p is not None:
            return out
        remaining = give_up - time.monotonic()
        if timeout < 0 or remaining <= 0:
            raise notfound("No process available for assignment")
        wait(min(remaining, 60.0))  # re-check at least every minute (and stay < TIMEOUT_MAX)


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
        (p["spec"]["conditions"]["colonyname"], executor["executorname"], p["spec"]["funcname"])
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
    ctx.store.db.execute("UPDATE functions SET doc=? WHERE functionid=?",
                         (json.dumps(f), row["functionid"]))


def close_successful(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = load(ctx, msg.get("processid"))
    out = _out_list(msg, "out")
    executor = require_assignee(ctx, caller, p)
    if p["state"] != RUNNING:
        names = {WAITING: "waiting", SUCCESS: "successful", FAILED: "failed"}
        raise bad(f"Failed to close process as successful, process is in {names[p['state']]} state")
    if out:
        p["out"] = out
    p["state"] = SUCCESS
    p["endtime"] = now_ns()
    ctx.store.put_process(p)
    _update_function_stats(ctx, p, executor)
    if p["processgraphid"]:
        resolve(ctx, p["processgraphid"], p["processid"])
    ctx.store.cond.notify_all()
    return {}


def close_failed(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = load(ctx, msg.get("processid"))
    errors = _out_list(msg, "errors")
    if not all(isinstance(e, str) for e in errors):
        raise bad("failed to parse msg: field 'errors' must be an array of strings")
    require_assignee(ctx, caller, p)
    if p["state"] in (SUCCESS, FAILED):
        raise bad("Failed to close process as failed, process is already "
                  f"{'successful' if p['state'] == SUCCESS else 'failed'}")
    mark_failed(ctx, p, errors)
    return {}


def mark_failed(ctx: Ctx, p: dict, errors: list[str]) -> None:
    p["state"] = FAILED
    p["errors"] = list(errors)
    p["endtime"] = now_ns()
    ctx.store.put_process(p)
    if p["processgraphid"]:
        resolve(ctx, p["processgraphid"], p["processid"])
    ctx.store.cond.notify_all()


def set_output(ctx: Ctx, caller: str, msg: dict) -> dict:
    p = load(ctx, msg.get("processid"))
    out = _out_list(msg, "out")
    require_assignee(ctx, caller, p)
    if p["state"] != RUNNING:
        raise bad("Failed to set output, process is not running")
    if out:
        p["out"] = out
        ctx.store.put_process(p)
    return {}


# --- workflows -----------------------------------------------------------------------------------
def submit_workflow(ctx: Ctx, caller: str, msg: dict) -> dict:
    wf = field(msg, "spec", dict, required=True)
    colonyname = field(wf, "colonyname", str, "")
    name = require_member(ctx, caller, colonyname)
    specs_in = field(wf, "functionspecs", list, [])
    if not specs_in:
        raise bad("workflow spec has no functionspecs: add at least one function spec")
    specs = []
    for raw in specs_in:
        spec = normalise_spec(raw)
        spec["conditions"]["colonyname"] = colonyname
        if spec["maxexectime"] == 0:
            spec["maxexectime"] = -1
        if not spec["nodename"]:
            raise bad("every function spec in a workflow needs a nodename")
        specs.append(spec)
    names = [s["nodename"] for s in specs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise bad(f"duplicate nodename(s) in workflow: {sorted(dup)}; nodenames must be unique")
    ts = graphlib.TopologicalSorter()
    for s in specs:
        for d in s["conditions"]["dependencies"]:
            if d not in names:
                raise bad(f"node <{s['nodename']}> depends on <{d}>, which is not a nodename in "
                          "this workflow")
        ts.add(s["nodename"], *s["conditions"]["dependencies"])
    try:
        ts.prepare()
    except graphlib.CycleError as exc:
        raise bad(f"workflow dependencies form a cycle: {exc.args[1]}") from None
    now = now_ns()
    gid = random_id()
    procs = {s["nodename"]: new_process(s, caller, name, now) for s in specs}
    for s in specs:
        p = procs[s["nodename"]]
        p["processgraphid"] = gid
        p["parents"] = [procs[d]["processid"] for d in s["conditions"]["dependencies"]]
        p["waitforparents"] = bool(p["parents"])
        for d in s["conditions"]["dependencies"]:
            procs[d]["children"].append(p["processid"])
    graph = {
        "processgraphid": gid, "initiatorid": caller, "initiatorname": name,
        "colonyname": colonyname,
        "rootprocessids": [p["processid"] for p in procs.values() if not p["parents"]],
        "state": WAITING, "submissiontime": now, "starttime": 0, "endtime": 0,
        "processids": [p["processid"] for p in procs.values()], "nodes": [], "edges": [],
    }
    _put_graph(ctx, graph)
    for p in procs.values():
        store_new(ctx, p)
    ctx.store.cond.notify_all()
    return render_graph(graph)


def _put_graph(ctx: Ctx, g: dict) -> None:
    ctx.store.db.execute(
        "INSERT OR REPLACE INTO graphs (processgraphid, colonyname, state, submissiontime, doc)"
        " VALUES (?,?,?,?,?)",
        (g["processgraphid"], g["colonyname"], g["state"], g["submissiontime"], json.dumps(g)))


def _graph_procs(ctx: Ctx, gid: str) -> dict[str, dict]:
    return {p["processid"]: p for p in ctx.store.all(
        "SELECT doc FROM processes WHERE processgraphid=? ORDER BY submissiontime, rowid", gid)}


def resolve(ctx: Ctx, gid: str, pid: str | None = None) -> None:
    """Re-resolve a graph after process ``pid`` changed, with the real server's outcome:
    children whose parents all succeeded are released; a FAILED process with children makes
    every process of the graph FAILED (state only); a failed leaf only fails the graph.
    Incremental (only ``pid``'s neighbourhood) so big graphs stay cheap per close."""
    g = ctx.store.one("SELECT doc FROM graphs WHERE processgraphid=?", gid)
    if g is None:
        return
    p = ctx.store.get_process(pid) if pid else None
    released = False
    if p is not None and p["state"] == FAILED and p["children"]:
        for q in ctx.store.all("SELECT doc FROM processes WHERE processgraphid=? AND state!=?",
                               gid, FAILED):
            q["state"] = FAILED
            ctx.store.put_process(q)
    elif p is not None and p["state"] == SUCCESS:
        for cid in p["children"]:
            child = ctx.store.get_process(cid)
            if child is None or not child["waitforparents"]:
                continue
            states = [ctx.store.scalar("SELECT state FROM processes WHERE processid=?", x)
                      for x in child["parents"]]
            if all(st == SUCCESS for st in states if st is not None):
                child["waitforparents"] = False
                ctx.store.put_process(child)
                released = True
    counts = dict(ctx.store.db.execute(
        "SELECT state, COUNT(*) FROM processes WHERE processgraphid=? GROUP BY state", (gid,)
    ).fetchall())
    total = sum(counts.values())
    if counts.get(FAILED):
        state = FAILED
    elif total and counts.get(SUCCESS) == total:
        state = SUCCESS
    elif counts.get(RUNNING) or counts.get(SUCCESS):
        state = RUNNING
    else:
        state = WAITING
    if state != g["state"]:
        now = now_ns()
        if state == RUNNING and not g["starttime"]:
            g["starttime"] = now
        if state in (SUCCESS, FAILED) and not g["endtime"]:
            g["endtime"] = now
        g["state"] = state
        _put_graph(ctx, g)
    if released:
        ctx.store.cond.notify_all()


_COLORS = {WAITING: "#e0e0e0", RUNNING: "#ffd54f", SUCCESS: "#81c784", FAILED: "#e57373"}


def render_full_graph(ctx: Ctx, g: dict) -> dict:
    """getprocessgraph: recompute processids, nodes (layered layout, colour by state) and edges."""
    procs = _graph_procs(ctx, g["processgraphid"])
    depth: dict[str, int] = {}
    ts = graphlib.TopologicalSorter({pid: [x for x in p["parents"] if x in procs]
                                     for pid, p in procs.items()})
    try:
        order = list(ts.static_order())  # iterative: deep chains must not hit the recursion limit
    except graphlib.CycleError:
        order = list(procs)
    for pid in order:
        ps = [x for x in procs[pid]["parents"] if x in procs]
        depth[pid] = 1 + max((depth.get(x, 0) for x in ps), default=-1)

    rows: dict[int, int] = {}
    nodes, edges = [], []
    for pid, p in procs.items():
        d = depth.get(pid, 0)
        rows[d] = rows.get(d, 0) + 1
        kind = "input" if not p["parents"] else ("output" if not p["children"] else "")
        nodes.append({"id": pid, "data": {"label": p["spec"]["nodename"]},
                      "position": {"x": (rows[d] - 1) * 200, "y": d * 100}, "type": kind,
                      "style": {"color": "#000000", "background": _COLORS.get(p["state"], "#ffffff")}})
        for child in p["children"]:
            if child in procs:
                edges.append({"id": f"{pid}-{child}", "source": pid, "target": child,
                              "animated": procs[child]["state"] == RUNNING})
    out = dict(g, processids=list(procs), nodes=nodes, edges=edges)
    return render_graph(out)


def load_graph(ctx: Ctx, gid: Any) -> dict:
    if not isinstance(gid, str):
        raise bad("failed to parse msg: field 'processgraphid' must be a string")
    g = ctx.store.one("SELECT doc FROM graphs WHERE processgraphid=?", gid)
    if g is None:
        raise notfound(f"Processgraph with id <{gid}> not found")
    return g


def get_graph(ctx: Ctx, caller: str, msg: dict) -> dict:
    g = load_graph(ctx, msg.get("processgraphid"))
    require_member(ctx, caller, g["colonyname"])
    return render_full_graph(ctx, g)


def list_graphs(ctx: Ctx, caller: str, msg: dict) -> list | None:
    colonyname = field(msg, "colonyname", str, "")
    count = check_count(msg)
    state = field(msg, "state", int, 0)  # absent -> 0 (WAITING), as Go reads it
    if state not in _ORDER:
        raise bad("invalid msg.State")
    require_member(ctx, caller, colonyname)
    gs = ctx.store.all("SELECT doc FROM graphs WHERE colonyname=? AND state=? ORDER BY "
                       "submissiontime DESC LIMIT ?", colonyname, state, count)
    return [render_full_graph(ctx, g) for g in gs] or None


def _remove_graph(ctx: Ctx, g: dict) -> None:
    procs = _graph_procs(ctx, g["processgraphid"])
    if g["state"] == RUNNING or any(p["state"] == RUNNING for p in procs.values()):
        raise bad("Failed to remove processgraph, processgraph is running")
    delete_processes(ctx, list(procs))
    ctx.store.db.execute("DELETE FROM graphs WHERE processgraphid=?", (g["processgraphid"],))


def remove_graph(ctx: Ctx, caller: str, msg: dict) -> dict:
    g = load_graph(ctx, msg.get("processgraphid"))
    require_member(ctx, caller, g["colonyname"])
    _remove_graph(ctx, g)
    return {}


def remove_all_graphs(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    state = field(msg, "state", int, 0)  # absent -> 0: only WAITING graphs (Go zero value)
    require_colony_owner(ctx, caller, colonyname)
    if state not in (NOTSET, WAITING, RUNNING, SUCCESS, FAILED):
        raise bad("invalid msg.State")
    for g in ctx.store.all("SELECT doc FROM graphs WHERE colonyname=?", colonyname):
        if state in (NOTSET, g["state"]) and g["state"] != RUNNING:
            _remove_graph(ctx, g)
    return {}


# --- timeout sweep / stale executors -----------------------------------------------------------
def sweep(ctx: Ctx) -> None:
    """maxexectime expiry (requeue with retries+1, or FAILED after maxretries) and maxwaittime."""
    now = now_ns()
    expired = ctx.store.all(
        "SELECT doc FROM processes WHERE state=1 AND maxexectime!=-1 AND execdeadline<?", now)
    for p in expired:
        maxretries = p["spec"]["maxretries"]
        if maxretries > -1 and p["retries"] >= maxretries:
            mark_failed(ctx, p, [EXEC_TIMEOUT_MSG])
            continue
        maxwait = p["spec"]["maxwaittime"]
        p.update(state=WAITING, isassigned=False, assignedexecutorid="", retries=p["retries"] + 1,
                 endtime=now, execdeadline=0,
                 waitdeadline=deadline(now, maxwait))
        ctx.store.put_process(p)
        ctx.store.cond.notify_all()
    late = ctx.store.all("SELECT doc FROM processes WHERE state=0 AND maxwaittime NOT IN (0, -1)"
                         " AND waitdeadline<?", now)
    for p in late:
        current = ctx.store.get_process(p["processid"])  # a graph may have changed it already
        if current and current["state"] == WAITING:
            mark_failed(ctx, current, [WAIT_TIMEOUT_MSG])


def cleanup_stale_executors(ctx: Ctx) -> int:
    cutoff = now_ns() - int(ctx.stale_executor_s * 1e9)
    db = ctx.store.db
    stale = db.execute("SELECT colonyname, executorname FROM executors WHERE lastheard!=0 AND "
                       "lastheard<?", (cutoff,)).fetchall()
    for row in stale:
        db.execute("DELETE FROM executors WHERE colonyname=? AND executorname=?", tuple(row))
        db.execute("DELETE FROM functions WHERE colonyname=? AND executorname=?", tuple(row))
    return len(stale)


# --- dynamic workflows -------------------------------------------------------------------------
def add_child(ctx: Ctx, caller: str, msg: dict) -> dict:
    """A running graph member, assigned to the caller, adds a child. ``insert`` puts the new node
    between the parent and all of its children (or only ``childprocessid`` when given)."""
    gid = field(msg, "processgraphid", str, "")
    g = load_graph(ctx, gid)
    parent = load(ctx, msg.get("parentprocessid"))
    if parent["processgraphid"] != gid:
        raise bad(f"parent process is not part of processgraph <{gid}>")
    require_assignee(ctx, caller, parent)
    if parent["state"] != RUNNING:
        raise bad("Failed to add child, parent process is not running")
    spec = normalise_spec(field(msg, "spec", dict, required=True))
    spec["conditions"]["colonyname"] = g["colonyname"]
    if spec["maxexectime"] == 0:
        spec["maxexectime"] = -1
    if not spec["nodename"]:
        raise bad("the child's spec needs a nodename")
    procs_ = _graph_procs(ctx, gid)
    if any(p["spec"]["nodename"] == spec["nodename"] for p in procs_.values()):
        raise bad(f"nodename <{spec['nodename']}> already exists in the processgraph")
    insert = field(msg, "insert", bool, False)
    target = field(msg, "childprocessid", str, "")
    if target and target not in parent["children"]:
        raise bad(f"childprocessid <{target}> is not a child of the parent process")
    ex_name = require_member(ctx, caller, g["colonyname"])
    child = new_process(spec, caller, ex_name, now_ns())
    child.update(processgraphid=gid, parents=[parent["processid"]], waitforparents=True)
    spec["conditions"]["dependencies"] = [parent["spec"]["nodename"]]
    if insert or target:
        moved = [target] if target else list(parent["children"])
        for pid in moved:
            grand = procs_[pid]
            grand["parents"] = [child["processid"] if x == parent["processid"] else x
                                for x in grand["parents"]]
            deps = grand["spec"]["conditions"]["dependencies"]
            grand["spec"]["conditions"]["dependencies"] = [
                spec["nodename"] if d == parent["spec"]["nodename"] else d for d in deps]
            ctx.store.put_process(grand)
        child["children"] = moved
        parent["children"] = [x for x in parent["children"] if x not in moved]
    parent["children"].append(child["processid"])
    ctx.store.put_process(parent)
    store_new(ctx, child)
    g["processids"] = list(procs_) + [child["processid"]]
    _put_graph(ctx, g)
    return render(ctx, child)
