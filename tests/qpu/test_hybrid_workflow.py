"""The shipped hybrid study h2-vlq-twin end to end (issue 23 item 5; docs/studies.md): `hpcq run`
(the embedded server, a local executor) and a real Slurm lab cluster (`hpcq submit`) each run its
DAG hamiltonian -> ansatz -> noiseless VQE -> noise model + qpu step on VLQ's twin -> aggregate.
This interpreter is the worker venv, without iqm-client: the qpu step's job runs in the QPU venv
(the profile's ``qpus.vlq.python``; for `hpcq run`, HPCQ_QPU_PYTHON), as on a site. Then
`hpcq results rank --step compare` shows the simulator, noise-model and twin energies of the same
parameters side by side, the graph has the qpu node, and `hpcq rerun` of the twin's file here says
which extra the replay needs (the QPU venv's replay: test_hybrid_twin.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import yaml
from click.testing import CliRunner

from hpcq.cli import main
from hpcq.client.study import resolve_study_path
from hpcq.executor.profiles.schema import profile_files
from hpcq.results.catalog import Catalog, default_db
from hpcq.results.graph import COLOURS, build_graph, elements
from hpcq.testing import need
from hpcq.ui.data import compare_rows
from tests.qpu.conftest import qpu_python

STUDY = "h2-vlq-twin"


def _steps(folder: Path) -> dict[str, tuple[str, str, float]]:
    """task id -> (step, parent, energy) over the HDF5 files in ``folder``."""
    out = {}
    for path in folder.glob("*.h5"):
        with h5py.File(path) as h:
            for tid, g in h["tasks"].items():
                out[tid] = (g.attrs["step"], g.attrs["parent_task_id"], float(g["metrics"].attrs["energy"]))
    return out


def _holds(path: Path, task_id: str) -> bool:
    with h5py.File(path, "r") as h:
        return task_id in h["tasks"]


def _check_dashboard(out: Path, vqe, noise, twin) -> None:
    """The dashboard's comparison (`compare-view`) is the same table as `rank --step compare`."""
    from dash import html

    from hpcq.ui.app import Controls, table_state

    cat = Catalog(default_db(out), readonly=True)
    cols, rows = compare_rows(cat, [STUDY])
    assert cols[:5] == ["study", "task_id", "optimizer", "exact_energy", "simulator"]
    (row,) = rows
    assert row["task_id"] == vqe[0] and abs(row["twin:vlq"] - twin[2]) < 1e-12
    assert abs(row["depolarizing(p=0.01)"] - noise[2]) < 1e-12 and abs(row["simulator"] - vqe[2]) < 1e-12
    _, st = table_state(cat, Controls(study=STUDY))
    title, table = st["compare_view"]
    assert isinstance(table, html.Table) and "twin" in title.children
    text = str(table.to_plotly_json())
    assert "twin:vlq (Ha)" in text and f"{twin[2]:.6f}" in text and f"{vqe[2]:.6f}" in text


