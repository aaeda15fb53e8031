"""Blueprints (colonies v1.9.7): declarative desired-state objects. A definition (colony owner)
names a kind, an optional schema and the handler (executor type + function) that reconciles its
instances; an instance (any member) carries a spec, a generation that grows when the spec
changes, a status the reconciler reports, and a history.

As the real server: adding an instance creates the kind's reconciler cron (every 60 s, waiting
for the previous run) and an immediate reconciliation process; a spec change submits one too;
removing the last instance of a kind at a location removes the cron and submits ``cleanup``.
Not implemented: locations (the real server auto-creates one per new locationname)."""

from __future__ import annotations

import json
from typing import Any

import hpcq.server.handlers.crons as crons  # not via the package: its __init__ imports every handler
from hpcq.server import procs as pr
from hpcq.server.auth import require_colony_owner, require_member
from hpcq.server.context import Ctx
from hpcq.server.store import dumps
from hpcq.server.wire import RPCError, bad, field, gotime, normalise_spec, notfound, now_ns, random_id

_TYPES = {"string": (str,), "number": (int, float), "boolean": (bool,), "object": (dict,), "array": (list,)}


def _member_or_owner(ctx: Ctx, caller: str, colonyname: str) -> str:
    """RequireMembership, else RequireColonyOwner (the blueprint handlers accept either)."""
    try:
        return require_member(ctx, caller, colonyname)
    except RPCError:
        require_colony_owner(ctx, caller, colonyname)
        return "colony-owner"


def _meta(obj: dict, what: str) -> dict:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise bad(f"{what}.metadata is missing: give metadata.name and metadata.colonyname")
    return meta


# --- definitions ----------------------------------------------------------------------------------
def add_definition(ctx: Ctx, caller: str, msg: dict) -> dict:
    d = field(msg, "blueprintdefinition", dict, required=True)
    meta = _meta(d, "blueprintdefinition")
    colonyname, name = field(meta, "colonyname", str, ""), field(meta, "name", str, "")
    require_colony_owner(ctx, caller, colonyname)
    spec = d.get("spec") if isinstance(d.get("spec"), dict) else {}
    kind = field(spec.get("names") or {}, "kind", str, "")
    if not name or not kind:
        raise bad("blueprintdefinition needs metadata.name and spec.names.kind")
    doc = dict(d, blueprintdefinitionid=d.get("blueprintdefinitionid") or random_id())
    if ctx.store.scalar("SELECT 1 FROM blueprint_definitions WHERE colonyname=? AND name=?", colonyname, name):
        raise bad(f"BlueprintDefinition '{name}' already exists in namespace '{colonyname}'")
    ctx.store.db.execute(
        "INSERT INTO blueprint_definitions (colonyname, name, kind, doc) VALUES (?,?,?,?)",
        (colonyname, name, kind, dumps(doc)),
    )
    return doc


