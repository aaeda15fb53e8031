"""Exact lowest eigenvalue of a qubit Hamiltonian in one (N_alpha, N_beta) sector.

Why the sector and not the whole space: the global minimum may belong to another particle number
(an ion) and is ~100x slower to find. The sector's basis states are the images of the occupation
vectors with N_alpha/N_beta electrons under the mapping's encoding (so the same code serves JW,
parity-reduced and BK); H is restricted to them term by term, never built as a 2^n matrix.
"""

from __future__ import annotations

import itertools

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from hpcq.sim.chem.mappings import occupation_to_bits

DENSE_MAX_DIM = 4000


def sector_states(mapping: str, norb: int, nelec: tuple[int, int]) -> np.ndarray:
    """Sorted basis-state indices (qubit k = bit k) of the sector."""
    na, nb = nelec
    occs = []
    for a in itertools.combinations(range(norb), na):
        for b in itertools.combinations(range(norb), nb):
            o = np.zeros(2 * norb, dtype=np.uint8)
            o[list(a)] = 1
            o[[norb + i for i in b]] = 1
            occs.append(o)
    bits = occupation_to_bits(mapping, norb, np.array(occs))
    idx = (bits.astype(np.int64) << np.arange(bits.shape[1], dtype=np.int64)).sum(axis=1)
    return np.sort(idx)


def restricted_matrix(op: SparsePauliOp, states: np.ndarray):
    """<s|H|s'> over the given basis states (sparse CSR); raises if H leaks out of the set."""
    from scipy.sparse import csr_matrix

    n = op.num_qubits
    w = np.int64(1) << np.arange(n, dtype=np.int64)
    xm = op.paulis.x.astype(np.int64) @ w
    zm = op.paulis.z.astype(np.int64) @ w
    ny = np.sum(op.paulis.x & op.paulis.z, axis=1)
    # Pauli (z, x, phase) = (-i)^{phase + z.x} Z^z X^x
    pref = op.coeffs * (-1j) ** ((op.paulis.phase + ny) % 4)
    D = len(states)
    rows, cols, vals, leak_r, leak_c, leak_v = [], [], [], [], [], []
    ar = np.arange(D)
    for t in range(len(op)):
        tgt = states ^ xm[t]
        pos = np.minimum(np.searchsorted(states, tgt), D - 1)
        ok = states[pos] == tgt
        v = pref[t] * (1 - 2 * (np.bitwise_count(tgt & zm[t]).astype(np.int64) & 1))
        # P|s> = v |tgt>: the matrix element <tgt|P|s>
        rows.append(pos[ok])
        cols.append(ar[ok])
        vals.append(v[ok])
        if not np.all(ok):  # single terms may leave the sector as long as their sum cancels
            leak_r.append(tgt[~ok])
            leak_c.append(ar[~ok])
            leak_v.append(v[~ok])
    M = csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(D, D))
    if leak_v:
        lr, lc, lv = np.concatenate(leak_r), np.concatenate(leak_c), np.concatenate(leak_v)
        key = lr * D + lc
        uniq, inv = np.unique(key, return_inverse=True)
        total = np.zeros(len(uniq), dtype=complex)
        np.add.at(total, inv, lv)
        if len(total) and np.max(np.abs(total)) > 1e-9:
            raise ValueError(
                "the Hamiltonian does not conserve the particle numbers of the sector "
                f"(leaks amplitude {np.max(np.abs(total)):.2e} out of it); check num_particles "
                "and the mapping"
            )
    return M


def sector_ground_energy(op: SparsePauliOp, states: np.ndarray) -> float:
    M = restricted_matrix(op, states)
    herm = abs(M - M.getH()).max() if M.nnz else 0.0
    if herm > 1e-9:
        raise ValueError(f"the Hamiltonian is not Hermitian in the sector (max |H - H^+| = {herm:.2e})")
    if len(states) <= DENSE_MAX_DIM:
        return float(np.linalg.eigvalsh(M.toarray())[0])
    from scipy.sparse.linalg import eigsh

    v0 = np.ones(len(states)) / np.sqrt(len(states))
    return float(eigsh(M, k=1, which="SA", v0=v0, tol=1e-12)[0][0])
