import networkx as nx
import pytest

from hpcq.results.catalog import Catalog, default_db
from hpcq.results.graph import MAX_SIZE, MIN_SIZE, build_graph, elements, node_sizes
from hpcq.results.rank import make_spec, rank


@pytest.fixture
def runs(study):
    cat = Catalog(default_db(study))
    cat.index(study)
    return cat


def test_graph_is_a_tree_problem_ansatz_vqe_noise(runs):
    df = runs.runs()
    g = build_graph(df)
    assert nx.is_forest(g.to_undirected()) and nx.is_directed_acyclic_graph(g)
    by_type = {}
    for n, d in g.nodes(data=True):
        by_type.setdefault(d["type"], []).append(n)
    assert len(by_type["vqe"]) == 12 and len(by_type["noise"]) == 36
    # each noise run hangs off its parent VQE run, each VQE run off an ansatz, and so on
    for n in by_type["noise"]:
        (parent,) = g.predecessors(n)
        assert parent == "task:" + df.set_index("task_id").loc[n[5:], "parent_task_id"]
    for n in by_type["vqe"]:
        (parent,) = g.predecessors(n)
        assert g.nodes[parent]["type"] == "ansatz"
        (grand,) = g.predecessors(parent)
        assert g.nodes[grand]["type"] == "problem"
    assert all(g.in_degree(n) == 0 for n in by_type["problem"])
    node = g.nodes[by_type["noise"][0]]
    assert set(node["metrics"]) >= {"abs_error", "jsd", "fidelity"}


def test_noise_run_without_catalogued_parent_hangs_off_its_ansatz(runs):
    df = runs.runs()
    g = build_graph(df[df["step"] == "noise"])
    noise = [n for n, d in g.nodes(data=True) if d["type"] == "noise"]
    assert all(g.nodes[n]["orphan"] for n in noise)
    assert all(g.nodes[next(g.predecessors(n))]["type"] == "ansatz" for n in noise)


def test_rank_sizes_labels_and_top_k(runs):
    g = build_graph(runs.runs())
    ranked = rank(runs.noise_runs(), make_spec(["jsd:min"]))
    els = elements(g, ranked)
    nodes = {e["data"]["id"]: e["data"] for e in els if "source" not in e["data"]}
    best = nodes["task:" + ranked["task_id"][0]]
    worst = nodes["task:" + ranked["task_id"].iloc[-1]]
    assert best["display"].startswith("#1 ") and best["size"] == MAX_SIZE
    assert worst["display"].startswith(f"#{len(ranked)} ") and worst["size"] == MIN_SIZE
    top = elements(g, ranked, top=2)
    kept = {e["data"]["id"] for e in top if "source" not in e["data"]}
    noise = [n for n in kept if n.startswith("task:") and "-n" in n]
    assert sorted(nodes[n]["position"] for n in noise) == [1, 2]
    # ancestors stay, so the path from the problem is visible; edges only between kept nodes
    for n in noise:
        assert nx.ancestors(g, n) <= kept
    for e in top:
        if "source" in e["data"]:
            assert e["data"]["source"] in kept and e["data"]["target"] in kept


def test_node_sizes_linear_and_ties():
    s = node_sizes({"a": 1, "b": 1, "c": 3})
    assert s["a"] == s["b"] == MAX_SIZE and s["c"] == MIN_SIZE
    assert node_sizes({"a": 1}) == {"a": MAX_SIZE}


def test_layout_places_children_below_parents(runs):
    g = build_graph(runs.runs())
    els = elements(g)
    pos = {e["data"]["id"]: e["position"] for e in els if "position" in e}
    for a, b in g.edges:
        assert pos[b]["y"] > pos[a]["y"]


def test_noise_labels_name_each_kinds_own_parameters_from_the_noise_spec():
    """The file's noise_params (a NoiseSpec dump, as the writer stores it) say each noise kind's
    own parameters, strength first: hpcq.results.graph keeps no list of them, and every kind of
    NoiseSpec is labelled by its own values, never by the gate times all kinds share."""
    import json
    import typing

    from hpcq.results.graph import noise_label, own_params
    from hpcq.sim.spec import NoiseSpec

    examples = {
        "depolarizing": {"p": 0.01, "p2": 0.02},
        "bit_flip": {"p": 0.03},
        "readout": {"p": 0.05},
        "thermal": {"t1": 5e-5, "t2": 7e-5},
        "fake_backend": {"backend": "FakeManilaV2"},
    }
    assert set(examples) == set(typing.get_args(NoiseSpec.model_fields["kind"].annotation)) - {"none"}
    for kind, params in examples.items():
        stored = NoiseSpec(kind=kind, **params).model_dump_json()
        assert own_params(k for k, v in json.loads(stored).items() if v is not None) == list(params), kind
        inner = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
        assert noise_label(kind, stored) == f"{kind}({inner})"


def test_sites_colour_nodes_and_transfers_label_edges(runs):
    """Where each step ran (provenance site) is a border colour per site; a step that fetched its
    parent's files from another site has the bytes and seconds on its incoming edge."""
    from hpcq.results.graph import SITE_PALETTE, site_legend_items, stylesheet, transfer_label

    df = runs.runs()
    noise = df["step"] == "noise"
    df.loc[~noise, "site"], df.loc[noise, "site"] = "lumi", "leonardo"
    df.loc[noise, "inputs_bytes"], df.loc[noise, "inputs_s"] = 260_000, 0.125
    els = elements(build_graph(df))
    nodes = {e["data"]["id"]: e["data"] for e in els if "source" not in e["data"]}
    by_site = {d["site"]: d["site_colour"] for d in nodes.values() if d.get("site")}
    assert by_site == {"leonardo": SITE_PALETTE[0], "lumi": SITE_PALETTE[1]}  # sorted names
    assert not any("site_colour" in d for d in nodes.values() if d["type"] in ("problem", "ansatz"))
    labelled = [e["data"] for e in els if "source" in e["data"] and e["data"].get("label")]
    assert len(labelled) == int(noise.sum()) and {e["label"] for e in labelled} == {"0.3 MB, 0.12 s"}
    assert all(nodes[e["target"]]["type"] == "noise" for e in labelled)
    assert transfer_label(1_500, 2.0) == "1.5 kB, 2.00 s"
    assert site_legend_items(els) == [("leonardo", SITE_PALETTE[0]), ("lumi", SITE_PALETTE[1])]
    selectors = [s["selector"] for s in stylesheet()]
    assert selectors.index("node[site_colour]") < selectors.index(":selected")  # selection still shows