def _check_results(out: Path) -> None:
    steps = _steps(out)
    by_step = {s: [(t, p, e) for t, (s2, p, e) in steps.items() if s2 == s] for s in ("vqe", "noise", "qpu")}
    (vqe,), (noise,), (twin,) = by_step["vqe"], by_step["noise"], by_step["qpu"]
    assert noise[1] == twin[1] == vqe[0] and twin[0] == f"{vqe[0]}-twin-vlq"  # both evaluate the VQE's optimum
    assert abs(vqe[2] - -1.13730) < 2e-3 and vqe[2] < twin[2] < vqe[2] + 0.1, (vqe, twin)
    r = CliRunner().invoke(
        main, ["results", "rank", "--results", str(out), "--step", "compare", "--by", "abs_error", "--json"]
    )
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.output)
    for col, want in (("simulator", vqe[2]), ("depolarizing(p=0.01)", noise[2]), ("twin:vlq", twin[2])):
        assert abs(row[col] - want) < 1e-9, (col, row)  # --json rounds to 10 digits
    assert 0 < row["twin:vlq std"] < 0.05 and abs(row["twin:vlq shift"] - (twin[2] - vqe[2])) < 1e-9
    r = CliRunner(env={"COLUMNS": "200"}).invoke(
        main, ["results", "rank", "--results", str(out), "--step", "compare", "--by", "abs_error"]
    )
    assert r.exit_code == 0, r.output
    head = next(line for line in r.output.splitlines() if "simulator" in line)
    for col in ("simulator (Ha)", "depolarizing(p=0.01) (Ha)", "twin:vlq (Ha)", "twin:vlq std (Ha)"):
        assert col in head, r.output
    assert f"{twin[2]:.6f}" in r.output and f"{vqe[2]:.6f}" in r.output, r.output
    g = build_graph(Catalog(default_db(out)).runs())
    node = f"task:{twin[0]}"
    assert g.nodes[node]["type"] == "qpu" and list(g.predecessors(node)) == [f"task:{vqe[0]}"]
    (el,) = [e for e in elements(g) if e["data"]["id"] == node]
    assert "qpu" in el["classes"] and COLOURS["qpu"] not in (COLOURS["vqe"], COLOURS["noise"])
    _check_dashboard(out, vqe, noise, twin)
    (twin_file,) = [p for p in out.glob("*.h5") if _holds(p, twin[0])]
    r = CliRunner().invoke(main, ["rerun", str(twin_file)])
    assert r.exit_code != 0 and "qpu-iqm-qrmi" in r.output, r.output  # this venv has no twin: it says so


def test_hpcq_run_the_hybrid_study_on_the_twin(tmp_path):
    py = qpu_python()
    need(py.is_file(), f"no QPU venv at {py}: run scripts/setup.sh (or set HPCQ_QPU_PYTHON)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COLONIES_", "HPCQ_", "SLURM_"))}
    env["HPCQ_QPU_PYTHON"] = str(py)
    out = tmp_path / "local"
    r = subprocess.run(
        [sys.executable, "-m", "hpcq.cli", "run", STUDY, "--results", str(out), "--timeout", "300"],
        env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr[-4000:]
    assert "6 done / 0 failed" in r.stdout, r.stdout + r.stderr[-4000:]
    _check_results(out)


def test_without_a_qpu_venv_hpcq_run_says_what_the_twin_needs(tmp_path, monkeypatch):
    import click
    import pytest

    from hpcq.client import run_local

    if importlib.util.find_spec("iqm") is not None:  # the QPU venv itself: nothing is missing
        assert run_local.qpu_python() is None
        return
    monkeypatch.delenv("HPCQ_QPU_PYTHON", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))  # no .venv-qpu beside it
    with pytest.raises(click.ClickException, match="extra qpu-iqm-qrmi .*HPCQ_QPU_PYTHON"):
        run_local.qpu_python("/nonexistent/python")
    monkeypatch.setenv("HPCQ_QPU_PYTHON", sys.executable)
    assert run_local.qpu_python() == str(Path(sys.executable).absolute())


def _lab_profile(tmp: Path, python: str) -> Path:
    """The lab's profile with VLQ's entry from karolina-vlq (its 24-qubit twin), jobs in ``python``."""
    prof = yaml.safe_load(profile_files()["local"].read_text())
    vlq = yaml.safe_load(profile_files()["karolina-vlq"].read_text())["qpus"]["vlq"]
    prof["qpus"] = {"vlq": {**vlq, "python": python}}
    path = tmp / "lab-vlq.yaml"
    path.write_text(yaml.safe_dump(prof))
    return path


