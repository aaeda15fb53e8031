"""HDF5 v2 (v1 still reads): re-open, validate, round-trip Qiskit objects, detect corruption, atomic writes, rerun."""

import json
import os
import shutil

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import hpcq.results
from hpcq.results import h5format as F
from hpcq.results.cli import validate
from hpcq.worker import taskfile as W
from hpcq.worker.rerun import rerun


def test_file_validates_and_reads_into_dataframe(result_file):
    assert F.validate(result_file) == []
    df = hpcq.results.open(result_file)
    assert len(df) == 8
    for col in ("file", "study", *F.TASK_ATTRS, *F.METRIC_ATTRS, *F.PROVENANCE_COLUMNS):
        assert col in df.columns, col
    assert set(df.step) == {"vqe", "noise"}
    assert (df.colonies_process_id == "proc-123").all() and (df.workflow_id == "wf-9").all()
    noisy = df[df.step == "noise"]
    assert set(noisy.parent_task_id) <= set(df.task_id)
    assert json.loads(df.problem_params.iloc[0])["kind"] in ("h2", "tfim")


def test_read_summary_reads_attributes_only(result_file):
    s = F.read_summary(result_file)
    with h5py.File(result_file, "r") as f:  # the fast index equals the per-task attributes
        assert s["tasks"] == F._walk_tasks(f) or json.dumps(s["tasks"]) == json.dumps(F._walk_tasks(f))
    assert s["attrs"]["format"] == "hpcq-results" and s["attrs"]["format_version"] == F.FORMAT_VERSION == 2
    assert s["attrs"]["n_tasks"] == len(s["tasks"]) == 8
    prov = s["provenance"]
    assert prov["mpi_ranks"] == 1 and prov["threads_per_rank"] == 1
    assert prov["qiskit_version"] and prov["aer_version"] and prov["python_version"]
    assert "without MPI" in prov["one_circuit_splitting"]
    t = s["tasks"][0]
    assert set(F.TASK_ATTRS) <= set(t["attrs"]) and set(F.METRIC_ATTRS) <= set(t["metrics"])


def test_qiskit_objects_round_trip_equal(result_file):
    from qiskit import transpile

    from hpcq.sim.ansatz import build_ansatz
    from hpcq.sim.noise import BASIS_GATES, build_noise_model
    from hpcq.sim.problems import hamiltonian

    for tid in F.task_ids(result_file):
        rec = W.load_task(result_file, tid)
        spec = rec.spec
        assert spec.task_id == tid
        rebuilt = transpile(
            build_ansatz(spec.ansatz, spec.problem.qubits),
            basis_gates=BASIS_GATES,
            optimization_level=1,
            seed_transpiler=spec.seed,
        )
        # fresh builds get new Parameter UUIDs, so compare the circuits bound to the stored point
        x = rec.final_parameters
        assert rec.circuit.assign_parameters(x) == rebuilt.assign_parameters(x)
        assert rec.noise_model == build_noise_model(spec.noise)
        assert rec.hamiltonian.equiv(hamiltonian(spec.problem))
        assert rec.final_parameters.shape == (rec.circuit.num_parameters,)
        bound = rec.circuit.assign_parameters(rec.final_parameters)
        assert bound.num_parameters == 0


def _copy(src, tmp_path, name="copy.h5"):
    dst = tmp_path / name
    shutil.copy(src, dst)
    return dst


