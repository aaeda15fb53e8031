"""What goes over the wire: errors, Go-style times, and the JSON shapes pycolonies' pydantic
models accept (null vs [] exactly where Go emits them)."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from hpcq import units

PENDING, APPROVED, REJECTED, UNREGISTERED = 0, 1, 2, 3
ATTR_IN, ATTR_OUT, ATTR_ERR, ATTR_ENV = 0, 1, 2, 3
ATTR_NAMES = {ATTR_IN: "IN", ATTR_OUT: "OUT", ATTR_ERR: "ERR", ATTR_ENV: "ENV"}
MAX_COUNT = 100
MAX_LOG_COUNT = 500
MAX_PRIORITY = 50000
DAY_NS = 86_400 * 10**9
ZERO_TIME = "0001-01-01T00:00:00Z"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class RPCError(Exception):
    """Becomes the real server's error reply: HTTP ``status`` and payload {status, message}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad(msg: str) -> RPCError:
    return RPCError(400, msg)


def forbidden(msg: str) -> RPCError:
    return RPCError(403, msg)


def notfound(msg: str) -> RPCError:
    return RPCError(404, msg)


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def check_id(value: Any, what: str) -> str:
    """An object id as the real server requires it (64 lowercase hex characters)."""
    if not isinstance(value, str) or not _HEX64.match(value):
        raise bad(f"invalid {what} {value!r}: must be 64 lowercase hex characters (an id from a private key)")
    return value


def now_ns() -> int:
    return time.time_ns()


