"""The Dash app: study chooser, ranking, metrics table (AG Grid), four plots (Plotly), workflow
graph (Cytoscape) and /api/v1 (Flask).

It only reads results: the catalog is opened read-only and result files are never opened here
(the plots' arrays come from the catalog's ``series`` table). The one write is saving a ranking
definition into the catalog, on request. Element ids are stable (tests and users rely on them;
listed in docs/dashboard.md).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import dash_ag_grid as dag
import dash_cytoscape as cyto
from dash import Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate
from flask import jsonify, request

from hpcq.results.catalog import Catalog, CatalogError
from hpcq.results.graph import COLOURS, NODE_TYPES, stylesheet
from hpcq.results.rank import RankError, make_spec, rank, runs_for
from hpcq.ui import plots
from hpcq.ui.data import (
    DEFAULT_RANKING,
    HEADERS,
    fingerprint,
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


CHAR_W, CELL_PAD, MAX_COL_W = 8, 44, 420  # px: a character at the grid's 14 px font; padding + icons; a cap


def _widths(records: list[dict[str, Any]], columns: list[str], numeric: set[str]) -> dict[str, int]:
    """Column widths from the header and the longest value (numbers as shown: 6 significant
    digits). Why not AG Grid's autoSize: it measures every rendered cell in the browser, a
    quarter of a second of the first page's CPU on the 2-core machine (bench/bench_ui.py)."""
    out = {}
    sample = records[:500]
    for c in columns:
        n = len(HEADERS.get(c, c))
        for r in sample:
            v = r.get(c)
            if v is None:
                continue
            n = max(n, 12 if c in numeric and isinstance(v, float) else len(str(v)))
        out[c] = min(MAX_COL_W, CHAR_W * n + CELL_PAD)
    return out


