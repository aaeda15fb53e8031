"""Fermion-to-qubit mappings of our own: Jordan-Wigner, parity (+ two-qubit reduction), Bravyi-Kitaev.

Why own code: ~100 lines replace a dependency (qiskit-nature is barely maintained and sits on APIs
removed in Qiskit 3); tests check every mapping against qiskit-nature 0.8 to 1e-10.

All three are *linear encodings* b = A n (mod 2) of the occupation vector n into qubit bits b
(JW: A = 1; parity: b_k = n_0 + ... + n_k; BK: the Fenwick-tree matrix). For any invertible A the
annihilator is  a_j = Z_S(j) X_F(j) (1 - Z_T(j)) / 2  where F(j) = column j of A (the bits that
flip with n_j), T(j) = row j of A^-1 (n_j as a parity of bits) and S(j) = the bits whose parity is
n_0 + ... + n_{j-1} (rows < j of A^-1 summed). One formula, three mappings, no special cases.

Spin orbitals are in blocked order (Qiskit Nature's and ffsim's): modes 0..n-1 alpha, n..2n-1 beta.
Qubit k is bit k of a basis-state index (Qiskit's little-endian labels).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from qiskit.quantum_info import PauliList, SparsePauliOp

MAPPINGS = ("jordan_wigner", "parity", "bravyi_kitaev")


def encoding_matrix(mapping: str, n_modes: int) -> np.ndarray:
    """A (uint8, n x n) with qubit bits b = A @ n mod 2."""
    if mapping == "jordan_wigner":
        return np.eye(n_modes, dtype=np.uint8)
    if mapping == "parity":
        return np.tril(np.ones((n_modes, n_modes), dtype=np.uint8))
    if mapping == "bravyi_kitaev":
        A = np.zeros((n_modes, n_modes), dtype=np.uint8)
        for k in range(n_modes):  # Fenwick tree: bit k stores modes (k - lowbit(k+1), k]
            low = (k + 1) & -(k + 1)
            A[k, k - low + 1 : k + 1] = 1
        return A
    raise ValueError(f"mapping {mapping!r} unknown; use one of {', '.join(MAPPINGS)}")


def gf2_inverse(A: np.ndarray) -> np.ndarray:
    n = len(A)
    M = np.concatenate([A.astype(np.uint8) % 2, np.eye(n, dtype=np.uint8)], axis=1)
    for c in range(n):
        piv = next(r for r in range(c, n) if M[r, c])
        M[[c, piv]] = M[[piv, c]]
        for r in range(n):
            if r != c and M[r, c]:
                M[r] ^= M[c]
    return M[:, n:]


def _pauli(n: int, z: np.ndarray, x: np.ndarray) -> SparsePauliOp:
    """Z^z X^x as a SparsePauliOp (operator product: X acts first)."""
    zs = np.zeros(n, dtype=bool)
    xs = np.zeros(n, dtype=bool)
    zs[np.flatnonzero(z)] = True
    xs[np.flatnonzero(x)] = True
    # PauliList (z, x) means (-i)^{z.x} Z^z X^x with phase 0; fold back to Z^z X^x exactly
    pl = PauliList.from_symplectic(zs[None, :], xs[None, :])
    return SparsePauliOp(pl, [(1j) ** int(np.sum(zs & xs))])


@lru_cache(maxsize=64)
def _annihilators(mapping: str, n_modes: int) -> tuple[SparsePauliOp, ...]:
    A = encoding_matrix(mapping, n_modes)
    Ai = gf2_inverse(A)
    ident = SparsePauliOp("I" * n_modes)
    zero = np.zeros(n_modes, dtype=np.uint8)
    ops = []
    for j in range(n_modes):
        flip = A[:, j]
        sign = Ai[:j].sum(axis=0) % 2 if j else zero
        c = _pauli(n_modes, sign, flip)
        proj = (ident - _pauli(n_modes, Ai[j], zero)) * 0.5
        ops.append(c.dot(proj).simplify(atol=0))
    return tuple(ops)


def excitation(mapping: str, n_modes: int, creators: tuple[int, ...], annihilators: tuple[int, ...]) -> SparsePauliOp:
    """a+_{c0} a+_{c1} ... a_{a0} a_{a1} ... mapped to qubits (left to right)."""
    a = _annihilators(mapping, n_modes)
    op = SparsePauliOp("I" * n_modes)
    for c in creators:
        op = op.dot(a[c].adjoint())
    for k in annihilators:
        op = op.dot(a[k])
    return op.simplify(atol=1e-14)


def qubit_hamiltonian(
    h1: np.ndarray,
    h2: np.ndarray,
    ecore: float,
    mapping: str = "jordan_wigner",
    nelec: tuple[int, int] | None = None,
    atol: float = 1e-12,
) -> SparsePauliOp:
    """H = ecore + sum h1_pq E_pq + 1/2 sum (pq|rs) (E_pq E_rs - delta_qr E_ps), E_pq = sum_s a+_ps a_qs.

    ``mapping='parity'`` applies the two-qubit reduction (needs ``nelec``), giving 2n - 2 qubits."""
    norb = len(h1)
    base = "parity" if mapping == "parity" else mapping
    a = _annihilators(base, 2 * norb)
    N = 2 * norb
    E = [
        [(a[p].adjoint().dot(a[q]) + a[p + norb].adjoint().dot(a[q + norb])).simplify(atol=0) for q in range(norb)]
        for p in range(norb)
    ]
    terms = [SparsePauliOp("I" * N, [ecore])]
    one = h1 - 0.5 * np.einsum("pqqs->ps", h2)
    for p in range(norb):
        for q in range(norb):
            if abs(one[p, q]) > 0:
                terms.append(E[p][q] * one[p, q])
    for p in range(norb):
        for q in range(norb):
            parts = [
                E[r][s] * (0.5 * h2[p, q, r, s]) for r in range(norb) for s in range(norb) if abs(h2[p, q, r, s]) > 0
            ]
            if parts:
                terms.append(E[p][q].dot(SparsePauliOp.sum(parts).simplify(atol=0)))
    H = SparsePauliOp.sum(terms).simplify(atol=atol)
    H = SparsePauliOp(H.paulis, np.real_if_close(H.coeffs, tol=1e6)).simplify(atol=atol)
    if mapping == "parity":
        if nelec is None:
            raise ValueError("parity two-qubit reduction needs the particle numbers (nelec)")
        H = two_qubit_reduce(H, norb, nelec)
    return H


def two_qubit_reduce(op: SparsePauliOp, norb: int, nelec: tuple[int, int]) -> SparsePauliOp:
    """Parity encoding, blocked order: bit n-1 is the alpha parity, bit 2n-1 the total parity. An
    operator that conserves both has only I/Z there; replace Z by its eigenvalue and drop the bits."""
    na, nb = nelec
    drop = {norb - 1: (-1) ** na, 2 * norb - 1: (-1) ** (na + nb)}
    x, z = op.paulis.x, op.paulis.z
    coeffs = op.coeffs * (1j) ** 0
    for q, val in drop.items():
        if np.any(x[:, q]):
            raise ValueError("operator does not conserve particle numbers; the parity reduction needs it")
        coeffs = np.where(z[:, q], coeffs * val, coeffs)
    keep = [q for q in range(2 * norb) if q not in drop]
    pl = PauliList.from_symplectic(z[:, keep], x[:, keep], op.paulis.phase)
    return SparsePauliOp(pl, coeffs).simplify(atol=1e-14)


def occupation_to_bits(mapping: str, norb: int, occ: np.ndarray) -> np.ndarray:
    """Occupation vectors (rows, blocked order, 2n modes) -> qubit bit rows of the mapping
    (2n - 2 columns for parity: the two reduced bits removed)."""
    base = "parity" if mapping == "parity" else mapping
    A = encoding_matrix(base, 2 * norb).astype(np.int64)
    bits = (np.atleast_2d(occ).astype(np.int64) @ A.T) % 2
    if mapping == "parity":
        bits = np.delete(bits, [norb - 1, 2 * norb - 1], axis=1)
    return bits.astype(np.uint8)


def hf_occupation(norb: int, nelec: tuple[int, int]) -> np.ndarray:
    occ = np.zeros(2 * norb, dtype=np.uint8)
    occ[: nelec[0]] = 1
    occ[norb : norb + nelec[1]] = 1
    return occ


def num_qubits(mapping: str, norb: int) -> int:
    return 2 * norb - 2 if mapping == "parity" else 2 * norb


@lru_cache(maxsize=32)
def spin_operators(mapping: str, norb: int, nelec: tuple[int, int]) -> dict[str, SparsePauliOp]:
    """The particle number N and total spin S^2 = S_- S_+ + S_z (S_z + 1) in the qubit mapping
    (parity: two-qubit reduced like the Hamiltonian), keyed as the result metrics name them:
    n_expectation, s2_expectation. S_+ = sum_p a+_{p alpha} a_{p beta}, S_z = (N_alpha - N_beta) / 2."""
    base = "parity" if mapping == "parity" else mapping
    n = 2 * norb
    number = SparsePauliOp.sum([excitation(base, n, (p,), (p,)) for p in range(n)])
    na = SparsePauliOp.sum([excitation(base, n, (p,), (p,)) for p in range(norb)])
    nb = SparsePauliOp.sum([excitation(base, n, (p + norb,), (p + norb,)) for p in range(norb)])
    sz = ((na - nb) * 0.5).simplify(atol=1e-14)
    splus = SparsePauliOp.sum([excitation(base, n, (p,), (p + norb,)) for p in range(norb)])
    ident = SparsePauliOp("I" * n)
    s2 = (splus.adjoint().dot(splus) + sz.dot(sz + ident)).simplify(atol=1e-14)
    out = {"n_expectation": number.simplify(atol=1e-14), "s2_expectation": s2}
    if mapping == "parity":
        out = {k: two_qubit_reduce(v, norb, tuple(nelec)) for k, v in out.items()}
    return {k: SparsePauliOp(v.paulis, np.real_if_close(v.coeffs, tol=1e6)) for k, v in out.items()}
