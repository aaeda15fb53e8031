"""H2 in the STO-3G basis, computed from first principles (no PySCF needed).

Why computed and not tabulated: every STO-3G integral of H2 is an integral of s-type Gaussians,
which has a closed form (Szabo & Ostlund, "Modern Quantum Chemistry", App. A). In a minimal basis
the RHF orbitals of H2 are fixed by symmetry (sigma_g, sigma_u), so no SCF loop is needed either.
That gives the exact electronic Hamiltonian for any bond length; the 0.735 Å result reproduces the
Pauli coefficients published in Qiskit's tutorials (checked in tests/sim/test_problems.py).

Orbital ordering follows Qiskit Nature (block spin order): modes 0,1 = alpha sigma_g, sigma_u;
modes 2,3 = beta sigma_g, sigma_u. Energies here are electronic (nuclear repulsion returned
separately), as in Qiskit's H2 examples; hpcq.sim.problems adds the nuclear repulsion, so kind h2
reports totals like every molecule.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.special import erf

ANGSTROM_TO_BOHR = 1.0 / 0.52917721092
# STO-3G for hydrogen (zeta = 1.24): exponents and contraction coefficients (EMSL / basis set exchange)
STO3G_EXPONENTS = np.array([3.42525091, 0.62391373, 0.16885540])
STO3G_COEFFS = np.array([0.15432897, 0.53532814, 0.44463454])


def _boys0(t: float) -> float:
    return 1.0 if t < 1e-12 else 0.5 * math.sqrt(math.pi / t) * erf(math.sqrt(t))


def _norm(a: float) -> float:
    return (2.0 * a / math.pi) ** 0.75


def _primitive_integrals(R: float):
    """Overlap S, core Hamiltonian Hcore and ERIs (chemists' notation) in the AO basis, bohr."""
    centers = [np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.0, R])]
    prims = [(a, c * _norm(a)) for a, c in zip(STO3G_EXPONENTS, STO3G_COEFFS, strict=True)]
    S = np.zeros((2, 2))
    T = np.zeros((2, 2))
    V = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            A, B = centers[i], centers[j]
            ab2 = float(np.dot(A - B, A - B))
            for a, ca in prims:
                for b, cb in prims:
                    p = a + b
                    P = (a * A + b * B) / p
                    k = math.exp(-a * b / p * ab2)
                    s = (math.pi / p) ** 1.5 * k
                    S[i, j] += ca * cb * s
                    T[i, j] += ca * cb * a * b / p * (3.0 - 2.0 * a * b / p * ab2) * s
                    for C in centers:  # both nuclei have Z = 1
                        pc2 = float(np.dot(P - C, P - C))
                        V[i, j] += ca * cb * (-2.0 * math.pi / p) * k * _boys0(p * pc2)
    eri = np.zeros((2, 2, 2, 2))
    for i in range(2):
        for j in range(2):
            for k_ in range(2):
                for m in range(2):
                    A, B, C, D = centers[i], centers[j], centers[k_], centers[m]
                    val = 0.0
                    for a, ca in prims:
                        for b, cb in prims:
                            p = a + b
                            P = (a * A + b * B) / p
                            kab = math.exp(-a * b / p * float(np.dot(A - B, A - B)))
                            for c, cc in prims:
                                for d, cd in prims:
                                    q = c + d
                                    Q = (c * C + d * D) / q
                                    kcd = math.exp(-c * d / q * float(np.dot(C - D, C - D)))
                                    pq2 = float(np.dot(P - Q, P - Q))
                                    val += (
                                        ca
                                        * cb
                                        * cc
                                        * cd
                                        * 2.0
                                        * math.pi**2.5
                                        / (p * q * math.sqrt(p + q))
                                        * kab
                                        * kcd
                                        * _boys0(p * q / (p + q) * pq2)
                                    )
                    eri[i, j, k_, m] = val
    return S, T + V, eri


