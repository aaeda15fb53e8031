"""The dashboard driven in Debian's chromium through Playwright: one page, checks in order.

The page opens on the newest study (the H2 bond scan, 36 noise runs), ranked by |ΔE|."""

import pytest

from hpcq.results.catalog import Catalog
from hpcq.results.rank import make_spec, rank
from hpcq.testing.screenshots import CY, PLOTS_READY, WAIT_MS
from hpcq.ui.app import PLOTS

pytestmark = pytest.mark.browser
CLICK_MS = 10_000  # a click on the graph that does not select within this is retried

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
        display: n.data('display'), position: n.data('position'), raw_width: n.width(), y: n.position('y'),
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
        "(t) => document.querySelector('#runs-count').innerText.includes(t)", arg=text, timeout=WAIT_MS
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
                timeout=CLICK_MS,
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
    page.wait_for_function(PLOTS_READY, arg=list(PLOTS), timeout=WAIT_MS)
    before = plot_points(page)
    assert all(v > 0 for v in before.values()), before
    vqe = next(n for n in nodes(page) if n["type"] == "vqe")
    click_node(page, vqe["id"])
    page.wait_for_function(
        "(t) => document.querySelector('#plot-scope').innerText.includes('3 noise runs')", timeout=WAIT_MS
    )
    three = [p for p in PLOTS if p != "plot-curve"]  # one VQE run sits at one bond length
    page.wait_for_function(PLOTS_READY, arg=three, timeout=WAIT_MS)
    after = plot_points(page)
    assert all(after[p] > 0 for p in three), after
    assert after["plot-convergence"] < before["plot-convergence"]  # one trace instead of ten
    title = page.evaluate("document.querySelector('#plot-convergence .js-plotly-plot').layout.title.text")
    assert title.startswith("VQE convergence (1 of 1 runs")
    assert page.inner_text("#node-field-type") == "vqe"
    page.click("#plot-all")
    page.wait_for_function("document.querySelector('#plot-scope').innerText.includes('36 noise runs')", timeout=WAIT_MS)


def test_plots_draw_with_the_partial_plotly_bundle_never_the_full_one(page):
    """The page defines window.Plotly from assets/plotly-basic.min.js (1.2 MB), so dcc.Graph never
    fetches the plotly package's 4.8 MB plotly.min.js (docs/performance.md, dashboard first page)."""
    from plotly.offline import get_plotlyjs_version

    page.wait_for_function(PLOTS_READY, arg=list(PLOTS), timeout=WAIT_MS)
    loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/assets/plotly-basic.min.js" in u for u in loaded), loaded
    assert not any("plotly.min.js" in u and "plotly-basic" not in u for u in loaded), loaded
    assert page.evaluate("window.Plotly.version") == get_plotlyjs_version()
    assert page.errors == []


def test_every_legend_fits_in_its_plot(page):
    """The plots' margins are fixed (no second, auto-margin drawing, hpcq/ui/plots.py _margin):
    each legend's entries must still lie inside the figure, not cut at its right edge."""
    page.wait_for_function(PLOTS_READY, arg=list(PLOTS), timeout=WAIT_MS)
    boxes = page.evaluate(
        """(ids) => ids.map(id => {
            const svg = document.querySelector('#' + id + ' .main-svg').getBoundingClientRect();
            const texts = Array.from(document.querySelectorAll('#' + id + ' .legend .legendtext'));
            return {id, n: texts.length, right: svg.right,
                    most: Math.max(0, ...texts.map(t => t.getBoundingClientRect().right))};
        })""",
        list(PLOTS),
    )
    assert sum(b["n"] for b in boxes) >= 8, boxes  # the demo's plots have legends
    for b in boxes:
        assert b["most"] <= b["right"] - 2, b


def traces(page, plot_id):
    """The trace names of a plot as drawn."""
    return page.evaluate("(id) => document.querySelector('#' + id + ' .js-plotly-plot').data.map(t => t.name)", plot_id)


