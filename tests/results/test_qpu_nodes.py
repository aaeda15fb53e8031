"""QPU evaluations (step "qpu", the hybrid workflow; docs/qpu.md) in the graph, the dashboard's
elements and `rank --step compare`, on the synthetic study with one twin evaluation added per VQE
run (a copy of its first noise run, as the catalog would list a study_qpu task). No Qiskit."""

import pandas as pd
import pytest

from hpcq.results.catalog import Catalog, default_db
from hpcq.results.graph import COLOURS, NODE_TYPES, aggregate, build_graph, elements, noise_label, stylesheet
from hpcq.results.rank import compare_columns, compare_table


@pytest.fixture
def runs(study):
    cat = Catalog(default_db(study))
    cat.index(study)
    df = cat.runs()
    noise = df[df["step"] == "noise"].drop_duplicates("parent_task_id")
    twin = noise.assign(
        step="qpu",
        task_id=noise["parent_task_id"] + "-twin-vlq",
        noise_model="twin:vlq",
        noise_params='{"label": "twin iqm_star 24 qubits"}',
        energy=noise["energy"] + 0.01,
    )
    return pd.concat([df, twin], ignore_index=True)


def test_qpu_runs_are_their_own_nodes_under_their_vqe_run(runs):
    g = build_graph(runs)
    qpu = [n for n, d in g.nodes(data=True) if d["type"] == "qpu"]
    assert len(qpu) == 12
    for n in qpu:
        (parent,) = g.predecessors(n)
        assert g.nodes[parent]["type"] == "vqe" and n == f"{parent}-twin-vlq"
        assert g.nodes[n]["label"] == "twin:vlq" and not g.nodes[n]["orphan"]
    assert noise_label("twin:vlq", '{"label": "twin iqm_star 24 qubits, NOT calibrated"}') == "twin:vlq"  # ls, rank
    els = {e["data"]["id"]: e for e in elements(g)}
    assert els[qpu[0]]["classes"].split()[0] == "qpu"
    assert "qpu" in NODE_TYPES and len(set(COLOURS.values())) == len(COLOURS)  # a colour of its own
    assert {"selector": ".qpu", "style": {"background-color": COLOURS["qpu"]}} in stylesheet()
    els, note = aggregate(g, None, None, limit=20)  # folded with the noise runs of their VQE run
    assert not [e for e in els if e["data"].get("type") == "qpu"]
    assert any("QPU" in str(e["data"].get("label", "")) for e in els), note


def test_compare_puts_every_evaluation_of_the_same_parameters_side_by_side(runs):
    noise = runs[runs["step"] == "noise"]
    reopt = noise.head(1).assign(task_id=noise["task_id"].head(1) + "-reopt", energy=99.0)  # other parameters
    table = compare_table(pd.concat([runs, reopt], ignore_index=True))
    assert not (table[compare_columns(table)] == 99.0).any().any()
    assert len(table) == 12
    cols = compare_columns(table)
    assert cols[:2] == ["exact_energy", "simulator"] and "twin:vlq" in cols
    kids = runs[runs["step"].isin(["noise", "qpu"])]
    row = table.iloc[0]
    mine = kids[kids["parent_task_id"] == row["task_id"]]
    assert row["simulator"] == row["energy"]
    assert row["twin:vlq"] == mine[mine["step"] == "qpu"]["energy"].item()
    assert row["twin:vlq shift"] == pytest.approx(row["twin:vlq"] - row["simulator"])
    assert len(table.attrs["evaluations"]) == len(set(table.attrs["evaluations"])) >= 2  # noise models, the twin
