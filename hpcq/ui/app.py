"""The Dash app: study chooser, ranking, metrics table (AG Grid), four plots (Plotly), workflow
graph (Cytoscape) and /api/v1 (Flask).

It only reads results: the catalog is opened read-only and result files are never opened here
(the plots' arrays come from the catalog's ``series`` table). The one write is saving a ranking
definition into the catalog, on request. Element ids are stable (tests and users rely on them;
listed in docs/dashboard.md).
"""

from __future__ import annotations

import json
from typing import Any

import dash_ag_grid as dag
import dash_cytoscape as cyto
from dash import Dash, Input, Output, State, ctx, dcc, html
from flask import jsonify, request

from hpcq.results.catalog import Catalog, CatalogError
from hpcq.results.graph import COLOURS, NODE_TYPES, stylesheet
from hpcq.results.rank import RankError, make_spec, rank, runs_for
from hpcq.ui import plots
from hpcq.ui.data import (
    DEFAULT_RANKING,
    HEADERS,
    load,
    metric_options,
    ranked_view,
    records,
    scope,
    series_for,
    table_columns,
    table_records,
)

NUMERIC_FMT = {"function": "params.value == null ? '' : d3.format('.6~g')(params.value)"}
MAX_DIRECTION = ("fidelity", "entropy_ratio", "chemical_accuracy")  # larger is better
PLOTS = ("plot-convergence", "plot-noise", "plot-distribution", "plot-curve")


def _column_defs(columns: list[str], shown: list[str], numeric: set[str]) -> list[dict[str, Any]]:
    defs = []
    for c in columns:
        d: dict[str, Any] = {"field": c, "headerName": HEADERS.get(c, c), "hide": c not in shown}
        if c in numeric:
            d["filter"] = "agNumberColumnFilter"
            d["valueFormatter"] = NUMERIC_FMT
            d["type"] = "numericColumn"
        if c == "task_id":  # full ids: never cut
            d["minWidth"] = 260
            d["wrapText"] = False
            d["autoHeight"] = False
        if c == "position":
            d["pinned"] = "left"
            d["width"] = 90
            d["sort"] = "asc"
        defs.append(d)
    return defs


def _legend() -> html.Div:
    items = []
    for t in NODE_TYPES:
        items.append(
            html.Span(
                [
                    html.Span(
                        style={
                            "display": "inline-block",
                            "width": 12,
                            "height": 12,
                            "borderRadius": 6,
                            "background": COLOURS[t],
                            "marginRight": 4,
                        }
                    ),
                    html.Span(t, style={"marginRight": 14}),
                ],
                id=f"legend-{t}",
            )
        )
    return html.Div(items, id="graph-legend", style={"margin": "6px 0"})


def _node_info(data: dict[str, Any] | None) -> list[Any]:
    if not data:
        return [
            html.H4("Click a node", id="node-info-title"),
            html.P(
                "Problems, ansatzes, VQE runs and noise runs; click one to see it and to "
                "narrow the plots to it ('all runs' widens them again)."
            ),
        ]
    rows = []
    fields = [
        "type",
        "task_id",
        "position",
        "study",
        "problem",
        "params",
        "ansatz",
        "reps",
        "optimizer",
        "optimizer_params",
        "noise_model",
        "noise_params",
        "n_runs",
        "file",
    ]
    for k in fields:
        if data.get(k) not in (None, ""):
            rows.append(html.Tr([html.Th(k), html.Td(str(data[k]), id=f"node-field-{k}")]))
    for k, v in (data.get("metrics") or {}).items():
        txt = "–" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
        rows.append(html.Tr([html.Th(k), html.Td(txt, id=f"node-metric-{k}")]))
    title = f"{data.get('type', 'node')}: {data.get('label', data.get('id'))}"
    return [html.H4(title, id="node-info-title"), html.Table(rows, id="node-info-table")]


def _rank_options(metrics: list[str]) -> list[dict[str, str]]:
    opts = []
    for m in metrics:
        first = "max" if m.removeprefix("vqe_") in MAX_DIRECTION else "min"
        for d in (first, "max" if first == "min" else "min"):
            arrow = "↓ smaller is better" if d == "min" else "↑ larger is better"
            opts.append({"label": f"{m} {arrow}", "value": f"{m}:{d}"})
    return opts


