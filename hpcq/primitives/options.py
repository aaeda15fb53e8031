"""User-facing options of hpcq's EstimatorV2 / SamplerV2 (checked before anything is queued).

Execution options (method, device, noise, noise_model, backend, seed, parameter_sets_per_task)
travel with every call as data (hpcq.primitives.params.ExecutionOptions); the rest say where and
how the call runs (resources, profile, executor_type, h5, label, timeouts).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hpcq.client.specs import QUEUE_ALLOWANCE_S, check_label
from hpcq.client.study import Resources
from hpcq.primitives.params import ExecutionOptions, Method
from hpcq.sim.spec import NoiseSpec, error_location


class OptionsError(ValueError):
    """A bad option; the message names it and says what to use."""


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_assignment=True)

    method: Method = "automatic"
    device: str = Field("CPU", description="auto | CPU | GPU")
    noise: NoiseSpec | None = Field(None, description="a study noise kind, e.g. {'kind': 'depolarizing', 'p': 0.01}")
    noise_model: Any = Field(None, description="a qiskit_aer NoiseModel (or its to_dict()); sent as data")
    backend: Any = Field(None, description="a (fake) BackendV2: its noise model is used, e.g. FakeManilaV2()")
    seed: int | None = Field(None, ge=0, lt=2**63)
    parameter_sets_per_task: int | None = Field(None, ge=1)
    resources: Resources = Field(default_factory=Resources, description="Slurm job size (remote/session)")
    profile: str | None = Field(None, description="site profile name (the process spec's env hpcq_profile)")
    executor_type: str = Field("hpcq", min_length=1, max_length=100)
    queue_allowance_s: int = Field(QUEUE_ALLOWANCE_S, ge=0, description="Slurm queue time allowed on top of walltime")
    h5: bool = Field(False, description="also write the results as an hpcq HDF5 file with provenance")
    label: str = Field("primitive", min_length=1, max_length=100)
    result_timeout_s: float | None = Field(None, gt=0, description="default timeout of job.result()")
    # on a QPU (docs/primitives.md "On a QPU"): the PUBs run on a QPU of the site profile, not on Aer
    target: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$", description="a QPU of the site profile (qpus:)"
    )
    access: Literal["profile", "twin", "qrmi"] = Field(
        "profile", description="twin: the QPU's digital twin; qrmi: insist on the profile's QRMI route"
    )
    mitigation: Literal["none", "readout"] = "readout"
    calibration_shots: int = Field(4000, ge=1, description="per readout-calibration circuit (2 per PUB)")
    optimization_level: int = Field(1, ge=0, le=3, description="of the checked transpile to the QPU")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if v not in ("auto", "CPU", "GPU"):
            raise ValueError(f"{v!r} is not a device; use 'auto', 'CPU' or 'GPU'")
        return v

    @field_validator("label")
    @classmethod
    def _label(cls, v: str) -> str:
        return check_label(v)  # it names the process specs (hpcq.client.specs)

    def execution(self) -> ExecutionOptions:
        """The options that travel to the job, noise models turned into data."""
        from hpcq.sim.noise import noise_model_to_json

        nm = self.noise_model
        if nm is not None and self.backend is not None:
            raise OptionsError("options: give noise_model or backend, not both")
        if self.backend is not None:
            from qiskit_aer.noise import NoiseModel

            try:
                nm = NoiseModel.from_backend(self.backend)
            except Exception as exc:  # noqa: BLE001 - any non-backend object
                raise OptionsError(
                    f"options.backend: cannot take a noise model from {self.backend!r} ({exc}); "
                    "pass a BackendV2 such as qiskit_ibm_runtime.fake_provider.FakeManilaV2()"
                ) from None
        text = None
        if nm is not None:
            if isinstance(nm, dict):
                import warnings

                from qiskit_aer.noise import NoiseModel

                try:
                    with warnings.catch_warnings():  # deprecated in Aer 0.15, still its only dict reader
                        warnings.simplefilter("ignore", DeprecationWarning)
                        nm = NoiseModel.from_dict(nm)
                except Exception as exc:  # noqa: BLE001
                    raise OptionsError(f"options.noise_model: not a NoiseModel.to_dict() ({exc})") from None
            if not hasattr(nm, "to_dict"):
                raise OptionsError(
                    f"options.noise_model: {type(nm).__name__} is not a qiskit_aer NoiseModel; "
                    "pass NoiseModel(...) or NoiseModel.to_dict()"
                )
            text = noise_model_to_json(nm)
        try:
            return ExecutionOptions(
                method=self.method,
                device=self.device,
                noise=self.noise,
                noise_model=text,
                seed=self.seed,
                parameter_sets_per_task=self.parameter_sets_per_task,
            )
        except ValidationError as exc:
            raise OptionsError(_format(exc)) from None

    def qpu(self, shots: list[int], local: bool) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the ``qpu`` kwargs of primitive_run, the profile's QPU entry) with a target, else (None,
        None); checked against the profile before anything is sent: the QPU exists there, the route,
        every PUB's ``shots`` and ``calibration_shots`` within its max_shots."""
        if self.target is None:
            if self.access != "profile":
                raise OptionsError(f"options.access={self.access!r} needs options.target (a QPU of the profile)")
            return None, None
        for name in ("noise", "noise_model", "backend"):
            if getattr(self, name) is not None:
                raise OptionsError(
                    f"options.{name}: a QPU target (options.target={self.target!r}) has its own noise; "
                    f"drop {name}, or drop target to simulate with Aer"
                )
        entry = None
        if self.profile is None:
            if local:
                raise OptionsError(
                    f"options.profile: a QPU target needs the site profile that lists it, e.g. "
                    f"options={{'target': {self.target!r}, 'profile': 'karolina-vlq'}}"
                )
        else:
            entry = _qpu_entry(self.profile, self.target)
            if self.access == "qrmi" and entry["access"] != "qrmi":
                raise OptionsError(
                    f"options.access='qrmi': profile {self.profile} reaches QPU {self.target!r} by "
                    f"{entry['access']!r}; use access 'profile' or 'twin'"
                )
            limit = int(entry["max_shots"])
            for what, n in [("shots", s) for s in shots] + [("calibration_shots", self.calibration_shots)]:
                if n > limit:
                    raise OptionsError(
                        f"options.{what}: {n} exceeds QPU {self.target!r}'s max_shots {limit} "
                        f"(profile {self.profile}); lower it"
                    )
        qpu = {
            "target": self.target,
            "access": "twin" if self.access == "twin" else "profile",
            "mitigation": self.mitigation,
            "calibration_shots": self.calibration_shots,
            "optimization_level": self.optimization_level,
            "study": self.label,
        }
        if self.seed is not None:
            qpu["seed"] = self.seed
        return qpu, entry


