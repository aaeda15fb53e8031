"""The dashboard driven in Debian's chromium through Playwright: one page, checks in order.

The page opens on the newest study (the H2 bond scan, 36 noise runs), ranked by |ΔE|."""

import pytest

from hpcq.results.catalog import Catalog
from hpcq.results.rank import make_spec, rank
from hpcq.ui.app import PLOTS
from hpcq.ui.screenshots import CY, PLOTS_READY

pytestmark = pytest.mark.browser

FIRST = ["position", "noise_model", "noise_params", "optimizer", "energy", "abs_error_mha", "jsd", "delta_entropy"]


def grid(page, js):
    return page.evaluate(f"(() => {{ const api = dash_ag_grid.getApi('runs-grid'); {js} }})()")


def column(page, field, n=None):
    n = "api.getDisplayedRowCount()" if n is None else n
    return grid(
        page,
        f"const out = []; for (let i = 0; i < {n}; i++) "
        f"out.push(api.getDisplayedRowAtIndex(i).data['{field}']); return out;",
    )


def visible_columns(page):
    return grid(page, "return api.getAllDisplayedColumns().map(c => c.getColId());")


def nodes(page):
    """Graph nodes as drawn: id, type, label, widths, label box."""
    return page.evaluate(f"""{CY}.nodes().map(n => ({{id: n.id(), type: n.data('type'),
        display: n.data('display'), position: n.data('position'), raw_width: n.width(),
        label: n.boundingBox({{includeNodes: false, includeEdges: false, includeLabels: true}})}}))""")


def plot_points(page):
    return page.evaluate(
        """(ids) => Object.fromEntries(ids.map(id => {
        const g = document.querySelector('#' + id + ' .js-plotly-plot');
        return [id, g && g.layout && g.layout.meta ? g.layout.meta.points : null]; }))""",
        list(PLOTS),
    )


def wait_count(page, text):
    page.wait_for_function(
        "(t) => document.querySelector('#runs-count').innerText.includes(t)", arg=text, timeout=15000
    )


def click_node(page, node_id):
    page.locator("#workflow-graph").scroll_into_view_if_needed()
    for attempt in range(5):  # the graph may still be fitting itself to its box: aim again
        box = page.locator("#workflow-graph").bounding_box()
        pos = page.evaluate(f"(id) => {CY}.getElementById(id).renderedPosition()", node_id)
        page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
        try:
            page.wait_for_function(
                "(id) => document.querySelector('#node-info-title').innerText.length > 0 && "
                "document.querySelector('#plot-scope').innerText.includes('node ')",
                arg=node_id,
                timeout=5000,
            )
            return
        except Exception:
            if attempt == 4:
                raise


def scan_runs(ui_db):
    return Catalog(ui_db).noise_runs(study="h2-scan")


def test_table_opens_on_the_newest_study_with_the_columns_read_first(page, ui_db):
    expected = rank(scan_runs(ui_db), make_spec(["abs_error:min"]))
    assert len(expected) == 36
    wait_count(page, "36 of 36 noise runs, ranked by abs_error:min")
    assert visible_columns(page)[: len(FIRST)] == FIRST
    headers = page.locator(".ag-header-row-column .ag-header-cell-text").all_inner_texts()
    assert headers[: len(FIRST)] == [
        "rank",
        "noise model",
        "noise parameters",
        "optimizer",
        "energy (Ha)",
        "|ΔE| (mHa)",
        "JSD",
        "ΔH (bits)",
    ]
    assert column(page, "task_id") == list(expected["task_id"])
    assert column(page, "abs_error_mha", 1)[0] == pytest.approx(expected["abs_error"].iloc[0] * 1e3)
    # the scanned bond length is a column, task ids are shown whole
    shown = visible_columns(page)
    assert "bond_length" in shown and "task_id" in shown and "vqe_energy" not in shown
    grid(page, "api.ensureColumnVisible('task_id');")
    cell = page.locator(".ag-center-cols-container .ag-row[row-index='0'] [col-id='task_id']")
    assert cell.inner_text() == expected["task_id"].iloc[0]
    assert page.evaluate("(e) => e.scrollWidth <= e.clientWidth", cell.element_handle())
    assert page.errors == []


def test_each_plot_has_data_after_load_and_after_selecting_a_node(page):
    page.wait_for_function(PLOTS_READY, arg=list(PLOTS), timeout=30000)
    before = plot_points(page)
    assert all(v > 0 for v in before.values()), before
    vqe = next(n for n in nodes(page) if n["type"] == "vqe")
    click_node(page, vqe["id"])
    page.wait_for_function(
        "(t) => document.querySelector('#plot-scope').innerText.includes('3 noise runs')", timeout=15000
    )
    three = [p for p in PLOTS if p != "plot-curve"]  # one VQE run sits at one bond length
    page.wait_for_function(PLOTS_READY, arg=three, timeout=30000)
    after = plot_points(page)
    assert all(after[p] > 0 for p in three), after
    assert after["plot-convergence"] < before["plot-convergence"]  # one trace instead of ten
    title = page.evaluate("document.querySelector('#plot-convergence .js-plotly-plot').layout.title.text")
    assert title.startswith("VQE convergence (1 of 1 runs")
    assert page.inner_text("#node-field-type") == "vqe"
    page.click("#plot-all")
    page.wait_for_function("document.querySelector('#plot-scope').innerText.includes('36 noise runs')", timeout=15000)