def _studies(cat: Catalog) -> list[str]:
    """Studies, newest first (the default is the newest)."""
    return [s for s in cat.study_times()["study"] if s is not None]


def _box(children, **style) -> html.Div:
    return html.Div(children, style={"border": "1px solid #dfe6e9", "padding": "6px", **style})


def create_app(db_path: str, title: str = "hpcq results") -> Dash:
    """A Dash app over the catalog at ``db_path`` (opened read-only per request)."""
    cat = Catalog(db_path, readonly=True)
    app = Dash(__name__, title=title, serve_locally=True)

    def layout():
        studies = _studies(cat)
        metrics = metric_options(load(cat).noise)
        ctl = {"display": "flex", "gap": "12px", "alignItems": "center", "minHeight": "40px", "flexWrap": "wrap"}
        return html.Div(
            id="hpcq-ui",
            style={"fontFamily": "sans-serif", "margin": "12px"},
            children=[
                html.H2(title, id="page-title", style={"margin": "4px 0"}),
                html.Div(
                    id="table-view",
                    children=[
                        html.Div(
                            id="study-controls",
                            style=ctl,
                            children=[
                                html.Label("study"),
                                dcc.Dropdown(
                                    id="study-select",
                                    options=studies,
                                    value=studies[0] if studies else None,
                                    clearable=False,
                                    style={"width": "260px"},
                                ),
                                html.Label("compare with"),
                                dcc.Dropdown(
                                    id="study-compare",
                                    options=studies,
                                    placeholder="(none)",
                                    clearable=True,
                                    style={"width": "260px"},
                                ),
                                html.Span(id="runs-count", style={"fontWeight": "bold"}),
                            ],
                        ),
                        html.Div(
                            id="rank-controls",
                            style=ctl,
                            children=[
                                html.Label("rank by"),
                                dcc.Dropdown(
                                    id="rank-by",
                                    options=_rank_options(metrics),
                                    value=DEFAULT_RANKING,
                                    multi=True,
                                    placeholder="(not ranked)",
                                    style={"width": "480px"},
                                ),
                                html.Label("weights"),
                                dcc.Input(
                                    id="rank-weights",
                                    type="text",
                                    placeholder="equal",
                                    debounce=True,
                                    style={"width": "90px"},
                                ),
                                dcc.RadioItems(
                                    id="rank-mode",
                                    value="weighted",
                                    inline=True,
                                    options=[
                                        {"label": " weighted ", "value": "weighted"},
                                        {"label": " lexicographic ", "value": "lexicographic"},
                                    ],
                                ),
                                html.Label("top k"),
                                dcc.Input(
                                    id="rank-top",
                                    type="number",
                                    min=1,
                                    step=1,
                                    placeholder="all",
                                    debounce=True,
                                    style={"width": "70px"},
                                ),
                                dcc.Input(id="rank-name", type="text", placeholder="name", style={"width": "110px"}),
                                html.Button("save ranking", id="rank-save"),
                                html.Span(id="rank-saved", style={"color": "#00b894"}),
                            ],
                        ),
                        html.Pre(
                            id="rank-definition",
                            style={
                                "fontSize": "11px",
                                "background": "#f5f6fa",
                                "margin": "4px 0",
                                "padding": "4px",
                                "whiteSpace": "pre-wrap",
                            },
                        ),
                        html.Div(
                            style=ctl,
                            children=[
                                html.H3("Noise runs", style={"margin": "0"}),
                                html.Label("columns"),
                                dcc.Dropdown(id="table-columns", multi=True, style={"minWidth": "500px", "flex": "1"}),
                                html.Button("export CSV (as shown)", id="export-csv"),
                            ],
                        ),
                        html.Div(
                            style={"height": "380px"},
                            children=dag.AgGrid(
                                id="runs-grid",
                                rowData=[],
                                columnDefs=[],
                                defaultColDef={
                                    "sortable": True,
                                    "filter": True,
                                    "resizable": True,
                                    "floatingFilter": True,
                                    "minWidth": 80,
                                },
                                getRowId="params.data.task_id + '|' + params.data.file",
                                dashGridOptions={"animateRows": False, "tooltipShowDelay": 200},
                                csvExportParams={"fileName": "hpcq-runs.csv", "allColumns": False},
                                columnSize="autoSize",
                                style={"height": "380px"},
                            ),
                        ),
                    ],
                ),
                html.Div(
                    id="plots",
                    style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "8px", "marginTop": "8px"},
                    children=[_box(dcc.Graph(id=p, config={"displaylogo": False})) for p in PLOTS],
                ),
                html.Div(
                    style={"display": "flex", "gap": "8px", "alignItems": "center"},
                    children=[
                        html.Button("all runs", id="plot-all"),
                        html.Span(id="plot-scope", style={"fontSize": "12px", "color": "#636e72"}),
                    ],
                ),
                html.Div(
                    id="graph-view",
                    children=[
                        html.H3("Workflow graph", style={"marginBottom": "0"}),
                        _legend(),
                        html.Div(id="graph-note", style={"color": "#d63031", "minHeight": "20px"}),
                        html.Div(
                            style={"display": "flex", "gap": "12px"},
                            children=[
                                cyto.Cytoscape(
                                    id="workflow-graph",
                                    elements=[],
                                    stylesheet=stylesheet(),
                                    layout={"name": "preset", "fit": True, "padding": 20},
                                    minZoom=0.02,
                                    maxZoom=4,
                                    style={"width": "70%", "height": "620px", "border": "1px solid #dfe6e9"},
                                ),
                                html.Div(_node_info(None), id="node-info", style={"width": "30%", "fontSize": "13px"}),
                            ],
                        ),
                    ],
                ),
            ],
        )

    app.layout = layout

    @app.callback(
        Output("runs-grid", "rowData"),
        Output("runs-grid", "columnDefs"),
        Output("workflow-graph", "elements"),
        Output("runs-count", "children"),
        Output("graph-note", "children"),
        Output("rank-definition", "children"),
        Output("table-columns", "options"),
        Output("table-columns", "value"),
        Input("study-select", "value"),
        Input("study-compare", "value"),
        Input("rank-by", "value"),
        Input("rank-weights", "value"),
        Input("rank-mode", "value"),
        Input("rank-top", "value"),
        Input("table-columns", "value"),
    )
    def update(study, compare, by, weights, mode, top, chosen):
        studies = [s for s in (study, compare) if s]
        problem = ""
        try:
            view = ranked_view(
                cat,
                by=by or None,
                weights=weights,
                mode=mode or "weighted",
                top=int(top) if top else None,
                studies=studies or None,
            )
        except RankError as exc:
            problem = f"ranking not applied: {exc}".replace("--", "")
            view = ranked_view(cat, studies=studies or None)
        columns, shown = table_columns(view.rows, view.scan)
        if chosen and ctx.triggered_id == "table-columns":
            shown = [c for c in columns if c in chosen]
        numeric = set(metric_options(view.rows)) | {
            "position",
            "score",
            "n_qubits",
            "reps",
            "shots",
            "seed",
            "abs_error_mha",
            *(view.scan or []),
        }
        count = f"{len(view.rows)} of {view.total} noise runs"
        if view.definition:
            count += f", ranked by {', '.join(by)}"
        definition = problem or (
            json.dumps(view.definition) if view.definition else "not ranked (choose metrics under 'rank by')"
        )
        options = [{"label": HEADERS.get(c, c), "value": c} for c in columns]
        return (
            table_records(view.rows, columns),
            _column_defs(columns, shown, numeric),
            view.elements,
            count,
            view.graph_note,
            definition,
            options,
            shown,
        )

    @app.callback(
        *[Output(p, "figure") for p in PLOTS],
        Output("plot-scope", "children"),
        Input("runs-grid", "virtualRowData"),
        Input("workflow-graph", "tapNodeData"),
        Input("workflow-graph", "elements"),
        State("study-select", "value"),
        State("study-compare", "value"),
        State("rank-by", "value"),
        State("rank-weights", "value"),
        State("rank-mode", "value"),
        State("rank-top", "value"),
    )
    def update_plots(shown, node, _els, study, compare, by, weights, mode, top):
        studies = [s for s in (study, compare) if s]
        try:
            view = ranked_view(
                cat,
                by=by or None,
                weights=weights,
                mode=mode or "weighted",
                top=int(top) if top else None,
                studies=studies or None,
            )
        except RankError:
            view = ranked_view(cat, studies=studies or None)
        if ctx.triggered_id == "workflow-graph" and "workflow-graph.elements" in ctx.triggered_prop_ids:
            node = None  # a new drawing: the old selection is gone
        rows = scope(cat, view.rows, shown, node)
        data = load(cat)
        vqe = data.runs[data.runs["step"] == "vqe"]
        if studies:
            vqe = vqe[vqe["study"].isin(studies)]
        run = rows.iloc[0] if len(rows) else None
        ser = series_for(
            cat,
            list(rows["parent_task_id"].dropna().unique()[: plots.MAX_TRACES])
            + ([run["task_id"]] if run is not None else []),
        )
        where = f"node {node.get('label')}" if node else "the table's rows"
        note = (
            f"plots: {len(rows)} noise runs in scope ({where}); the distribution is of the "
            f"first of them ({run['task_id']})"
            if run is not None
            else "plots: no run in scope"
        )
        return (
            plots.convergence(rows, vqe, ser),
            plots.noise_response(rows),
            plots.distributions(run, ser),
            plots.energy_curve(rows, vqe, view.scan or []),
            note,
        )

    # the graph box may move after async components load: re-measure after each draw
    app.clientside_callback(
        """function (elements) {
            const root = document.getElementById('workflow-graph');
            const el = root && (root._cyreg ? root :
                Array.from(root.querySelectorAll('*')).find(e => e._cyreg));
            if (el) { setTimeout(() => { el._cyreg.cy.resize(); el._cyreg.cy.fit(undefined, 20); }, 50); }
            return window.dash_clientside.no_update;
        }""",
        Output("graph-note", "title"),
        Input("workflow-graph", "elements"),
    )

    app.clientside_callback(
        """function (n) { return n ? true : window.dash_clientside.no_update; }""",
        Output("runs-grid", "exportDataAsCsv"),
        Input("export-csv", "n_clicks"),
        prevent_initial_call=True,
    )

    @app.callback(Output("workflow-graph", "tapNodeData"), Input("plot-all", "n_clicks"), prevent_initial_call=True)
    def clear_node(_n):
        return None

    @app.callback(Output("node-info", "children"), Input("workflow-graph", "tapNodeData"))
    def node_info(data):
        return _node_info(data)

    @app.callback(
        Output("rank-saved", "children"),
        Input("rank-save", "n_clicks"),
        State("rank-name", "value"),
        State("study-select", "value"),
        State("study-compare", "value"),
        State("rank-by", "value"),
        State("rank-weights", "value"),
        State("rank-mode", "value"),
        prevent_initial_call=True,
    )
    def save_ranking(_n, name, study, compare, by, weights, mode):
        studies = [s for s in (study, compare) if s]
        try:
            spec = make_spec(list(by or []), weights, mode or "weighted", "noise")
            rows = ranked_view(cat, by=by, weights=weights, mode=mode or "weighted", studies=studies or None).rows
            definition = {**spec.definition(), "studies": studies}
            Catalog(cat.db_path).save_ranking((name or "").strip(), definition, rows)
        except (RankError, CatalogError) as exc:
            return str(exc).replace("--save NAME: ", "").replace("--", "")
        return f"saved ranking {name.strip()!r} ({len(rows)} runs)"

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
            spec = make_spec(by, request.args.get("weights"), request.args.get("mode", "weighted"), step)
            ranked = rank(runs_for(cat, step), spec)
            top = top_arg()
        except RankError as exc:
            return bad(str(exc).replace("--", ""))
        if top:
            ranked = ranked[ranked["position"] <= top]
        return jsonify({"definition": spec.definition(), "count": len(ranked), "runs": records(ranked)})

    @server.get("/api/v1/graph")
    def api_graph():
        by = request.args.getlist("by")
        study = request.args.getlist("study")
        try:
            view = ranked_view(
                cat,
                by=by or None,
                weights=request.args.get("weights"),
                mode=request.args.get("mode", "weighted"),
                top=top_arg(),
                studies=study or None,
            )
        except RankError as exc:
            return bad(str(exc).replace("--", ""))
        return jsonify({"definition": view.definition, "elements": view.elements, "note": view.graph_note})

    @server.get("/api/v1/studies")
    def api_studies():
        return jsonify({"studies": records(cat.study_times())})

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