def test_corrupted_files_fail_validation(result_file, tmp_path):
    # 1) a changed number (attribute)
    p = _copy(result_file, tmp_path, "attr.h5")
    with h5py.File(p, "r+") as f:
        g = f["tasks"][sorted(f["tasks"])[0]]["metrics"]
        g.attrs["energy"] = g.attrs["energy"] + 1e-12
    assert any("content_sha256 mismatch" in s for s in F.validate(p))
    # 2) a changed dataset value
    p = _copy(result_file, tmp_path, "data.h5")
    with h5py.File(p, "r+") as f:
        d = f["tasks"][sorted(f["tasks"])[1]]["final_parameters"]
        d[0] = d[0] + 1.0
    assert any("content_sha256 mismatch" in s for s in F.validate(p))
    # 3) a missing dataset
    p = _copy(result_file, tmp_path, "missing.h5")
    with h5py.File(p, "r+") as f:
        del f["tasks"][sorted(f["tasks"])[0]]["distributions/noisy"]
    assert any("distributions/noisy missing" in s for s in F.validate(p))
    # 4) flipped bytes inside the file / truncation
    p = _copy(result_file, tmp_path, "bytes.h5")
    with h5py.File(p, "r") as f:  # inside a dataset's bytes (the middle of the file may be free space)
        ds = f["tasks"][sorted(f["tasks"])[0]]["distributions/ideal"]
        start, size = ds.id.get_offset(), ds.id.get_storage_size()
    raw = bytearray(p.read_bytes())
    for i in range(start, start + min(64, size)):
        raw[i] ^= 0xFF
    p.write_bytes(bytes(raw))
    assert F.validate(p) != []
    p = _copy(result_file, tmp_path, "trunc.h5")
    p.write_bytes(p.read_bytes()[: os.path.getsize(p) // 3])
    assert F.validate(p) and "cannot open" in F.validate(p)[0]
    # 5) not our format
    p = tmp_path / "other.h5"
    with h5py.File(p, "w") as f:
        f.attrs["format"] = "something-else"
    assert "expected 'hpcq-results'" in F.validate(p)[0]


def test_validate_cli_exit_codes(result_file, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(validate, [str(result_file)])
    assert ok.exit_code == 0 and ok.output.startswith("OK")
    bad = _copy(result_file, tmp_path)
    with h5py.File(bad, "r+") as f:
        f.attrs["study"] = "tampered"
    res = runner.invoke(validate, [str(result_file), str(bad)])
    assert res.exit_code == 1 and "INVALID" in res.output and "content_sha256 mismatch" in res.output


def test_atomic_write_leaves_no_partial_file(result_file, tmp_path):
    rec_ids = F.task_ids(result_file)
    assert rec_ids

    class Broken:
        task_id = "broken"

        @property
        def spec(self):
            raise RuntimeError("boom while writing")

    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError, match="boom"):
        W.write_results(target, [Broken()], {}, study="x")
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_checksum_is_deterministic_over_content(result_file, tmp_path):
    with h5py.File(result_file, "r") as f:
        assert F.content_sha256(f) == f.attrs["content_sha256"]
    p = _copy(result_file, tmp_path)
    os.utime(p, (0, 0))  # metadata changes do not matter, content does
    with h5py.File(p, "r") as f:
        assert F.content_sha256(f) == f.attrs["content_sha256"]


def test_rerun_reproduces_noiseless_and_noisy_bit_for_bit(result_file):
    ids = F.task_ids(result_file)
    noiseless = next(t for t in ids if "-none-" in t and t.startswith("h2"))
    noisy = next(t for t in ids if "-depolarizing-" in t and t.startswith("h2"))
    runner = CliRunner()
    for tid in (noiseless, noisy):
        res = runner.invoke(rerun, [str(result_file), "--task", tid])
        assert res.exit_code == 0, res.output
        assert "1/1 tasks reproduced bit for bit" in res.output


def test_rerun_detects_a_different_result(result_file, tmp_path):
    """A file whose stored energy differs (checksum recomputed, so it validates) must not match."""
    p = _copy(result_file, tmp_path)
    tid = next(t for t in F.task_ids(p) if "-none-" in t and t.startswith("tfim"))
    with h5py.File(p, "r+") as f:
        m = f["tasks"][tid]["metrics"]
        m.attrs["energy"] = np.nextafter(m.attrs["energy"], 0)
        f.attrs["content_sha256"] = F.content_sha256(f)
    assert any("does not match the task attributes" in s for s in F.validate(p))  # index is stale
    with h5py.File(p, "r+") as f:  # a consistent forgery: index and checksum rewritten too
        del f[F.INDEX]
        f.create_dataset(F.INDEX, data=F._index_json(F._walk_tasks(f)), dtype=F.STR)
        f.attrs["content_sha256"] = F.content_sha256(f)
    assert F.validate(p) == []
    res = CliRunner().invoke(rerun, [str(p), "--task", tid])
    assert res.exit_code == 1 and "0/1 tasks reproduced" in res.output
    res = CliRunner().invoke(rerun, [str(p), "--task", "nope"])
    assert res.exit_code != 0 and "is not in" in res.output


def test_in_memory_objects_equal_after_write_and_load(tmp_path):
    from hpcq.sim.spec import parse_sweep
    from hpcq.sim.vqe import run_task

    task = parse_sweep(
        {
            "problems": [{"kind": "h2", "bond_length": 1.2, "mapping": "jordan_wigner"}],
            "ansatze": [{"kind": "efficient_su2", "reps": 1}],
            "optimizers": [{"kind": "spsa", "maxiter": 3}],
            "noise": [{"kind": "thermal", "t1": 4e-5, "t2": 3e-5}],
        }
    ).tasks()[0]
    r = run_task(task)
    path = W.write_results(tmp_path / "one.h5", [r], {"mpi_ranks": 1}, study="one")
    rec = W.load_task(path, task.task_id)
    assert rec.circuit == r.circuit  # QPY keeps parameter UUIDs: exactly the same circuit
    assert rec.noise_model == r.noise_model
    assert rec.hamiltonian == r.hamiltonian
    assert rec.spec == task
    assert np.array_equal(rec.trace_energy, r.trace_energy)
    assert np.array_equal(rec.dist_noisy, r.dist_noisy)
    assert F.validate(path) == []


def test_documented_commands_through_hpcq_cli(result_file):
    """`hpcq results validate FILE` and `hpcq rerun FILE --task ID` as users type them."""
    from hpcq.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["results", "validate", str(result_file)])
    assert res.exit_code == 0 and "OK" in res.output, res.output
    tid = next(t for t in F.task_ids(result_file) if t.startswith("tfim-readout"))
    res = runner.invoke(main, ["rerun", str(result_file), "--task", tid])
    assert res.exit_code == 0 and "1/1 tasks reproduced bit for bit" in res.output, res.output


def _as_version_1(src, dst):
    """A version-1 file: the v2 dense layout without v2's provenance write time, version 1."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs["format_version"] = 1
        del f[F.PROVENANCE].attrs[F.WRITE_TIME]
        f.attrs["content_sha256"] = F.content_sha256(f)
    return dst


def test_version_1_files_still_read(result_file, tmp_path):
    v1 = _as_version_1(result_file, tmp_path / "v1.h5")
    assert F.validate(v1) == []
    assert F.read_summary(v1)["attrs"]["format_version"] == 1
    tid = F.task_ids(v1)[0]
    rec = W.load_task(v1, tid)
    assert rec.counts is None and rec.dist_ideal.shape == (2 ** int(rec.attrs["n_qubits"]),)
    assert len(hpcq.results.open(v1)) == 8
    with h5py.File(v1, "r+") as f:  # version 1 has no sampled counts: distributions are required
        del f[F.TASKS][tid][F.DIST_NOISY]
        f.attrs["content_sha256"] = F.content_sha256(f)
    assert any(p.endswith(f"/{F.DIST_NOISY} missing") for p in F.validate(v1))
    with h5py.File(v1, "r+") as f:
        f.attrs["format_version"] = 3
    assert any("understands 1, 2" in p for p in F.validate(v1))


def test_dense_tasks_record_the_write_time(result_file):
    with h5py.File(result_file, "r") as f:
        prov = f[F.PROVENANCE].attrs
        assert 0 < prov[F.WRITE_TIME] < prov["wall_time_s"]
        assert all(F.COUNTS not in g and F.DIST_IDEAL in g for g in f[F.TASKS].values())


def test_validate_checks_circuit_and_noise_model_without_qiskit(result_file, tmp_path):
    """`hpcq results validate` sees a damaged circuit or noise model structurally (the results
    package imports no Qiskit); `hpcq rerun` loads them (hpcq.worker.taskfile.check_objects)."""
    assert W.check_objects(result_file) == []
    p = _copy(result_file, tmp_path)
    with h5py.File(p, "r+") as f:
        tid = sorted(f[F.TASKS])[0]
        g = f[F.TASKS][tid]
        del g[F.CIRCUIT_QPY], g[F.NOISE_MODEL_JSON]
        g.create_dataset(F.CIRCUIT_QPY, data=np.frombuffer(b"not a circuit", dtype=np.uint8))
        g.create_dataset(F.NOISE_MODEL_JSON, data='{"errors": [{"type": "qerror"}]}', dtype=F.STR)
        f.attrs["content_sha256"] = F.content_sha256(f)
    problems = F.validate(p)
    assert any(f"{tid}/{F.CIRCUIT_QPY} is not QPY" in s for s in problems), problems
    assert any(f"{tid}/{F.NOISE_MODEL_JSON}: errors[0]" in s for s in problems), problems
    assert not any(F.CIRCUIT_QPY in s or F.NOISE_MODEL_JSON in s for s in F.validate(p, deep=False))
    loaded = W.check_objects(p)
    assert any("does not load" in s and F.CIRCUIT_QPY in s for s in loaded), loaded
    assert F.noise_model_problems("null") == [] and F.noise_model_problems("{") != []
    res = CliRunner().invoke(rerun, [str(p)])
    assert res.exit_code != 0 and "fails validation" in res.output
