"""Energy read-out paths (hpcq.sim.readout) are exact on the normal Aer: the Z-rotated term
groups (the path a distributed statevector uses) and local supports (MPS) equal the exact <H>."""

import numpy as np
import pytest

from hpcq.sim.readout import block_seed, block_sizes, build_energy_circuit


def _state_and_h(n=6):
    from qiskit.circuit.library import efficient_su2
    from qiskit.quantum_info import SparsePauliOp

    qc = efficient_su2(n, reps=2, entanglement="linear")
    rng = np.random.default_rng(3)
    x = rng.uniform(-np.pi, np.pi, qc.num_parameters)
    terms = [
        ("XX", [0, 1], 0.7),
        ("YY", [1, 2], -0.4),
        ("ZZ", [2, 3], 1.1),
        ("XYZ", [0, 3, 5], 0.3),
        ("Y", [4], -0.9),
        ("X", [5], 0.25),
        ("ZX", [1, 4], 0.6),
    ]
    H = SparsePauliOp.from_sparse_list(terms, n) + SparsePauliOp("I" * n, [0.5])
    return qc, x, H


@pytest.mark.parametrize("strategy", ["expval", "rotated_z", "local", "grouped"])
def test_energy_paths_equal_exact(strategy):
    from qiskit.quantum_info import Statevector
    from qiskit_aer import AerSimulator

    qc, x, H = _state_and_h()
    exact = float(np.real(Statevector(qc.assign_parameters(x)).expectation_value(H)))
    ec = build_energy_circuit(qc, H, strategy)
    for method in ("statevector", "matrix_product_state"):
        res = (
            AerSimulator(method=method)
            .run(ec.circuit, parameter_binds=[{p: [v] for p, v in zip(qc.parameters, x, strict=True)}])
            .result()
        )
        assert abs(ec.energy(res.data(0)) - exact) < 1e-10, (strategy, method)
    if strategy in ("rotated_z", "grouped"):
        assert ec.groups < len(H)  # qubit-wise-commuting groups, not one circuit per term


def test_trajectory_blocks_are_seeded_by_block_not_rank():
    assert block_sizes(100, 32) == [32, 32, 32, 4]
    assert block_seed(7, 0) != block_seed(7, 1) and block_seed(7, 2) == block_seed(7, 2)
