"""The dashboard's energy curve of a real scan (issue 25 item 2), in Debian's chromium: the shipped
LiH dissociation curve (trimmed, run in process: 5 bond lengths, noiseless and depolarizing) has
the bond length as x axis, exact with the chemical-accuracy band, VQE per ansatz and the noisy
energies per ansatz and noise model; the noise plot keeps the bond lengths apart."""

import pytest

from hpcq.client.study import parse_study
from hpcq.results.catalog import Catalog, default_db
from hpcq.testing.screenshots import PLOTS_READY, WAIT_MS, serve, wait_ready
from hpcq.testing.studies import run_in_process, trimmed_lih_curve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lih_page(browser, tmp_path_factory):
    out = tmp_path_factory.mktemp("lih-ui")
    run_in_process(parse_study(trimmed_lih_curve("lih-curve")), out / "lih-curve")
    Catalog(default_db(out)).index(out)
    with serve(default_db(out)) as url:
        ctx = browser.new_context(viewport={"width": 1500, "height": 1400})
        pg = ctx.new_page()
        pg.set_default_timeout(WAIT_MS)
        pg.goto(url + "/")
        wait_ready(pg, ("plot-curve",))
        yield pg
        ctx.close()


def _plot(page, plot_id, what):
    return page.evaluate(f"(id) => document.querySelector('#' + id + ' .js-plotly-plot').{what}", plot_id)


def test_the_energy_curve_is_drawn_over_the_bond_length(lih_page):
    lih_page.wait_for_function(PLOTS_READY, arg=["plot-curve", "plot-noise"], timeout=WAIT_MS)
    assert _plot(lih_page, "plot-curve", "layout.meta.points") > 0
    assert _plot(lih_page, "plot-curve", "layout.xaxis.title.text") == "bond_length"
    data = _plot(lih_page, "plot-curve", "data.map(t => ({name: t.name, x: t.x, y: t.y}))")
    by_name = {d["name"]: d for d in data if d["name"]}
    assert sorted(by_name["exact"]["x"]) == [1.2, 1.6, 2.0, 2.4, 3.0]
    assert "chemical accuracy (±1.6 mHa)" in by_name
    band = by_name["chemical accuracy (±1.6 mHa)"]["y"]
    assert [round(b - e, 9) for b, e in zip(band, by_name["exact"]["y"], strict=True)] == [0.0016] * 5
    hf = by_name["HF"]  # the catalog's hf_energy: above exact at every length (correlation energy < 0)
    assert sorted(hf["x"]) == [1.2, 1.6, 2.0, 2.4, 3.0]
    assert all(h > e for h, e in zip(hf["y"], by_name["exact"]["y"], strict=True))
    vqe = by_name["VQE real_amplitudes · cobyla"]
    assert len(vqe["x"]) == 5 and all(v >= e - 1e-9 for v, e in zip(vqe["y"], by_name["exact"]["y"], strict=True))
    noisy = [n for n in by_name if n.startswith("noisy depolarizing(p=0.001) · real_amplitudes")]
    assert noisy and len(by_name[noisy[0]]["x"]) == 5
    # the noise plot: one line per bond length, never their mean
    names = _plot(lih_page, "plot-noise", "data.map(t => t.name)")
    assert sorted(n.rsplit("bond_length=", 1)[1] for n in names) == ["1.2", "1.6", "2", "2.4", "3"]
