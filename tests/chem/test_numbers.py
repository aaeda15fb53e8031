"""Numbers a chemist trusts and where the optimiser starts (issue 25, items 5 and 6)."""

import json

import h5py
import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from hpcq.results import h5format as F
from hpcq.sim import problems
from hpcq.sim.ansatz import build_ansatz
from hpcq.sim.chem.mappings import spin_operators
from hpcq.sim.spec import AnsatzSpec, ProblemSpec, parse_sweep
from hpcq.sim.vqe import run_task
from hpcq.worker.taskfile import write_results

# LiH at 1.5949 Å, CAS(2e, 3o), parity: 4 qubits, seconds to optimise
LIH = {"kind": "molecule", "geometry": "Li 0 0 0; H 0 0 1.5949", "active_electrons": 2, "active_orbitals": 3}


def one_task(ansatz: dict, problem: dict = LIH, maxiter: int = 80, **sweep):
    s = parse_sweep(
        {"problems": [problem], "ansatze": [ansatz], "optimizers": [{"kind": "cobyla", "maxiter": maxiter}]}
    )
    return s.tasks()[0]


@pytest.mark.parametrize("mapping", ["parity", "jordan_wigner"])
def test_h2_kind_gives_the_molecule_totals(mapping):
    h2 = ProblemSpec(kind="h2", bond_length=0.735, mapping=mapping)
    mol = ProblemSpec(kind="molecule", geometry="h2", mapping=mapping)
    assert problems.exact_ground_energy(h2) == pytest.approx(problems.exact_ground_energy(mol), abs=1e-8)
    assert problems.exact_ground_energy(h2) == pytest.approx(-1.137306, abs=1e-6)
    assert problems.reference(h2)["hf_energy"] == pytest.approx(problems.reference(mol)["hf_energy"], abs=1e-8)
    e = np.linalg.eigvalsh(problems.hamiltonian(h2).to_matrix())[0]  # the operator itself is total
    assert e == pytest.approx(-1.137306, abs=1e-6)


@pytest.mark.parametrize("mapping", ["jordan_wigner", "parity", "bravyi_kitaev"])
def test_number_and_spin_operators(mapping):
    """HF: <N> = 2, <S^2> = 0; a triplet (both electrons alpha, JW bits 0 and 1): S^2 = 2."""
    ops = spin_operators(mapping, 2, (1, 1))
    from hpcq.sim.chem.mappings import hf_occupation, occupation_to_bits

    def value(occ, name):
        bits = occupation_to_bits(mapping, 2, np.array(occ))[0]
        idx = int(sum(int(b) << k for k, b in enumerate(bits)))
        psi = Statevector.from_int(idx, 2 ** len(bits))
        return psi.expectation_value(ops[name]).real

    assert value(hf_occupation(2, (1, 1)), "n_expectation") == pytest.approx(2.0)
    assert value(hf_occupation(2, (1, 1)), "s2_expectation") == pytest.approx(0.0)
    if mapping != "parity":  # the reduced parity space holds (1, 1) only
        assert value([1, 1, 0, 0], "s2_expectation") == pytest.approx(2.0)
        assert value([1, 0, 0, 1], "s2_expectation") == pytest.approx(1.0)  # open-shell Sz=0: singlet + triplet mix


