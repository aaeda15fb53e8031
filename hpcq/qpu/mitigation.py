"""Shot-based estimation with readout-error mitigation (docs/qpu.md).

An observable is measured in qubit-wise commuting groups: one circuit per group (the ansatz, the
group's basis rotations, then a measurement of every qubit), each read out in the Z basis. From a
group's counts, ``estimate_group`` gives the raw value of the group's terms and, with a
``Calibration``, the readout-mitigated one: the measured distribution is corrected by the inverse
of each physical qubit's 2x2 assignment matrix (tensored, uncorrelated readout errors), applied to
the observable's weights (so the estimate stays linear in the counts and its standard error is
exact for the shots taken; the calibration's own uncertainty is not included).

The calibration is measured: two circuits, all qubits in |0> and all in |1> (native ``r(pi, 0)``),
on every physical qubit the job reads, ``calibration_shots`` each: its cost is 2 x calibration_shots
shots per job, stated in the result (``mitigation_shots``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Calibration:
    """Per physical qubit its assignment matrix A[measured, prepared]."""

    qubits: list[int]
    matrices: np.ndarray  # (len(qubits), 2, 2)
    shots: int

    def matrix(self, physical: int) -> np.ndarray:
        return self.matrices[self.qubits.index(physical)]


def calibration_circuits(backend: Any, physical: list[int]) -> list[Any]:
    """Two native circuits on ``backend``: ``physical`` measured in |0...0> and after r(pi, 0) on each."""
    from qiskit import QuantumCircuit

    out = []
    for name, flip in (("hpcq_cal_0", False), ("hpcq_cal_1", True)):
        qc = QuantumCircuit(backend.num_qubits, len(physical), name=name)
        for k, p in enumerate(physical):
            if flip:
                qc.r(np.pi, 0.0, p)
            qc.measure(p, k)
        out.append(qc)
    return out


def calibration_from_counts(physical: list[int], counts0: dict[str, int], counts1: dict[str, int]) -> Calibration:
    """Each qubit's A = [[P(0|0), P(0|1)], [P(1|0), P(1|1)]] from the two calibration runs
    (clbit k = physical[k]; Qiskit bit order: clbit k is character k from the right)."""
    mats = np.zeros((len(physical), 2, 2))
    shots = 0
    for prepared, counts in ((0, counts0), (1, counts1)):
        total = sum(counts.values())
        shots += total
        for k in range(len(physical)):
            ones = sum(c for b, c in counts.items() if b.replace(" ", "")[::-1][k] == "1")
            mats[k, 1, prepared] = ones / total
            mats[k, 0, prepared] = 1 - ones / total
    return Calibration(list(physical), mats, shots)


def distribution(counts: dict[str, int], n: int) -> tuple[np.ndarray, int]:
    """The measured distribution over n bits as a 2^n vector (index bit i = clbit i), and the shots."""
    p = np.zeros(2**n)
    for b, c in counts.items():
        p[int(b.replace(" ", ""), 2)] += c
    shots = int(p.sum())
    return p / max(shots, 1), shots


def term_values(labels: list[str], coeffs: np.ndarray, n: int) -> np.ndarray:
    """sum_t c_t * prod_{q in supp(t)} (-1)^{x_q} for every outcome x (labels in Qiskit order:
    character -1 - q is qubit q; after the basis rotation every non-identity letter reads Z)."""
    x = np.arange(2**n)
    out = np.zeros(2**n)
    for label, c in zip(labels, coeffs, strict=True):
        mask = sum(1 << q for q in range(n) if label[-1 - q] != "I")
        parity = np.zeros(2**n, dtype=np.int64)
        m = x & mask
        while np.any(m):
            parity ^= m & 1
            m = m >> 1
        out += float(np.real(c)) * (1 - 2 * parity)
    return out


def mitigated_weights(values: np.ndarray, n: int, physical: list[int], cal: Calibration) -> np.ndarray:
    """w = (A^-1)^T o over the tensor of the measured qubits (logical qubit i read on physical[i])."""
    w = values.reshape((2,) * n)  # axis a is bit n-1-a
    for i in range(n):
        inv_t = np.linalg.inv(cal.matrix(physical[i])).T
        w = np.moveaxis(np.tensordot(inv_t, w, axes=([1], [n - 1 - i])), 0, n - 1 - i)
    return np.asarray(w).reshape(2**n)


def estimate_group(
    counts: dict[str, int],
    labels: list[str],
    coeffs: np.ndarray,
    n: int,
    physical: list[int] | None = None,
    cal: Calibration | None = None,
) -> dict[str, float]:
    """{raw, raw_var, mitigated, mitigated_var} of the group's sum (variances of the mean)."""
    p, shots = distribution(counts, n)
    o = term_values(labels, coeffs, n)
    raw = float(p @ o)
    out = {"raw": raw, "raw_var": max(float(p @ o**2) - raw**2, 0.0) / max(shots, 1)}
    if cal is not None and physical is not None:
        w = mitigated_weights(o, n, physical, cal)
        mit = float(p @ w)
        out.update(mitigated=mit, mitigated_var=max(float(p @ w**2) - mit**2, 0.0) / max(shots, 1))
    return out


def measured_groups(observable: Any) -> list[tuple[str, list[str], np.ndarray]]:
    """(basis, labels, coeffs) per qubit-wise commuting group; basis[-1 - q] is qubit q's letter."""
    groups = []
    for g in observable.group_commuting(qubit_wise=True):
        labels = [p.to_label() for p in g.paulis]
        n = g.num_qubits
        basis = "".join(next((lb[k] for lb in labels if lb[k] != "I"), "Z") for k in range(n))
        groups.append((basis, labels, np.asarray(g.coeffs)))
    return groups


def basis_circuit(ansatz: Any, basis: str) -> Any:
    """The ansatz, rotations into ``basis`` and a measurement of every qubit (clbit i = qubit i)."""
    qc = ansatz.copy()
    n = qc.num_qubits
    for q in range(n):
        letter = basis[-1 - q]
        if letter == "X":
            qc.h(q)
        elif letter == "Y":
            qc.sdg(q)
            qc.h(q)
    measure_every_qubit(qc)
    qc.name = f"basis_{basis}"
    return qc


def measure_every_qubit(qc: Any) -> None:
    """Measure qubit i into clbit i of a new register ``meas`` (measure_all without its barrier,
    which would reach the device as a non-gate instruction)."""
    from qiskit import ClassicalRegister

    reg = ClassicalRegister(qc.num_qubits, "meas")
    qc.add_register(reg)
    qc.measure(range(qc.num_qubits), reg)
