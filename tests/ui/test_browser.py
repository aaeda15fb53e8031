"""The dashboard driven in Debian's chromium through Playwright (screenshots in artifacts/)."""

import pytest

from hpcq.results.catalog import Catalog, default_db

pytestmark = pytest.mark.browser

CY = """(() => { const root = document.querySelector('#workflow-graph');
  const el = root._cyreg ? root : Array.from(root.querySelectorAll('*')).find(e => e._cyreg);
  return el._cyreg.cy; })()"""


def grid(page, js):
    return page.evaluate(f"(() => {{ const api = dash_ag_grid.getApi('runs-grid'); {js} }})()")


def column(page, field, n=None):
    n = "api.getDisplayedRowCount()" if n is None else n
    return grid(page, f"const out = []; for (let i = 0; i < {n}; i++) "
                      f"out.push(api.getDisplayedRowAtIndex(i).data['{field}']); return out;")


def nodes(page):
    """Graph nodes as drawn: id, type, label, rendered width, position."""
    return page.evaluate(f"""{CY}.nodes().map(n => ({{id: n.id(), type: n.data('type'),
        display: n.data('display'), position: n.data('position'), width: n.renderedWidth(),
        raw_width: n.width()}}))""")


def choose_metric(page, metric, direction="min"):
    page.click(f"#rank-direction input[value='{direction}']")
    page.click("#rank-metric")
    page.get_by_role("option", name=metric, exact=True).click()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "(want) => document.querySelector('#runs-count').innerText.includes(want)",
        arg=f"ranked by {metric} ({direction})", timeout=15000)
    page.wait_for_function(f"{CY}.nodes().some(n => n.data('position') === 1)", timeout=15000)


def noise_runs(ui_results):
    return Catalog(default_db(ui_results)).noise_runs()


def test_page_loads_with_one_row_per_noise_run(page, ui_results):
    expected = noise_runs(ui_results)
    assert len(expected) == 30
    assert grid(page, "return api.getDisplayedRowCount();") == 30
    assert page.inner_text("#runs-count") == "30 of 30 noise runs"
    assert sorted(column(page, "task_id")) == sorted(expected["task_id"])
    # parent VQE columns are joined in
    row = grid(page, "return api.getDisplayedRowAtIndex(0).data;")
    exp = expected.set_index("task_id").loc[row["task_id"]]
    assert row["vqe_task_id"] == exp["parent_task_id"]
    assert row["vqe_abs_error"] == pytest.approx(exp["vqe_abs_error"])
    # the graph: problems, ansatzes, 10 VQE runs, 30 noise runs, and a legend for the 4 types
    types = [n["type"] for n in nodes(page)]
    assert types.count("vqe") == 10 and types.count("noise") == 30
    assert {"problem", "ansatz"} <= set(types)
    for t in ("problem", "ansatz", "vqe", "noise"):
        assert page.is_visible(f"#legend-{t}")
    assert page.errors == []


def test_sorting_a_column_reorders_the_table(page):
    before = column(page, "task_id")
    grid(page, "api.ensureColumnVisible('jsd');")  # the user scrolls right to it
    page.click(".ag-header-cell[col-id='jsd'] .ag-header-cell-label")
    page.wait_for_function("dash_ag_grid.getApi('runs-grid').getColumnState()"
                           ".some(c => c.colId === 'jsd' && c.sort === 'asc')")
    jsd = column(page, "jsd")
    assert jsd == sorted(jsd)
    assert column(page, "task_id") != before
    page.click(".ag-header-cell[col-id='jsd'] .ag-header-cell-label")  # second click: descending
    page.wait_for_function("dash_ag_grid.getApi('runs-grid').getColumnState()"
                           ".some(c => c.colId === 'jsd' && c.sort === 'desc')")
    assert column(page, "jsd") == sorted(jsd, reverse=True)


def test_ranking_reorders_the_table_and_resizes_and_labels_nodes(page, ui_results):
    plain = {n["id"]: n for n in nodes(page)}
    assert len({n["raw_width"] for n in plain.values() if n["type"] == "noise"}) == 1
    assert not any(n["display"].startswith("#") for n in plain.values())

    choose_metric(page, "fidelity", "max")
    expected = noise_runs(ui_results).sort_values(["fidelity", "task_id"],
                                                   ascending=[False, True])
    assert column(page, "task_id") == list(expected["task_id"])
    assert column(page, "position", 3) == [1, 2, 3]
    ranked = {n["id"]: n for n in nodes(page)}
    best = f"task:{expected['task_id'].iloc[0]}"
    worst = f"task:{expected['task_id'].iloc[-1]}"
    assert ranked[best]["display"].startswith("#1 ")
    assert ranked[worst]["display"].startswith("#30 ")
    assert ranked[best]["raw_width"] > ranked[worst]["raw_width"]
    assert ranked[best]["raw_width"] == max(n["raw_width"] for n in ranked.values())

    # the other direction reverses the order
    choose_metric(page, "fidelity", "min")
    assert column(page, "task_id", 1) == [expected["task_id"].iloc[-1]]

    # top k keeps the k best runs in the table and in the graph (with their ancestors)
    page.fill("#rank-top", "3")
    page.press("#rank-top", "Enter")
    page.wait_for_function("document.querySelector('#runs-count').innerText.startsWith('3 of 30')")
    assert grid(page, "return api.getDisplayedRowCount();") == 3
    noise_nodes = [n for n in nodes(page) if n["type"] == "noise"]
    assert len(noise_nodes) == 3
    assert sorted(n["display"].split()[0] for n in noise_nodes) == ["#1", "#2", "#3"]
    assert page.errors == []


def test_clicking_a_node_shows_its_metrics(page, ui_results):
    expected = noise_runs(ui_results).set_index("task_id")
    page.wait_for_function(f"{CY}.nodes().length > 40")
    noise = sorted((n for n in nodes(page) if n["type"] == "noise"), key=lambda n: n["id"])
    target = noise[len(noise) // 2]  # one in the middle of the drawing
    tid = target["id"].removeprefix("task:")
    box = page.locator("#workflow-graph").bounding_box()
    for attempt in range(5):  # the graph may still be fitting itself to its box: aim again
        pos = page.evaluate(f"(id) => {CY}.getElementById(id).renderedPosition()", target["id"])
        page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
        try:
            page.wait_for_function(
                "(tid) => { const e = document.querySelector('#node-field-task_id');"
                " return e && e.innerText === tid; }", arg=tid, timeout=5000)
            break
        except Exception:
            if attempt == 4:
                raise
    row = expected.loc[tid]
    assert page.inner_text("#node-field-type") == "noise"
    assert page.inner_text("#node-field-noise_model") == row["noise_model"]
    assert float(page.inner_text("#node-metric-jsd")) == pytest.approx(row["jsd"], rel=1e-5)
    assert float(page.inner_text("#node-metric-abs_error")) == pytest.approx(row["abs_error"],
                                                                            rel=1e-5)
