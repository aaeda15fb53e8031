"""The dashboard's page: what it shows and where (element ids are stable: tests and users rely
on them; docs/dashboard.md lists them).

Why apart from hpcq.ui.app: the page is declarative (components, column definitions, the node
panel); the app module holds the state behind it and the callbacks that change it. The page is
built from the dict :func:`hpcq.ui.app.table_state` returns, so the first page and a callback show
the same thing.
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_cytoscape as cyto
from dash import dcc, html

from hpcq.results.graph import COLOURS, NODE_TYPES, site_legend_items, stylesheet
from hpcq.results.h5format import TASK_ATTRS, TRANSFER_COLUMNS
from hpcq.ui.data import DEFAULT_RANKING, HEADERS

NUMERIC_FMT = {"function": "params.value == null ? '' : d3.format('.6~g')(params.value)"}
MAX_DIRECTION = ("fidelity", "entropy_ratio", "chemical_accuracy")  # larger is better
PLOTS = ("plot-convergence", "plot-noise", "plot-distribution", "plot-curve")
# the clicked node's fields, in order: what the graph node is, the task attributes of the result
# format it carries (hpcq.results.h5format.TASK_ATTRS: those the graph gives a node), the problem's
# parameters, what an aggregate node adds, and its file
WHERE_FIELDS = ("site", "executor", *TRANSFER_COLUMNS)  # where a step ran, what it fetched (docs/sites.md)
NODE_FIELDS = ("type", "position", "study", *TASK_ATTRS, "params", "n_runs", "file", *WHERE_FIELDS)
CONTROLS_STYLE = {"display": "flex", "gap": "12px", "alignItems": "center", "minHeight": "40px", "flexWrap": "wrap"}

CHAR_W, CELL_PAD, MAX_COL_W = 8, 44, 420  # px: a character at the grid's 14 px font; padding + icons; a cap


def column_widths(records: list[dict[str, Any]], columns: list[str], numeric: set[str]) -> dict[str, int]:
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


def column_defs(
    columns: list[str], shown: list[str], numeric: set[str], widths: dict[str, int] | None = None
) -> list[dict[str, Any]]:
    """AG Grid column definitions: every column (those not ``shown`` hidden), number filters and
    formatting on ``numeric`` ones, the rank pinned left, full task ids."""
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


def legend() -> html.Div:
    """A colour swatch per graph node type."""
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


def site_legend(els: list[dict[str, Any]]) -> list[Any]:
    """A border swatch per site among the drawn nodes (nothing when no step says where it ran)."""
    items: list[Any] = []
    for site, colour in site_legend_items(els):
        swatch = {"display": "inline-block", "width": 10, "height": 10, "borderRadius": 6, "marginRight": 4}
        swatch["border"] = f"3px solid {colour}"
        items.append(html.Span([html.Span(style=swatch), html.Span(site, style={"marginRight": 14})]))
    return [html.Span("sites: ", style={"marginRight": 6}), *items] if items else []


def compare_view(columns: list[str], rows: list[dict[str, Any]]) -> list[Any]:
    """Simulator, noise models, twin and QPU at the same parameters (the hybrid workflow; energies
    in Ha to 6 decimals, a twin's or QPU's with its standard error); nothing without evaluations."""
    if not rows:
        return []

    def cell(v: Any) -> str:
        return "" if v is None else (f"{v:.6f}" if isinstance(v, float) else str(v))

    head = html.Tr([html.Th(c if c in ("study", "task_id", "optimizer") else f"{c} (Ha)") for c in columns])
    body = [html.Tr([html.Td(cell(r.get(c))) for c in columns]) for r in rows]
    return [
        html.H3("Simulator, noise models, twin and QPU at the same parameters", style={"marginBottom": "4px"}),
        html.Table([html.Thead(head), html.Tbody(body)], id="compare-table", style={"fontSize": "13px"}),
    ]


def node_info(data: dict[str, Any] | None) -> list[Any]:
    """The panel of the clicked graph node: its fields and metrics (a hint when none is clicked)."""
    if not data:
        return [
            html.H4("Click a node", id="node-info-title"),
            html.P(
                "Problems, ansatzes, VQE runs and noise runs; click one to see it and to "
                "narrow the plots to it ('all runs' widens them again)."
            ),
        ]
    rows = []
    for k in NODE_FIELDS:
        if k in TRANSFER_COLUMNS and not data.get(k):
            continue  # nothing came from another site
        if data.get(k) not in (None, ""):
            rows.append(html.Tr([html.Th(k), html.Td(str(data[k]), id=f"node-field-{k}")]))
    for k, v in (data.get("metrics") or {}).items():
        txt = "–" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
        rows.append(html.Tr([html.Th(k), html.Td(txt, id=f"node-metric-{k}")]))
    title = f"{data.get('type', 'node')}: {data.get('label', data.get('id'))}"
    return [html.H4(title, id="node-info-title"), html.Table(rows, id="node-info-table")]


def rank_options(metrics: list[str]) -> list[dict[str, str]]:
    """``METRIC:min|max`` choices, the metric's better direction first."""
    opts = []
    for m in metrics:
        first = "max" if m.removeprefix("vqe_") in MAX_DIRECTION else "min"
        for d in (first, "max" if first == "min" else "min"):
            arrow = "↓ smaller is better" if d == "min" else "↑ larger is better"
            opts.append({"label": f"{m} {arrow}", "value": f"{m}:{d}"})
    return opts


