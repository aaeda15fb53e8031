"""The Dash app: study chooser, ranking, metrics table (AG Grid), four plots (Plotly), workflow
graph (Cytoscape) and /api/v1 (Flask; hpcq.ui.api). The page's components are in hpcq.ui.layout.

It reads results through the catalog, opened read-only, and never opens a result file (the plots'
arrays come from the catalog's ``series`` table). The one write is on request: "save ranking"
stores a ranking's definition and ranks in the catalog's rankings tables, through a second,
writable Catalog (the catalog is derived data; the result files are never written).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, State, ctx
from dash.exceptions import PreventUpdate

from hpcq.results.catalog import Catalog, CatalogError
from hpcq.results.rank import RankError, make_spec
from hpcq.ui import api, plots
from hpcq.ui.data import (
    DEFAULT_RANKING,
    HEADERS,
    View,
    compare_rows,
    fingerprint,
    load,
    metric_options,
    ranked_view,
    scope,
    series_for,
    table_columns,
    table_records,
)
from hpcq.ui.layout import (
    PLOTS,
    column_defs,
    column_widths,
    compare_view,
    node_info,
    page,
    plots_key,
    site_legend,
)

__all__ = ["PLOTLY_BASIC", "PLOTS", "create_app", "plotly_basic_ok"]

EMPTY_STATE = {
    "rowData": [],
    "columnDefs": [],
    "elements": [],
    "site_legend": [],
    "compare_view": [],
    "count": "",
    "note": "",
    "definition": "",
    "options": [],
    "shown": [],
}
NUMERIC_ALWAYS = {"position", "score", "n_qubits", "reps", "shots", "seed", "abs_error_mha"}


@dataclass
class Controls:
    """The values of the page's controls (the components ``CONTROLS`` names, in that order)."""

    study: str | None = None
    compare: str | None = None
    by: list[str] | None = None
    weights: str | None = None
    mode: str | None = None
    top: Any = None

    @property
    def studies(self) -> list[str]:
        """The studies the page shows: the selected one and the one compared with it, if any."""
        return [s for s in (self.study, self.compare) if s]

    def view(self, cat: Catalog, graph: bool = True) -> tuple[View, str]:
        """The ranked view these controls ask for, and why the ranking was not applied ("" if it
        was): a bad ranking (unknown metric, weights that do not match) shows the runs unranked."""
        studies = self.studies or None
        try:
            view = ranked_view(
                cat,
                by=self.by or None,
                weights=self.weights,
                mode=self.mode or "weighted",
                top=int(self.top) if self.top else None,
                studies=studies,
                graph=graph,
            )
            return view, ""
        except RankError as exc:
            return ranked_view(cat, studies=studies, graph=graph), f"ranking not applied: {exc}".replace("--", "")


CONTROLS = ("study-select", "study-compare", "rank-by", "rank-weights", "rank-mode", "rank-top")  # their value


def _studies(cat: Catalog) -> list[str]:
    """Studies, newest first (the default is the newest)."""
    return [s for s in cat.study_times()["study"] if s is not None]


def table_state(cat: Catalog, controls: Controls, chosen: list[str] | None = None) -> tuple[View, dict[str, Any]]:
    """The view for these controls and what the table, the graph and their notes show
    (``chosen``: the columns the user picked; None = the defaults)."""
    view, problem = controls.view(cat)
    columns, shown = table_columns(view.rows, view.scan)
    if chosen:
        shown = [c for c in columns if c in chosen]
    numeric = set(metric_options(view.rows)) | NUMERIC_ALWAYS | set(view.scan or [])
    count = f"{len(view.rows)} of {view.total} noise runs"
    if view.definition:
        count += f", ranked by {', '.join(controls.by or [])}"
    definition = problem or (
        json.dumps(view.definition) if view.definition else "not ranked (choose metrics under 'rank by')"
    )
    # only the shown columns' values (+ row keys): the hidden ones were 80 % of the first page's
    # bytes; showing a column is a round trip anyway (this callback), which then sends its values
    recs = table_records(view.rows, shown)
    return view, {
        "rowData": recs,
        "columnDefs": column_defs(columns, shown, numeric, column_widths(recs, shown, numeric)),
        "elements": view.elements,
        "site_legend": site_legend(view.elements),
        "compare_view": compare_view(*compare_rows(cat, controls.studies or None)),
        "count": count,
        "note": view.graph_note,
        "definition": definition,
        "options": [{"label": HEADERS.get(c, c), "value": c} for c in columns],
        "shown": shown,
    }


