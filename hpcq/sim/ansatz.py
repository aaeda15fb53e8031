"""Parameterised ansatz circuits (Qiskit 2.x circuit-library functions)."""

from __future__ import annotations

from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2, n_local, real_amplitudes

from hpcq.sim.spec import AnsatzSpec


def build_ansatz(spec: AnsatzSpec, n_qubits: int) -> QuantumCircuit:
    if spec.kind == "efficient_su2":
        return efficient_su2(n_qubits, reps=spec.reps, entanglement=spec.entanglement)
    if spec.kind == "real_amplitudes":
        return real_amplitudes(n_qubits, reps=spec.reps, entanglement=spec.entanglement)
    return n_local(n_qubits, spec.rotation_blocks, spec.entanglement_blocks,
                   entanglement=spec.entanglement, reps=spec.reps)
