"""Workflows (process graphs): submit, resolution after each change (including the real server's
fail-everything rule), get/list/remove and dynamic children (addchildmsg)."""

from __future__ import annotations

import graphlib
import json
from typing import Any

from hpcq.colonyos import ProcessState as S
from hpcq.server import procs as pr
from hpcq.server.auth import require_assignee, require_colony_owner, require_member
from hpcq.server.context import Ctx
from hpcq.server.wire import bad, field, normalise_spec, notfound, now_ns, random_id, render_graph


# --- workflows -----------------------------------------------------------------------------------
def submit_workflow(ctx: Ctx, caller: str, msg: dict) -> dict:
    wf = field(msg, "spec", dict, required=True)
    colonyname, specs = check_workflow(wf)
    name = require_member(ctx, caller, colonyname)
    return render_graph(create_graph(ctx, caller, name, colonyname, specs))


def check_workflow(wf: dict) -> tuple[str, list[dict]]:
    """Validate a WorkflowSpec (also the one inside a cron or generator) -> (colony, specs)."""
    colonyname = field(wf, "colonyname", str, "")
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
    ts: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for s in specs:
        for d in s["conditions"]["dependencies"]:
            if d not in names:
                raise bad(f"node <{s['nodename']}> depends on <{d}>, which is not a nodename in this workflow")
        ts.add(s["nodename"], *s["conditions"]["dependencies"])
    try:
        ts.prepare()
    except graphlib.CycleError as exc:
        raise bad(f"workflow dependencies form a cycle: {exc.args[1]}") from None
    return colonyname, specs


def create_graph(
    ctx: Ctx,
    caller: str,
    name: str,
    colonyname: str,
    specs: list[dict],
    args: list | None = None,
    root_input: list | None = None,
) -> dict:
    """Store the graph and its processes (as CreateProcessGraph): ``args`` replace the roots' args
    (generators), ``root_input`` becomes the roots' input (a cron passes its previous leaves' output)."""
    now = now_ns()
    gid = random_id()
    procs = {s["nodename"]: pr.new_process(s, caller, name, now) for s in specs}
    for s in specs:
        p = procs[s["nodename"]]
        p["processgraphid"] = gid
        p["parents"] = [procs[d]["processid"] for d in s["conditions"]["dependencies"]]
        p["waitforparents"] = bool(p["parents"])
        for d in s["conditions"]["dependencies"]:
            procs[d]["children"].append(p["processid"])
        if not p["parents"]:
            if args:
                p["spec"] = dict(p["spec"], args=list(args), kwargs={})
            if root_input:
                p["in"] = list(root_input)
    graph = {
        "processgraphid": gid,
        "initiatorid": caller,
        "initiatorname": name,
        "colonyname": colonyname,
        "rootprocessids": [p["processid"] for p in procs.values() if not p["parents"]],
        "state": S.WAITING,
        "submissiontime": now,
        "starttime": 0,
        "endtime": 0,
        "processids": [p["processid"] for p in procs.values()],
        "nodes": [],
        "edges": [],
    }
    _put_graph(ctx, graph)
    for p in procs.values():
        pr.store_new(ctx, p)
    ctx.store.cond.notify_all()
    return graph


def _put_graph(ctx: Ctx, g: dict) -> None:
    ctx.store.db.execute(
        "INSERT OR REPLACE INTO graphs (processgraphid, colonyname, state, submissiontime, doc) VALUES (?,?,?,?,?)",
        (g["processgraphid"], g["colonyname"], g["state"], g["submissiontime"], json.dumps(g)),
    )


def _graph_procs(ctx: Ctx, gid: str) -> dict[str, dict]:
    return {
        p["processid"]: p
        for p in ctx.store.all("SELECT doc FROM processes WHERE processgraphid=? ORDER BY submissiontime, rowid", gid)
    }


def resolve(ctx: Ctx, gid: str, pid: str | None = None) -> None:
    """Re-resolve a graph after process ``pid`` changed, with the real server's outcome:
    children whose parents all succeeded are released; a FAILED process with children makes
    every process of the graph FAILED (state only); a failed leaf only fails the graph.
    Incremental (only ``pid``'s neighbourhood) so big graphs stay cheap per close."""
    g = ctx.store.one("SELECT doc FROM graphs WHERE processgraphid=?", gid)
    if g is None or g["state"] == S.CANCELLED:  # cancelled is final: nothing is released any more
        return
    p = ctx.store.get_process(pid) if pid else None
    released = False
    if p is not None and p["state"] == S.FAILED and p["children"]:
        for q in ctx.store.all(
            "SELECT doc FROM processes WHERE processgraphid=? AND state NOT IN (?,?)", gid, S.FAILED, S.CANCELLED
        ):
            q["state"] = S.FAILED
            ctx.store.put_process(q)
    elif p is not None and p["state"] == S.SUCCESS:
        for cid in p["children"]:
            child = ctx.store.get_process(cid)
            if child is None or not child["waitforparents"]:
                continue
            states = [ctx.store.scalar("SELECT state FROM processes WHERE processid=?", x) for x in child["parents"]]
            if all(st == S.SUCCESS for st in states if st is not None):
                child["waitforparents"] = False
                ctx.store.put_process(child)
                released = True
    counts = dict(
        ctx.store.db.execute(
            "SELECT state, COUNT(*) FROM processes WHERE processgraphid=? GROUP BY state", (gid,)
        ).fetchall()
    )
    total = sum(counts.values())
    if counts.get(S.FAILED):
        state = S.FAILED
    elif total and counts.get(S.SUCCESS) == total:
        state = S.SUCCESS
    elif counts.get(S.RUNNING) or counts.get(S.SUCCESS):
        state = S.RUNNING
    else:
        state = S.WAITING
    if state != g["state"]:
        now = now_ns()
        if state == S.RUNNING and not g["starttime"]:
            g["starttime"] = now
        if state in (S.SUCCESS, S.FAILED) and not g["endtime"]:
            g["endtime"] = now
        g["state"] = state
        _put_graph(ctx, g)
    if released:
        ctx.store.cond.notify_all()


