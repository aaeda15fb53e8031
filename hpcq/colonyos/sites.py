"""A site as ColonyOS sees it: an executor's ``locationname`` and its ``capabilities`` (docs/sites.md).

ColonyOS (colonies v1.9.12, ``core.Executor``) keeps per executor a ``locationname`` and
``capabilities: {hardware: [...], software: [...]}``, each hardware entry ``{model, nodes, cpu,
cores, mem, storage, gpu: {name, mem, count, nodecount}, platform, architecture, network}``, each
software entry ``{name, type, version}``. The real server stores these typed Go structs, so a key
of its own (a "qpus" field) would be dropped: hpcq writes only those fields. The one place that
knows how hpcq fills them and reads them back is this module (:class:`Capacity`):

- ``hardware[0]``: the site's compute nodes, ``model`` = the profile (partition) name, ``nodes`` =
  the most nodes one job may use, ``cores`` and ``cpu`` (``"<cores*1000>m"``) per node, ``mem`` per
  node (``"<MiB>Mi"``), ``gpu`` per node (``count``; ``nodecount`` = nodes that have them);
- a hardware entry with ``model: "qpu"``: ``nodes`` = the site's quantum processors (0 today);
- software ``{name: "qiskit-aer", type: <pypi|mpi|gpu>}``: which Aer the site's jobs run (the
  memory model depends on it) and ``{name: "hpcq", type: "executor", version}``.

ColonyOS itself matches none of this (it assigns by executortype, executornames and
locationname): hpcq reads the capabilities on the laptop to place steps before submission.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hpcq import units
from hpcq.colonyos import ExecutorState

QPU_MODEL = "qpu"
AER_SOFTWARE = "qiskit-aer"
# An executor that asked for work (assign) within this many seconds is alive: above the longest
# assign long-poll an executor may use (ExecutorSettings.assign_timeout_s <= 300 s) plus slack.
ALIVE_S = 330.0
SITE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_site_name(name: str, field: str = "site") -> str:
    if not SITE_NAME.match(name or ""):
        raise ValueError(
            f"{field + ': ' if field else ''}{name!r} is not a site name; use letters, digits, "
            "'.', '_', '-' (max 100), starting with a letter or digit"
        )
    return name


@dataclass(frozen=True)
class Capacity:
    """What one site offers a job: per node, and how many nodes one job may use."""

    partition: str = ""
    nodes: int = 1
    cores: int = 1  # per node
    mem_bytes: int = 0  # per node
    gpus: int = 0  # per node
    gpu_model: str = ""
    gpu_mem_bytes: int = 0  # per GPU
    qpus: int = 0
    aer: str = "pypi"

    def to_capabilities(self, hpcq_version: str = "") -> dict[str, Any]:
        """The ``capabilities`` object an executor registers (addexecutormsg)."""
        gpu = {
            "name": self.gpu_model if self.gpus else "",
            "mem": f"{self.gpu_mem_bytes // units.MiB}Mi" if self.gpus and self.gpu_mem_bytes else "",
            "count": self.gpus,
            "nodecount": self.nodes if self.gpus else 0,
        }
        nodes = {
            **_hardware(self.partition, self.nodes),
            "cpu": f"{self.cores * 1000}m",
            "cores": self.cores,
            "mem": f"{self.mem_bytes // units.MiB}Mi",
            "gpu": gpu,
        }
        return {
            "hardware": [nodes, _hardware(QPU_MODEL, self.qpus)],
            "software": [
                {"name": "hpcq", "type": "executor", "version": hpcq_version},
                {"name": AER_SOFTWARE, "type": self.aer, "version": ""},
            ],
        }

    @classmethod
    def from_capabilities(cls, caps: Any) -> Capacity | None:
        """The capacity an executor registered, or None if it registered none hpcq can read."""
        if not isinstance(caps, dict) or not isinstance(caps.get("hardware"), list):
            return None
        entries: list[dict[str, Any]] = [h for h in caps["hardware"] if isinstance(h, dict)]
        node = next((h for h in entries if h.get("model") != QPU_MODEL and int(h.get("cores") or 0) > 0), None)
        if node is None:
            return None
        qpu: dict[str, Any] = next((h for h in entries if h.get("model") == QPU_MODEL), {})
        gpu: dict[str, Any] = node["gpu"] if isinstance(node.get("gpu"), dict) else {}
        software = (caps.get("software") or []) if isinstance(caps.get("software"), list) else []
        aer = next((s.get("type") for s in software if isinstance(s, dict) and s.get("name") == AER_SOFTWARE), "")
        return cls(
            partition=str(node.get("model") or ""),
            nodes=max(1, int(node.get("nodes") or 1)),
            cores=int(node.get("cores") or 1),
            mem_bytes=_mem(node.get("mem")),
            gpus=int(gpu.get("count") or 0),
            gpu_model=str(gpu.get("name") or ""),
            gpu_mem_bytes=_mem(gpu.get("mem")),
            qpus=int(qpu.get("nodes") or 0),
            aer=str(aer or "pypi"),
        )

    def describe(self) -> str:
        """'3 nodes x 8 cores, 15.6 GiB; 4 GPUs (A100 64 GiB); 0 QPUs' (for tables and errors)."""
        text = f"{self.nodes} node{'s' if self.nodes != 1 else ''} x {self.cores} cores, {_gib(self.mem_bytes)}"
        if self.gpus:
            mem = f" {_gib(self.gpu_mem_bytes)}" if self.gpu_mem_bytes else ""
            text += f"; {self.gpus} GPU{'s' if self.gpus != 1 else ''}/node ({self.gpu_model or 'GPU'}{mem})"
        return text + (f"; {self.qpus} QPU{'s' if self.qpus != 1 else ''}" if self.qpus else "")


def _hardware(model: str, nodes: int) -> dict[str, Any]:
    return {
        "model": model,
        "nodes": nodes,
        "cpu": "",
        "cores": 0,
        "mem": "",
        "storage": "",
        "gpu": {"name": "", "mem": "", "count": 0, "nodecount": 0},
        "platform": "linux",
        "architecture": "",
        "network": [],
    }


def _mem(v: Any) -> int:
    try:
        return units.mem_bytes(v) if v else 0
    except ValueError:
        return 0


def _gib(n: int) -> str:
    return f"{n / units.GiB:.3g} GiB"


def heard_age_s(executor: dict[str, Any], now: datetime | None = None) -> float | None:
    """Seconds since the executor last asked for work (``lastheardfromtime``, RFC 3339 as both
    servers send it); None if never."""
    raw = str(executor.get("lastheardfromtime") or "")
    if not raw or raw.startswith("0001-01-01"):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", raw.replace("Z", "+00:00"))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, ((now or datetime.now(UTC)) - when).total_seconds())


def is_alive(executor: dict[str, Any], alive_s: float = ALIVE_S, now: datetime | None = None) -> bool:
    """Approved and heard from within ``alive_s`` seconds."""
    age = heard_age_s(executor, now)
    return executor.get("state") == ExecutorState.APPROVED and age is not None and age <= alive_s
