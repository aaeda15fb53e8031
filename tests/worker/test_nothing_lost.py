"""Nothing lost (issue 25 item 4): a task that fails inside a sweep is recorded as failed with its
message, the other tasks' results are written, and the HDF5 file and the catalog say which failed;
what can be known up front (a fake backend narrower than the problem) is refused at validation."""

from __future__ import annotations

import json

import h5py
import pytest

import hpcq.results
from hpcq.functions import JobContext
from hpcq.results.catalog import Catalog
from hpcq.sim.spec import parse_sweep
from hpcq.worker.dispatch import TaskFailed, TaskFailure, run_tasks
from hpcq.worker.entry import run_sweep

# a 4-qubit Jordan-Wigner "Hamiltonian" whose X term changes the particle number: its sector reference is impossible
LEAKY = {"labels": ["IIZI", "IIIX"], "coeffs": [0.5, 0.3], "num_particles": [1, 1]}


def test_failures_are_kept_beside_results():
    def work(x):
        if x == 2:
            raise ValueError("bad task two")
        return x

    out = run_tasks([1, 2, 3], work, keep_failures=True)
    assert out[0] == 1 and out[2] == 3
    assert isinstance(out[1], TaskFailure) and out[1].error == "ValueError: bad task two"
    with pytest.raises(TaskFailed, match="bad task two"):
        run_tasks([1, 2, 3], work)  # without keep_failures: the old contract


def test_one_impossible_task_the_good_ones_are_written_and_the_failure_named(tmp_path):
    sweep = {
        "study": "lost",
        "problems": [
            {"kind": "h2", "bond_length": 0.735},
            {"kind": "pauli", "file": "leaky.json", "data": json.dumps(LEAKY), "mapping": "jordan_wigner"},
        ],
        "ansatze": [{"kind": "real_amplitudes", "reps": 1, "initial_state": "zero"}],
        "optimizers": [{"kind": "cobyla", "maxiter": 5}],
        "seeds": [1, 2, 3],
        "method": "statevector",
    }
    res = run_sweep(sweep, JobContext(process_id="p-lost", workdir=str(tmp_path), threads=1, slurm_job_id="77"))
    assert res.summary["n_tasks"] == 3 and res.summary["n_failed"] == 3
    failed = res.summary["failed_tasks"]
    assert {f["task_id"].split("-")[0] for f in failed} == {"pauli"}
    assert all("does not conserve the particle numbers" in f["error"] for f in failed)
    (path,) = res.files
    assert hpcq.results.validate(path) == []
    with h5py.File(path, "r") as f:
        assert len(f["tasks"]) == 3  # the three good H2 tasks
        prov = f["provenance"].attrs
        assert int(prov["n_failed"]) == 3
        assert [d["task_id"] for d in json.loads(prov["failed_tasks"])] == [d["task_id"] for d in failed]
    cat = Catalog(tmp_path / "cat.sqlite")
    cat.index(tmp_path)
    assert len(cat.runs()) == 3
    lost = cat.failed_tasks()
    assert sorted(lost["task_id"]) == sorted(d["task_id"] for d in failed)
    assert lost["error"].str.contains("particle numbers").all() and (lost["study"] == "lost").all()
    # the CLI: `results ls` says failures exist; `results ls --failed` names them with the reason
    from click.testing import CliRunner

    from hpcq.cli import main

    out = CliRunner().invoke(main, ["results", "ls", "--db", str(tmp_path / "cat.sqlite")])
    assert out.exit_code == 0 and "3 task(s) failed inside their sweep: hpcq results ls --failed" in out.output
    out = CliRunner().invoke(main, ["results", "ls", "--db", str(tmp_path / "cat.sqlite"), "--failed", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert sorted(r["task_id"] for r in rows) == sorted(d["task_id"] for d in failed)
    assert all("particle numbers" in r["error"] for r in rows)


def test_every_task_failing_fails_the_job(tmp_path):
    leaky = {"kind": "pauli", "file": "leaky.json", "data": json.dumps(LEAKY), "mapping": "jordan_wigner"}
    sweep = {"problems": [leaky]}
    with pytest.raises(TaskFailed, match="every task failed: task pauli-.*particle numbers"):
        run_sweep(sweep, JobContext(workdir=str(tmp_path), threads=1))


def test_fake_backend_narrower_than_the_problem_is_refused_at_validation():
    six = {"kind": "tfim", "n_qubits": 6}
    with pytest.raises(
        ValueError,
        match=r"noise\[1\].backend: FakeManilaV2 has 5 qubits but problems\[0\] \(tfim\) needs 6; "
        r"use backend FakeJakartaV2 or FakeLagosV2 or FakeNairobiV2, or a smaller problem",
    ):
        parse_sweep(
            {"problems": [six], "noise": [{"kind": "none"}, {"kind": "fake_backend", "backend": "FakeManilaV2"}]}
        )
    ok = parse_sweep({"problems": [six], "noise": [{"kind": "fake_backend", "backend": "FakeNairobiV2"}]})
    assert ok.tasks()[0].simulated_qubits == 7
