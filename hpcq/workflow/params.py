"""Validated kwargs of the workflow's light steps (no Qiskit: the executor imports these)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hpcq.sim.spec import MAX_QUBITS, AnsatzSpec, ProblemSpec, SweepParams


class IntegralsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    problem: ProblemSpec


class HamiltonianParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    problem: ProblemSpec


class AnsatzParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ansatz: AnsatzSpec
    n_qubits: int = Field(ge=1, le=MAX_QUBITS)
    problem: ProblemSpec | None = None  # chemistry ansatze (HF state, UCCSD) need it


class AggregateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    study: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    rank_by: list[str] = Field(default_factory=lambda: ["abs_error:min", "jsd:min"], min_length=1)
    weights: list[float] | None = None
    top: int = Field(10, ge=1, le=1000)


class NoiseStepParams(SweepParams):
    """One noise task (a one-task sweep) that starts from its parent VQE's optimal parameters."""

    reoptimize: bool = False
