"""Larger registers (slow; run with -m slow): sparse references, statevector and density-matrix
paths near the sizes the executor's memory check is for."""

import math

import pytest

from hpcq.sim.spec import parse_sweep
from hpcq.sim.vqe import run_task

pytestmark = pytest.mark.slow


def test_tfim_12_qubits_statevector_lbfgsb_improves_on_start():
    task = parse_sweep(
        {
            "problems": [{"kind": "tfim", "n_qubits": 12}],
            "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
            "optimizers": [{"kind": "l_bfgs_b", "maxiter": 5}],
            "seeds": [1],
        }
    ).tasks()[0]
    r = run_task(task)
    assert r.metrics["exact_energy"] == pytest.approx(-14.925971, abs=1e-5)
    assert r.trace_energy[-1] < r.trace_energy[0]
    assert r.dist_ideal.shape == (4096,)


def test_heisenberg_9_qubits_density_matrix_noise():
    task = parse_sweep(
        {
            "problems": [{"kind": "heisenberg", "n_qubits": 9}],
            "ansatze": [{"kind": "efficient_su2", "reps": 1}],
            "optimizers": [{"kind": "spsa", "maxiter": 5}],
            "noise": [{"kind": "thermal", "t1": 5e-5, "t2": 7e-5}],
            "method": "automatic",
            "seeds": [1],
        }
    ).tasks()[0]
    assert task.resolved_method == "density_matrix"
    r = run_task(task)
    assert 0 < r.metrics["state_fidelity"] < 1 and not math.isnan(r.metrics["jsd"])


def test_fake_backend_7_qubits_lagos():
    pytest.importorskip("qiskit_ibm_runtime")
    task = parse_sweep(
        {
            "problems": [{"kind": "tfim", "n_qubits": 4}],
            "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
            "optimizers": [{"kind": "cobyla", "maxiter": 10}],
            "noise": [{"kind": "fake_backend", "backend": "FakeLagosV2"}],
            "method": "density_matrix",
            "seeds": [1],
        }
    ).tasks()[0]
    r = run_task(task)
    assert r.circuit.num_qubits == 7 and r.dist_noisy.shape == (16,)
    assert r.metrics["fidelity"] < 1