@pytest.mark.parametrize("r", [1.5949, 2.4])  # at 2.4 Å a random start ended above HF (issue 25)
def test_lih_efficient_su2_starts_at_hf_and_ends_at_or_below_it(tmp_path, r):
    t = one_task({"kind": "efficient_su2", "reps": 1}, problem=dict(LIH, geometry=f"Li 0 0 0; H 0 0 {r}"))
    res = run_task(t)
    m = res.metrics
    assert res.start == {
        "kind": "hf",
        "default": True,
        "energy": m["energy"],
        "evaluations": m["evaluations"],
        "restarts": 1,
        "kept": 0,
        "runs": res.start["runs"],
    }
    assert res.trace_energy[0] == pytest.approx(m["hf_energy"], abs=1e-10)  # zero angles are the HF point
    assert m["energy"] < m["hf_energy"] and m["correlation_recovered_pct"] > 0  # it moves down from HF
    assert m["signed_error"] == pytest.approx(m["energy"] - m["exact_energy"]) and m["signed_error"] >= -1e-9
    assert m["correlation_recovered_pct"] == pytest.approx(
        100 * (m["hf_energy"] - m["energy"]) / (m["hf_energy"] - m["exact_energy"])
    )
    # efficient_su2 does not conserve N or S^2: that is what these say (near 2 and 0 here)
    assert m["n_expectation"] == pytest.approx(2.0, abs=1e-2) and m["n_expectation"] != 2.0
    assert -1e-9 <= m["s2_expectation"] < 0.1
    path = write_results(tmp_path / "lih.h5", [res], {}, study="lih")
    assert F.validate(path) == []
    with h5py.File(path, "r") as h:
        g = h[F.TASKS][t.task_id]
        assert json.loads(g.attrs[F.INITIAL_POINT])["kind"] == "hf"
        assert np.all(g[F.INITIAL_PARAMETERS][()] == 0)
        for k in F.OPTIONAL_METRICS:
            assert np.isfinite(g[F.METRICS].attrs[k]), k


def test_restarts_keep_the_best():
    single = run_task(one_task({"kind": "real_amplitudes", "reps": 1, "initial_point": "random"}, maxiter=15))
    r = run_task(one_task({"kind": "real_amplitudes", "reps": 1, "initial_point": "random", "restarts": 3}, maxiter=15))
    runs = r.start["runs"]
    assert len(runs) == 3 and r.start["restarts"] == 3
    assert runs[0]["energy"] == pytest.approx(single.metrics["energy"])  # restart 0 = the initial point
    assert r.metrics["energy"] == min(x["energy"] for x in runs) <= single.metrics["energy"]
    assert runs[r.start["kept"]]["energy"] == r.metrics["energy"]
    assert [x["seed"] for x in runs[1:]] == [[r.spec.seed, 1], [r.spec.seed, 2]]


def test_initial_point_forms(tmp_path):
    n = build_ansatz(AnsatzSpec(kind="real_amplitudes", reps=1), 4).num_parameters
    vals = [0.1 * k for k in range(n)]
    r = run_task(one_task({"kind": "real_amplitudes", "reps": 1, "initial_point": vals}, maxiter=10))
    assert np.allclose(r.initial_parameters, vals) and r.start["kind"] == "values"
    a = run_task(
        one_task({"kind": "real_amplitudes", "reps": 1, "initial_point": {"kind": "random", "seed": 5}}, maxiter=10)
    )
    b = run_task(
        one_task({"kind": "real_amplitudes", "reps": 1, "initial_point": {"kind": "random", "seed": 6}}, maxiter=10)
    )
    assert a.start["seed"] == 5 and not np.allclose(a.initial_parameters, b.initial_parameters)
    with pytest.raises(ValueError, match=f"has {n} parameters"):
        run_task(one_task({"kind": "real_amplitudes", "reps": 1, "initial_point": [0.0]}, maxiter=10))
    with pytest.raises(ValueError, match="initial_point: hf needs an ansatz built on the Hartree-Fock"):
        run_task(one_task({"kind": "real_amplitudes", "reps": 1, "initial_point": "hf", "initial_state": "zero"}))
    with pytest.raises(ValueError, match=r"ansatze\[0\]\.initial_point: seed do not apply"):
        one_task({"kind": "real_amplitudes", "initial_point": {"kind": "hf", "seed": 3}})


