"""What EstimatorV2 and SamplerV2 share: mode (local / remote / a Session), options, turning
coerced PUBs into ``primitive_run`` params, and handing them to the local runner or ColonyOS
(hpcq.primitives.remote)."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

from hpcq.functions import PRIMITIVE_RUN
from hpcq.primitives.options import OptionsError, make_options
from hpcq.primitives.remote import submit_call
from hpcq.primitives.session import Session

MODES = ("local", "remote")


class _Primitive:
    _primitive = ""  # "estimator" | "sampler"
    _options_cls: Any = None

    def __init__(self, *, mode: Any = "local", options: Any = None, settings: Any = None, **kwargs: Any):
        if not (isinstance(mode, Session) or mode in MODES):
            raise OptionsError(f"mode={mode!r}: use 'local', 'remote' or an hpcq.primitives.Session")
        self._mode = mode
        self._options = make_options(self._options_cls, options, kwargs)
        self._exec = self._options.execution()  # noise models -> data once, errors now
        self._settings = settings
        self._client = None
        self._qpu_entry: dict[str, Any] | None = None

    @property
    def options(self):
        return self._options

    @property
    def mode(self) -> Any:
        return self._mode

    def set_options(self, **kwargs: Any) -> None:
        self._options = make_options(self._options_cls, self._options, kwargs)
        self._exec = self._options.execution()

    # -- one call -------------------------------------------------------------------------------
    def _params(self, coerced: list) -> dict[str, Any]:
        """The kwargs of ``primitive_run``, validated exactly as the executor will."""
        from hpcq.primitives.params import PrimitiveRunParams, encode_params
        from hpcq.primitives.wire import encode_pub

        if not coerced:
            raise ValueError("run(pubs): give at least one PUB")
        session = self._mode if not isinstance(self._mode, str) else None
        shots = qpu_shots(self._primitive, coerced, self._options)
        qpu, self._qpu_entry = self._options.qpu(shots, self._mode == "local")
        params = {
            "primitive": self._primitive,
            "pubs": [encode_pub(p) for p in coerced],
            "options": self._exec.model_dump(mode="json"),
            "h5": self._options.h5,
            "label": self._options.label,
        }
        if session is not None:
            params["session"] = session.session_id
        if qpu is not None:
            params["qpu"] = {**qpu, "shots": max(shots)}
        PrimitiveRunParams.model_validate(params)  # the same check the executor makes
        return encode_params(params)

    def _submit(self, coerced: list):
        from hpcq.primitives.job import LocalJob, RemoteJob

        params = self._params(coerced)
        if self._mode == "local":
            return LocalJob(f"local-{uuid.uuid4().hex[:12]}", run_local, self._primitive, params, None, self._qpu_entry)
        if isinstance(self._mode, str):
            client = self._remote_client()
            sub = submit_call(client, params, self._options)
        else:
            client, sub = self._mode.submit_call(params, self._options)
        return RemoteJob(sub.processids[0], client, sub, self._primitive, self._options.result_timeout_s)

    def _remote_client(self):
        if self._client is None:
            from hpcq.client.api import Client

            self._client = Client(self._settings)
        return self._client


ESTIMATOR_QPU_SHOTS = 4000  # an estimator PUB's shots on a QPU without options.shots or precision


def qpu_shots(primitive: str, coerced: list, options: Any) -> list[int]:
    """The shots each PUB takes on a QPU: a sampler PUB's own; an estimator PUB's
    ceil(1 / precision^2) when its precision is > 0 (as IBM's runtime), else options.shots (4000)."""
    if primitive == "sampler":
        return [int(p.shots) for p in coerced]
    default = options.shots or ESTIMATOR_QPU_SHOTS
    return [math.ceil(1 / p.precision**2) if p.precision > 0 else default for p in coerced]


def run_local(primitive: str, params: dict[str, Any], workdir: str | None = None, qpu: dict | None = None):
    """Local mode: the catalog function ``primitive_run`` in this process (no server, no Slurm);
    ``qpu``: the profile's QPU entry a QPU target runs on (what the executor hands a job)."""
    from hpcq import functions
    from hpcq.primitives.job import decode_result

    fd = functions.get(PRIMITIVE_RUN)
    checked = functions.validate_kwargs(fd.name, functions.decode_kwargs(functions.encode_kwargs(params)))
    wd = Path(workdir or Path.cwd() / "hpcq-primitives" / uuid.uuid4().hex[:12])
    ctx = functions.JobContext(
        process_id=f"local-{uuid.uuid4().hex[:12]}", workdir=str(wd), extra={"qpu": qpu} if qpu else {}
    )
    if checked.get("h5"):
        wd.mkdir(parents=True, exist_ok=True)
    out = fd.load()(checked, ctx)
    ref = out.files[0] if out.files else ""
    return decode_result(primitive, out.summary, ref)
