"""Hamiltonians with exact reference energies (the yardstick for every VQE error metric)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from hpcq.sim import h2
from hpcq.sim.spec import ProblemSpec

DENSE_MAX_QUBITS = 8  # above this, exact energies come from scipy's sparse Lanczos (eigsh)


def _chain_bonds(n: int, boundary: str) -> list[tuple[int, int]]:
    bonds = [(i, i + 1) for i in range(n - 1)]
    if boundary == "periodic" and n > 2:
        bonds.append((n - 1, 0))
    return bonds


def _label(n: int, ops: dict[int, str]) -> str:
    # Qiskit labels are little-endian: qubit 0 is the rightmost character
    return "".join(ops.get(q, "I") for q in reversed(range(n)))


def hamiltonian(problem: ProblemSpec) -> SparsePauliOp:
    n = problem.qubits
    if problem.kind == "h2":
        return SparsePauliOp.from_list(h2.h2_pauli_terms(problem.bond_length, problem.mapping))
    terms: list[tuple[str, float]] = []
    bonds = _chain_bonds(n, problem.boundary)
    if problem.kind == "tfim":
        terms += [(_label(n, {i: "Z", j: "Z"}), -problem.J) for i, j in bonds]
        terms += [(_label(n, {i: "X"}), -problem.field) for i in range(n)]
    else:  # heisenberg
        for p in "XYZ":
            terms += [(_label(n, {i: p, j: p}), problem.J) for i, j in bonds]
        if problem.field:
            terms += [(_label(n, {i: "Z"}), problem.field) for i in range(n)]
    return SparsePauliOp.from_list(terms).simplify()


@lru_cache(maxsize=256)
def _exact(problem_json: str) -> float:
    problem = ProblemSpec.model_validate_json(problem_json)
    if problem.kind == "h2":
        # ground state of the 2-electron S_z=0 sector (equals the whole-space minimum for 0.2-5 Å)
        return h2.sector_ground_energy(problem.bond_length)
    op = hamiltonian(problem)
    if problem.qubits <= DENSE_MAX_QUBITS:
        return float(np.linalg.eigvalsh(op.to_matrix())[0])
    from scipy.sparse.linalg import eigsh

    mat = op.to_matrix(sparse=True)
    v0 = np.ones(mat.shape[0]) / np.sqrt(mat.shape[0])  # fixed start vector: reproducible
    return float(eigsh(mat, k=1, which="SA", v0=v0, tol=1e-12)[0][0])


def exact_ground_energy(problem: ProblemSpec) -> float:
    """Exact ground energy (Ha for h2, electronic; units of J for spin chains)."""
    return _exact(problem.model_dump_json())


def nuclear_repulsion(problem: ProblemSpec) -> float:
    """Ha; 0 for spin chains. Add it to an h2 energy for the total molecular energy."""
    return h2.mo_integrals(problem.bond_length)[2] if problem.kind == "h2" else 0.0
