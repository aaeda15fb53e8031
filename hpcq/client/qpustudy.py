"""The ``qpu:`` section of a workflow study (docs/studies.md, the hybrid workflow): every noiseless
VQE step gets a child ``qpu`` step per ``access`` that evaluates its optimal parameters on QPU
``target`` (``access: qrmi``, the device through the site's route) or on its twin (``access: twin``).
With ``profile``, the site profile is read at submission: the QPU must be one of its ``qpus``, the
shots within its ``max_shots``, and ``qrmi`` its route. The shot budget (hpcq.qpu.params.shot_budget)
is stated by ``hpcq problems show``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hpcq.qpu.params import QpuOptions, QpuStepParams

Access = Literal["twin", "qrmi"]


class QpuStudy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$", description="a QPU of the site profile (qpus:)")
    profile: str | None = Field(None, description="the site profile that lists target (checked at submission)")
    access: list[Access] = Field(default_factory=lambda: list[Access](["twin"]), min_length=1)
    shots: int = Field(4000, ge=1, le=10_000_000)
    calibration_shots: int = Field(4000, ge=1, le=10_000_000)
    mitigation: Literal["none", "readout"] = "readout"
    ghz_qubits: int = Field(3, ge=0, le=20)
    optimization_level: int = Field(1, ge=0, le=3)
    seed: int = 7

    @field_validator("access", mode="before")
    @classmethod
    def _one_or_list(cls, v: Any) -> Any:
        v = [v] if isinstance(v, str) else v
        if isinstance(v, list) and len(set(v)) != len(v):
            raise ValueError(f"{v} names a route twice; list each of twin, qrmi once")
        return v

    def options(self, study: str) -> dict[str, Any]:
        """The kwargs every qpu step of the study shares (QpuOptions fields)."""
        fields = ("target", "shots", "calibration_shots", "mitigation", "ghz_qubits", "optimization_level", "seed")
        return {"study": study, **{k: getattr(self, k) for k in fields}}

    def step_params(self, study: str, access: str, parent_task_id: str) -> dict[str, Any]:
        params = {**self.options(study), "access": "twin" if access == "twin" else "profile"}
        params["parent_task_id"] = parent_task_id
        return QpuStepParams.model_validate(params).model_dump(mode="json")

    def check_profile(self) -> None:
        """The profile lists the target, allows the shots and (access qrmi) reaches it by QRMI;
        ValueError naming the field and the fix."""
        if self.profile is None:
            return
        from hpcq.executor.profiles import load_profile

        try:
            spec = load_profile(self.profile).qpu(self.target)
        except ValueError as exc:
            raise ValueError(f"qpu.profile: {exc}") from None
        limit = spec.max_shots
        if limit and max(self.shots, self.calibration_shots) > limit:
            raise ValueError(
                f"qpu.shots: {self.shots} (calibration_shots {self.calibration_shots}) exceeds {self.target}'s "
                f"max_shots {limit} in profile {self.profile}; lower it"
            )
        if "qrmi" in self.access and spec.access not in ("qrmi", "twin"):
            raise ValueError(
                f"qpu.access: qrmi, but profile {self.profile} reaches {self.target} by {spec.access}, which "
                "hpcq does not drive yet; use access: twin"
            )

    def budget(self, groups: int) -> dict[str, int]:
        """Shots per qpu step (one parameter vector: the parent's optimum), hpcq.qpu.params.shot_budget."""
        from hpcq.qpu.params import shot_budget

        return shot_budget(QpuOptions.model_validate(self.options("x")), groups, 1)
