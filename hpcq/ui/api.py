"""The dashboard's JSON API under /api/v1 (GET only): runs, a ranking, the graph, the studies and
the saved rankings, computed as the page computes them (hpcq.ui.data, hpcq.results.rank).

Why a Flask blueprint: its views are plain module-level functions; the catalog an app serves is
kept in the Flask app's config (:data:`CATALOG`), set by :func:`register`.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from hpcq.results.catalog import Catalog, CatalogError
from hpcq.results.rank import RankError, make_spec, rank, runs_for
from hpcq.ui.data import ranked_view, records

CATALOG = "HPCQ_CATALOG"  # the Flask config key of the served Catalog
api = Blueprint("hpcq_api", __name__, url_prefix="/api/v1")


def register(server: Flask, cat: Catalog) -> None:
    """Serve the API of ``cat`` on ``server`` (a Dash app's Flask server)."""
    server.config[CATALOG] = cat
    server.register_blueprint(api)


def _cat() -> Catalog:
    return current_app.config[CATALOG]


def _bad(msg: str, code: int = 400) -> Response:
    resp = jsonify({"error": msg})
    resp.status_code = code
    return resp


def _top() -> int | None:
    top = request.args.get("top")
    if top in (None, ""):
        return None
    if not top.isdigit() or int(top) < 1:
        raise RankError(f"top={top!r}: give a positive integer")
    return int(top)


@api.get("/runs")
def api_runs():
    step = request.args.get("step", "noise")
    try:
        df = runs_for(_cat(), step)
    except RankError as exc:
        return _bad(str(exc).replace("--step", "step"))
    return jsonify({"step": step, "count": len(df), "runs": records(df)})


@api.get("/rank")
def api_rank():
    step = request.args.get("step", "noise")
    try:
        spec = make_spec(
            request.args.getlist("by"), request.args.get("weights"), request.args.get("mode", "weighted"), step
        )
        ranked = rank(runs_for(_cat(), step), spec)
        top = _top()
    except RankError as exc:
        return _bad(str(exc).replace("--", ""))
    if top:
        ranked = ranked[ranked["position"] <= top]
    return jsonify({"definition": spec.definition(), "count": len(ranked), "runs": records(ranked)})


@api.get("/graph")
def api_graph():
    try:
        view = ranked_view(
            _cat(),
            by=request.args.getlist("by") or None,
            weights=request.args.get("weights"),
            mode=request.args.get("mode", "weighted"),
            top=_top(),
            studies=request.args.getlist("study") or None,
        )
    except RankError as exc:
        return _bad(str(exc).replace("--", ""))
    return jsonify({"definition": view.definition, "elements": view.elements, "note": view.graph_note})


@api.get("/studies")
def api_studies():
    return jsonify({"studies": records(_cat().study_times())})


@api.get("/rankings")
def api_rankings():
    return jsonify({"rankings": records(_cat().rankings())})


@api.get("/rankings/<name>")
def api_ranking(name: str):
    try:
        definition, ranks = _cat().ranking(name)
    except CatalogError as exc:
        return _bad(str(exc), 404)
    return jsonify({"name": name, "definition": definition, "ranks": records(ranks)})