def plots_state(cat: Catalog, view_rows, studies: list[str], keys: list[str] | None, node: dict[str, Any] | None):
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
        plots.figure_json(plots.noise_response(rows, scan)),
        plots.figure_json(plots.distributions(run, ser)),
        plots.figure_json(plots.energy_curve(rows, vqe, scan)),
        note,
    )


# What a change of the controls redraws: (component, property, key of table_state's dict)
TABLE_OUTPUTS = (
    ("runs-grid", "rowData", "rowData"),
    ("runs-grid", "columnDefs", "columnDefs"),
    ("workflow-graph", "elements", "elements"),
    ("site-legend", "children", "site_legend"),
    ("compare-view", "children", "compare_view"),
    ("runs-count", "children", "count"),
    ("graph-note", "children", "note"),
    ("rank-definition", "children", "definition"),
    ("table-columns", "options", "options"),
    ("table-columns", "value", "shown"),
)


class Dashboard:
    """The page and the server-side callbacks of one app, over one catalog (Dash passes a callback
    only its components' values; the catalog is this object's)."""

    def __init__(self, cat: Catalog, title: str):
        self.cat = cat
        self.title = title
        self.first: tuple[tuple, Any] | None = None  # the first page, and the fingerprint it was built for

    def layout(self):
        """The first page, built again only after the catalog changed. Why: building it (table,
        graph, four figures) is most of what the server does for a page load (0.4 s at 1,000
        runs); it depends on nothing but the catalog (the default controls are constants)."""
        fp = fingerprint(self.cat)
        if self.first and self.first[0] == fp:
            return self.first[1]
        studies = _studies(self.cat)
        study0 = studies[0] if studies else None
        view, st = table_state(self.cat, Controls(study0, None, DEFAULT_RANKING, None, "weighted", None))
        *figs, scope_note = plots_state(self.cat, view.rows, [study0] if study0 else [], None, None)
        metrics = metric_options(load(self.cat).noise)
        built = page(self.title, studies, metrics, study0, st, figs, scope_note)
        self.first = (fp, built)
        return built

    def update(self, *values):
        """Table, graph and plots after a control changed (one round trip: the plots do not
        wait for the grid; a new drawing drops the selected node). ``values``: the CONTROLS,
        the chosen columns, the grid filter."""
        *control_values, chosen, grid_filter = values
        controls = Controls(*control_values)
        keys = (grid_filter or {}).get("keys")
        keep = chosen if ctx.triggered_id == "table-columns" else None  # a new study/ranking: defaults
        view, st = table_state(self.cat, controls, keep)
        *figs, note = plots_state(self.cat, view.rows, controls.studies, keys, None)
        return (*[st[key] for _, _, key in TABLE_OUTPUTS], *figs, note, plots_key(keys, None), None)

    def update_plots(self, grid_filter, node, shown_key, *control_values):
        """The plots after the grid's filter or the selected node changed."""
        keys = (grid_filter or {}).get("keys")
        if plots_key(keys, node) == shown_key:
            raise PreventUpdate  # e.g. the node cleared by a new drawing: the plots already follow
        controls = Controls(*control_values)
        rows = controls.view(self.cat, graph=False)[0].rows
        return (*plots_state(self.cat, rows, controls.studies, keys, node), plots_key(keys, node))

    def save_ranking(self, _n, name, *control_values):
        """Store the ranking the controls define (and its ranks) under ``name``: the dashboard's
        one write, into the catalog's rankings tables."""
        controls = Controls(*control_values)
        mode = controls.mode or "weighted"
        try:
            spec = make_spec(list(controls.by or []), controls.weights, mode, "noise")
            studies = controls.studies
            rows = ranked_view(
                self.cat, by=controls.by, weights=controls.weights, mode=mode, studies=studies or None
            ).rows
            definition = {**spec.definition(), "studies": studies}
            Catalog(self.cat.db_path).save_ranking((name or "").strip(), definition, rows)
        except (RankError, CatalogError) as exc:
            return str(exc).replace("--save NAME: ", "").replace("--", "")
        return f"saved ranking {name.strip()!r} ({len(rows)} runs)"


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
# the graph box may move after async components load: re-measure after each draw
GRAPH_RESIZE_JS = """function (elements) {
    const root = document.getElementById('workflow-graph');
    const el = root && (root._cyreg ? root :
        Array.from(root.querySelectorAll('*')).find(e => e._cyreg));
    if (el) { setTimeout(() => { el._cyreg.cy.resize(); el._cyreg.cy.fit(undefined, 20); }, 50); }
    return window.dash_clientside.no_update;
}"""
EXPORT_CSV_JS = """function (n) { return n ? true : window.dash_clientside.no_update; }"""