def _column_defs(
    columns: list[str], shown: list[str], numeric: set[str], widths: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    defs = []
    for c in columns:
        d: dict[str, Any] = {"field": c, "headerName": HEADERS.get(c, c), "hide": c not in shown}
        if widths and c in widths:
            d["width"] = widths[c]
        if c in numeric:
            d["filter"] = "agNumberColumnFilter"
            d["valueFormatter"] = NUMERIC_FMT
            d["useValueFormatterForExport"] = False  # the CSV has full-precision numbers, ASCII minus
            d["type"] = "numericColumn"
        if c == "task_id":  # full ids: never cut
            d["minWidth"] = max(260, (widths or {}).get(c, 0))
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


EMPTY_STATE = {
    "rowData": [],
    "columnDefs": [],
    "elements": [],
    "count": "",
    "note": "",
    "definition": "",
    "options": [],
    "shown": [],
}
NUMERIC_ALWAYS = {"position", "score", "n_qubits", "reps", "shots", "seed", "abs_error_mha"}


def _chosen(study: str | None, compare: str | None) -> list[str]:
    """The studies the page shows: the selected one and the one compared with it, if any."""
    return [s for s in (study, compare) if s]


def _controls_view(cat: Catalog, study, compare, by, weights, mode, top, graph: bool = True) -> tuple[Any, str]:
    """The ranked view the page's controls ask for, and why the ranking was not applied ("" if it
    was): a bad ranking (unknown metric, weights that do not match) shows the runs unranked."""
    studies = _chosen(study, compare) or None
    try:
        view = ranked_view(
            cat,
            by=by or None,
            weights=weights,
            mode=mode or "weighted",
            top=int(top) if top else None,
            studies=studies,
            graph=graph,
        )
        return view, ""
    except RankError as exc:
        return ranked_view(cat, studies=studies, graph=graph), f"ranking not applied: {exc}".replace("--", "")


def _table_state(
    cat: Catalog,
    study: str | None,
    compare: str | None,
    by: list[str] | None,
    weights: str | None,
    mode: str | None,
    top: Any,
    chosen: list[str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The view for these controls and what the table, the graph and their notes show."""
    view, problem = _controls_view(cat, study, compare, by, weights, mode, top)
    columns, shown = table_columns(view.rows, view.scan)
    if chosen:
        shown = [c for c in columns if c in chosen]
    numeric = set(metric_options(view.rows)) | NUMERIC_ALWAYS | set(view.scan or [])
    count = f"{len(view.rows)} of {view.total} noise runs"
    if view.definition:
        count += f", ranked by {', '.join(by or [])}"
    definition = problem or (
        json.dumps(view.definition) if view.definition else "not ranked (choose metrics under 'rank by')"
    )
    # only the shown columns' values (+ row keys): the hidden ones were 80 % of the first page's
    # bytes; showing a column is a round trip anyway (this callback), which then sends its values
    recs = table_records(view.rows, shown)
    return view, {
        "rowData": recs,
        "columnDefs": _column_defs(columns, shown, numeric, _widths(recs, shown, numeric)),
        "elements": view.elements,
        "count": count,
        "note": view.graph_note,
        "definition": definition,
        "options": [{"label": HEADERS.get(c, c), "value": c} for c in columns],
        "shown": shown,
    }


def _plots(cat: Catalog, view_rows, studies: list[str], keys: list[str] | None, node: dict[str, Any] | None):
    """The four figures and the scope note for the table's rows (``keys``: the grid filter's
    row keys, None = all) narrowed to the graph ``node``."""
    rows = scope(cat, view_rows, keys, node)
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
        f"plots: {len(rows)} noise runs in scope ({where}); the distribution is of the first of them ({run['task_id']})"
        if run is not None
        else "plots: no run in scope"
    )
    scan = [c for c in data.scan if c in view_rows.columns and view_rows[c].nunique() > 1]
    return (
        plots.figure_json(plots.convergence(rows, vqe, ser)),
        plots.figure_json(plots.noise_response(rows)),
        plots.figure_json(plots.distributions(run, ser)),
        plots.figure_json(plots.energy_curve(rows, vqe, scan)),
        note,
    )


def _plots_key(keys: list[str] | None, node: dict[str, Any] | None) -> dict[str, Any]:
    """What the plots show (the store ``plots-state``): a repeated request is not recomputed."""
    return {"keys": keys, "node": (node or {}).get("id")}


# the grid filter's row keys (hpcq.ui.data.row_key), sorted (a re-sort is not a new scope); null
# while no filter is set (not "as many rows as rowData": the grid reports [] before it has drawn);
# unchanged -> no update, so no server round trip when the grid draws the first page
GRID_FILTER_JS = """function (virtual, model, current) {
    const filtered = model && Object.keys(model).length > 0;
    if (filtered && !virtual) { return window.dash_clientside.no_update; }
    const keys = filtered ? virtual.map(r => r.task_id + '|' + r.file).sort() : null;
    return JSON.stringify(keys) === JSON.stringify(current ? current.keys : null)
        ? window.dash_clientside.no_update : {keys: keys};
}"""


def _page(title: str, studies: list[str], metrics: list[str], study0: str | None, st: dict[str, Any], figs, scope_note):
    """The page for one state of the controls (``st``: :func:`_table_state`'s dict)."""
    ctl = {"display": "flex", "gap": "12px", "alignItems": "center", "minHeight": "40px", "flexWrap": "wrap"}
    return html.Div(
        id="hpcq-ui",
        style={"fontFamily": "sans-serif", "margin": "12px"},
        children=[
            # {"keys": ...}, never null: a Store whose data is null sets it again when it mounts (a
            # change, so a callback round trip on the first page)
            dcc.Store(id="grid-filter", data={"keys": None}),
            dcc.Store(id="plots-state", data=_plots_key(None, None)),
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
                                value=study0,
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
                            html.Span(st["count"], id="runs-count", style={"fontWeight": "bold"}),
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
                        st["definition"],
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
                            dcc.Dropdown(
                                id="table-columns",
                                options=st["options"],
                                value=st["shown"],
                                multi=True,
                                style={"minWidth": "500px", "flex": "1"},
                            ),
                            html.Button("export CSV (as shown)", id="export-csv"),
                        ],
                    ),
                    html.Div(
                        style={"height": "380px"},
                        children=dag.AgGrid(
                            id="runs-grid",
                            rowData=st["rowData"],
                            columnDefs=st["columnDefs"],
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
                            style={"height": "380px"},
                        ),
                    ),
                ],
            ),
            html.Div(
                id="plots",
                style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "8px", "marginTop": "8px"},
                children=[_box(dcc.Graph(id=p, figure=f, config={"displaylogo": False})) for p, f in zip(PLOTS, figs)],
            ),
            html.Div(
                style={"display": "flex", "gap": "8px", "alignItems": "center"},
                children=[
                    html.Button("all runs", id="plot-all"),
                    html.Span(scope_note, id="plot-scope", style={"fontSize": "12px", "color": "#636e72"}),
                ],
            ),
            html.Div(
                id="graph-view",
                children=[
                    html.H3("Workflow graph", style={"marginBottom": "0"}),
                    _legend(),
                    html.Div(st["note"], id="graph-note", style={"color": "#d63031", "minHeight": "20px"}),
                    html.Div(
                        style={"display": "flex", "gap": "12px"},
                        children=[
                            cyto.Cytoscape(
                                id="workflow-graph",
                                elements=st["elements"],
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


log = logging.getLogger(__name__)
PLOTLY_BASIC = Path(__file__).parent / "assets" / "plotly-basic.min.js"


def plotly_basic_ok() -> bool:
    """Whether the vendored partial plotly.js (scatter, bar, pie; 1.2 MB) can stand in for the full
    4.8 MB bundle: only at the plotly package's own plotly.js version (assets/PLOTLY-BASIC.md).
    Parsing the full bundle was a second or more of every cold first page."""
    from plotly.offline import get_plotlyjs_version

    m = re.search(r"plotly\.js \(basic - minified\) v(\S+)", PLOTLY_BASIC.read_text()[:300])
    if m and m.group(1) == get_plotlyjs_version():
        return True
    log.warning(
        "assets/plotly-basic.min.js is plotly.js %s, the plotly package's is %s: the full bundle is served "
        "(update the file: hpcq/ui/assets/PLOTLY-BASIC.md)",
        m.group(1) if m else "?",
        get_plotlyjs_version(),
    )
    return False


def create_app(db_path: str, title: str = "hpcq results") -> Dash:
    """A Dash app over the catalog at ``db_path`` (opened read-only per request).

    Why the first page needs no callback: the layout carries the table, the graph and the four
    figures for the default controls (newest study, default ranking), so the browser draws them
    as soon as the bundles are loaded; callbacks run only when the user changes something
    (docs/performance.md, "Dashboard first page")."""
    cat = Catalog(db_path, readonly=True)
    # assets/plotly-basic.min.js defines window.Plotly before the renderer starts: dcc.Graph then
    # never fetches the full bundle (it loads lazily, only when window.Plotly is missing)
    ignore = "" if plotly_basic_ok() else r"plotly-basic\.min\.js"
    app = Dash(__name__, title=title, serve_locally=True, assets_ignore=ignore)

    first: dict[str, Any] = {}  # the first page, for the catalog's fingerprint it was built for

    def layout():
        """The first page, built again only after the catalog changed. Why: building it (table,
        graph, four figures) is most of what the server does for a page load (0.4 s at 1,000
        runs); it depends on nothing but the catalog (the default controls are constants)."""
        fp = fingerprint(cat)
        hit = first.get("page")
        if hit and hit[0] == fp:
            return hit[1]
        studies = _studies(cat)
        metrics = metric_options(load(cat).noise)
        study0 = studies[0] if studies else None
        view, st = _table_state(cat, study0, None, DEFAULT_RANKING, None, "weighted", None)
        *figs, scope_note = _plots(cat, view.rows, [study0] if study0 else [], None, None)
        page = _page(title, studies, metrics, study0, st, figs, scope_note)
        first["page"] = (fp, page)
        return page

    # the ids the callbacks use, without data: else Dash calls layout() once to validate them and
    # embeds that whole first page (1 MB at 1,000 runs, stale after the next index) in every
    # index.html, besides the layout it sends
    app.validation_layout = _page(title, [], [], None, EMPTY_STATE, [{}] * len(PLOTS), "")
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
        *[Output(p, "figure", allow_duplicate=True) for p in PLOTS],
        Output("plot-scope", "children", allow_duplicate=True),
        Output("plots-state", "data", allow_duplicate=True),
        Output("workflow-graph", "tapNodeData", allow_duplicate=True),
        Input("study-select", "value"),
        Input("study-compare", "value"),
        Input("rank-by", "value"),
        Input("rank-weights", "value"),
        Input("rank-mode", "value"),
        Input("rank-top", "value"),
        Input("table-columns", "value"),
        State("grid-filter", "data"),
        prevent_initial_call=True,
    )
    def update(study, compare, by, weights, mode, top, chosen, grid_filter):
        """Table, graph and plots after a control changed (one round trip: the plots do not
        wait for the grid; a new drawing drops the selected node)."""
        keys = (grid_filter or {}).get("keys")
        keep = chosen if ctx.triggered_id == "table-columns" else None  # a new study/ranking: defaults
        view, st = _table_state(cat, study, compare, by, weights, mode, top, keep)
        *figs, note = _plots(cat, view.rows, _chosen(study, compare), keys, None)
        return (
            st["rowData"],
            st["columnDefs"],
            st["elements"],
            st["count"],
            st["note"],
            st["definition"],
            st["options"],
            st["shown"],
            *figs,
            note,
            _plots_key(keys, None),
            None,
        )

    @app.callback(
        *[Output(p, "figure") for p in PLOTS],
        Output("plot-scope", "children"),
        Output("plots-state", "data"),
        Input("grid-filter", "data"),
        Input("workflow-graph", "tapNodeData"),
        State("plots-state", "data"),
        State("study-select", "value"),
        State("study-compare", "value"),
        State("rank-by", "value"),
        State("rank-weights", "value"),
        State("rank-mode", "value"),
        State("rank-top", "value"),
        prevent_initial_call=True,
    )
    def update_plots(grid_filter, node, shown_key, study, compare, by, weights, mode, top):
        """The plots after the grid's filter or the selected node changed."""
        keys = (grid_filter or {}).get("keys")
        if _plots_key(keys, node) == shown_key:
            raise PreventUpdate  # e.g. the node cleared by a new drawing: the plots already follow
        rows = _controls_view(cat, study, compare, by, weights, mode, top, graph=False)[0].rows
        studies = _chosen(study, compare)
        return (*_plots(cat, rows, studies, keys, node), _plots_key(keys, node))

    app.clientside_callback(
        GRID_FILTER_JS,
        Output("grid-filter", "data"),
        Input("runs-grid", "virtualRowData"),
        Input("runs-grid", "filterModel"),
        State("grid-filter", "data"),
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

    @app.callback(Output("node-info", "children"), Input("workflow-graph", "tapNodeData"), prevent_initial_call=True)
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
        studies = _chosen(study, compare)
        try:
            spec = make_spec(list(by or []), weights, mode or "weighted", "noise")
            rows = ranked_view(cat, by=by, weights=weights, mode=mode or "weighted", studies=studies or None).rows
            definition = {**spec.definition(), "studies": studies}
            Catalog(cat.db_path).save_ranking((name or "").strip(), definition, rows)
        except (RankError, CatalogError) as exc:
            return str(exc).replace("--save NAME: ", "").replace("--", "")
        return f"saved ranking {name.strip()!r} ({len(rows)} runs)"

    _api(app, cat)
    # Dash's one-time set-up (0.7 s on the first request: resource registry, bundle fingerprints) and
    # the catalog's first read happen now, at start, not in the first visitor's page load
    with app.server.test_client() as client:
        client.get("/")
        client.get("/_dash-layout")
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