def test_legend_covers_every_step_type(page):
    for t in ("problem", "integrals", "hamiltonian", "ansatz", "vqe", "noise", "aggregate"):
        assert page.is_visible(f"#legend-{t}"), t


def test_sites_border_their_steps_and_cross_site_edges_show_the_transfer(page):
    """The scan ran its VQE jobs at lumi and its noise jobs at leonardo (hpcq.testing.screenshots):
    the site legend names both, each task node is bordered in its site's colour, and every edge
    into a noise run carries the bytes and seconds its inputs took to come from lumi."""
    from hpcq.results.graph import site_colours
    from hpcq.testing.screenshots import SITES

    colours = site_colours(SITES)
    legend = page.inner_text("#site-legend")
    assert all(s in legend for s in SITES), legend
    drawn = page.evaluate(f"""{CY}.nodes('[site]').map(n => ({{type: n.data('type'), site: n.data('site'),
        border: n.style('border-color'), width: n.style('border-width'), selected: n.selected()}}))""")
    by_type = {(d["type"], d["site"]) for d in drawn if d["site"]}
    assert by_type == {("vqe", "lumi"), ("noise", "leonardo")}, by_type
    for d in drawn:
        if d["site"] and not d["selected"]:  # a selected node is drawn in the selection's colour
            rgb = tuple(int(colours[d["site"]][i : i + 2], 16) for i in (1, 3, 5))
            assert d["border"] == f"rgb({rgb[0]},{rgb[1]},{rgb[2]})" and d["width"] == "4px", d
    edges = page.evaluate(f"""{CY}.edges().map(e => ({{to: e.target().data('type'),
        label: e.style('label')}}))""")
    into_noise = [e["label"] for e in edges if e["to"] == "noise"]
    assert into_noise and all(lbl.endswith(" s") and "kB" in lbl for lbl in into_noise), into_noise
    assert all(not e["label"] for e in edges if e["to"] != "noise")


def test_graph_labels_never_overlap_within_a_level(page):
    """Noise runs (the crowded level, vertical labels) and every other level: label boxes of the
    nodes at one height are disjoint along x."""
    by_level: dict[float, list] = {}
    for n in nodes(page):
        by_level.setdefault(round(n["y"], 3), []).append(n["label"])
    assert len(by_level) >= 4  # problem, ansatz, vqe, noise
    for y, boxes in by_level.items():
        boxes.sort(key=lambda b: b["x1"])
        for a, b in zip(boxes, boxes[1:], strict=False):
            assert a["x2"] <= b["x1"] + 0.5, (y, a, b)


def test_a_filter_in_the_table_narrows_every_plot(page, ui_db):
    runs = scan_runs(ui_db)
    want = runs[runs["noise_model"] == "depolarizing"]
    assert 0 < len(want) < len(runs)
    grid(page, "api.ensureColumnVisible('noise_model');")  # the first check scrolled right
    page.locator(".ag-floating-filter[col-id='noise_model'] input").fill("depolarizing")
    page.wait_for_function(
        "(n) => dash_ag_grid.getApi('runs-grid').getDisplayedRowCount() === n", arg=len(want), timeout=WAIT_MS
    )
    wait_scope = "(t) => document.querySelector('#plot-scope').innerText.startsWith(t)"
    page.wait_for_function(wait_scope, arg=f"plots: {len(want)} noise runs in scope (the table's", timeout=WAIT_MS)
    page.wait_for_function(PLOTS_READY, arg=list(PLOTS), timeout=WAIT_MS)
    assert sorted(column(page, "task_id")) == sorted(want["task_id"])
    # noise response and energy curve: only the filtered model's lines
    assert traces(page, "plot-noise") and all(n.startswith("depolarizing ") for n in traces(page, "plot-noise"))
    noisy = [n for n in traces(page, "plot-curve") if n and n.startswith("noisy")]  # the band edge: no name
    assert noisy and all(n.startswith("noisy depolarizing(") for n in noisy)  # per strength and ansatz
    # convergence: the VQE runs behind the filtered rows (best-ranked first, as in the table)
    shown = column(page, "vqe_task_id")
    parents = list(dict.fromkeys(shown))[:10]
    conv = traces(page, "plot-convergence")
    assert [n.rsplit(" ", 1)[1] for n in conv] == parents
    # distribution: of the table's first filtered row
    title = page.evaluate("document.querySelector('#plot-distribution .js-plotly-plot').layout.title.text")
    assert column(page, "task_id", 1)[0] in title and "depolarizing" in title
    # and the selected node narrows within the filter: one VQE run's depolarizing runs
    vqe = f"task:{shown[0]}"
    click_node(page, vqe)
    n_under = int((want["parent_task_id"] == shown[0]).sum())
    page.wait_for_function(wait_scope, arg=f"plots: {n_under} noise runs in scope (node ", timeout=WAIT_MS)
    assert [n.rsplit(" ", 1)[1] for n in traces(page, "plot-convergence")] == [shown[0]]
    assert all(n.startswith("depolarizing ") for n in traces(page, "plot-noise"))
    page.click("#plot-all")
    page.wait_for_function(wait_scope, arg=f"plots: {len(want)} noise runs in scope (the table's", timeout=WAIT_MS)


