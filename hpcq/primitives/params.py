"""What a primitive call is as DATA: the kwargs of the catalog functions ``primitive_run`` and
``primitive_session``. Imports NO Qiskit (the executor validates these on the login node).

A PUB travels as a QPY circuit (base64), its observables as Pauli labels -> real coefficients
(estimator), its parameter values as a flat float list with their shape ``bshape + (nparams,)``
(in ``circuit.parameters`` order), and its precision (estimator) or shots (sampler). Large
payloads travel zlib-compressed (``pubs_z``). No code travels: only catalogued functions run.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hpcq.qpu.params import QpuOptions
from hpcq.sim.spec import NoiseSpec

PAULI_CHARS = frozenset("IXYZ")
COMPRESS_ABOVE = 32_000  # characters of pubs JSON above which the payload is zlib-compressed
MAX_PAYLOAD = 64 * 2**20  # characters of the whole kwargs JSON we accept


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _prod(shape: list[int]) -> int:
    return math.prod(shape) if shape else 1


def broadcast_shapes(a: list[int], b: list[int]) -> list[int]:
    """numpy's broadcasting rule in plain Python (the executor needs no numpy for this check)."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and 1 not in (x, y):
            raise ValueError(
                f"observables shape {tuple(a)} and parameter values shape {tuple(b)} do not "
                "broadcast; make their shapes compatible (numpy broadcasting rules)"
            )
        out.append(max(x, y))
    return out[::-1]


class PubPayload(_Strict):
    """One PUB. ``parameter_shape`` = bshape + [nparams]; ``observables`` flat (C order) with shape
    ``observables_shape`` (estimator only)."""

    circuit: str = Field(description="QPY of the circuit, base64")
    num_qubits: int = Field(ge=0, le=64)
    parameter_values: list[float] = Field(default_factory=list)
    parameter_shape: list[int] = Field(default_factory=lambda: [0])
    observables: list[dict[str, float]] | None = None
    observables_shape: list[int] = Field(default_factory=list)
    precision: float | None = Field(None, ge=0)
    shots: int | None = Field(None, ge=1, le=100_000_000)

    @field_validator("circuit")
    @classmethod
    def _b64(cls, v: str) -> str:
        try:
            raw = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64; encode the circuit with qiskit.qpy.dump and base64") from None
        if raw[:6] != b"QISKIT":
            raise ValueError("not a QPY file (no QISKIT header); serialise the circuit with qiskit.qpy.dump")
        return v

    @model_validator(mode="after")
    def _check(self):
        if not self.parameter_shape or any(d < 0 for d in self.parameter_shape):
            raise ValueError(f"parameter_shape {self.parameter_shape}: give bshape + [number of parameters]")
        if len(self.parameter_values) != _prod(self.parameter_shape):
            raise ValueError(
                f"parameter_values has {len(self.parameter_values)} numbers but parameter_shape "
                f"{self.parameter_shape} needs {_prod(self.parameter_shape)}"
            )
        if self.observables is not None:
            if len(self.observables) != _prod(self.observables_shape):
                raise ValueError(
                    f"observables has {len(self.observables)} entries but observables_shape "
                    f"{self.observables_shape} needs {_prod(self.observables_shape)}"
                )
            for i, obs in enumerate(self.observables):
                for label in obs:
                    if len(label) != self.num_qubits or not set(label) <= PAULI_CHARS:
                        raise ValueError(
                            f"observables[{i}]: {label!r} is not a Pauli label on {self.num_qubits} "
                            "qubits; use I, X, Y, Z, one letter per qubit"
                        )
            broadcast_shapes(self.observables_shape, self.parameter_shape[:-1])
        return self

    @property
    def bshape(self) -> list[int]:
        return self.parameter_shape[:-1]

    @property
    def size(self) -> int:
        """Number of parameter sets (bound circuits) of this PUB."""
        return _prod(self.bshape)


Method = Literal[
    "automatic",
    "statevector",
    "density_matrix",
    "matrix_product_state",
    "stabilizer",
    "extended_stabilizer",
    "unitary",
    "superop",
]


class ExecutionOptions(_Strict):
    """How Aer runs the PUBs (travels with every call). ``noise``: one of hpcq's study noise kinds
    (incl. fake_backend); ``noise_model``: an Aer NoiseModel as data (hpcq.sim.noise.noise_model_to_json)."""

    method: Method = "automatic"
    device: Literal["auto", "CPU", "GPU"] = "CPU"
    noise: NoiseSpec | None = None
    noise_model: str | None = Field(None, description="Aer NoiseModel JSON (to_dict(serializable=True))")
    seed: int | None = Field(None, ge=0, lt=2**63)
    parameter_sets_per_task: int | None = Field(
        None,
        ge=1,
        description="split PUBs into tasks of at most this many parameter sets (default: spread over the MPI ranks)",
    )

    @model_validator(mode="after")
    def _one_noise(self):
        if self.noise is not None and self.noise.kind != "none" and self.noise_model is not None:
            raise ValueError("give either noise (a study noise kind) or noise_model (an Aer NoiseModel), not both")
        if self.noise_model is not None:
            try:
                data = json.loads(self.noise_model)
            except json.JSONDecodeError as exc:
                raise ValueError(f"noise_model is not JSON ({exc}); pass a qiskit_aer NoiseModel object") from None
            if data is not None and not isinstance(data, dict):
                raise ValueError("noise_model must be a NoiseModel.to_dict() object")
        return self