@lru_cache(maxsize=64)
def mo_integrals(bond_length_angstrom: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(h1 [2x2], eri [2x2x2x2] chemists' notation, nuclear repulsion) in the sigma_g/sigma_u basis."""
    R = bond_length_angstrom * ANGSTROM_TO_BOHR
    S, hcore, eri_ao = _primitive_integrals(R)
    s12 = S[0, 1]
    C = np.array([[1.0, 1.0], [1.0, -1.0]]) / np.sqrt(np.array([2 * (1 + s12), 2 * (1 - s12)]))
    h1 = C.T @ hcore @ C
    eri = np.einsum("pi,qj,rk,sl,pqrs->ijkl", C, C, C, C, eri_ao)
    return h1, eri, 1.0 / R


def _spin_orbital_integrals(h1: np.ndarray, eri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spin-orbital integrals, block order: (spatial p, spin s) -> mode p + 2*s."""
    h = np.zeros((4, 4))
    g = np.zeros((4, 4, 4, 4))
    for p in range(4):
        for q in range(4):
            if p // 2 == q // 2:
                h[p, q] = h1[p % 2, q % 2]
            for r in range(4):
                for s in range(4):
                    if p // 2 == q // 2 and r // 2 == s // 2:
                        g[p, q, r, s] = eri[p % 2, q % 2, r % 2, s % 2]
    return h, g


def _jw_annihilators(n_modes: int) -> list[np.ndarray]:
    """Jordan-Wigner annihilation operators as dense matrices."""
    I2, Z = np.eye(2), np.diag([1.0, -1.0])
    lower = np.array([[0.0, 1.0], [0.0, 0.0]])  # |0><1|: annihilates an occupied mode
    ann = []
    for j in range(n_modes):
        op = np.array([[1.0]])
        for k in range(n_modes):  # kron builds the highest qubit first (little-endian index)
            f = Z if k < j else (lower if k == j else I2)
            op = np.kron(f, op)
        ann.append(op)
    return ann


def fermionic_matrix(bond_length_angstrom: float) -> np.ndarray:
    """The 16x16 second-quantised electronic Hamiltonian on 4 spin orbitals (Jordan-Wigner basis,
    basis index = sum_j n_j 2**j, i.e. qubit j holds mode j, Qiskit's little-endian order)."""
    h1, eri, _ = mo_integrals(bond_length_angstrom)
    h, g = _spin_orbital_integrals(h1, eri)
    ann = _jw_annihilators(4)
    cre = [a.T for a in ann]
    H = np.zeros((16, 16))
    for p in range(4):
        for q in range(4):
            if h[p, q]:
                H += h[p, q] * cre[p] @ ann[q]
    for p in range(4):
        for q in range(4):
            for r in range(4):
                for s in range(4):
                    if g[p, q, r, s]:
                        H += 0.5 * g[p, q, r, s] * cre[p] @ cre[r] @ ann[s] @ ann[q]
    return H


def _sector_indices() -> list[int]:
    """JW basis indices of the one-alpha, one-beta sector in parity-reduced qubit order:
    reduced qubit 0 = n0 (alpha sigma_g), reduced qubit 1 = parity(n0+n1+n2) = 1 - n2."""
    out = []
    for idx in range(4):
        q0, q1 = idx & 1, idx >> 1
        n0, n2 = q0, 1 - q1
        n1, n3 = 1 - n0, 1 - n2
        out.append(n0 | (n1 << 1) | (n2 << 2) | (n3 << 3))
    return out


def h2_pauli_terms(bond_length_angstrom: float, mapping: str) -> list[tuple[str, float]]:
    """Pauli labels and real coefficients of H2's electronic Hamiltonian.

    mapping="jordan_wigner": 4 qubits; "parity": 2 qubits (parity mapping with the two Z2
    symmetries tapered, one alpha + one beta electron), as Qiskit Nature's ParityMapper((1, 1))."""
    from qiskit.quantum_info import SparsePauliOp

    H = fermionic_matrix(bond_length_angstrom)
    if mapping == "jordan_wigner":
        mat = H
    elif mapping == "parity":
        idx = _sector_indices()
        mat = H[np.ix_(idx, idx)]
    else:
        raise ValueError(f"mapping: {mapping!r} is unknown; use 'parity' or 'jordan_wigner'")
    op = SparsePauliOp.from_operator(mat).simplify(atol=1e-12)
    return [(label, float(np.real(c))) for label, c in zip(op.paulis.to_labels(), op.coeffs, strict=True)]


def sector_ground_energy(bond_length_angstrom: float) -> float:
    """Exact (FCI) electronic ground energy in the 2-electron, S_z = 0 sector."""
    H = fermionic_matrix(bond_length_angstrom)
    idx = _sector_indices()
    return float(np.linalg.eigvalsh(H[np.ix_(idx, idx)])[0])