def _qpu_entry(profile: str, target: str) -> dict[str, Any]:
    from hpcq.executor.profiles import ResourceError, load_profile
    from hpcq.executor.resources import qpu_entry

    try:
        prof = load_profile(profile)
    except ResourceError as exc:
        raise OptionsError(f"options.profile: {exc}") from None
    try:
        return qpu_entry(prof, target)
    except ResourceError as exc:
        raise OptionsError(f"options.target: {str(exc).removeprefix('conditions.qpu: ')}") from None


class EstimatorOptions(_Common):
    default_precision: float = Field(0.0, ge=0, description="0 = exact expectation values (as Aer's EstimatorV2)")
    shots: int | None = Field(
        None, ge=1, le=100_000_000, description="with a target: shots per circuit (default 4000; precision > 0 sets it)"
    )


class SamplerOptions(_Common):
    default_shots: int = Field(1024, ge=1, le=100_000_000)


def _format(exc: ValidationError) -> str:
    msgs = []
    for err in exc.errors():
        loc = error_location(err["loc"]) or "options"
        if err["type"] == "extra_forbidden":
            msgs.append(f"unknown option {loc!r}")
        else:
            msgs.append(f"options.{loc}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(msgs)


def make_options(cls: type[_Common], options: Any, extra: dict[str, Any]):
    """Options from a dict / options object plus keyword arguments; unknown names are refused."""
    data: dict[str, Any] = {}
    if isinstance(options, _Common):
        data.update(options.model_dump(exclude_unset=True))
    elif isinstance(options, dict):
        data.update(options)
    elif options is not None:
        raise OptionsError(f"options must be a dict or {cls.__name__}, not {type(options).__name__}")
    data.update(extra)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        text = _format(exc)
        if "unknown option" in text:
            text += "; known options: " + ", ".join(sorted(cls.model_fields))
        raise OptionsError(text) from None