class PrimitiveQpu(QpuOptions):
    """A primitive call on a QPU of the site profile (or its twin) instead of Aer (docs/primitives.md,
    "On a QPU"): hpcq.qpu's checked transpile, shots and readout mitigation. ``shots``: per circuit
    of an estimator PUB (a sampler PUB carries its own); no GHZ check unless asked."""

    study: str = Field(default="primitive", pattern=r"^[A-Za-z0-9_.-]+$")
    ghz_qubits: int = Field(default=0, ge=0, le=20, description="0: no GHZ check")


class PrimitiveRunParams(_Strict):
    """kwargs of ``primitive_run``: PUBs + options. ``session``: the ColonyOS process id of a live
    ``primitive_session`` (the executor routes the call to it instead of a new Slurm job);
    ``op="close"`` ends that session. ``h5``: also write an hpcq HDF5 file with provenance.
    ``qpu``: run the PUBs on that QPU of the site profile (or its twin), not on Aer; the executor
    reads ``qpu_target()`` / ``qpu_access()`` as for a study's QPU step (hpcq.executor.resources)."""

    primitive: Literal["estimator", "sampler"]
    pubs: list[PubPayload] = Field(default_factory=list)
    pubs_z: str | None = Field(None, description="zlib+base64 JSON list of PUBs (large payloads)")
    options: ExecutionOptions = Field(default_factory=ExecutionOptions)
    session: str | None = Field(None, min_length=1, max_length=128)
    op: Literal["run", "close"] = "run"
    h5: bool = False
    label: str = Field("primitive", max_length=100)
    qpu: PrimitiveQpu | None = None

    def qpu_target(self) -> str | None:
        return self.qpu.target if self.qpu is not None else None

    def qpu_access(self) -> str:
        return self.qpu.access if self.qpu is not None else "profile"

    @model_validator(mode="before")
    @classmethod
    def _inflate(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("pubs_z"):
            if data.get("pubs"):
                raise ValueError("give either pubs or pubs_z, not both")
            try:
                pubs = json.loads(zlib.decompress(base64.b64decode(data["pubs_z"])))
            except (binascii.Error, zlib.error, ValueError) as exc:
                raise ValueError(f"pubs_z is not zlib+base64 JSON ({exc})") from None
            data = {**data, "pubs": pubs, "pubs_z": None}
        return data

    @model_validator(mode="after")
    def _check(self):
        if self.op == "close":
            if not self.session:
                raise ValueError("op 'close' needs session (the session's process id)")
            return self
        if not self.pubs:
            raise ValueError("pubs: give at least one PUB")
        if self.qpu is not None and self.session:
            raise ValueError(
                "qpu: a QPU target does not run inside a Session (its job was granted no QPU); "
                "use mode 'local' or 'remote'"
            )
        for i, pub in enumerate(self.pubs):
            if self.primitive == "estimator":
                if pub.observables is None or pub.precision is None:
                    raise ValueError(f"pubs[{i}]: an estimator PUB needs observables and precision")
            elif pub.shots is None or pub.observables is not None:
                raise ValueError(f"pubs[{i}]: a sampler PUB needs shots and no observables")
        return self

    def max_qubits(self) -> int:
        return max((p.num_qubits for p in self.pubs), default=0)


class SessionParams(_Strict):
    """kwargs of ``primitive_session``: the job serves calls from its inbox until close, idle
    timeout or walltime."""

    idle_timeout_s: float = Field(
        300.0, gt=0, le=7 * 86400, description="end the session when no call came for this long"
    )
    poll_s: float = Field(0.02, gt=0, le=5.0, description="inbox polling period")
    label: str = Field("session", max_length=100)


def encode_params(params: dict[str, Any]) -> dict[str, Any]:
    """Compress the PUB list when it is large (ColonyOS kwargs are one JSON string)."""
    pubs = params.get("pubs") or []
    text = json.dumps(pubs, separators=(",", ":"))
    if len(text) > COMPRESS_ABOVE:
        params = {**params, "pubs": [], "pubs_z": base64.b64encode(zlib.compress(text.encode(), 6)).decode()}
    return params