def test_csv_export_is_what_is_shown(page, tmp_path):
    """Still filtered by the previous check: the file has the visible columns and filtered rows."""
    import csv

    headers = grid(page, "return api.getAllDisplayedColumns().map(c => c.getColDef().headerName);")
    cols = visible_columns(page)
    ids = column(page, "task_id")
    assert 0 < len(ids) < 36
    with page.expect_download(timeout=WAIT_MS) as dl:
        page.click("#export-csv")
    path = tmp_path / "runs.csv"
    dl.value.save_as(path)
    rows = list(csv.reader(path.open(encoding="utf-8-sig")))
    assert rows[0] == headers and len(headers) == len(cols)
    assert "vqe_energy" not in cols  # hidden columns are not exported
    assert [r[cols.index("task_id")] for r in rows[1:]] == ids
    energies = column(page, "energy")
    assert [float(r[cols.index("energy")]) for r in rows[1:]] == energies  # full precision, not as formatted
    # clear the filter for the next checks
    grid(page, "api.ensureColumnVisible('noise_model');")
    page.locator(".ag-floating-filter[col-id='noise_model'] input").fill("")
    page.wait_for_function("dash_ag_grid.getApi('runs-grid').getDisplayedRowCount() === 36", timeout=WAIT_MS)


def test_a_column_shown_on_demand_arrives_with_its_values(page, ui_db):
    """The first page's rows carry only the shown columns' values; choosing another column in
    the column chooser brings its values (a round trip) while the rows stay as they were."""
    assert "exact_energy" not in visible_columns(page)
    assert set(column(page, "exact_energy", 1)) == {None}  # not sent with the first page
    ids = column(page, "task_id")
    page.click("#table-columns")
    page.keyboard.type("exact_energy")
    page.get_by_role("option", name="exact_energy", exact=True).click()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => dash_ag_grid.getApi('runs-grid').getAllDisplayedColumns().some(c => c.getColId() === 'exact_energy')",
        timeout=WAIT_MS,
    )
    page.wait_for_function(
        "() => dash_ag_grid.getApi('runs-grid').getDisplayedRowAtIndex(0).data.exact_energy != null", timeout=WAIT_MS
    )
    expected = scan_runs(ui_db).set_index("task_id")["exact_energy"]
    assert column(page, "task_id") == ids
    assert column(page, "exact_energy") == pytest.approx([expected[t] for t in ids])
    assert visible_columns(page)[: len(FIRST)] == FIRST
    assert page.errors == []


def choose_metric(page, metric, direction="min"):
    page.click("#rank-by")
    page.keyboard.type(metric)
    arrow = "↓ smaller is better" if direction == "min" else "↑ larger is better"
    page.get_by_role("option", name=f"{metric} {arrow}", exact=True).click()
    page.keyboard.press("Escape")


def graph_ranks(page):
    """task id -> (position, display label, size) of the drawn task nodes."""
    return {
        n["id"].removeprefix("task:"): (n["position"], n["display"], n["raw_width"])
        for n in nodes(page)
        if n["type"] == "noise"
    }


