"""Study files: valid ones parse into the right specs; bad fields give errors naming them."""

import json

import pytest

from hpcq.client.dag import build_specs
from hpcq.client.demo import DEMO_STUDY
from hpcq.client.study import StudyError, load_study, parse_study

H2 = {"kind": "h2", "bond_length": 0.735}


def study(**kw):
    base = {"name": "t", "colony": "dev", "sweep": {"problems": [H2]}}
    base.update(kw)
    return base


@pytest.mark.parametrize(
    "data, field, fix",
    [
        (study(resorces={}), "resorces", "unknown field"),
        (study(resources={"mem": "2GB"}), "resources.mem", "2048Mi or 4Gi"),
        (study(resources={"walltime": -5}), "resources.walltime", "greater than or equal"),
        (study(name="../etc"), "name", "letters, digits"),
        (study(mode="fast"), "mode", "workflow"),
        (study(sweep={"problems": [{"kind": "h2"}]}), "sweep.problems[0]", "bond_length is required"),
        (
            study(sweep={"problems": [H2], "noise": [{"kind": "depolarizing", "p": 1.5}]}),
            "sweep.noise[0].p",
            "0 <= p <= 1",
        ),
        (study(sweep={"problems": [H2], "optimizers": [{"kind": "adam"}]}), "sweep.optimizers[0].kind", "cobyla"),
        ({"name": "t"}, "sweep", "required"),
    ],
)
def test_bad_field_is_named(data, field, fix):
    with pytest.raises(StudyError) as err:
        parse_study(data, "study.yaml")
    msg = str(err.value)
    assert msg.startswith("study.yaml: ")
    assert field in msg and fix in msg, msg


def test_yaml_and_toml_files(tmp_path):
    y = tmp_path / "s.yaml"
    y.write_text("name: a\nsweep:\n  problems: [{kind: tfim, n_qubits: 4}]\n")
    assert load_study(y).params.tasks()[0].problem.qubits == 4
    t = tmp_path / "s.toml"
    t.write_text('name = "b"\nmode = "sweep"\n[[sweep.problems]]\nkind = "h2"\nbond_length = 0.9\n')
    assert load_study(t).mode == "sweep"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(StudyError, match="bad.yaml: not valid YAML"):
        load_study(bad)
    with pytest.raises(StudyError, match="no such study file"):
        load_study(tmp_path / "missing.yaml")


def test_workflow_dag_shape_and_conditions():
    s = parse_study(
        study(
            sweep={
                "problems": [H2],
                "optimizers": [{"kind": "cobyla"}, {"kind": "spsa"}],
                "noise": [{"kind": "none"}, {"kind": "depolarizing", "p": 0.01}, {"kind": "bit_flip", "p": 0.01}],
            },
            resources={"ranks_per_node": 2, "cpus_per_rank": 2, "mem": "3Gi", "walltime": 900},
        )
    )
    specs = build_specs(s)
    by_node = {sp["nodename"]: sp for sp in specs}
    assert len(by_node) == len(specs)  # unique node names
    kinds = [sp["nodename"].split("-")[0] for sp in specs]
    assert kinds.count("hamiltonian") == 1 and kinds.count("ansatz") == 1
    assert kinds.count("vqe") == 2 and kinds.count("noise") == 4 and kinds.count("aggregate") == 1
    for sp in specs:
        for dep in sp["conditions"]["dependencies"]:
            assert dep in by_node
        assert all(isinstance(v, str) for v in sp["kwargs"].values())  # pycolonies needs str kwargs
    noise = [sp for sp in specs if sp["nodename"].startswith("noise-")]
    vqe_nodes = {sp["nodename"] for sp in specs if sp["nodename"].startswith("vqe-")}
    assert all(sp["conditions"]["dependencies"][0] in vqe_nodes for sp in noise)
    c = noise[0]["conditions"]
    # cpu is per rank (cpus-per-task)
    assert (c["processespernode"], c["cpu"], c["mem"], c["walltime"]) == (2, "2000m", "3Gi", 900)
    assert noise[0]["maxexectime"] == 900 + s.queue_allowance
    agg = by_node["aggregate-t"]
    assert len(agg["conditions"]["dependencies"]) == 6
    params = json.loads(noise[0]["kwargs"]["params"])
    assert len(params["noise"]) == 1 and params["study"] == "t"


def test_workflow_needs_noiseless_parent():
    s = parse_study(study(sweep={"problems": [H2], "noise": [{"kind": "depolarizing", "p": 0.01}]}))
    with pytest.raises(ValueError, match="kind: none"):
        build_specs(s)


def test_sweep_and_single_modes():
    s = parse_study(study(mode="sweep", sweep={"problems": [H2], "seeds": [1, 2, 3]}))
    assert len(build_specs(s)) == 3
    s.mode = "single"
    (one,) = build_specs(s)
    assert json.loads(one["kwargs"]["params"])["seeds"] == [1, 2, 3]


def test_demo_study_is_valid():
    s = load_study(DEMO_STUDY)
    assert s.mode == "workflow" and len(build_specs(s)) >= 10


def test_shipped_studies_by_name_from_any_directory(tmp_path, monkeypatch):
    """A pip-installed hpcq has no checkout: 'water' and 'studies/water.yaml' find the shipped study;
    a file of that name in the working directory wins; an unknown name lists what ships."""
    monkeypatch.chdir(tmp_path)
    assert load_study("water").name == load_study("studies/water.yaml").name
    assert load_study("demo").name == load_study(DEMO_STUDY).name
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "water.yaml").write_text(DEMO_STUDY.read_text())
    assert load_study("studies/water.yaml").name == load_study(DEMO_STUDY).name
    shipped = r"shipped study \(demo, h2-vlq-twin, lih-curve, water\)"
    with pytest.raises(StudyError, match=r"nosuch: no such study file.*" + shipped):
        load_study("nosuch")
