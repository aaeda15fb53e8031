"""Crons and generators (colonies v1.9.7): objects that spawn a stored workflow, on a schedule
(cron expression or interval) or once enough arguments were packed (or a timeout passed).

``tick`` is the server's cron/generator checker, run every sweep interval (1 s, as the real
server's default checker period) under the store lock in one transaction."""

from __future__ import annotations

import json
from typing import Any

import hpcq.server.handlers.graphs as graphs  # not via the package: its __init__ imports every handler
from hpcq.colonyos import ProcessState as S
from hpcq.server import cronexpr
from hpcq.server.auth import require_member
from hpcq.server.context import SWEEP_INTERVAL_S, Ctx
from hpcq.server.store import dumps
from hpcq.server.wire import RPCError, bad, field, gotime, notfound, now_ns, random_id

FINISHED = (S.SUCCESS, S.FAILED, S.CANCELLED)


def _workflow(text: Any, where: str) -> tuple[str, list[dict]]:
    """The workflowspec string (JSON of a WorkflowSpec) -> validated (colony, specs)."""
    if not isinstance(text, str) or not text:
        raise bad(f"{where}.workflowspec is empty: give the JSON of a workflow spec")
    try:
        wf = json.loads(text)
    except ValueError as exc:
        raise bad(f"failed to parse {where}.workflowspec: not JSON ({exc})") from None
    if not isinstance(wf, dict):
        raise bad(f"failed to parse {where}.workflowspec: expected a JSON object")
    return graphs.check_workflow(wf)


# --- crons -------------------------------------------------------------------------------------
def _next_run(cron: dict) -> int:
    """CalcNextRun: interval > 0 -> now + interval (its random branch is unreachable in
    v1.9.7, so random is ignored too); otherwise the cron expression's next activation."""
    if cron["interval"] > 0:
        return now_ns() + cron["interval"] * 10**9
    try:
        return int(cronexpr.next_after(cron["cronexpression"]).timestamp() * 1e9)
    except cronexpr.CronError:
        return 0


def render_cron(ctx: Ctx, c: dict) -> dict:
    return dict(
        c, nextrun=gotime(c["nextrun"]), lastrun=gotime(c["lastrun"]), checkerperiod=int(SWEEP_INTERVAL_S * 1000)
    )


def _put_cron(ctx: Ctx, c: dict) -> None:
    ctx.store.db.execute(
        "INSERT OR REPLACE INTO crons (cronid, colonyname, name, doc) VALUES (?,?,?,?)",
        (c["cronid"], c["colonyname"], c["name"], dumps(c)),
    )


def new_cron(ctx: Ctx, caller: str, raw: dict, initiatorname: str) -> dict:
    """Validate (as HandleAddCron) and store a cron; also used for blueprint reconcilers."""
    colonyname = field(raw, "colonyname", str, "")
    _workflow(raw.get("workflowspec"), "cron")
    interval = field(raw, "interval", int, 0)
    expr = field(raw, "cronexpression", str, "")
    random = field(raw, "random", bool, False)
    if interval == 0:
        raise bad("Cron interval must be -1 (disabled) or larger than 0")
    if interval == -1:
        try:
            cronexpr.parse(expr)
        except cronexpr.CronError as exc:
            raise bad(f"invalid cron.cronexpression {expr!r}: {exc}") from None
        if random:
            raise bad("Random cron is only supported when specifying intervals")
    c = {
        "cronid": random_id(),
        "initiatorid": caller,
        "initiatorname": initiatorname,
        "colonyname": colonyname,
        "name": field(raw, "name", str, ""),
        "cronexpression": expr,
        "interval": interval,
        "random": random,
        "nextrun": 0,
        "lastrun": 0,
        "workflowspec": raw["workflowspec"],
        "prevprocessgraphid": "",
        # the real field name; pycolonies 1.0.25 misspells it ("waitforprevprocessgrap"), so from
        # pycolonies it is always false, as on the real server
        "waitforprevprocessgraph": field(raw, "waitforprevprocessgraph", bool, False),
        "checkerperiod": 0,
    }
    _put_cron(ctx, c)
    return c


def add_cron(ctx: Ctx, caller: str, msg: dict) -> dict:
    raw = field(msg, "cron", dict, required=True)
    name = require_member(ctx, caller, field(raw, "colonyname", str, ""))
    return render_cron(ctx, new_cron(ctx, caller, raw, name))