def test_initial_point_file_is_embedded_at_submit_time(tmp_path):
    from hpcq.client.study import load_study

    n = build_ansatz(AnsatzSpec(kind="real_amplitudes", reps=1), 4).num_parameters
    np.save(tmp_path / "x0.npy", np.full(n, 0.25))
    (tmp_path / "x1.txt").write_text(" ".join(["0.5"] * n))
    prob = json.dumps(LIH)
    (tmp_path / "s.yaml").write_text(
        "name: ip\nmode: workflow\n"
        "resources: {nodes: 1, ranks_per_node: 1, cpus_per_rank: 1, mem: 1024Mi, walltime: 300}\n"
        f"sweep:\n  problems: [{prob}]\n  ansatze:\n"
        "    - {kind: real_amplitudes, reps: 1, initial_point: x0.npy}\n"
        "    - {kind: real_amplitudes, reps: 1, initial_point: {kind: file, file: x1.txt}}\n"
        "  optimizers: [{kind: cobyla, maxiter: 10}]\n"
    )
    study = load_study(tmp_path / "s.yaml")
    (tmp_path / "x0.npy").unlink()
    (tmp_path / "x1.txt").unlink()  # the study carries the content now
    starts = [run_task(t).initial_parameters for t in study.params.tasks()]
    assert sorted(float(x[0]) for x in starts) == [0.25, 0.5]


def test_default_task_ids_are_unchanged_by_the_new_fields():
    a = AnsatzSpec(kind="efficient_su2").model_dump(mode="json")
    assert "initial_point" not in a and "restarts" not in a
    assert "restarts" in AnsatzSpec(kind="efficient_su2", restarts=2).model_dump(mode="json")


def test_files_from_before_totals_stay_valid_and_catalog_gains_columns(tmp_path):
    """An h2 file that says 'electronic' (written before issue 25) still validates; a catalog made
    before the new columns gains them in place and fills signed_error for old files."""
    import sqlite3

    from hpcq.results.catalog import Catalog, default_db
    from hpcq.testing.synthetic import make_study

    src = make_study(tmp_path / "src", n_workflows=1, problems=["h2"], noise_per_vqe=1, vqe_per_workflow=1)[0]
    tasks = []
    with h5py.File(src, "r") as h:  # rewrite it as a file from before: h2 energies electronic
        for g in h[F.TASKS].values():
            attrs = {k: v for k, v in g.attrs.items()}
            attrs[F.ENERGY_CONVENTION] = F.LEGACY_ENERGY_CONVENTIONS["h2"][1]
            data = {}

            def keep(name, obj, data=data):
                if isinstance(obj, h5py.Dataset):
                    data[name] = obj.asstr()[()] if h5py.check_string_dtype(obj.dtype) else obj[()]

            g.visititems(keep)
            metrics = {k: v for k, v in g[F.METRICS].attrs.items() if k not in F.OPTIONAL_METRICS}
            tasks.append(F.TaskData(attrs, metrics, data))
    out = tmp_path / "old" / "old.h5"
    F.write_file(out, "old", tasks, {})
    assert F.validate(out) == []
    with h5py.File(out, "r") as h:
        assert {g.attrs[F.ENERGY_CONVENTION] for g in h[F.TASKS].values()} == {"electronic: nuclear repulsion excluded"}
    db = default_db(tmp_path / "old")
    Catalog(db).index(tmp_path / "old")
    with sqlite3.connect(db) as con:  # a catalog from before the new columns
        for c in F.OPTIONAL_METRICS:
            con.execute(f"ALTER TABLE runs DROP COLUMN {c}")
    cat = Catalog(db)  # adds them back and re-reads every file at the next index
    assert cat.index(tmp_path / "old").updated == 0
    runs = cat.runs()
    assert set(F.OPTIONAL_METRICS) <= set(runs.columns)
    assert np.allclose(runs["signed_error"], runs["energy"] - runs["exact_energy"])


def test_results_tables_show_energies_to_micro_hartree_with_their_unit(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from hpcq.cli import main
    from hpcq.testing.synthetic import make_study

    monkeypatch.setenv("COLUMNS", "200")
    for kind, unit in (("h2", "Ha"), ("tfim", "J")):
        make_study(tmp_path / kind, n_workflows=1, problems=[kind], noise_per_vqe=1, vqe_per_workflow=1)
        r = CliRunner().invoke(main, ["results", "ls", "-r", str(tmp_path / kind), "-c", "energy,exact_energy"])
        assert r.exit_code == 0, r.output
        assert f"energy ({unit})" in r.output and f"exact_energy ({unit})" in r.output, r.output
        values = [c.strip() for line in r.output.splitlines() if line.startswith("│") for c in line.split("│")[1:-1]]
        assert values and all(len(v.split(".")[1]) == 6 for v in values), values