def _box(children, **style) -> html.Div:
    return html.Div(children, style={"border": "1px solid #dfe6e9", "padding": "6px", **style})


def _study_controls(studies: list[str], study0: str | None, count: str) -> html.Div:
    width = {"width": "260px"}
    return html.Div(
        id="study-controls",
        style=CONTROLS_STYLE,
        children=[
            html.Label("study"),
            dcc.Dropdown(id="study-select", options=studies, value=study0, clearable=False, style=width),
            html.Label("compare with"),
            dcc.Dropdown(id="study-compare", options=studies, placeholder="(none)", clearable=True, style=width),
            html.Span(count, id="runs-count", style={"fontWeight": "bold"}),
        ],
    )


def _rank_controls(metrics: list[str]) -> html.Div:
    modes = [{"label": f" {m} ", "value": m} for m in ("weighted", "lexicographic")]
    return html.Div(
        id="rank-controls",
        style=CONTROLS_STYLE,
        children=[
            html.Label("rank by"),
            dcc.Dropdown(
                id="rank-by",
                options=rank_options(metrics),
                value=DEFAULT_RANKING,
                multi=True,
                placeholder="(not ranked)",
                style={"width": "480px"},
            ),
            html.Label("weights"),
            dcc.Input(id="rank-weights", type="text", placeholder="equal", debounce=True, style={"width": "90px"}),
            dcc.RadioItems(id="rank-mode", value="weighted", inline=True, options=modes),
            html.Label("top k"),
            dcc.Input(
                id="rank-top", type="number", min=1, step=1, placeholder="all", debounce=True, style={"width": "70px"}
            ),
            dcc.Input(id="rank-name", type="text", placeholder="name", style={"width": "110px"}),
            html.Button("save ranking", id="rank-save"),
            html.Span(id="rank-saved", style={"color": "#00b894"}),
        ],
    )