def _load(ctx: Ctx, caller: str, msg: dict, what: str) -> dict:
    """The cron or generator (``what``) whose id ``msg`` names, for a member of its colony; or
    colonies' "<What> with id <...> not found"."""
    key = f"{what}id"
    doc_id = field(msg, key, str, "")
    doc = ctx.store.one(f"SELECT doc FROM {what}s WHERE {key}=?", doc_id)  # noqa: S608 - constants
    if doc is None:
        raise notfound(f"{what.capitalize()} with id <{doc_id}> not found")
    require_member(ctx, caller, doc["colonyname"])
    return doc


def _list(ctx: Ctx, caller: str, msg: dict, table: str) -> list[dict]:
    """The first ``count`` crons or generators (``table``) of a colony, for a member."""
    colonyname = field(msg, "colonyname", str, "")
    count = field(msg, "count", int, 0)
    require_member(ctx, caller, colonyname)
    return ctx.store.all(
        f"SELECT doc FROM {table} WHERE colonyname=? ORDER BY rowid LIMIT ?", colonyname, max(count, 0)
    )


def get_cron(ctx: Ctx, caller: str, msg: dict) -> dict:
    return render_cron(ctx, _load(ctx, caller, msg, "cron"))


def get_crons(ctx: Ctx, caller: str, msg: dict) -> list:
    return [render_cron(ctx, c) for c in _list(ctx, caller, msg, "crons")]  # [] rather than null, as the real handler


def remove_cron(ctx: Ctx, caller: str, msg: dict) -> dict:
    c = _load(ctx, caller, msg, "cron")
    ctx.store.db.execute("DELETE FROM crons WHERE cronid=?", (c["cronid"],))
    return {}


def _prev_running(ctx: Ctx, c: dict) -> bool:
    if not c["prevprocessgraphid"]:
        return False
    state = ctx.store.scalar("SELECT state FROM graphs WHERE processgraphid=?", c["prevprocessgraphid"])
    return state is not None and state not in FINISHED


def start_cron(ctx: Ctx, c: dict) -> None:
    """StartCron: spawn the workflow; the previous graph's leaves' output is the roots' input."""
    try:
        colonyname, specs = _workflow(c["workflowspec"], "cron")
    except RPCError:
        return
    root_input: list = []
    if c["prevprocessgraphid"]:
        for p in ctx.store.all(
            "SELECT doc FROM processes WHERE processgraphid=? ORDER BY submissiontime, rowid", c["prevprocessgraphid"]
        ):
            if not p["children"]:
                root_input.extend(p["out"] or [])
    g = graphs.create_graph(
        ctx, c["initiatorid"], c["initiatorname"], colonyname or c["colonyname"], specs, root_input=root_input
    )
    c.update(nextrun=_next_run(c), lastrun=now_ns(), prevprocessgraphid=g["processgraphid"])
    _put_cron(ctx, c)


def run_cron(ctx: Ctx, caller: str, msg: dict) -> dict:
    """Trigger now (unless it waits for its previous workflow and that one still runs); the
    reply is the cron as it was before the run, as the real handler sends it."""
    c = _load(ctx, caller, msg, "cron")
    before = render_cron(ctx, c)
    if not (c["waitforprevprocessgraph"] and _prev_running(ctx, c)):
        start_cron(ctx, c)
    return before


def _tick_crons(ctx: Ctx, now: int) -> None:
    for c in ctx.store.all("SELECT doc FROM crons ORDER BY rowid"):
        if c["nextrun"] == 0:  # first evaluation: schedule, do not run
            c["nextrun"] = _next_run(c)
            _put_cron(ctx, c)
            continue
        if c["nextrun"] < now:
            if c["waitforprevprocessgraph"] and _prev_running(ctx, c):
                continue
            start_cron(ctx, c)


# --- generators ---------------------------------------------------------------------------------
def _queue(ctx: Ctx, gid: str) -> int:
    return ctx.store.scalar("SELECT COUNT(*) FROM generator_args WHERE generatorid=?", gid)


def render_generator(ctx: Ctx, g: dict) -> dict:
    return dict(
        g,
        firstpack=gotime(g["firstpack"]),
        lastrun=gotime(g["lastrun"]),
        queuesize=_queue(ctx, g["generatorid"]),
        checkerperiod=int(SWEEP_INTERVAL_S * 1000),
    )


def _put_generator(ctx: Ctx, g: dict) -> None:
    ctx.store.db.execute(
        "INSERT OR REPLACE INTO generators (generatorid, colonyname, name, doc) VALUES (?,?,?,?)",
        (g["generatorid"], g["colonyname"], g["name"], dumps(g)),
    )


