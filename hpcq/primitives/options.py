"""User-facing options of hpcq's EstimatorV2 / SamplerV2 (checked before anything is queued).

Execution options (method, device, noise, noise_model, backend, seed, parameter_sets_per_task)
travel with every call as data (hpcq.primitives.params.ExecutionOptions); the rest say where and
how the call runs (resources, profile, executor_type, h5, label, timeouts).
"""

from __future__ import annotations

from typing import Any

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


class EstimatorOptions(_Common):
    default_precision: float = Field(0.0, ge=0, description="0 = exact expectation values (as Aer's EstimatorV2)")


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
