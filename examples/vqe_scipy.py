"""A user-written VQE loop: scipy minimize over estimator.run. Change one argument to move it from
the laptop (mode="local") to a Slurm job per call (mode="remote") or one Slurm allocation for the
whole loop (a Session).

    python examples/vqe_scipy.py            # local
    python examples/vqe_scipy.py session    # needs COLONIES_* settings and a running hpcq executor
"""

from __future__ import annotations

import sys

import numpy as np
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp
from scipy.optimize import minimize

from hpcq.primitives import EstimatorV2, Session

# H2 at 0.735 Å (STO-3G, parity mapping, 2 qubits)
H2 = SparsePauliOp.from_list([("II", -1.052373245772859), ("IZ", 0.39793742484318045),
                              ("ZI", -0.39793742484318045), ("ZZ", -0.01128010425623538),
                              ("XX", 0.18093119978423156)])


def vqe(estimator, maxiter: int = 100) -> float:
    ansatz = efficient_su2(2, reps=1)

    def energy(x):
        return float(estimator.run([(ansatz, H2, x)]).result()[0].data.evs)

    res = minimize(energy, np.full(ansatz.num_parameters, 0.1), method="COBYLA", options={"maxiter": maxiter})
    return float(res.fun)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "local"
    if mode == "session":
        with Session(idle_timeout_s=120, resources={"walltime": 1800}) as session:
            print("E =", vqe(EstimatorV2(mode=session)))
    else:
        print("E =", vqe(EstimatorV2(mode=mode)))
