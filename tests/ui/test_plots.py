"""Every figure of the first page uses only traces of the partial plotly.js bundle it serves
(assets/plotly-basic.min.js: a trace type it lacks would draw nothing in the browser)."""

import plotly.graph_objects as go
from dash import dcc

from hpcq.ui.app import PLOTLY_BASIC, PLOTS, create_app, plotly_basic_ok

BASIC_TRACES = {"scatter", "bar", "pie"}  # plotly.js-basic-dist: assets/PLOTLY-BASIC.md


def test_first_page_figures_use_only_basic_traces(ui_db):
    app = create_app(str(ui_db))
    with app.server.test_request_context("/"):
        page = app.layout()
    graphs = {c.id: go.Figure(c.figure) for c in page._traverse() if isinstance(c, dcc.Graph)}
    assert set(PLOTS) <= set(graphs)
    used = {t.type for fig in graphs.values() for t in fig.data}
    assert used and used <= BASIC_TRACES, used


def test_vendored_bundle_matches_the_plotly_package():
    assert PLOTLY_BASIC.stat().st_size < 1.5e6
    assert plotly_basic_ok()
