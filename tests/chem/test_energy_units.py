"""Result files say what their energies are: totals in Ha for chemistry (issue 10)."""

import h5py

from hpcq.results import h5format as F
from hpcq.sim.spec import parse_sweep
from hpcq.sim.vqe import run_task
from hpcq.worker.taskfile import write_results


def test_h5_says_energies_are_totals_in_ha(tmp_path):
    sweep = parse_sweep(
        {
            "problems": [{"kind": "molecule", "geometry": "h2", "mapping": "parity"}, {"kind": "tfim", "n_qubits": 2}],
            "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
            "optimizers": [{"kind": "cobyla", "maxiter": 5}],
        }
    )
    path = write_results(tmp_path / "r.h5", [run_task(t) for t in sweep.tasks()], {}, study="units")
    assert F.validate(path) == []
    with h5py.File(path, "r") as h:
        got = {g.attrs["problem"]: (g.attrs[F.ENERGY_UNITS], g.attrs[F.ENERGY_CONVENTION]) for g in h[F.TASKS].values()}
    assert got["molecule"] == ("Ha", "total: electronic + nuclear repulsion + frozen-core")
    assert got["tfim"] == ("J", "units of the Hamiltonian (the coupling J), not Ha")
    with h5py.File(path, "r+") as h:
        g = next(g for g in h[F.TASKS].values() if g.attrs["problem"] == "molecule")
        del g.attrs[F.ENERGY_UNITS]
    assert any("energy_units" in p for p in F.validate(path))


def test_sampled_and_dense_results_both_carry_the_chemistry_references():
    """MPS results keep sampled counts instead of 2^n distributions; they are built by the same
    TaskResult builder, so the HF and PySCF references are there too (they were missing)."""
    base = {
        "problems": [{"kind": "molecule", "geometry": "h2"}],
        "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
        "optimizers": [{"kind": "cobyla", "maxiter": 3}],
    }
    dense = run_task(parse_sweep(base).tasks()[0])
    sampled = run_task(parse_sweep({**base, "method": "matrix_product_state"}).tasks()[0])
    assert dense.counts is None and sampled.counts is not None
    for r in (dense, sampled):
        assert r.metrics["hf_energy"] == dense.metrics["hf_energy"] < 0
        assert "pyscf_energy" in r.metrics
    assert list(sampled.metrics)[:3] == list(dense.metrics)[:3]