def test_the_hybrid_study_on_the_slurm_lab(colonies_server, slurm_cluster, tmp_path, monkeypatch):
    from hpcq.testing.faults import ExecutorProc

    py = qpu_python()
    need(py.is_file(), f"no QPU venv at {py}: run scripts/setup.sh (or set HPCQ_QPU_PYTHON)")
    profile = _lab_profile(tmp_path, str(py.absolute()))
    study = yaml.safe_load(resolve_study_path(STUDY).read_text())
    study["qpu"]["profile"] = str(profile)  # checked at submission: vlq, its shots, its route
    f = tmp_path / "study.yaml"
    f.write_text(yaml.safe_dump(study))
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "cfg"))
    colonies_server.monkeypatch_env(monkeypatch)
    ex = ExecutorProc(
        env_file=colonies_server.env_file,
        state_dir=tmp_path / "executor",
        name="hybrid-lab",
        extra_args=["--profile", str(profile)],
    )
    with ex.start():
        r = CliRunner().invoke(main, ["submit", str(f), "--timeout", "400"], catch_exceptions=False)
        assert r.exit_code == 0 and "6 done / 0 failed" in r.output, r.output + ex.log_text()[-3000:]
        out = tmp_path / "results"
        r = CliRunner().invoke(main, ["fetch", STUDY, "--dest", str(out)], catch_exceptions=False)
        assert r.exit_code == 0, r.output
    scripts = [t.read_text() for t in ex.state_dir.rglob("*_submission.sh")]
    qpu_jobs = [t for t in scripts if "study_qpu" in t or str(py.absolute()) in t]
    assert len(scripts) == 6 and len(qpu_jobs) == 1, len(scripts)  # only the qpu step runs in the QPU venv
    assert str(py.absolute()) in qpu_jobs[0] and "--qpu" not in qpu_jobs[0] and "--gres" not in qpu_jobs[0]
    Catalog(default_db(out)).index(out)
    _check_results(out)


def test_a_remote_estimator_with_a_qpu_target_runs_on_the_twin_through_the_lab(
    colonies_server, slurm_cluster, tmp_path, monkeypatch
):
    """EstimatorV2(mode="remote") with target vlq, access twin: the call goes to ColonyOS, the
    executor plans it as a QPU step (one task, no QPU requested from Slurm for a twin, the profile's
    QPU python for the job) and the result comes back with the QPU provenance."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp, Statevector

    from hpcq.config import Settings
    from hpcq.primitives import EstimatorV2
    from hpcq.testing.faults import ExecutorProc

    py = qpu_python()
    need(py.is_file(), f"no QPU venv at {py}: run scripts/setup.sh (or set HPCQ_QPU_PYTHON)")
    profile = _lab_profile(tmp_path, str(py.absolute()))
    monkeypatch.setenv("HPCQ_CONFIG_DIR", str(tmp_path / "cfg"))
    colonies_server.monkeypatch_env(monkeypatch)
    qc = QuantumCircuit(3)
    qc.ry(0.9, 0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    qc.rx(0.3, 1)
    tfim = SparsePauliOp.from_sparse_list(
        [("ZZ", [0, 1], -1.0), ("ZZ", [1, 2], -1.0), ("X", [0], -0.5), ("X", [1], -0.5), ("X", [2], -0.5)], 3
    )
    ideal = float(Statevector(qc).expectation_value(tfim).real)
    ex = ExecutorProc(
        env_file=colonies_server.env_file, state_dir=tmp_path / "executor", name="prim-qpu",
        extra_args=["--profile", str(profile)],
    )  # fmt: skip
    opts = {"target": "vlq", "access": "twin", "shots": 2000, "calibration_shots": 2000, "seed": 3}
    opts.update(resources={"walltime": 300, "mem": "2Gi"}, result_timeout_s=400)
    with ex.start():
        est = EstimatorV2(mode="remote", settings=Settings.load(), options=opts)
        result = est.run([(qc, tfim)]).result()
    meta = result.metadata["qpu"]
    assert meta["access"] == "twin" and "NOT calibrated" in meta["label"] and meta["mitigation"] == "readout"
    ev, std = float(result[0].data.evs), float(result[0].data.stds)
    assert 0 < std < 0.05 and abs(ev - ideal) < 0.25, (ev, std, ideal)  # the twin's gate errors: a small bias
    scripts = [t.read_text() for t in ex.state_dir.rglob("*_submission.sh")]
    assert len(scripts) == 1 and str(py.absolute()) in scripts[0], scripts  # the QPU venv ran it
    assert "--qpu" not in scripts[0] and "--gres" not in scripts[0]  # a twin asks Slurm for no QPU