def _server_callbacks(app: Dash, board: Dashboard) -> None:
    """The callbacks that read (or, to save a ranking, write) the catalog."""
    controls = [Input(c, "value") for c in CONTROLS]
    states = [State(c, "value") for c in CONTROLS]
    app.callback(
        *[Output(c, prop) for c, prop, _ in TABLE_OUTPUTS],
        *[Output(p, "figure", allow_duplicate=True) for p in PLOTS],
        Output("plot-scope", "children", allow_duplicate=True),
        Output("plots-state", "data", allow_duplicate=True),
        Output("workflow-graph", "tapNodeData", allow_duplicate=True),
        *controls,
        Input("table-columns", "value"),
        State("grid-filter", "data"),
        prevent_initial_call=True,
    )(board.update)
    app.callback(
        *[Output(p, "figure") for p in PLOTS],
        Output("plot-scope", "children"),
        Output("plots-state", "data"),
        Input("grid-filter", "data"),
        Input("workflow-graph", "tapNodeData"),
        State("plots-state", "data"),
        *states,
        prevent_initial_call=True,
    )(board.update_plots)
    app.callback(
        Output("rank-saved", "children"),
        Input("rank-save", "n_clicks"),
        State("rank-name", "value"),
        *states[:5],  # the controls but top k: a saved ranking keeps every run
        prevent_initial_call=True,
    )(board.save_ranking)


def clear_node(_n):
    """'all runs': drop the selected node (the plots widen to the table's rows)."""
    return None


def _browser_callbacks(app: Dash) -> None:
    """The callbacks that need no catalog: three run in the browser, two redraw the node panel."""
    app.clientside_callback(
        GRID_FILTER_JS,
        Output("grid-filter", "data"),
        Input("runs-grid", "virtualRowData"),
        Input("runs-grid", "filterModel"),
        State("grid-filter", "data"),
    )
    app.clientside_callback(GRAPH_RESIZE_JS, Output("graph-note", "title"), Input("workflow-graph", "elements"))
    app.clientside_callback(
        EXPORT_CSV_JS,
        Output("runs-grid", "exportDataAsCsv"),
        Input("export-csv", "n_clicks"),
        prevent_initial_call=True,
    )
    app.callback(Output("workflow-graph", "tapNodeData"), Input("plot-all", "n_clicks"), prevent_initial_call=True)(
        clear_node
    )
    app.callback(Output("node-info", "children"), Input("workflow-graph", "tapNodeData"), prevent_initial_call=True)(
        node_info
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
    """A Dash app over the catalog at ``db_path`` (read through a read-only connection; a saved
    ranking is written through a second one).

    Why the first page needs no callback: the layout carries the table, the graph and the four
    figures for the default controls (newest study, default ranking), so the browser draws them
    as soon as the bundles are loaded; callbacks run only when the user changes something
    (docs/performance.md, "Dashboard first page")."""
    cat = Catalog(db_path, readonly=True)
    # assets/plotly-basic.min.js defines window.Plotly before the renderer starts: dcc.Graph then
    # never fetches the full bundle (it loads lazily, only when window.Plotly is missing)
    ignore = "" if plotly_basic_ok() else r"plotly-basic\.min\.js"
    app = Dash(__name__, title=title, serve_locally=True, assets_ignore=ignore)
    board = Dashboard(cat, title)
    # the ids the callbacks use, without data: else Dash calls layout() once to validate them and
    # embeds that whole first page (1 MB at 1,000 runs, stale after the next index) in every
    # index.html, besides the layout it sends
    app.validation_layout = page(title, [], [], None, EMPTY_STATE, [{}] * len(PLOTS), "")
    app.layout = board.layout
    _server_callbacks(app, board)
    _browser_callbacks(app)
    api.register(app.server, cat)
    # Dash's one-time set-up (0.7 s on the first request: resource registry, bundle fingerprints) and
    # the catalog's first read happen now, at start, not in the first visitor's page load
    with app.server.test_client() as client:
        client.get("/")
        client.get("/_dash-layout")
    return app
