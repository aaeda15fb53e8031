"""How an energy <H> is read out of Aer: one circuit, three ways, and noisy trajectories split over ranks.

- ``expval``: one ``save_expectation_value(H)`` over all qubits (exact for statevector and
  density_matrix on one process; what hpcq always did).
- ``rotated_z``: qubit-wise-commuting term groups, each rotated to Z strings inside the circuit
  (X: h; Y: sdg h), its Z expectation saved, then rotated back. Aer 0.18.2's chunked expectation
  values are silently wrong for X/Y terms (and crash across MPI processes); Z strings are right,
  so a distributed (``blocking_qubits``) statevector uses this path with an unpatched MPI build
  (docs/simulation.md section 11). Only noiseless circuits: the rotations would otherwise pick up gate noise.
- ``local``: each group of terms on the same qubits saved on those qubits only: for matrix product
  states that costs a few sites instead of the whole chain (5x faster at 100 qubits, measured).
- ``grouped``: as few passes over the state as the Hamiltonian allows: qubit-wise-commuting groups,
  the all-Z group first (no rotation), each next group rotated to Z from the previous basis (no
  rotation back), and every Z string of a group read from ONE saved marginal probability vector over
  the union of their qubits (``save_probabilities``: one read of the state; windows of at most
  ``PROBABILITY_WINDOW`` qubits, so a long chain takes a few). Aer's ``save_expectation_value``
  reads the whole state once per Pauli term (``expval``: 2n-1 passes for an n-site TFIM).

``EnergyCircuit.passes`` counts the reads of the state one evaluation makes (hpcq's own count; the
gate sweeps after Aer's fusion come from Aer's metadata: ``sweeps_from_metadata``).

Trajectories (noisy statevector): the shots of one evaluation are cut into blocks of
``TRAJECTORY_BLOCK``; block b runs with its own seed (from the task seed and b, never from the
rank), so ranks can take blocks round-robin and the gathered result is the same for any rank count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpcq.sim.spec import TRAJECTORY_BLOCK


@dataclass
class EnergyCircuit:
    """A circuit with saved expectation values and how to combine them into the energy."""

    circuit: Any  # QuantumCircuit with save instructions
    terms: list[tuple[str, float]]  # (save label, weight)
    constant: float = 0.0
    strategy: str = "expval"
    groups: int = 0
    saved: list[str] = field(default_factory=list)
    passes: int = 0  # reads of the whole state per evaluation by the saves (one per Pauli term for expval)
    diagonals: dict[str, np.ndarray] = field(default_factory=dict)  # grouped: label -> sum_k c_k z_k(x)

    def energy(self, data: dict) -> float:
        e = self.constant + sum(w * float(np.real(data[lbl])) for lbl, w in self.terms)
        return e + sum(float(np.dot(np.asarray(data[lbl], dtype=float), d)) for lbl, d in self.diagonals.items())

    def energies_pershot(self, data: dict) -> np.ndarray:
        """Per-trajectory energies (labels saved with pershot=True)."""
        tot = None
        for lbl, w in self.terms:
            v = w * np.real(np.asarray(data[lbl], dtype=complex)).astype(float)
            tot = v if tot is None else tot + v
        return self.constant + tot


def _basis(paulis) -> dict[int, str]:
    """The non-identity letter each qubit is measured in, for a qubit-wise-commuting group."""
    out: dict[int, str] = {}
    for p in paulis:
        for q in range(p.num_qubits):
            x, z = bool(p.x[q]), bool(p.z[q])
            c = "Y" if (x and z) else "X" if x else "Z" if z else "I"
            if c != "I":
                if out.get(q, c) != c:
                    raise ValueError("group is not qubit-wise commuting")
                out[q] = c
    return out


def _rotate(qc, basis: dict[int, str], back: bool = False) -> None:
    for q, c in sorted(basis.items()):
        if c == "X":
            qc.h(q)
        elif c == "Y":
            if back:
                qc.h(q)
                qc.s(q)
            else:
                qc.sdg(q)
                qc.h(q)


def build_energy_circuit(circuit, H, strategy: str = "expval", pershot: bool = False) -> EnergyCircuit:
    """``circuit`` (parameterised, no saves) + the saves that give <H> by ``strategy``."""
    from qiskit.quantum_info import SparsePauliOp

    n = circuit.num_qubits
    qc = circuit.copy()
    terms_read = sum(1 for p in H.paulis if p.x.any() or p.z.any())
    if strategy == "expval":
        qc.save_expectation_value(H, list(range(n)), label="energy", pershot=pershot)
        return EnergyCircuit(qc, [("energy", 1.0)], strategy=strategy, groups=1, passes=terms_read)
    if strategy == "grouped":
        if pershot:
            raise ValueError("strategy grouped reads probabilities: noiseless circuits only (use expval)")
        return _grouped(qc, H)
    coeffs = np.asarray(H.coeffs)
    if np.abs(coeffs.imag).max(initial=0.0) > 1e-12:
        raise ValueError("the Hamiltonian has complex coefficients; it must be Hermitian with real coefficients")
    constant = 0.0
    terms: list[tuple[str, float]] = []
    if strategy == "rotated_z":
        groups = H.group_commuting(qubit_wise=True)
        for gi, g in enumerate(groups):
            basis = _basis(g.paulis)
            if not basis:  # identity only
                constant += float(np.real(g.coeffs.sum()))
                continue
            labels = []
            for p in g.paulis:
                zs = np.array(p.z) | np.array(p.x)
                labels.append("".join("Z" if zs[q] else "I" for q in reversed(range(n))))
            zop = SparsePauliOp(labels, np.real(g.coeffs)).simplify(atol=0)
            _rotate(qc, basis)
            lbl = f"g{gi}"
            qc.save_expectation_value(zop, list(range(n)), label=lbl, pershot=pershot)
            _rotate(qc, basis, back=True)
            terms.append((lbl, 1.0))
        return EnergyCircuit(qc, terms, constant, strategy, len(groups), passes=terms_read)
    if strategy == "local":
        by_support: dict[tuple[int, ...], list[tuple[Any, float]]] = {}
        for p, c in zip(H.paulis, coeffs, strict=True):
            support = tuple(int(q) for q in np.flatnonzero(np.array(p.x) | np.array(p.z)))
            if not support:
                constant += float(np.real(c))
                continue
            by_support.setdefault(support, []).append((p[list(support)], float(np.real(c))))
        for si, (support, items) in enumerate(sorted(by_support.items())):
            op = SparsePauliOp([pp for pp, _ in items], [c for _, c in items])
            lbl = f"s{si}"
            qc.save_expectation_value(op, list(support), label=lbl, pershot=pershot)
            terms.append((lbl, 1.0))
        return EnergyCircuit(qc, terms, constant, strategy, len(by_support), passes=terms_read)
    raise ValueError(f"unknown energy strategy {strategy!r}; use expval, rotated_z, local or grouped")


PROBABILITY_WINDOW = 20  # qubits of one saved marginal (2^20 doubles = 8 MiB, and its diagonal as much)


def _windows(zterms: list[tuple[tuple[int, ...], float]], window: int) -> list[list[tuple[tuple[int, ...], float]]]:
    """Z strings (support, coefficient) cut into batches whose joint support has <= window qubits."""
    out: list[list[tuple[tuple[int, ...], float]]] = []
    union: set[int] = set()
    for support, c in sorted(zterms):
        if out and len(union | set(support)) <= window:
            out[-1].append((support, c))
            union |= set(support)
        else:
            out.append([(support, c)])
            union = set(support)
    return out


def _diagonal(qubits: list[int], batch: list[tuple[tuple[int, ...], float]]) -> np.ndarray:
    """sum_k c_k (-1)^(parity of the bits of Z string k) over the 2^len(qubits) marginal outcomes
    (bit j of an outcome = qubits[j], Qiskit's order)."""
    pos = {q: j for j, q in enumerate(qubits)}
    idx = np.arange(1 << len(qubits), dtype=np.int64)
    d = np.zeros(len(idx))
    for support, c in batch:
        mask = sum(1 << pos[q] for q in support)
        d += c * (1.0 - 2.0 * (np.bitwise_count(idx & mask) & 1))
    return d


def _grouped(qc, H, window: int = PROBABILITY_WINDOW) -> EnergyCircuit:
    """The ``grouped`` read-out (module docstring): QWC groups, one marginal per window of Z strings."""
    coeffs = np.asarray(H.coeffs)
    if np.abs(coeffs.imag).max(initial=0.0) > 1e-12:
        raise ValueError("the Hamiltonian has complex coefficients; it must be Hermitian with real coefficients")
    groups = H.group_commuting(qubit_wise=True)
    bases = [_basis(g.paulis) for g in groups]
    order = sorted(range(len(groups)), key=lambda i: (any(c != "Z" for c in bases[i].values()), i))
    constant, current, diagonals = 0.0, {}, {}
    for gi in order:
        basis = bases[gi]
        zterms = []
        for p, c in zip(groups[gi].paulis, groups[gi].coeffs, strict=True):
            support = tuple(int(q) for q in np.flatnonzero(np.array(p.x) | np.array(p.z)))
            if support:
                zterms.append((support, float(np.real(c))))
            else:
                constant += float(np.real(c))
        if not zterms:
            continue
        change = {q: c for q, c in basis.items() if current.get(q, "Z") != c}
        _rotate(qc, {q: current[q] for q in change if current.get(q, "Z") != "Z"}, back=True)
        _rotate(qc, change)
        current.update(change)
        for bi, batch in enumerate(_windows(zterms, window)):
            qubits = sorted({q for support, _ in batch for q in support})
            lbl = f"p{gi}_{bi}"
            qc.save_probabilities(qubits, label=lbl)
            diagonals[lbl] = _diagonal(qubits, batch)
    return EnergyCircuit(
        qc, [], constant, "grouped", len(groups), saved=list(diagonals), passes=len(diagonals), diagonals=diagonals
    )


def sweeps_from_metadata(metadata: dict, ec: EnergyCircuit) -> dict[str, int]:
    """State sweeps of one evaluation: gate sweeps after Aer's fusion (its ``fusion.output_ops``,
    with ``fusion_verbose=True``; where fusion did not apply, below Aer's 14-qubit threshold, every
    gate of the circuit is one) plus the saves' reads of the state (``ec.passes``)."""
    ops = (metadata.get("fusion") or {}).get("output_ops")
    if isinstance(ops, list):
        gates = sum(1 for op in ops if not str(op.get("name", "")).startswith("save_"))
    else:
        gates = sum(1 for inst in ec.circuit.data if not inst.operation.name.startswith("save_"))
    return {"gate_sweeps": gates, "read_passes": ec.passes, "sweeps": gates + ec.passes}


def block_sizes(shots: int, block: int = TRAJECTORY_BLOCK) -> list[int]:
    """Shots split into seeded blocks: [block, block, ..., remainder]."""
    full, rest = divmod(int(shots), block)
    return [block] * full + ([rest] if rest else [])


def block_seed(seed: int, b: int) -> int:
    """Aer seed of trajectory block b: from the task seed and b only (never the rank)."""
    return int(np.random.SeedSequence([int(seed), 0x7A1E, int(b)]).generate_state(1, dtype=np.uint32)[0])


@dataclass
class TrajectoryEstimate:
    mean: np.ndarray  # one energy per bound point
    stderr: np.ndarray
    shots: int


def trajectory_energies(
    run_block: Callable[[int, int, int], np.ndarray], shots: int, seed: int, comm=None, block: int = TRAJECTORY_BLOCK
) -> TrajectoryEstimate:
    """Noisy-statevector estimate over ``shots`` trajectories, blocks shared round-robin by the ranks
    of ``comm`` (None: all here). ``run_block(b, seed_b, shots_b)`` returns the per-shot energies,
    shape (points, shots_b). Every rank gets the same combined mean and standard error, identical
    for any rank count: blocks are combined in block order, whoever ran them."""
    sizes = block_sizes(shots, block)
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    mine = {
        b: np.asarray(run_block(b, block_seed(seed, b), s), dtype=float)
        for b, s in enumerate(sizes)
        if b % size == rank
    }
    if comm is not None and size > 1:
        from hpcq.mpi import polling_allgather

        allparts: dict[int, np.ndarray] = {}
        for part in polling_allgather(comm, mine):
            allparts.update(part)
    else:
        allparts = mine
    per_shot = np.concatenate([allparts[b] for b in range(len(sizes))], axis=1)
    n = per_shot.shape[1]
    mean = per_shot.mean(axis=1)
    se = per_shot.std(axis=1, ddof=1) / math.sqrt(n) if n > 1 else np.full(per_shot.shape[0], math.nan)
    return TrajectoryEstimate(mean=mean, stderr=se, shots=n)
