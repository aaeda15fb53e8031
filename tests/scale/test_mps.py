"""100-qubit TFIM by matrix product states within 1e-3 relative of the exact energy (issue 11 item 3).

hpcq's own path: ansatz hva (the TFIM's Hamiltonian variational ansatz, 2 angles per layer shared
by all sites), VQE on an 8-qubit chain (statevector, exact), its angles carried to the 100-qubit
chain and refined there by VQE on ``method: matrix_product_state`` with a bond-dimension cap and a
truncation threshold; every term measured on the qubits it touches (read-out ``local``). The exact
energy is the free-fermion one (hpcq.sim.tfim_exact). The field h = 2 is gapped (paramagnet), so a
3-layer circuit gets to ~1e-4 relative; at the critical point J = h = 1 the same ansatz needs ~10+
layers (7.7e-3 at 4 layers, free-fermion optimum). The file records chi, the threshold, the bond
dimension the MPS reached and the Schmidt weight it discarded.
"""

from __future__ import annotations

import time

import h5py

from hpcq.results import h5format
from hpcq.sim.spec import parse_sweep
from hpcq.sim.tfim_exact import tfim_open_ground_energy
from hpcq.sim.vqe import energy_strategy, run_task
from hpcq.worker.taskfile import write_results

N, H_FIELD, LAYERS, CHI, THRESHOLD = 100, 2.0, 3, 16, 1e-10


def _task(n: int, **extra):
    sweep = {
        "study": "mps100",
        "problems": [{"kind": "tfim", "n_qubits": n, "J": 1.0, "h": H_FIELD}],
        "ansatze": [{"kind": "hva", "reps": LAYERS}],
        "seeds": [5],
        **extra,
    }
    return parse_sweep(sweep).tasks()[0]


def test_tfim_100_qubits_mps_within_1e_3_of_exact(tmp_path):
    t0 = time.perf_counter()
    small = run_task(_task(8, method="statevector", optimizers=[{"kind": "l_bfgs_b", "maxiter": 200}]))
    assert small.metrics["rel_error"] < 1e-3, small.metrics

    spec = _task(
        N,
        method="matrix_product_state",
        mps={"bond_dimension": CHI, "truncation_threshold": THRESHOLD},
        optimizers=[{"kind": "cobyla", "maxiter": 12}],
    )
    assert energy_strategy(spec) == "local"
    t1 = time.perf_counter()
    r = run_task(spec, x0=small.final_parameters)
    t_mps = time.perf_counter() - t1
    exact = tfim_open_ground_energy(N, 1.0, H_FIELD)
    m = r.metrics
    assert abs(m["exact_energy"] - exact) < 1e-9  # the problem's reference is the free-fermion energy
    rel = (m["energy"] - exact) / abs(exact)
    assert 0 <= rel < 1e-3, (m["energy"], exact, rel)
    assert m["energy_groups"] == 2 * N - 1  # each ZZ bond and each X site on its own qubits
    # the 3-layer circuit's bond dimension is at most 2^3 < chi: nothing discarded, variational
    assert 1 < m["mps_max_bond_reached"] <= 2**LAYERS
    assert m["mps_discarded_weight"] == 0.0 and m["mps_variational"] == 1.0

    path = write_results(tmp_path / "mps.h5", [r], {"test": "mps100"}, study="mps100")
    assert h5format.validate(path) == []
    with h5py.File(path, "r") as f:
        g = f[h5format.TASKS][r.task_id]
        mm = g[h5format.METRICS].attrs
        assert g.attrs["method"] == "matrix_product_state" and int(g.attrs["n_qubits"]) == N
        assert int(mm["mps_bond_dimension"]) == CHI and float(mm["mps_truncation_threshold"]) == THRESHOLD
        assert int(mm["mps_max_bond_reached"]) == m["mps_max_bond_reached"]
        assert float(mm["rel_error"]) < 1e-3
    print(
        f"100-qubit TFIM h={H_FIELD}: E={m['energy']:.9f} exact={exact:.9f} rel={rel:.2e} "
        f"(8-qubit VQE + 100-qubit MPS VQE: {time.perf_counter() - t0:.1f} s, of which MPS {t_mps:.1f} s, "
        f"{m['evaluations']} evaluations; chi reached {m['mps_max_bond_reached']})"
    )


def test_capped_mps_records_truncation():
    """A cap below what the circuit needs: the MPS truncates, says how much, and is not variational.
    Runs after the 100-qubit test in one process: Aer's MPS log is process-wide and never cleared, so
    this also checks that each task reads only its own part of it."""
    spec = _task(
        12,
        method="matrix_product_state",
        mps={"bond_dimension": 2, "truncation_threshold": THRESHOLD},
        optimizers=[{"kind": "cobyla", "maxiter": 1}],
    )
    r = run_task(spec, x0=[1.44, 1.24, 0.49, 0.21, 0.49, 0.46], optimize=False)  # [beta..., gamma...]
    m = r.metrics
    assert m["mps_max_bond_reached"] == 2 and m["mps_discarded_weight"] > 0 and m["mps_variational"] == 0.0