def _table(st: dict[str, Any]) -> list[Any]:
    """The ranking's definition, the column chooser and the grid."""
    pre = {"fontSize": "11px", "background": "#f5f6fa", "margin": "4px 0", "padding": "4px", "whiteSpace": "pre-wrap"}
    columns = dcc.Dropdown(
        id="table-columns",
        options=st["options"],
        value=st["shown"],
        multi=True,
        style={"minWidth": "500px", "flex": "1"},
    )
    grid = dag.AgGrid(
        id="runs-grid",
        rowData=st["rowData"],
        columnDefs=st["columnDefs"],
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "floatingFilter": True, "minWidth": 80},
        getRowId="params.data.task_id + '|' + params.data.file",
        dashGridOptions={"animateRows": False, "tooltipShowDelay": 200},
        csvExportParams={"fileName": "hpcq-runs.csv", "allColumns": False},
        style={"height": "380px"},
    )
    return [
        html.Pre(st["definition"], id="rank-definition", style=pre),
        html.Div(
            style=CONTROLS_STYLE,
            children=[
                html.H3("Noise runs", style={"margin": "0"}),
                html.Label("columns"),
                columns,
                html.Button("export CSV (as shown)", id="export-csv"),
            ],
        ),
        html.Div(style={"height": "380px"}, children=grid),
    ]


def _plots_view(figs: list[Any], scope_note: str) -> list[html.Div]:
    """The four plots in a 2x2 grid, the 'all runs' button and what the plots show."""
    graphs = [_box(dcc.Graph(id=p, figure=f, config={"displaylogo": False})) for p, f in zip(PLOTS, figs, strict=True)]
    return [
        html.Div(
            id="plots",
            style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "8px", "marginTop": "8px"},
            children=graphs,
        ),
        html.Div(
            style={"display": "flex", "gap": "8px", "alignItems": "center"},
            children=[
                html.Button("all runs", id="plot-all"),
                html.Span(scope_note, id="plot-scope", style={"fontSize": "12px", "color": "#636e72"}),
            ],
        ),
    ]


def _graph_view(st: dict[str, Any]) -> html.Div:
    graph = cyto.Cytoscape(
        id="workflow-graph",
        elements=st["elements"],
        stylesheet=stylesheet(),
        layout={"name": "preset", "fit": True, "padding": 20},
        minZoom=0.02,
        maxZoom=4,
        style={"width": "70%", "height": "620px", "border": "1px solid #dfe6e9"},
    )
    return html.Div(
        id="graph-view",
        children=[
            html.H3("Workflow graph", style={"marginBottom": "0"}),
            legend(),
            html.Div(site_legend(st["elements"]), id="site-legend", style={"margin": "6px 0"}),
            html.Div(st["note"], id="graph-note", style={"color": "#d63031", "minHeight": "20px"}),
            html.Div(
                style={"display": "flex", "gap": "12px"},
                children=[
                    graph,
                    html.Div(node_info(None), id="node-info", style={"width": "30%", "fontSize": "13px"}),
                ],
            ),
        ],
    )


def page(
    title: str,
    studies: list[str],
    metrics: list[str],
    study0: str | None,
    st: dict[str, Any],
    figs: list[Any],
    scope_note: str,
) -> html.Div:
    """The page for one state of the controls (``st``: :func:`hpcq.ui.app.table_state`'s dict)."""
    table_view = [_study_controls(studies, study0, st["count"]), _rank_controls(metrics), *_table(st)]
    return html.Div(
        id="hpcq-ui",
        style={"fontFamily": "sans-serif", "margin": "12px"},
        children=[
            # {"keys": ...}, never null: a Store whose data is null sets it again when it mounts (a
            # change, so a callback round trip on the first page)
            dcc.Store(id="grid-filter", data={"keys": None}),
            dcc.Store(id="plots-state", data=plots_key(None, None)),
            html.H2(title, id="page-title", style={"margin": "4px 0"}),
            html.Div(id="table-view", children=table_view),
            *_plots_view(figs, scope_note),
            html.Div(st["compare_view"], id="compare-view", style={"margin": "8px 0"}),
            _graph_view(st),
        ],
    )


def plots_key(keys: list[str] | None, node: dict[str, Any] | None) -> dict[str, Any]:
    """What the plots show (the store ``plots-state``): a repeated request is not recomputed."""
    return {"keys": keys, "node": (node or {}).get("id")}
