"""The examples run unchanged: a user-written scipy VQE loop and qiskit-algorithms' VQE."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np

from hpcq.primitives import EstimatorV2

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_user_vqe_loop_reaches_the_ground_energy():
    ns = runpy.run_path(str(EXAMPLES / "vqe_scipy.py"))
    exact = float(np.linalg.eigvalsh(ns["H2"].to_matrix()).min())
    assert abs(ns["vqe"](EstimatorV2(mode="local"), maxiter=150) - exact) < 0.02


def test_qiskit_algorithms_vqe_runs_unchanged_and_matches_aer():
    from qiskit.circuit.library import efficient_su2
    from qiskit_aer.primitives import EstimatorV2 as AerEstimator
    from qiskit_algorithms import VQE
    from qiskit_algorithms.optimizers import COBYLA

    h2 = runpy.run_path(str(EXAMPLES / "vqe_scipy.py"))["H2"]
    ours = VQE(
        EstimatorV2(mode="local"), efficient_su2(2, reps=1), COBYLA(maxiter=60), initial_point=np.full(8, 0.1)
    ).compute_minimum_eigenvalue(h2)
    aer = VQE(
        AerEstimator(), efficient_su2(2, reps=1), COBYLA(maxiter=60), initial_point=np.full(8, 0.1)
    ).compute_minimum_eigenvalue(h2)
    assert abs(ours.eigenvalue - aer.eigenvalue) < 1e-10
    assert ours.cost_function_evals == aer.cost_function_evals
