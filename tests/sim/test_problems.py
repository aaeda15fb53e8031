"""Hamiltonians and exact references: H2 from closed-form STO-3G integrals, spin chains."""

import numpy as np
import pytest

from hpcq.sim import h2, problems
from hpcq.sim.spec import ProblemSpec

# Published Qiskit tutorial H2 (STO-3G, 0.735 Å, ParityMapper with two-qubit reduction)
QISKIT_H2_0735 = {
    "II": -1.052373245772859,
    "IZ": 0.39793742484318045,
    "ZI": -0.39793742484318045,
    "ZZ": -0.01128010425623538,
    "XX": 0.18093119978423156,
}


def test_sto3g_integrals_match_szabo_ostlund():
    # Szabo & Ostlund, Modern Quantum Chemistry, H2 at R = 1.4 bohr (section 3.5.2)
    h1, eri, nuc = h2.mo_integrals(1.4 / h2.ANGSTROM_TO_BOHR)
    assert h1[0, 0] == pytest.approx(-1.2528, abs=1e-4)
    assert h1[1, 1] == pytest.approx(-0.4756, abs=1e-4)
    assert eri[0, 0, 0, 0] == pytest.approx(0.6746, abs=1e-4)  # J11
    assert eri[0, 0, 1, 1] == pytest.approx(0.6636, abs=1e-4)  # J12
    assert eri[1, 1, 1, 1] == pytest.approx(0.6975, abs=1e-4)  # J22
    assert eri[0, 1, 0, 1] == pytest.approx(0.1813, abs=1e-4)  # K12
    assert nuc == pytest.approx(1 / 1.4)


def test_h2_parity_matches_published_qiskit_coefficients():
    terms = dict(h2.h2_pauli_terms(0.735, "parity"))
    assert set(terms) == set(QISKIT_H2_0735)
    for label, coeff in QISKIT_H2_0735.items():
        assert terms[label] == pytest.approx(coeff, abs=1e-7), label
    p = ProblemSpec(kind="h2", bond_length=0.735)
    exact = problems.exact_ground_energy(p)  # total: electronic -1.8572750302 + nuclear 0.7199689944
    assert exact - problems.nuclear_repulsion(p) == pytest.approx(-1.8572750302023795, abs=1e-7)
    assert exact == pytest.approx(-1.137306, abs=1e-6)
    ident = dict(zip(problems.hamiltonian(p).paulis.to_labels(), problems.hamiltonian(p).coeffs, strict=True))["II"]
    assert ident.real == pytest.approx(QISKIT_H2_0735["II"] + problems.nuclear_repulsion(p), abs=1e-7)


@pytest.mark.parametrize("r", [0.5, 0.735, 1.5, 2.5])
def test_h2_mappings_agree(r):
    par = ProblemSpec(kind="h2", bond_length=r, mapping="parity")
    jw = ProblemSpec(kind="h2", bond_length=r, mapping="jordan_wigner")
    assert problems.hamiltonian(par).num_qubits == 2
    assert problems.hamiltonian(jw).num_qubits == 4
    e_par = np.linalg.eigvalsh(problems.hamiltonian(par).to_matrix())[0]
    e_jw = np.linalg.eigvalsh(problems.hamiltonian(jw).to_matrix())[0]
    assert e_par == pytest.approx(e_jw, abs=1e-10)
    assert problems.exact_ground_energy(jw) == pytest.approx(e_jw, abs=1e-10)


def test_h2_dissociation_curve_minimum_near_equilibrium():
    rs = np.arange(0.5, 2.51, 0.05)
    total = [problems.exact_ground_energy(ProblemSpec(kind="h2", bond_length=float(r))) for r in rs]
    assert 0.70 <= rs[int(np.argmin(total))] <= 0.76
    assert min(total) == pytest.approx(-1.1373, abs=2e-4)  # STO-3G FCI of H2


def test_spin_chain_references():
    assert problems.exact_ground_energy(ProblemSpec(kind="tfim", n_qubits=4)) == pytest.approx(-4.75877, abs=1e-5)
    assert problems.exact_ground_energy(ProblemSpec(kind="tfim", n_qubits=6)) == pytest.approx(-7.29623, abs=1e-5)
    assert problems.exact_ground_energy(ProblemSpec(kind="heisenberg", n_qubits=2)) == pytest.approx(-3.0)
    assert problems.exact_ground_energy(
        ProblemSpec(kind="heisenberg", n_qubits=4, boundary="periodic")
    ) == pytest.approx(-8.0)
    op = problems.hamiltonian(ProblemSpec(kind="tfim", n_qubits=3, J=2.0, h=0.5))
    assert dict(zip(op.paulis.to_labels(), op.coeffs.real, strict=True)) == {
        "IZZ": -2.0,
        "ZZI": -2.0,
        "IIX": -0.5,
        "IXI": -0.5,
        "XII": -0.5,
    }


def test_sparse_diagonalisation_agrees_with_dense(monkeypatch):
    p = ProblemSpec(kind="heisenberg", n_qubits=8, h=0.3)
    dense = problems.exact_ground_energy(p)
    monkeypatch.setattr(problems, "DENSE_MAX_QUBITS", 4)
    problems._exact.cache_clear()
    try:
        assert problems.exact_ground_energy(p) == pytest.approx(dense, abs=1e-9)
    finally:
        problems._exact.cache_clear()


def test_sixteen_qubit_reference_is_sparse_and_finite():
    e = problems.exact_ground_energy(ProblemSpec(kind="tfim", n_qubits=14))
    assert -18.0 < e < -17.0  # ~ -1.27 per site for the critical open chain
