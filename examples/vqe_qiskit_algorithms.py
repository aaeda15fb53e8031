"""qiskit-algorithms' VQE, unchanged, with hpcq's estimator (pip install qiskit-algorithms).

    python examples/vqe_qiskit_algorithms.py [local|remote]
"""

from __future__ import annotations

import sys

from qiskit.circuit.library import efficient_su2
from qiskit_algorithms import VQE
from qiskit_algorithms.optimizers import COBYLA

from hpcq.primitives import EstimatorV2

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from vqe_scipy import H2  # noqa: E402

if __name__ == "__main__":
    estimator = EstimatorV2(mode=sys.argv[1] if len(sys.argv) > 1 else "local")
    vqe = VQE(estimator, efficient_su2(2, reps=1), COBYLA(maxiter=100))
    print("E =", vqe.compute_minimum_eigenvalue(H2).eigenvalue)
