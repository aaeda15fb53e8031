"""Transpile to a device's native gates and coupling map, and check the result.

``isa_circuit`` uses ``generate_preset_pass_manager`` with an exact scheduling stage: iqm-client
35's default IQM scheduling stage drops final RZ gates (``drop_final_rz=True``), harmless for
sampling but wrong for an estimator, whose basis changes come after the transpile (docs/qpu.md).
Qiskit's ``"default"`` stage keeps them, but on a star chip (a computational resonator, MOVE
gates) it also skips IQM's MOVE routing, leaving CZs between qubits that are not coupled (the
target's fictional CZs), which the server refuses: there the stage is IQM's
``move_routing_exact_global_phase`` (MOVE routing, final RZs kept). ``check_native`` checks what
the server checks (iqm-client's ``validate_circuit_instructions``: native gates on real loci).
``check_equivalent`` compares the ISA circuit with the logical one by statevector (the idle wires
dropped, MOVE gates as their unitary, the logical qubits placed by the final layout): it fails on
that defect, or any other transpile that changes the state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hpcq.qpu import QpuError

TOLERANCE = 1e-6


class TranspileMismatch(QpuError):
    """The transpiled circuit does not prepare the logical circuit's state."""


EXACT = "exact"  # pass_manager: "default" on a chip without resonators, else MOVE routing keeping final RZs
MOVE_ROUTING_EXACT = "move_routing_exact_global_phase"


def has_resonators(backend: Any) -> bool:
    return bool(getattr(getattr(backend, "architecture", None), "computational_resonators", None))


def pass_manager(backend: Any, level: int = 1, scheduling_method: str | None = EXACT) -> Any:
    """``scheduling_method=None``: the backend's own stage (iqm-client 35: drops final RZs)."""
    from qiskit.transpiler import generate_preset_pass_manager

    if scheduling_method == EXACT:
        scheduling_method = MOVE_ROUTING_EXACT if has_resonators(backend) else "default"
    return generate_preset_pass_manager(optimization_level=level, backend=backend, scheduling_method=scheduling_method)


def check_native(isa: Any, backend: Any) -> None:
    """Raise TranspileMismatch unless every instruction is a native gate of ``backend`` on a locus it
    has (what the IQM Server validates; a CZ between two qubits of a star chip is refused)."""
    from iqm.iqm_client import CircuitValidationError
    from iqm.iqm_client.validation import validate_circuit_instructions
    from iqm.pulse import Circuit
    from iqm.qiskit_iqm.qiskit_to_iqm import serialize_instructions

    if isa.parameters:  # the loci do not depend on the angles
        isa = isa.assign_parameters([0.0] * isa.num_parameters)
    try:
        ops = serialize_instructions(isa, backend._idx_to_qb)
        validate_circuit_instructions(backend.architecture, [Circuit(name=isa.name, instructions=tuple(ops))])
    except (CircuitValidationError, ValueError) as exc:
        raise TranspileMismatch(
            f"the transpiled circuit is not native to {backend.name} ({exc}); transpile with "
            "hpcq.qpu.transpile.pass_manager (on a star chip its stage routes through MOVE gates)"
        ) from None


def isa_circuit(circuit: Any, backend: Any, level: int = 1, seed: int = 7) -> Any:
    pm = pass_manager(backend, level)
    if pm.routing is not None and hasattr(pm.routing, "property_set"):
        pm.routing.property_set["seed"] = seed
    return pm.run(circuit)


def _unitary_part(isa: Any) -> Any:
    """The ISA circuit without measurements/barriers, MOVE replaced by its unitary."""
    from qiskit import QuantumCircuit

    out = QuantumCircuit(isa.num_qubits, global_phase=isa.global_phase)
    where = physical_index(isa)
    for inst in isa.data:
        name = inst.operation.name
        if name in ("measure", "barrier", "delay", "id"):
            continue
        op = inst.operation
        if name == "move":
            from iqm.qiskit_iqm.move_gate import MOVE_GATE_UNITARY
            from qiskit.circuit.library import UnitaryGate

            op = UnitaryGate(MOVE_GATE_UNITARY, label="move")
        out.append(op, [where[q] for q in inst.qubits])
    return out


def physical_index(isa: Any) -> dict[Any, int]:
    """Each wire of an ISA circuit -> its physical qubit, as IQM's serializer reads it (the layout's
    physical bits): after IQM's MOVE routing ``find_bit`` no longer agrees with the wire order."""
    layout = getattr(isa, "layout", None)
    if layout is not None and layout.initial_layout.get_registers() == set(isa.qregs):
        return {q: i for i, q in layout.initial_layout.get_physical_bits().items()}
    return {q: isa.find_bit(q).index for q in isa.qubits}


def state_fidelity(logical: Any, isa: Any) -> float:
    """|<logical placed by the layout|isa>|^2 over the wires the ISA circuit touches (both bound).
    A logical circuit that ends in measurements is compared by the distribution of the measured
    qubits (the classical fidelity): a transpile may drop a phase gate right before a measurement."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector, state_fidelity

    body = _unitary_part(isa)
    layout = isa.layout.final_index_layout() if isa.layout is not None else list(range(logical.num_qubits))
    active = sorted({body.find_bit(q).index for inst in body.data for q in inst.qubits} | set(layout))
    pos = {p: i for i, p in enumerate(active)}
    reduced = QuantumCircuit(len(active), global_phase=body.global_phase)
    for inst in body.data:
        reduced.append(inst.operation, [pos[body.find_bit(q).index] for q in inst.qubits])
    expect = QuantumCircuit(len(active))
    logical_u = logical.remove_final_measurements(inplace=False)
    expect.compose(logical_u, qubits=[pos[layout[i]] for i in range(logical.num_qubits)], inplace=True)
    if not any(inst.operation.name == "measure" for inst in logical.data):
        return float(state_fidelity(Statevector(reduced), Statevector(expect)))
    wires = [pos[layout[i]] for i in range(logical.num_qubits)]
    got, want = Statevector(reduced).probabilities(wires), Statevector(expect).probabilities(wires)
    return float(np.sum(np.sqrt(got * want)) ** 2)


def check_equivalent(logical: Any, isa: Any, max_qubits: int = 12, values: Any = None) -> dict[str, Any]:
    """Raise TranspileMismatch unless the ISA circuit prepares the logical state (for each bound
    parameter vector of ``values``); a record {checked, fidelity_min, wires} for provenance."""
    active = isa.num_qubits - len(_idle(isa))
    if active > max_qubits:
        return {"checked": False, "reason": f"{active} active wires > check_max_qubits {max_qubits}"}
    sets = [None] if values is None else list(values)
    worst = 1.0
    for v in sets:
        lg = logical if v is None else logical.assign_parameters(v)
        ia = isa if v is None else isa.assign_parameters(v)
        f = state_fidelity(lg, ia)
        worst = min(worst, f)
        if f < 1 - TOLERANCE:
            raise TranspileMismatch(
                f"the transpiled circuit prepares another state than the logical one (fidelity {f:.6f} < "
                f"1 - {TOLERANCE:g}); with iqm-client 35 transpile with an exact scheduling stage "
                "(hpcq.qpu.transpile.pass_manager): its default IQM scheduling drops final RZ gates"
            )
    return {"checked": True, "fidelity_min": worst, "wires": active}


def _idle(circuit: Any) -> list[int]:
    from qiskit.circuit import Qubit
    from qiskit.converters import circuit_to_dag

    return [circuit.find_bit(q).index for q in circuit_to_dag(circuit).idle_wires() if isinstance(q, Qubit)]
