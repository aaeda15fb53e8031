"""The kwargs of the catalog step ``qpu_run`` (no Qiskit: the executor validates them). The
executor reads ``qpu_target()`` to check the site has that QPU and to emit its Slurm request lines
(hpcq.executor.resources.plan_process)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QpuRunParams(BaseModel):
    """One QPU step: a GHZ check and the energy of a hardware-efficient ansatz on a TFIM chain
    (-J sum Z_i Z_i+1 - h sum X_i) at ``parameter_sets`` parameter vectors, with shots and readout
    mitigation from a measured calibration (docs/qpu.md)."""

    model_config = ConfigDict(extra="forbid")

    study: str = Field(default="qpu", pattern=r"^[A-Za-z0-9_.-]+$")
    target: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$", description="a QPU of the site profile (qpus:)")
    access: Literal["profile", "twin"] = Field(default="profile", description="twin: the QPU's digital twin")
    ghz_qubits: int = Field(default=3, ge=0, le=20, description="0: no GHZ check")
    qubits: int = Field(default=4, ge=1, le=20)
    reps: int = Field(default=1, ge=0, le=10)
    j: float = 1.0
    h: float = 0.5
    parameters: list[list[float]] | None = Field(default=None, description="parameter vectors; default: seeded")
    parameter_sets: int = Field(default=2, ge=1, le=100)
    seed: int = 7
    shots: int = Field(default=4000, ge=1)
    mitigation: Literal["none", "readout"] = "readout"
    calibration_shots: int = Field(default=4000, ge=1)
    optimization_level: int = Field(default=1, ge=0, le=3)
    check_max_qubits: int = Field(default=12, ge=0, le=20, description="statevector check of each transpile")

    def qpu_target(self) -> str:
        return self.target