def get_definition(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname, name = field(msg, "colonyname", str, ""), field(msg, "name", str, "")
    _member_or_owner(ctx, caller, colonyname)
    d = ctx.store.one("SELECT doc FROM blueprint_definitions WHERE colonyname=? AND name=?", colonyname, name)
    if d is None:
        raise notfound("Blueprint definition not found")
    return d


def get_definitions(ctx: Ctx, caller: str, msg: dict) -> list:
    colonyname = field(msg, "colonyname", str, "")
    _member_or_owner(ctx, caller, colonyname)
    return ctx.store.all("SELECT doc FROM blueprint_definitions WHERE colonyname=? ORDER BY rowid", colonyname)


def remove_definition(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname, name = field(msg, "namespace", str, ""), field(msg, "name", str, "")
    require_colony_owner(ctx, caller, colonyname)
    d = ctx.store.one("SELECT doc FROM blueprint_definitions WHERE colonyname=? AND name=?", colonyname, name)
    if d is None:
        raise notfound(f"BlueprintDefinition '{name}' not found in namespace '{colonyname}'")
    kind = d["spec"]["names"]["kind"]
    n = ctx.store.scalar("SELECT COUNT(*) FROM blueprints WHERE colonyname=? AND kind=?", colonyname, kind)
    if n:
        raise RPCError(
            409, f"cannot remove BlueprintDefinition '{name}': {n} blueprint(s) of kind '{kind}' still exist"
        )
    ctx.store.db.execute("DELETE FROM blueprint_definitions WHERE colonyname=? AND name=?", (colonyname, name))
    return {}


def _definition_for(ctx: Ctx, colonyname: str, kind: str) -> dict:
    d = ctx.store.one("SELECT doc FROM blueprint_definitions WHERE colonyname=? AND kind=?", colonyname, kind)
    if d is None:
        raise bad(f"BlueprintDefinition for kind '{kind}' not found in namespace '{colonyname}'")
    return d


# --- validation ------------------------------------------------------------------------------------
def _check_value(name: str, value: Any, prop: dict) -> None:
    kinds = _TYPES.get(prop.get("type") or "")
    if kinds:
        is_bool = isinstance(value, bool)
        if not isinstance(value, kinds) or (is_bool and bool not in kinds):
            raise bad(
                f"blueprint validation failed: field '{name}' must be a {prop['type']}, got {type(value).__name__}"
            )
    if prop.get("enum") and value not in prop["enum"]:
        raise bad(f"blueprint validation failed: field '{name}' must be one of {prop['enum']}, got {value!r}")
    if isinstance(value, list) and isinstance(prop.get("items"), dict):
        for i, item in enumerate(value):
            _check_value(f"{name}[{i}]", item, prop["items"])
    if isinstance(value, dict) and isinstance(prop.get("properties"), dict):
        for k, v in value.items():
            if isinstance(prop["properties"].get(k), dict):
                _check_value(f"{name}.{k}", v, prop["properties"][k])


def _validate(bp: dict, definition: dict) -> None:
    schema = (definition.get("spec") or {}).get("schema")
    if not isinstance(schema, dict):
        return
    spec = bp.get("spec") or {}
    for req in schema.get("required") or []:
        if req not in spec:
            raise bad(f"blueprint validation failed: required field '{req}' is missing")
    props = schema.get("properties") or {}
    for k, v in spec.items():
        if isinstance(props.get(k), dict):
            _check_value(k, v, props[k])


# --- instances ---------------------------------------------------------------------------------------
def _load(ctx: Ctx, colonyname: str, name: str) -> dict:
    bp = ctx.store.one("SELECT doc FROM blueprints WHERE colonyname=? AND name=?", colonyname, name)
    if bp is None:
        raise notfound("Blueprint not found")
    return bp


def _put(ctx: Ctx, bp: dict) -> None:
    m = bp["metadata"]
    ctx.store.db.execute(
        "INSERT OR REPLACE INTO blueprints (blueprintid, colonyname, name, kind, locationname, doc)"
        " VALUES (?,?,?,?,?,?)",
        (bp["blueprintid"], m["colonyname"], m["name"], bp["kind"], m.get("locationname") or "", dumps(bp)),
    )


def _history(ctx: Ctx, bp: dict, caller: str, change: str) -> None:
    m = bp["metadata"]
    doc = {
        "historyid": random_id(),
        "blueprintid": bp["blueprintid"],
        "kind": bp["kind"],
        "namespace": m["colonyname"],
        "name": m["name"],
        "generation": m.get("generation", 0),
        "spec": bp.get("spec") or {},
        "status": bp.get("status") or {},
        "timestamp": gotime(now_ns()),
        "changedby": caller,
        "changetype": change,
    }
    ctx.store.db.execute(
        "INSERT INTO blueprint_history (blueprintid, doc) VALUES (?,?)", (bp["blueprintid"], dumps(doc))
    )


def _submit(
    ctx: Ctx,
    caller: str,
    name: str,
    colonyname: str,
    executortype: str,
    funcname: str,
    kwargs: dict,
    location: str = "",
    nodename: str = "",
) -> dict:
    spec = normalise_spec(
        {
            "nodename": nodename or f"{executortype}-{funcname}",
            "funcname": funcname,
            "kwargs": kwargs,
            "maxexectime": -1,
            "maxwaittime": -1,
            "maxretries": -1,
            "conditions": {"colonyname": colonyname, "executortype": executortype, "locationname": location},
        }
    )
    p = pr.new_process(spec, caller, name, now_ns())
    pr.store_new(ctx, p)
    ctx.store.cond.notify_all()
    return p


def _handler(definition: dict) -> tuple[str, str]:
    h = (definition.get("spec") or {}).get("handler") or {}
    return str(h.get("executorType") or ""), str(h.get("functionName") or "")


def _cron_name(bp: dict) -> str:
    loc = bp["metadata"].get("locationname") or ""
    return f"reconcile-{bp['kind']}" + (f"-{loc}" if loc else "")


def _blueprint_in(ctx: Ctx, caller: str, msg: dict) -> tuple[dict, str, dict]:
    bp = field(msg, "blueprint", dict, required=True)
    meta = _meta(bp, "blueprint")
    colonyname = field(meta, "colonyname", str, "")
    who = _member_or_owner(ctx, caller, colonyname)
    if not field(bp, "kind", str, ""):
        raise bad("blueprint kind is required")
    if not field(meta, "name", str, ""):
        raise bad("blueprint metadata.name is required")
    if bp.get("spec") is not None and not isinstance(bp["spec"], dict):
        raise bad("blueprint spec must be a JSON object")
    definition = _definition_for(ctx, colonyname, bp["kind"])
    _validate(bp, definition)
    return dict(bp, metadata=dict(meta), spec=bp.get("spec") or {}), who, definition


def add_blueprint(ctx: Ctx, caller: str, msg: dict) -> dict:
    bp, who, definition = _blueprint_in(ctx, caller, msg)
    m = bp["metadata"]
    if ctx.store.scalar("SELECT 1 FROM blueprints WHERE colonyname=? AND name=?", m["colonyname"], m["name"]):
        raise bad(f"blueprint '{m['name']}' already exists in namespace '{m['colonyname']}'")
    now = gotime(now_ns())
    bp["blueprintid"] = bp.get("blueprintid") or random_id()
    m["generation"] = int(m.get("generation") or 1)
    m.setdefault("createdAt", now)
    m["updatedAt"] = now
    _put(ctx, bp)
    _history(ctx, bp, caller, "create")
    etype, func = _handler(definition)
    if etype and func:
        cron_name = _cron_name(bp)
        if not ctx.store.scalar("SELECT 1 FROM crons WHERE colonyname=? AND name=?", m["colonyname"], cron_name):
            wf = {
                "colonyname": m["colonyname"],
                "functionspecs": [
                    {
                        "nodename": f"{etype}-{func}",
                        "funcname": func,
                        "kwargs": {"kind": bp["kind"]},
                        "conditions": {
                            "colonyname": m["colonyname"],
                            "executortype": etype,
                            "locationname": m.get("locationname") or "",
                        },
                    }
                ],
            }
            crons.new_cron(
                ctx,
                caller,
                {
                    "colonyname": m["colonyname"],
                    "name": cron_name,
                    "interval": 60,
                    "waitforprevprocessgraph": True,
                    "workflowspec": json.dumps(wf),
                },
                who,
            )
        _reconcile_now(ctx, caller, who, bp, etype, func)
    return bp


def _reconcile_now(ctx: Ctx, caller: str, who: str, bp: dict, etype: str, func: str) -> None:
    """The reconcile process a created or changed blueprint gets at once (as colonies does)."""
    m = bp["metadata"]
    _submit(
        ctx,
        caller,
        who,
        m["colonyname"],
        etype,
        func,
        {"kind": bp["kind"], "blueprintName": m["name"]},
        m.get("locationname") or "",
    )


def get_blueprint(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "namespace", str, "")
    _member_or_owner(ctx, caller, colonyname)
    return _load(ctx, colonyname, field(msg, "name", str, ""))


def get_blueprints(ctx: Ctx, caller: str, msg: dict) -> list:
    colonyname = field(msg, "namespace", str, "")
    kind, loc = field(msg, "kind", str, ""), field(msg, "locationname", str, "")
    _member_or_owner(ctx, caller, colonyname)
    sql, args = "SELECT doc FROM blueprints WHERE colonyname=?", [colonyname]
    if kind:
        sql += " AND kind=?"
        args.append(kind)
        if loc:
            sql += " AND locationname=?"
            args.append(loc)
    return ctx.store.all(sql + " ORDER BY rowid", *args)


def update_blueprint(ctx: Ctx, caller: str, msg: dict) -> dict:
    bp, who, definition = _blueprint_in(ctx, caller, msg)
    m = bp["metadata"]
    try:
        old = _load(ctx, m["colonyname"], m["name"])
    except RPCError:
        raise notfound(f"blueprint '{m['name']}' not found in namespace '{m['colonyname']}'") from None
    bp["blueprintid"] = old["blueprintid"]
    changed = bp["spec"] != (old.get("spec") or {}) or field(msg, "forcegeneration", bool, False)
    m["generation"] = old["metadata"].get("generation", 1) + (1 if changed else 0)
    m["createdAt"] = old["metadata"].get("createdAt", gotime(now_ns()))
    m["updatedAt"] = gotime(now_ns())
    _put(ctx, bp)
    if changed:
        _history(ctx, bp, caller, "update")
        etype, func = _handler(definition)
        if etype and func:
            _reconcile_now(ctx, caller, who, bp, etype, func)
    return bp


def remove_blueprint(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname, name = field(msg, "namespace", str, ""), field(msg, "name", str, "")
    who = _member_or_owner(ctx, caller, colonyname)
    bp = _load(ctx, colonyname, name)
    loc = bp["metadata"].get("locationname") or ""
    ctx.store.db.execute("DELETE FROM blueprints WHERE blueprintid=?", (bp["blueprintid"],))
    left = ctx.store.scalar(
        "SELECT COUNT(*) FROM blueprints WHERE colonyname=? AND kind=? AND locationname=?", colonyname, bp["kind"], loc
    )
    if not left:
        ctx.store.db.execute("DELETE FROM crons WHERE colonyname=? AND name=?", (colonyname, _cron_name(bp)))
    definition = ctx.store.one(
        "SELECT doc FROM blueprint_definitions WHERE colonyname=? AND kind=?", colonyname, bp["kind"]
    )
    etype = _handler(definition)[0] if definition else ""
    if etype:
        _submit(ctx, caller, who, colonyname, etype, "cleanup", {"blueprintName": name}, nodename=f"{etype}-cleanup")
    return {}


def update_status(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    require_member(ctx, caller, colonyname)
    bp = _load(ctx, colonyname, field(msg, "blueprintname", str, ""))
    status = msg.get("status")
    if status is not None and not isinstance(status, dict):
        raise bad("failed to parse msg: field 'status' must be a JSON object")
    bp["status"] = status or {}
    _put(ctx, bp)
    return {}


def reconcile(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname, name = field(msg, "namespace", str, ""), field(msg, "name", str, "")
    who = require_member(ctx, caller, colonyname)
    bp = _load(ctx, colonyname, name)
    force = field(msg, "force", bool, False)
    if force:
        bp["metadata"]["generation"] = bp["metadata"].get("generation", 1) + 1
        _put(ctx, bp)
    definition = ctx.store.one(
        "SELECT doc FROM blueprint_definitions WHERE colonyname=? AND kind=?", colonyname, bp["kind"]
    )
    etype, func = _handler(definition) if definition else ("", "")
    if not etype:
        raise bad("Blueprint has no handler with executor type defined")
    if not func:
        raise bad("Blueprint has no handler with function name defined")
    kwargs: dict = {"kind": bp["kind"], "blueprintName": name}
    if force:
        kwargs["force"] = True
    p = _submit(ctx, caller, who, colonyname, etype, func, kwargs, bp["metadata"].get("locationname") or "")
    return pr.render(ctx, p)


def get_history(ctx: Ctx, caller: str, msg: dict) -> list:
    bid = field(msg, "blueprintid", str, "")
    bp = ctx.store.one("SELECT doc FROM blueprints WHERE blueprintid=?", bid)
    if bp is None:
        raise notfound("Blueprint not found")
    _member_or_owner(ctx, caller, bp["metadata"]["colonyname"])
    limit = field(msg, "limit", int, 0)
    rows = ctx.store.all(
        "SELECT doc FROM blueprint_history WHERE blueprintid=? ORDER BY seq DESC LIMIT ?",
        bid,
        limit if limit > 0 else -1,
    )
    return rows
