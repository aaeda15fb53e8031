"""Exact lowest eigenvalue of a qubit Hamiltonian in one (N_alpha, N_beta) sector.

Why the sector and not the whole space: the global minimum may belong to another particle number
(an ion) and is ~100x slower to find. The sector's basis states are the images of the occupation
vectors with N_alpha/N_beta electrons under the mapping's encoding (so the same code serves JW,
parity-reduced and BK); H is restricted to them one X/Y support at a time (all terms with the same
X pattern map a state to the same partner), never built as a 2^n matrix.

Its memory is estimated before anything is allocated (hpcq.sim.memory.sector_bytes) and a sector
that does not fit is refused with the numbers (``SectorTooLarge``): for problems from integrals the
exact reference is PySCF's FCI and this is only a cross-check run where it is small.
"""

from __future__ import annotations

import itertools

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from hpcq.sim import memory
from hpcq.sim.chem.mappings import occupation_to_bits

DENSE_MAX_DIM = memory.SECTOR_DENSE_MAX_DIM
_CHUNK = 1 << 16  # sector states converted to qubit bits at a time


class SectorTooLarge(ValueError):
    """The sector diagonalisation would need more memory than is available (message: the numbers)."""


def x_patterns(op: SparsePauliOp) -> int:
    """Distinct X/Y supports of the operator's terms (each connects a state to one partner)."""
    return len(np.unique(np.packbits(op.paulis.x, axis=1), axis=0)) if len(op) else 0


def estimate(op: SparsePauliOp, norb: int, nelec: tuple[int, int]) -> dict:
    """Sector size and the bytes its diagonalisation needs (hpcq.sim.memory.sector_bytes)."""
    dim = memory.sector_dim(norb, nelec)
    k = x_patterns(op)
    return {"dim": dim, "x_patterns": k, "bytes": memory.sector_bytes(dim, k, op.num_qubits)}


def check_fits(est: dict, nelec, budget: int | None = None, what: str = "the exact reference") -> None:
    """Raise SectorTooLarge naming the numbers and the fix when ``est`` exceeds ``budget``
    (default: hpcq.sim.memory.available_bytes())."""
    budget = memory.available_bytes() if budget is None else budget
    if est["bytes"] > budget:
        raise SectorTooLarge(
            f"{what} diagonalises the Hamiltonian in the (N_alpha, N_beta) = {tuple(nelec)} sector: "
            f"{est['dim']} states x {est['x_patterns']} distinct X/Y patterns needs about "
            f"{memory.fmt_bytes(est['bytes'])}, more than the {memory.fmt_bytes(budget)} available; "
            "set reference: skip on the problem (no exact energy or errors are computed), or use a "
            "smaller active space / fewer particles"
        )


def sector_states(mapping: str, norb: int, nelec: tuple[int, int]) -> np.ndarray:
    """Sorted basis-state indices (qubit k = bit k) of the sector."""
    na, nb = nelec

    def occ_rows(k: int) -> np.ndarray:
        combos = list(itertools.combinations(range(norb), k))
        rows = np.zeros((len(combos), norb), dtype=np.uint8)
        for i, c in enumerate(combos):
            rows[i, list(c)] = 1
        return rows

    alpha, beta = occ_rows(na), occ_rows(nb)
    out = []
    for a0 in range(0, len(alpha), max(1, _CHUNK // max(1, len(beta)))):
        a = alpha[a0 : a0 + max(1, _CHUNK // max(1, len(beta)))]
        occ = np.concatenate([np.repeat(a, len(beta), axis=0), np.tile(beta, (len(a), 1))], axis=1)
        bits = occupation_to_bits(mapping, norb, occ)
        idx = np.zeros(len(bits), dtype=np.int64)
        for k in range(bits.shape[1]):
            idx |= bits[:, k].astype(np.int64) << k
        out.append(idx)
    return np.sort(np.concatenate(out))


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
    ar = np.arange(D)
    rows, cols, vals = [], [], []
    worst = 0.0
    order = np.argsort(xm, kind="stable")
    bounds = np.flatnonzero(np.diff(xm[order])) + 1
    for group in np.split(order, bounds):
        tgt = states ^ xm[group[0]]
        pos = np.minimum(np.searchsorted(states, tgt), D - 1)
        ok = states[pos] == tgt
        v = np.zeros(D, dtype=complex)
        for t in group:  # P|s> = pref * (-1)^{|s & z|} |s ^ x>: the matrix element <tgt|P|s>
            v += pref[t] * (1 - 2 * (np.bitwise_count(states & zm[t]).astype(np.int64) & 1))
        if not np.all(ok):  # single terms may leave the sector as long as their sum cancels
            worst = max(worst, float(np.max(np.abs(v[~ok]))))
        keep = ok & (v != 0)
        rows.append(pos[keep])
        cols.append(ar[keep])
        vals.append(v[keep])
    if worst > 1e-9:
        raise ValueError(
            "the Hamiltonian does not conserve the particle numbers of the sector "
            f"(leaks amplitude {worst:.2e} out of it); check num_particles and the mapping"
        )
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    del rows, cols, vals
    return csr_matrix((v, (r, c)), shape=(D, D))


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


def diagonal_element(op: SparsePauliOp, state: int) -> float:
    """<s|H|s> of one basis state (the HF energy), from the Z-only terms: no matrix."""
    diag = ~np.any(op.paulis.x, axis=1)
    n = op.num_qubits
    zm = op.paulis.z[diag].astype(np.int64) @ (np.int64(1) << np.arange(n, dtype=np.int64))
    sign = 1 - 2 * (np.bitwise_count(np.int64(state) & zm).astype(np.int64) & 1)
    phase = (-1j) ** (op.paulis.phase[diag] % 4)
    return float(np.real(np.sum(op.coeffs[diag] * phase * sign)))
