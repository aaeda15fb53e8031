"""The kwargs of the QPU steps (no Qiskit: the executor validates them). The executor reads
``qpu_target()`` to check the site has that QPU and ``qpu_access()`` to emit its Slurm request lines
only when the step drives the device, not its twin (hpcq.executor.resources.plan_process)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QpuOptions(BaseModel):
    """What every QPU step shares: the target, the route, shots, mitigation, transpilation."""

    model_config = ConfigDict(extra="forbid")

    study: str = Field(default="qpu", pattern=r"^[A-Za-z0-9_.-]+$")
    target: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$", description="a QPU of the site profile (qpus:)")
    access: Literal["profile", "twin"] = Field(default="profile", description="twin: the QPU's digital twin")
    ghz_qubits: int = Field(default=3, ge=0, le=20, description="0: no GHZ check")
    seed: int = 7
    shots: int = Field(default=4000, ge=1)
    mitigation: Literal["none", "readout"] = "readout"
    calibration_shots: int = Field(default=4000, ge=1)
    optimization_level: int = Field(default=1, ge=0, le=3)
    check_max_qubits: int = Field(default=12, ge=0, le=20, description="statevector check of each transpile")

    def qpu_target(self) -> str:
        return self.target

    def qpu_access(self) -> str:
        return self.access


class QpuRunParams(QpuOptions):
    """One QPU step: a GHZ check and the energy of a hardware-efficient ansatz on a TFIM chain
    (-J sum Z_i Z_i+1 - h sum X_i) at ``parameter_sets`` parameter vectors, with shots and readout
    mitigation from a measured calibration (docs/qpu.md)."""

    qubits: int = Field(default=4, ge=1, le=20)
    reps: int = Field(default=1, ge=0, le=10)
    j: float = 1.0
    h: float = 0.5
    parameters: list[list[float]] | None = Field(default=None, description="parameter vectors; default: seeded")
    parameter_sets: int = Field(default=2, ge=1, le=100)


class QpuStepParams(QpuOptions):
    """The workflow's ``study_qpu`` step (hpcq.qpu.hybrid): its parent VQE's optimal parameters,
    ansatz and Hamiltonian (read from the parent's HDF5 file) evaluated on the QPU or its twin."""

    parent_task_id: str = Field(min_length=1, max_length=400)


BIT_ORDER_CIRCUITS = 1  # every batch carries the one-shot bit-order circuit (docs/qpu.md)


def shot_budget(options: QpuOptions, groups: int, parameter_sets: int) -> dict[str, int]:
    """The shots a QPU step spends, stated up front: shots x (1 bit-order + GHZ + groups x
    parameter sets) + 2 x calibration_shots (readout mitigation); ``groups``: the observable's
    qubit-wise commuting groups."""
    circuits = BIT_ORDER_CIRCUITS + (1 if options.ghz_qubits else 0) + groups * parameter_sets
    calibration = 2 * options.calibration_shots if options.mitigation == "readout" else 0
    return {
        "circuits": circuits,
        "shots": options.shots * circuits,
        "calibration_shots": calibration,
        "total": options.shots * circuits + calibration,
        "jobs": 1 + (1 if calibration else 0),
    }