def gotime(ns: int) -> str:
    """Go's RFC3339Nano (trailing zeros trimmed); 0 is Go's zero time. Microsecond precision,
    like the PostgreSQL-backed real server."""
    if not ns:
        return ZERO_TIME
    dt = datetime.fromtimestamp(ns // 1000 / 1e6, tz=UTC)
    us = (ns // 1000) % 1_000_000
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f".{us:06d}".rstrip("0").rstrip(".")
    return base + frac + "Z"


def deadline(now: int, seconds: int) -> int:
    """now + seconds in ns, or 0 (Go's zero time) when seconds <= 0; clamped to int64."""
    return min(now + seconds * 10**9, INT64_MAX) if seconds > 0 else 0


def random_id() -> str:
    """Object ids: hex sha3_256 of a random UUID string (as GenerateRandomID)."""
    return hashlib.sha3_256(str(uuid.uuid4()).encode()).hexdigest()


def attribute_id(targetid: str, key: str, attributetype: int) -> str:
    return hashlib.sha3_256(f"{targetid}{key}{attributetype}".encode()).hexdigest()


# --- field access with clear errors ----------------------------------------------------------
def field(msg: dict, name: str, kind: type | tuple, default: Any = None, required: bool = False):
    """Read ``msg[name]`` (Go zero value when absent/null) and refuse a wrong JSON type with 400."""
    if name not in msg or msg[name] is None:
        if required:
            raise bad(f"field '{name}' is required")
        return default
    v = msg[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if bool not in kinds and isinstance(v, bool) and int in kinds:
        raise bad(f"failed to parse msg: field '{name}' must be a number, got {v!r}")
    if float in kinds and isinstance(v, int) and not isinstance(v, bool):
        return v
    if int in kinds and isinstance(v, float) and v.is_integer():
        return int(v)
    if not isinstance(v, kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise bad(f"failed to parse msg: field '{name}' must be {names}, got {type(v).__name__}")
    if isinstance(v, int) and not isinstance(v, bool) and not INT64_MIN <= v <= INT64_MAX:
        raise bad(f"failed to parse msg: field '{name}' is out of the int64 range")
    return v


def nonempty(obj: dict, name: str, where: str, fix: str) -> str:
    """A string field that must be given: 400 "<where>.<name> is empty: <fix>" otherwise."""
    value = field(obj, name, str, "")
    if not value:
        raise bad(f"{where}.{name} is empty: {fix}")
    return value


# --- FunctionSpec normalisation --------------------------------------------------------------
def norm_mem(value: Any, fieldname: str) -> str:
    """ "" -> "0Mi", "10Gi" -> "10240Mi"; an unknown unit is refused like the real parser does."""
    try:
        return f"{units.go_mem_mib(value)}Mi"
    except units.QuantityError:
        raise bad(
            f"failed to parse {fieldname} {value!r}: error converting memory to int; use an integer with unit "
            f'Ki, Mi, Gi or TiB (e.g. "512Mi", "4Gi"), as colonies parses it'
        ) from None


def mem_mib(value: str) -> int:
    return int(str(value)[:-2] or 0) if str(value).endswith("Mi") else 0


def norm_cpu(value: Any) -> str:
    """ "<n>m" is kept; anything else silently becomes "0m" (the real server's quirk)."""
    s = str(value or "").strip()
    if s.endswith("m") and s[:-1].isdigit():
        return f"{int(s[:-1])}m"
    return "0m"


def _int(d: dict, key: str, where: str) -> int:
    v = d.get(key)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise bad(f"failed to parse {where}.{key}: must be an integer, got {v!r}")
    if not INT64_MIN <= v <= INT64_MAX:
        raise bad(f"failed to parse {where}.{key}: out of the int64 range")
    return int(v)


def _str(d: dict, key: str, where: str) -> str:
    v = d.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise bad(f"failed to parse {where}.{key}: must be a string, got {type(v).__name__}")
    return v


def normalise_spec(spec: Any) -> dict:
    """Validate types and store the spec the way the real server echoes it back."""
    if not isinstance(spec, dict):
        raise bad("failed to parse spec: expected a JSON object")
    conds = spec.get("conditions") or {}
    if not isinstance(conds, dict):
        raise bad("failed to parse spec.conditions: expected a JSON object")
    gpu = conds.get("gpu") or {}
    if not isinstance(gpu, dict):
        raise bad("failed to parse spec.conditions.gpu: expected a JSON object")
    for key, kind in (("args", list), ("kwargs", dict), ("env", dict), ("channels", list)):
        if spec.get(key) is not None and not isinstance(spec[key], kind):
            what = "object" if kind is dict else "array"
            raise bad(f"failed to parse spec.{key}: expected a JSON {what}")
    for key in ("executornames", "dependencies"):
        v = conds.get(key)
        if v is not None and (not isinstance(v, list) or not all(isinstance(x, str) for x in v)):
            raise bad(f"failed to parse spec.conditions.{key}: expected an array of strings")
    env = spec.get("env") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise bad("failed to parse spec.env: values must be strings")
    priority = _int(spec, "priority", "spec")
    if not -MAX_PRIORITY <= priority <= MAX_PRIORITY:
        raise bad(f"invalid priority {priority}: spec.priority must be in [-{MAX_PRIORITY}, {MAX_PRIORITY}]")
    out = {
        "nodename": _str(spec, "nodename", "spec"),
        "funcname": _str(spec, "funcname", "spec"),
        "args": list(spec.get("args") or []),
        "kwargs": spec.get("kwargs"),
        "priority": priority,
        "maxwaittime": _int(spec, "maxwaittime", "spec"),
        "maxexectime": _int(spec, "maxexectime", "spec"),
        "maxretries": _int(spec, "maxretries", "spec"),
        "conditions": {
            "colonyname": _str(conds, "colonyname", "spec.conditions"),
            "executornames": conds.get("executornames"),
            "executortype": _str(conds, "executortype", "spec.conditions"),
            "locationname": _str(conds, "locationname", "spec.conditions"),
            "dependencies": list(conds.get("dependencies") or []),
            "nodes": _int(conds, "nodes", "spec.conditions"),
            "cpu": norm_cpu(conds.get("cpu")),
            "processes": _int(conds, "processes", "spec.conditions"),
            "processespernode": _int(conds, "processespernode", "spec.conditions"),
            "mem": norm_mem(conds.get("mem"), "spec.conditions.mem"),
            "storage": norm_mem(conds.get("storage"), "spec.conditions.storage"),
            "gpu": {
                "name": _str(gpu, "name", "spec.conditions.gpu"),
                "mem": norm_mem(gpu.get("mem"), "spec.conditions.gpu.mem"),
                "count": _int(gpu, "count", "spec.conditions.gpu"),
                "nodecount": _int(gpu, "nodecount", "spec.conditions.gpu"),
            },
            "walltime": _int(conds, "walltime", "spec.conditions"),
        },
        "label": _str(spec, "label", "spec"),
        "fs": spec.get("fs") if isinstance(spec.get("fs"), dict) else {"mount": "", "snapshots": None, "dirs": None},
        "env": dict(env),
    }
    if spec.get("channels"):
        out["channels"] = list(spec["channels"])
    return out


# --- rendering ---------------------------------------------------------------------------------
def render_process(p: dict, attributes: list[dict]) -> dict:
    """Internal process document -> the Go JSON shape (times as RFC3339Nano)."""
    return {
        "processid": p["processid"],
        "initiatorid": p["initiatorid"],
        "initiatorname": p["initiatorname"],
        "assignedexecutorid": p["assignedexecutorid"],
        "isassigned": p["isassigned"],
        "state": p["state"],
        "prioritytime": p["prioritytime"],
        "submissiontime": gotime(p["submissiontime"]),
        "starttime": gotime(p["starttime"]),
        "endtime": gotime(p["endtime"]),
        "waitdeadline": gotime(p["waitdeadline"]),
        "execdeadline": gotime(p["execdeadline"]),
        "retries": p["retries"],
        "attributes": attributes or None,
        "spec": p["spec"],
        "waitforparents": p["waitforparents"],
        "parents": list(p["parents"]),
        "children": list(p["children"]),
        "processgraphid": p["processgraphid"],
        "in": p["in"] or None,
        "out": p["out"] or None,
        "errors": list(p["errors"]),
    }


def render_graph(g: dict) -> dict:
    out = dict(g)
    for k in ("submissiontime", "starttime", "endtime"):
        out[k] = gotime(g[k])
    return out


def render_executor(e: dict) -> dict:
    out = dict(e)
    for k in ("commissiontime", "lastheardfromtime"):
        out[k] = gotime(e[k])
    return out


def render_time_fields(d: dict, *keys: str) -> dict:
    out = dict(d)
    for k in keys:
        out[k] = gotime(d[k])
    return out