_COLORS = {
    S.WAITING: "#e0e0e0",
    S.RUNNING: "#ffd54f",
    S.SUCCESS: "#81c784",
    S.FAILED: "#e57373",
    S.CANCELLED: "#b0bec5",
}


def render_full_graph(ctx: Ctx, g: dict) -> dict:
    """getprocessgraph: recompute processids, nodes (layered layout, colour by state) and edges."""
    procs = _graph_procs(ctx, g["processgraphid"])
    depth: dict[str, int] = {}
    ts = graphlib.TopologicalSorter({pid: [x for x in p["parents"] if x in procs] for pid, p in procs.items()})
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
        nodes.append(
            {
                "id": pid,
                "data": {"label": p["spec"]["nodename"]},
                "position": {"x": (rows[d] - 1) * 200, "y": d * 100},
                "type": kind,
                "style": {"color": "#000000", "background": _COLORS.get(p["state"], "#ffffff")},
            }
        )
        for child in p["children"]:
            if child in procs:
                edges.append(
                    {
                        "id": f"{pid}-{child}",
                        "source": pid,
                        "target": child,
                        "animated": procs[child]["state"] == S.RUNNING,
                    }
                )
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
    count = pr.check_count(msg)
    state = field(msg, "state", int, 0)  # absent -> 0 (WAITING), as Go reads it
    if state not in pr.ORDER:
        raise bad("invalid msg.State")
    require_member(ctx, caller, colonyname)
    gs = ctx.store.all(
        "SELECT doc FROM graphs WHERE colonyname=? AND state=? ORDER BY submissiontime DESC LIMIT ?",
        colonyname,
        state,
        count,
    )
    return [render_full_graph(ctx, g) for g in gs] or None


def _remove_graph(ctx: Ctx, g: dict) -> None:
    procs = _graph_procs(ctx, g["processgraphid"])
    if g["state"] == S.RUNNING or any(p["state"] == S.RUNNING for p in procs.values()):
        raise bad("Failed to remove processgraph, processgraph is running")
    pr.delete_processes(ctx, list(procs))
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
    if state not in set(S):
        raise bad("invalid msg.State")
    for g in ctx.store.all("SELECT doc FROM graphs WHERE colonyname=?", colonyname):
        if state in (S.NOTSET, g["state"]) and g["state"] != S.RUNNING:
            _remove_graph(ctx, g)
    return {}


# --- dynamic workflows -------------------------------------------------------------------------
def add_child(ctx: Ctx, caller: str, msg: dict) -> dict:
    """A running graph member, assigned to the caller, adds a child. ``insert`` puts the new node
    between the parent and all of its children (or only ``childprocessid`` when given)."""
    gid = field(msg, "processgraphid", str, "")
    g = load_graph(ctx, gid)
    parent = pr.load(ctx, msg.get("parentprocessid"))
    if parent["processgraphid"] != gid:
        raise bad(f"parent process is not part of processgraph <{gid}>")
    require_assignee(ctx, caller, parent)
    if parent["state"] != S.RUNNING:
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
    child = pr.new_process(spec, caller, ex_name, now_ns())
    child.update(processgraphid=gid, parents=[parent["processid"]], waitforparents=True)
    spec["conditions"]["dependencies"] = [parent["spec"]["nodename"]]
    if insert or target:
        moved = [target] if target else list(parent["children"])
        for pid in moved:
            grand = procs_[pid]
            grand["parents"] = [child["processid"] if x == parent["processid"] else x for x in grand["parents"]]
            deps = grand["spec"]["conditions"]["dependencies"]
            grand["spec"]["conditions"]["dependencies"] = [
                spec["nodename"] if d == parent["spec"]["nodename"] else d for d in deps
            ]
            ctx.store.put_process(grand)
        child["children"] = moved
        parent["children"] = [x for x in parent["children"] if x not in moved]
    parent["children"].append(child["processid"])
    ctx.store.put_process(parent)
    pr.store_new(ctx, child)
    g["processids"] = list(procs_) + [child["processid"]]
    _put_graph(ctx, g)
    return pr.render(ctx, child)


# --- cancellation (colonies v1.9.12) ---------------------------------------------------------------
def cancel_graph(ctx: Ctx, caller: str, msg: dict) -> dict:
    """cancelprocessgraphmsg: every WAITING or RUNNING member becomes CANCELLED (executors of the
    running ones see it and stop), then the graph itself; finished members keep their state. As in
    colonies v1.9.12, the graph is marked CANCELLED whatever its state (again, or after it ended)."""
    g = load_graph(ctx, msg.get("processgraphid"))
    require_member(ctx, caller, g["colonyname"])
    for p in _graph_procs(ctx, g["processgraphid"]).values():
        if p["state"] in (S.WAITING, S.RUNNING):
            pr.mark_cancelled(ctx, p)
    g["state"] = S.CANCELLED
    g["endtime"] = g["endtime"] or now_ns()
    _put_graph(ctx, g)
    return {}
