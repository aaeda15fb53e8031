"""Every figure of the first page uses only traces of the partial plotly.js bundle it serves
(assets/plotly-basic.min.js: a trace type it lacks would draw nothing in the browser)."""

import plotly.graph_objects as go
import pytest
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


def _noise_rows(entries):
    import json

    import pandas as pd

    return pd.DataFrame(
        [
            {"noise_model": m, "noise_params": json.dumps(p), "optimizer": "cobyla", "abs_error_mha": e}
            for m, p, e in entries
        ]
    )


def test_the_strength_axis_is_the_models_own_parameter_not_a_gate_time():
    """The demo's runs carry gate times in every model's parameters; a model run at one setting
    (bit_flip, readout, thermal here) is placed by its own strength (p, t1), not gate_time_1q."""
    from hpcq.ui.data import noise_strength

    gates = {"gate_time_1q": 5e-8, "gate_time_2q": 3e-7}
    rows = _noise_rows(
        [
            ("depolarizing", {**gates, "p": 0.001}, 5.0),
            ("depolarizing", {**gates, "p": 0.01}, 48.0),
            ("bit_flip", {**gates, "p": 0.01}, 90.0),
            ("readout", {**gates, "p": 0.05}, 83.0),
            ("thermal", {**gates, "t1": 5e-5, "t2": 7e-5}, 8.0),
        ]
    )
    got = noise_strength(rows)
    assert list(got["strength_name"]) == ["depolarizing p"] * 2 + ["bit_flip p", "readout p", "thermal t1"]
    assert list(got["strength"]) == [0.001, 0.01, 0.01, 0.05, 5e-5]
    # a parameter that varies still wins over the model's own one
    varied = _noise_rows([("thermal", {"t1": 5e-5, "gate_time_ns": g}, 1.0) for g in (20, 50)])
    assert set(noise_strength(varied)["strength_name"]) == {"thermal gate_time_ns"}


def test_line_labels_on_the_log_axis_sit_at_their_lines():
    """Plotly places annotations on a log axis in log10 units: each label's y is log10 of its
    line's y (a label at the data value stretched the demo's axis to 10^8 mHa)."""
    from hpcq.sim.metrics import CHEMICAL_ACCURACY_HA
    from hpcq.ui.plots import noise_response

    rows = _noise_rows([("depolarizing", {"p": p}, e) for p, e in ((0.001, 5.0), (0.01, 48.0))])
    rows["vqe_abs_error"] = [0.008, 0.009]
    fig = noise_response(rows)
    assert fig.layout.yaxis.type == "log"
    lines = sorted(s.y0 for s in fig.layout.shapes)
    assert lines == pytest.approx(sorted([CHEMICAL_ACCURACY_HA * 1e3, 8.5]))
    labels = {a.text: a.y for a in fig.layout.annotations}
    assert set(labels) == {"chemical accuracy", "noiseless VQE (mean)"}
    assert 10 ** labels["chemical accuracy"] == pytest.approx(CHEMICAL_ACCURACY_HA * 1e3)
    assert 10 ** labels["noiseless VQE (mean)"] == pytest.approx(8.5)


def test_the_table_shows_a_noise_models_own_parameters_first():
    """Gate times come after p / t1, t2, so a cut cell still tells the runs apart."""
    from hpcq.ui.data import table_records

    gates = {"gate_time_1q": 5e-8, "gate_time_2q": 3e-7}
    rows = _noise_rows([("thermal", {**gates, "t1": 5e-5, "t2": 7e-5}, 8.0), ("readout", {**gates, "p": 0.05}, 1.0)])
    got = [r["noise_params"] for r in table_records(rows, ["noise_params"])]
    assert got == [
        "t1=5e-05, t2=7e-05, gate_time_1q=5e-08, gate_time_2q=3e-07",
        "p=0.05, gate_time_1q=5e-08, gate_time_2q=3e-07",
    ]