def test_a_two_metric_weighted_ranking_rescales_and_relabels_the_graph(page, ui_db):
    from hpcq.results.graph import node_sizes

    before = graph_ranks(page)
    spec = make_spec(["abs_error:min", "jsd:min"], "0.7,0.3")
    expected = rank(scan_runs(ui_db), spec)
    choose_metric(page, "jsd", "min")
    page.fill("#rank-weights", "0.7,0.3")
    page.press("#rank-weights", "Enter")
    page.wait_for_function(
        "(w) => document.querySelector('#rank-definition').innerText.includes(w)",
        arg='"weights": [0.7, 0.3]',
        timeout=WAIT_MS,
    )
    wait_count(page, "36 of 36 noise runs, ranked by abs_error:min, jsd:min")
    page.wait_for_function(
        f"(id) => {CY}.getElementById('task:' + id).data('display').startsWith('#1 ')",
        arg=expected["task_id"].iloc[0],
        timeout=WAIT_MS,
    )
    assert column(page, "task_id") == list(expected["task_id"])
    after = graph_ranks(page)
    positions = dict(zip(expected["task_id"], expected["position"], strict=True))
    sizes = node_sizes({t: int(p) for t, p in positions.items()})
    for tid, (pos, display, width) in after.items():
        assert pos == positions[tid]
        assert display.startswith(f"#{positions[tid]} ")
        assert width == pytest.approx(sizes[tid])
    changed = [t for t in after if after[t][:2] != before[t][:2]]
    assert changed and any(after[t][2] != before[t][2] for t in changed)  # relabelled and resized
    # lexicographic: the same metrics, the other mode (weights do not apply: said, then cleared)
    page.click("#rank-mode input[value='lexicographic']")
    page.wait_for_function(
        "() => document.querySelector('#rank-definition').innerText.includes('weights only applies to mode weighted')",
        timeout=WAIT_MS,
    )
    page.fill("#rank-weights", "")
    page.press("#rank-weights", "Enter")
    lex = rank(scan_runs(ui_db), make_spec(["abs_error:min", "jsd:min"], None, "lexicographic"))
    page.wait_for_function(
        "() => document.querySelector('#rank-definition').innerText.includes('\"mode\": \"lexicographic\"')",
        timeout=WAIT_MS,
    )
    page.wait_for_function(
        f"(id) => {CY}.getElementById('task:' + id).data('display').startsWith('#1 ')",
        arg=lex["task_id"].iloc[0],
        timeout=WAIT_MS,
    )
    assert column(page, "task_id") == list(lex["task_id"])
    assert page.errors == []


def test_compare_two_studies(page):
    page.click("#study-compare")
    page.get_by_role("option", name="noise-study", exact=True).click()
    wait_count(page, "60 of 60 noise runs")
    assert grid(page, "return api.getDisplayedRowCount();") == 60
    assert "study" in visible_columns(page)
    studies = {n["id"] for n in nodes(page) if n["type"] == "problem"}
    assert any("noise-study" in s for s in studies) and any("h2-scan" in s for s in studies)
    assert page.errors == []


def test_saving_a_ranking_writes_it_into_the_catalog(page, ui_db):
    """The dashboard's one write (docs/dashboard.md): the ranking shown, with its studies and ranks,
    stored in the catalog's rankings under a name."""
    page.fill("#rank-name", "ui-saved")
    page.click("#rank-save")
    page.wait_for_function(
        "() => document.querySelector('#rank-saved').innerText.startsWith('saved ranking')", timeout=WAIT_MS
    )
    assert page.inner_text("#rank-saved") == "saved ranking 'ui-saved' (60 runs)"
    definition, ranks = Catalog(ui_db).ranking("ui-saved")
    assert definition["mode"] == "lexicographic" and sorted(definition["studies"]) == ["h2-scan", "noise-study"]
    assert [b["metric"] for b in definition["by"]] == ["abs_error", "jsd"] and len(ranks) == 60
    assert page.errors == []
