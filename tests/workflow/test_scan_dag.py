"""A scan is one problem entry but a DAG per point: `hpcq run` of a trimmed shipped LiH curve (two
bond lengths) builds and runs integrals -> hamiltonian -> ansatz -> vqe -> noise once per point,
with the point in the node names, and the catalog tells the points apart."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from hpcq.client.dag import build_specs
from hpcq.client.study import parse_study
from hpcq.testing.studies import trimmed_lih_curve

POINTS = [1.2, 2.4]


def _study() -> dict:
    data = trimmed_lih_curve("lih-dag")
    data["sweep"]["problems"][0]["scan"] = {"bond_length": POINTS}
    data["sweep"]["noise"] = [{"kind": "none"}, {"kind": "depolarizing", "p": 0.001}]
    return data


def test_each_point_is_its_own_branch_named_by_its_point():
    specs = build_specs(parse_study(_study(), "lih-dag"))
    names = [s["nodename"] for s in specs]
    for step in ("integrals", "hamiltonian", "ansatz"):
        mine = [n for n in names if n.startswith(f"{step}-")]
        assert len(mine) == len(POINTS), names
        for r in POINTS:
            assert sum(f"bond_length_{r:g}-" in n for n in mine) == 1, (step, r, mine)


def test_hpcq_run_of_a_scan_writes_one_branch_per_point(tmp_path):
    from hpcq.results.catalog import Catalog, with_problem_params

    path = tmp_path / "lih-dag.yaml"
    path.write_text(yaml.safe_dump(_study()))
    n_steps = len(build_specs(parse_study(_study(), "lih-dag")))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLONIES_", "HPCQ_", "SLURM_"))}
    out = tmp_path / "results"
    r = subprocess.run(
        [sys.executable, "-m", "hpcq.cli", "run", str(path), "--results", str(out), "--timeout", "300"],
        env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{n_steps} done / 0 failed" in r.stdout, r.stdout + r.stderr
    cat = Catalog(tmp_path / "cat.sqlite")
    assert cat.index(out).errors == {}
    runs, _ = with_problem_params(cat.runs())  # the scan point as a column (results ls, the dashboard)
    for step in ("vqe", "noise"):
        assert sorted(runs[runs["step"] == step]["bond_length"]) == POINTS, runs[["step", "bond_length"]]
    assert (runs["energy"] >= runs["exact_energy"] - 1e-9).all()  # variational at every point
