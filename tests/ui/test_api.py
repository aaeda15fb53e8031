"""The /api/v1 JSON API and `hpcq ui` options (Flask test client: no browser needed)."""

import pytest
from click.testing import CliRunner

from hpcq.cli import main
from hpcq.results.catalog import Catalog, default_db
from hpcq.results.rank import make_spec, rank


@pytest.fixture(scope="module")
def client(ui_results):
    from hpcq.ui.app import create_app

    return create_app(str(default_db(ui_results))).server.test_client()


def test_runs_endpoint_matches_the_catalog(client, ui_results):
    cat = Catalog(default_db(ui_results))
    r = client.get("/api/v1/runs").get_json()
    assert r["count"] == 60 and len(r["runs"]) == 60
    assert {x["task_id"] for x in r["runs"]} == set(cat.noise_runs()["task_id"])
    assert "vqe_abs_error" in r["runs"][0]
    r = client.get("/api/v1/runs?step=all").get_json()
    assert r["count"] == 80
    assert client.get("/api/v1/runs?step=bogus").status_code == 400


def test_rank_endpoint_is_the_cli_ranking(client, ui_results):
    r = client.get("/api/v1/rank?by=abs_error:min&by=jsd:min&weights=0.7,0.3&top=5").get_json()
    expected = rank(Catalog(default_db(ui_results)).noise_runs(), make_spec(["abs_error:min", "jsd:min"], "0.7,0.3"))
    assert [x["task_id"] for x in r["runs"]] == list(expected["task_id"][:5])
    assert r["definition"]["weights"] == [0.7, 0.3]
    bad = client.get("/api/v1/rank?by=nope")
    assert bad.status_code == 400 and "no such metric" in bad.get_json()["error"]
    assert client.get("/api/v1/rank?by=jsd&top=x").status_code == 400


def test_graph_endpoint_ranks_and_cuts(client):
    els = client.get("/api/v1/graph").get_json()["elements"]
    assert sum(1 for e in els if e["data"].get("type") == "noise") == 60
    els = client.get("/api/v1/graph?study=h2-scan").get_json()["elements"]
    assert sum(1 for e in els if e["data"].get("type") == "noise") == 36
    els = client.get("/api/v1/graph?by=fidelity:max&top=4").get_json()["elements"]
    noise = [e["data"] for e in els if e["data"].get("type") == "noise"]
    assert sorted(d["position"] for d in noise) == [1, 2, 3, 4]


def test_api_is_read_only(client):
    assert client.post("/api/v1/runs").status_code == 405
    assert client.delete("/api/v1/rankings/x").status_code == 405
    assert client.get("/api/v1/rankings/none").status_code == 404


def test_ui_command_errors(tmp_path, monkeypatch):
    monkeypatch.delenv("HPCQ_RESULTS_DIR", raising=False)
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path))  # no fetched study to default to
    res = CliRunner().invoke(main, ["ui", "--db", str(tmp_path / "none.sqlite")])
    assert res.exit_code != 0 and "hpcq results index" in res.output
    res = CliRunner().invoke(main, ["ui"])
    assert res.exit_code != 0 and "--results DIR" in res.output
    res = CliRunner().invoke(main, ["ui", "--results", str(tmp_path / "nope")])
    assert res.exit_code != 0 and "no such folder" in res.output


def test_hpcq_ui_command_serves_the_api(ui_results, tmp_path):
    """The real command in a subprocess: index a copy of the results, serve, answer, stop."""
    import json
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    results = tmp_path / "r"
    shutil.copytree(ui_results, results, ignore=shutil.ignore_patterns("*.sqlite"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpcq.cli", "ui", "--results", str(results), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs", timeout=5) as r:
                    body = json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(proc.stdout.read().decode()) from None
                time.sleep(0.3)
        assert body["count"] == 60
        assert (results / ".hpcq-catalog.sqlite").exists()
    finally:
        proc.terminate()
        proc.wait(10)


def test_graph_too_big_to_draw_is_aggregated_and_says_so(ui_results):
    from hpcq.ui.data import ranked_view

    cat = Catalog(default_db(ui_results))
    full = ranked_view(cat, studies=["h2-scan"])
    assert full.graph_note == ""
    view = ranked_view(cat, studies=["h2-scan"], node_limit=40)
    types = [e["data"]["type"] for e in view.elements if "source" not in e["data"]]
    assert "noise" not in types and types.count("aggregate") == 12  # one per VQE run
    assert len(types) <= 40 and "aggregated per VQE run" in view.graph_note
    agg = [e["data"] for e in view.elements if e["data"].get("type") == "aggregate"]
    assert sum(d["n_runs"] for d in agg) == 36
    # per ansatz: the per-VQE aggregates fold in too (none left over as a root of its own)
    view = ranked_view(cat, studies=["h2-scan"], node_limit=20)
    agg = [e["data"] for e in view.elements if e["data"].get("type") == "aggregate"]
    assert len(agg) == 6 and sum(d["n_runs"] for d in agg) == 48 and "per ansatz" in view.graph_note
    targets = {e["data"]["target"]: e["data"]["source"] for e in view.elements if "source" in e["data"]}
    assert all(targets[d["id"]].startswith("ansatz:") for d in agg)
    assert {d["label"] for d in agg} == {"2 VQE, 6 noise runs"}
    view = ranked_view(cat, by=["jsd:min"], studies=["h2-scan"], node_limit=10)
    nodes = [e["data"] for e in view.elements if "source" not in e["data"]]
    assert len(nodes) <= 10 and "problems 1-" in view.graph_note
    assert min(d["position"] for d in nodes if d.get("position")) == 1  # best rank on its aggregate
    view = ranked_view(cat, by=["jsd:min"], top=2, node_limit=20)
    assert view.elements and view.graph_note == ""


def test_studies_endpoint_lists_newest_first(client):
    studies = client.get("/api/v1/studies").get_json()["studies"]
    assert [s["study"] for s in studies] == ["h2-scan", "noise-study"]
    assert [s["n_runs"] for s in studies] == [48, 32]


def test_view_cache_follows_the_catalog(tmp_path):
    from hpcq.testing.synthetic import make_study
    from hpcq.ui.data import ranked_view

    make_study(tmp_path / "a", n_workflows=1)
    cat = Catalog(tmp_path / "c.sqlite")
    cat.index(tmp_path)
    ro = Catalog(tmp_path / "c.sqlite", readonly=True)
    assert ranked_view(ro).total == 6
    make_study(tmp_path / "b", n_workflows=1, study="second")
    cat.index(tmp_path)
    assert ranked_view(ro).total == 12
    for p in (tmp_path / "b").glob("*noise.h5"):
        p.unlink()
    cat.index(tmp_path)
    assert ranked_view(ro).total == 6


def test_first_page_is_rebuilt_after_the_catalog_changed(tmp_path):
    """The first page is kept between loads (hpcq/ui/app.py layout) but never outlives an index."""
    from hpcq.testing.synthetic import make_study
    from hpcq.ui.app import create_app

    make_study(tmp_path / "a", n_workflows=1, study="first")
    cat = Catalog(tmp_path / "c.sqlite")
    cat.index(tmp_path)
    app = create_app(str(tmp_path / "c.sqlite"))
    page = app.layout()
    first_page = page
    assert app.layout() is page  # unchanged catalog: the same page
    assert page["study-select"].value == "first" and len(page["runs-grid"].rowData) == 6
    make_study(tmp_path / "b", n_workflows=1, study="second")
    cat.index(tmp_path)
    page = app.layout()
    assert page is not first_page
    assert sorted(page["study-select"].options) == ["first", "second"]
    assert app.layout() is page