def add_generator(ctx: Ctx, caller: str, msg: dict) -> dict:
    raw = field(msg, "generator", dict, required=True)
    colonyname = field(raw, "colonyname", str, "")
    name = require_member(ctx, caller, colonyname)
    _workflow(raw.get("workflowspec"), "generator")
    trigger = field(raw, "trigger", int, 0)
    if trigger < 1:  # the real server divides by it; refuse instead of crashing the checker
        raise bad(f"invalid generator.trigger {trigger}: must be >= 1 (arguments per workflow)")
    g = {
        "generatorid": random_id(),
        "initiatorid": caller,
        "initiatorname": name,
        "colonyname": colonyname,
        "name": field(raw, "name", str, ""),
        "workflowspec": raw["workflowspec"],
        "trigger": trigger,
        "timeout": field(raw, "timeout", int, 0),
        "firstpack": 0,
        "lastrun": 0,
        "queuesize": 0,
        "checkerperiod": 0,
    }
    _put_generator(ctx, g)
    return render_generator(ctx, g)


def get_generator(ctx: Ctx, caller: str, msg: dict) -> dict:
    return render_generator(ctx, _load(ctx, caller, msg, "generator"))


def resolve_generator(ctx: Ctx, caller: str, msg: dict) -> dict:
    colonyname = field(msg, "colonyname", str, "")
    name = field(msg, "generatorname", str, "")
    require_member(ctx, caller, colonyname)
    g = ctx.store.one("SELECT doc FROM generators WHERE colonyname=? AND name=?", colonyname, name)
    if g is None:
        raise notfound(f"Generator with name <{name}> not found in colony <{colonyname}>")
    return render_generator(ctx, g)


def get_generators(ctx: Ctx, caller: str, msg: dict) -> list:
    return [render_generator(ctx, g) for g in _list(ctx, caller, msg, "generators")]


def remove_generator(ctx: Ctx, caller: str, msg: dict) -> dict:
    g = _load(ctx, caller, msg, "generator")
    ctx.store.db.execute("DELETE FROM generators WHERE generatorid=?", (g["generatorid"],))
    ctx.store.db.execute("DELETE FROM generator_args WHERE generatorid=?", (g["generatorid"],))
    return {}


def pack_generator(ctx: Ctx, caller: str, msg: dict) -> dict:
    """packgeneratormsg (not in pycolonies 1.0.25; the colonies CLI and Go client send it)."""
    g = _load(ctx, caller, msg, "generator")
    arg = field(msg, "arg", str, "")
    ctx.store.db.execute("INSERT INTO generator_args (generatorid, arg) VALUES (?,?)", (g["generatorid"], arg))
    if not g["firstpack"]:
        g["firstpack"] = now_ns()
        _put_generator(ctx, g)
    return {}


def _submit_generator(ctx: Ctx, g: dict, n: int) -> None:
    rows = ctx.store.db.execute(
        "SELECT seq, arg FROM generator_args WHERE generatorid=? ORDER BY seq LIMIT ?", (g["generatorid"], n)
    ).fetchall()
    try:
        colonyname, specs = _workflow(g["workflowspec"], "generator")
    except RPCError:
        return
    graphs.create_graph(
        ctx, g["initiatorid"], g["initiatorname"], colonyname or g["colonyname"], specs, args=[r["arg"] for r in rows]
    )
    ctx.store.db.executemany("DELETE FROM generator_args WHERE seq=?", [(r["seq"],) for r in rows])
    g["lastrun"] = now_ns()
    _put_generator(ctx, g)


def _tick_generators(ctx: Ctx, now: int) -> None:
    now_s = now // 10**9
    for g in ctx.store.all("SELECT doc FROM generators ORDER BY rowid"):
        counter = _queue(ctx, g["generatorid"])
        if g["lastrun"]:
            timed_out = now_s > (g["lastrun"] // 10**9) + g["timeout"]
        elif g["firstpack"]:
            timed_out = now_s > (g["firstpack"] // 10**9) + g["timeout"]
        else:
            timed_out = False
        if counter >= g["trigger"]:
            for _ in range(counter // g["trigger"]):
                _submit_generator(ctx, g, g["trigger"])
        elif counter >= 1 and g["timeout"] > 0 and timed_out:
            _submit_generator(ctx, g, counter)


def tick(ctx: Ctx) -> None:
    """One pass of the cron and generator checkers (caller holds the lock and a transaction)."""
    now = now_ns()
    _tick_crons(ctx, now)
    _tick_generators(ctx, now)
