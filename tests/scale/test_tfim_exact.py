"""The free-fermion TFIM energy equals exact diagonalisation and the reference value at 100 sites."""

import numpy as np
import pytest

from hpcq.sim.tfim_exact import tfim_open_ground_energy


@pytest.mark.parametrize("n, J, h", [(6, 1.0, 1.0), (8, 0.7, 1.3), (9, 1.5, 0.4)])
def test_matches_exact_diagonalisation(n, J, h):
    from qiskit.quantum_info import SparsePauliOp

    terms = [("ZZ", [i, i + 1], -J) for i in range(n - 1)] + [("X", [i], -h) for i in range(n)]
    H = SparsePauliOp.from_sparse_list(terms, n).to_matrix(sparse=True).toarray()
    assert abs(tfim_open_ground_energy(n, J, h) - np.linalg.eigvalsh(H)[0]) < 1e-10


def test_100_sites_reference():
    assert abs(tfim_open_ground_energy(100) - (-126.961876739681)) < 1e-9
