"""The catalog, ranking and graph on files written by the real writer from a real (tiny) sweep."""

import pytest

from hpcq.functions import JobContext
from hpcq.results.catalog import Catalog, default_db
from hpcq.results.graph import build_graph
from hpcq.results.rank import make_spec, rank
from hpcq.testing.synthetic import real_sweep

SWEEP = real_sweep("realcat")  # H2: one VQE run, two noise runs


@pytest.fixture(scope="module")
def real_dir(tmp_path_factory):
    from hpcq.worker.entry import run_sweep

    out = tmp_path_factory.mktemp("real")
    run_sweep(SWEEP, JobContext(process_id="proc-1", workdir=str(out), threads=1, extra={"workflow_id": "wf-real"}))
    return out


def test_real_sweep_is_catalogued_joined_ranked_and_drawn(real_dir):
    cat = Catalog(default_db(real_dir))
    stats = cat.index(real_dir)
    assert stats.errors == {} and stats.runs == 3
    runs = cat.runs()
    assert sorted(runs["step"]) == ["noise", "noise", "vqe"]
    assert set(runs["workflow_id"]) == {"wf-real"}
    assert runs["abs_error"].notna().all()
    noise = cat.noise_runs()
    vqe = runs[runs["step"] == "vqe"].iloc[0]
    assert len(noise) == 2 and (noise["vqe_task_id"] == vqe["task_id"]).all()
    assert (noise["vqe_abs_error"] == vqe["abs_error"]).all()
    assert noise["jsd"].notna().all()
    ranked = rank(noise, make_spec(["jsd:min"]))
    assert list(ranked["position"]) == [1, 2] and ranked["jsd"].is_monotonic_increasing
    g = build_graph(runs)
    assert sorted(d["type"] for _, d in g.nodes(data=True)) == ["ansatz", "noise", "noise", "problem", "vqe"]
    # writer-specific attributes are kept, not dropped
    extra = cat.query("SELECT extra FROM runs LIMIT 1")["extra"][0]
    assert "spec_json" in extra
