"""Open the QPU a job was granted (docs/qpu.md): ``open_backend`` takes the profile's QPU entry
(``ctx.extra["qpu"]``, handed to the job by the executor) and returns a Qiskit BackendV2 with
``run()`` and what provenance needs (backend name, calibration-set id, access route).

- ``access: twin`` (or a step asking for the twin): the profile's twin (hpcq.qpu.twin).
- ``access: qrmi`` + ``vendor: iqm``: the environment QRMI's SPANK plugin exports is diagnosed
  (hpcq.qpu.env), then ``qrmi.qiskit_iqm.IQMProvider().get_backend(resource)``; the unmodified
  QRMI client talks to the site's IQM Server.

``job_times`` reads a finished job's queue and QPU time from the IQM Server's job timeline (QRMI
0.26.4 does not expose it): the same endpoint and token the plugin exported.
"""

from __future__ import annotations

import json
import math
import os
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hpcq.qpu import QpuError, require
from hpcq.qpu.env import IQM_ENDPOINT, check_qrmi_env

IQM_TOKEN = "QRMI_IQM_ISA_TOKEN"
# IQM Server timeline entries bounding the wait in the queue and the execution (verify on a device)
QUEUED_FROM, EXEC_FROM, EXEC_TO = "received", "execution_started", "execution_ended"


def route(qpu: Mapping[str, Any], access: str = "profile") -> str:
    """The access route a step takes: ``twin`` when the step or the profile says so, else the profile's."""
    return "twin" if access == "twin" or qpu.get("access") == "twin" else str(qpu.get("access"))


def open_backend(
    qpu: Mapping[str, Any], access: str = "profile", env: Mapping[str, str] | None = None
) -> tuple[Any, dict[str, Any]]:
    """(backend, info) for the profile's QPU entry; info: backend, access, calibration_set_id, label."""
    name = str(qpu.get("name") or qpu.get("resource") or "qpu")
    how = route(qpu, access)
    if how == "twin":
        from hpcq.qpu.twin import make_twin

        backend, label = make_twin(dict(qpu.get("twin") or {}))
        info = {"backend": backend.name, "access": "twin", "label": label}
    elif how == "qrmi" and qpu.get("vendor") == "iqm":
        resource, rtype = str(qpu.get("resource") or name), str(qpu.get("resource_type") or "iqm-server")
        check_qrmi_env(resource, rtype, env)
        provider = require("qrmi.qiskit_iqm").IQMProvider()
        backend = provider.get_backend(resource)
        info = {"backend": f"{resource} (QRMI {rtype})", "access": "qrmi", "label": f"QPU {name} through QRMI"}
        info["resource"] = resource
    else:
        raise QpuError(
            f"QPU {name!r}: access {how!r} with vendor {qpu.get('vendor')!r} is not supported by hpcq yet "
            "(supported: qrmi + iqm, twin); run the step on the twin (access: twin) or change the profile"
        )
    arch = getattr(backend, "architecture", None)
    info["calibration_set_id"] = str(getattr(arch, "calibration_set_id", "") or "")
    info["qpu"] = name
    return backend, info


def _stamp(entries: list[dict[str, Any]], status: str) -> float | None:
    for e in entries:
        if e.get("status") == status:
            return datetime.fromisoformat(str(e["timestamp"]).replace("Z", "+00:00")).timestamp()
    return None


def job_times(
    resource: str, job_id: str, env: Mapping[str, str] | None = None, timeout: float = 10.0
) -> dict[str, Any]:
    """{queue_time_s, qpu_time_s, timeline} of an IQM Server job; NaN (with ``times_error``) when
    the server cannot be asked or its timeline lacks the entries."""
    env = os.environ if env is None else env
    out: dict[str, Any] = {"queue_time_s": math.nan, "qpu_time_s": math.nan, "timeline": []}
    endpoint = env.get(f"{resource}_{IQM_ENDPOINT}", "")
    if not endpoint:
        out["times_error"] = f"{resource}_{IQM_ENDPOINT} is not set"
        return out
    req = urllib.request.Request(f"{endpoint.rstrip('/')}/api/v1/jobs/{job_id}")  # noqa: S310 - the site's endpoint
    token = env.get(f"{resource}_{IQM_TOKEN}", "")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310
            doc = json.loads(r.read())
    except (OSError, ValueError) as exc:
        out["times_error"] = f"GET /api/v1/jobs/{job_id}: {exc}"
        return out
    entries = list(doc.get("timeline") or [])
    out["timeline"] = entries
    t0, t1, t2 = (_stamp(entries, s) for s in (QUEUED_FROM, EXEC_FROM, EXEC_TO))
    if t0 is not None and t1 is not None:
        out["queue_time_s"] = t1 - t0
    if t1 is not None and t2 is not None:
        out["qpu_time_s"] = t2 - t1
    if any(t is None for t in (t0, t1, t2)):
        out["times_error"] = f"timeline lacks one of {QUEUED_FROM}, {EXEC_FROM}, {EXEC_TO}"
    return out
