"""The Dash app: metrics table (AG Grid) + workflow graph (Cytoscape) + /api/v1 (Flask).

It only reads: the catalog is opened read-only and result files are never opened here.
Element ids are stable (tests and users rely on them; listed in docs/dashboard.md):
  rank-metric, rank-direction, rank-top, runs-count, runs-grid, workflow-graph,
  graph-legend, graph-note, node-info (node-info-title, node-metric-<name> cells).
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_cytoscape as cyto
from dash import Dash, Input, Output, dcc, html
from flask import jsonify, request

from hpcq.results.catalog import Catalog, CatalogError
from hpcq.results.graph import COLOURS, NODE_TYPES, stylesheet
from hpcq.results.rank import RankError, make_spec, rank, runs_for
from hpcq.ui.data import metric_options, ranked_view, records, table_columns

NUMERIC_FMT = {"function": "params.value == null ? '' : d3.format('.6~g')(params.value)"}


def _column_defs(columns: list[str], numeric: set[str], ranked: bool) -> list[dict[str, Any]]:
    defs = []
    for c in columns:
        d: dict[str, Any] = {"field": c, "headerName": c}
        if c in numeric:
            d["filter"] = "agNumberColumnFilter"
            d["valueFormatter"] = NUMERIC_FMT
            d["type"] = "numericColumn"
        if c == "task_id":
            d["pinned"] = "left"
        if c == "position":
            d["pinned"] = "left"
            d["width"] = 110
            if ranked:
                d["sort"] = "asc"
        defs.append(d)
    return defs


def _legend() -> html.Div:
    items = []
    for t in NODE_TYPES:
        items.append(html.Span([
            html.Span(style={"display": "inline-block", "width": 12, "height": 12,
                             "borderRadius": 6, "background": COLOURS[t], "marginRight": 4}),
            html.Span(t, style={"marginRight": 14})], id=f"legend-{t}"))
    return html.Div(items, id="graph-legend", style={"margin": "6px 0"})


def _node_info(data: dict[str, Any] | None) -> list[Any]:
    if not data:
        return [html.H4("Click a node", id="node-info-title"),
                html.P("Problems, ansatzes, VQE runs and noise runs; click one to see it.")]
    rows = []
    fields = ["type", "task_id", "position", "problem", "params", "ansatz", "reps", "optimizer",
              "optimizer_params", "noise_model", "noise_params", "file"]
    for k in fields:
        if data.get(k) not in (None, ""):
            rows.append(html.Tr([html.Th(k), html.Td(str(data[k]), id=f"node-field-{k}")]))
    for k, v in (data.get("metrics") or {}).items():
        txt = "–" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
        rows.append(html.Tr([html.Th(k), html.Td(txt, id=f"node-metric-{k}")]))
    title = f"{data.get('type', 'node')}: {data.get('label', data.get('id'))}"
    return [html.H4(title, id="node-info-title"),
            html.Table(rows, id="node-info-table")]


def create_app(db_path: str, title: str = "hpcq results") -> Dash:
    """A Dash app over the catalog at ``db_path`` (opened read-only per request)."""
    cat = Catalog(db_path, readonly=True)
    app = Dash(__name__, title=title, serve_locally=True)

    def layout():
        return html.Div(id="hpcq-ui", style={"fontFamily": "sans-serif", "margin": "12px"}, children=[
            html.H2(title, id="page-title"),
            # fixed heights above the graph: async-loaded components (dropdown, grid) must not
            # shift it after Cytoscape has measured its position, or clicks miss the nodes
            html.Div(id="controls", style={"display": "flex", "gap": "16px", "height": "44px",
                                           "alignItems": "center"}, children=[
                html.Label("rank by metric"),
                dcc.Dropdown(id="rank-metric", options=metric_options(cat.noise_runs()),
                             placeholder="(not ranked)", clearable=True,
                             style={"width": "260px"}),
                dcc.RadioItems(id="rank-direction", value="min", inline=True,
                               options=[{"label": " min (smaller is better) ", "value": "min"},
                                        {"label": " max ", "value": "max"}]),
                html.Label("top k"),
                dcc.Input(id="rank-top", type="number", min=1, step=1, placeholder="all",
                          debounce=True, style={"width": "80px"}),
                html.Span(id="runs-count", style={"fontWeight": "bold"}),
            ]),
            html.H3("Noise runs (with their VQE parent's vqe_* columns)"),
            html.Div(style={"height": "420px"}, children=dag.AgGrid(id="runs-grid", rowData=[], columnDefs=[],
                       defaultColDef={"sortable": True, "filter": True, "resizable": True,
                                      "floatingFilter": True, "minWidth": 90},
                       getRowId="params.data.task_id + '|' + params.data.file",
                       dashGridOptions={"animateRows": False, "tooltipShowDelay": 200},
                       columnSize="autoSize", style={"height": "420px"})),
            html.H3("Workflow graph"),
            _legend(),
            html.Div(id="graph-note", style={"color": "#d63031", "height": "20px"}),
            html.Div(style={"display": "flex", "gap": "12px"}, children=[
                cyto.Cytoscape(id="workflow-graph", elements=[], stylesheet=stylesheet(),
                               layout={"name": "preset", "fit": True, "padding": 20},
                               style={"width": "70%", "height": "620px",
                                      "border": "1px solid #dfe6e9"}),
                html.Div(_node_info(None), id="node-info",
                         style={"width": "30%", "fontSize": "13px"}),
            ]),
        ])

    app.layout = layout

    @app.callback(Output("runs-grid", "rowData"), Output("runs-grid", "columnDefs"),
                  Output("workflow-graph", "elements"), Output("runs-count", "children"),
                  Output("graph-note", "children"),
                  Input("rank-metric", "value"), Input("rank-direction", "value"),
                  Input("rank-top", "value"))
    def update(metric, direction, top):
        by = [f"{metric}:{direction or 'min'}"] if metric else None
        view = ranked_view(cat, by=by, top=int(top) if top else None)
        ranked = view.definition is not None
        cols = table_columns(view.rows, ranked)
        numeric = set(metric_options(view.rows)) | {"position", "score", "n_qubits", "reps",
                                                    "shots", "seed"}
        count = f"{len(view.rows)} of {view.total} noise runs"
        if ranked:
            count += f", ranked by {metric} ({direction})"
        return (records(view.rows, cols), _column_defs(cols, numeric, ranked), view.elements,
                count, view.graph_note)

    # and should anything above still move (window resize, fonts), re-measure after each draw
    app.clientside_callback(
        """function (elements) {
            const root = document.getElementById('workflow-graph');
            const el = root && (root._cyreg ? root :
                Array.from(root.querySelectorAll('*')).find(e => e._cyreg));
            if (el) { setTimeout(() => el._cyreg.cy.resize(), 50); }
            return window.dash_clientside.no_update;
        }""",
        Output("graph-note", "title"), Input("workflow-graph", "elements"))

    @app.callback(Output("node-info", "children"), Input("workflow-graph", "tapNodeData"))
    def node_info(data):
        return _node_info(data)

    _api(app, cat)
    return app


def _api(app: Dash, cat: Catalog) -> None:
    """Read-only JSON API under /api/v1 (GET only)."""
    server = app.server

    def bad(msg: str, code: int = 400):
        resp = jsonify({"error": msg})
        resp.status_code = code
        return resp

    def top_arg():
        top = request.args.get("top")
        if top in (None, ""):
            return None
        if not top.isdigit() or int(top) < 1:
            raise RankError(f"top={top!r}: give a positive integer")
        return int(top)

    @server.get("/api/v1/runs")
    def api_runs():
        step = request.args.get("step", "noise")
        try:
            df = runs_for(cat, step)
        except RankError as exc:
            return bad(str(exc).replace("--step", "step"))
        return jsonify({"step": step, "count": len(df), "runs": records(df)})

    @server.get("/api/v1/rank")
    def api_rank():
        by = request.args.getlist("by")
        step = request.args.get("step", "noise")
        try:
            spec = make_spec(by, request.args.get("weights"),
                             request.args.get("mode", "weighted"), step)
            ranked = rank(runs_for(cat, step), spec)
            top = top_arg()
        except RankError as exc:
            return bad(str(exc).replace("--", ""))
        if top:
            ranked = ranked[ranked["position"] <= top]
        return jsonify({"definition": spec.definition(), "count": len(ranked),
                        "runs": records(ranked)})

    @server.get("/api/v1/graph")
    def api_graph():
        by = request.args.getlist("by")
        try:
            view = ranked_view(cat, by=by or None, weights=request.args.get("weights"),
                               mode=request.args.get("mode", "weighted"), top=top_arg())
        except RankError as exc:
            return bad(str(exc).replace("--", ""))
        return jsonify({"definition": view.definition, "elements": view.elements,
                        "note": view.graph_note})

    @server.get("/api/v1/rankings")
    def api_rankings():
        return jsonify({"rankings": records(cat.rankings())})

    @server.get("/api/v1/rankings/<name>")
    def api_ranking(name):
        try:
            definition, ranks = cat.ranking(name)
        except CatalogError as exc:
            return bad(str(exc), 404)
        return jsonify({"name": name, "definition": definition, "ranks": records(ranks)})
