"""What the executor tells a job about one ColonyOS process, and what the job writes back.

Both sides import this module, so it only uses the standard library.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hpcq.atomicfile import write_atomic


@dataclass
class Task:
    """One process to run. ``params`` are already validated by the catalog's pydantic model."""

    process_id: str
    funcname: str
    params: dict[str, Any]
    workdir: str  # per-process output directory (shared filesystem)
    outcome_path: str  # where the job writes the Outcome JSON (the executor polls for it)
    inputs: list[Any] = field(default_factory=list)
    gpu: bool = False
    site: str = ""  # the executor's site (ColonyOS locationname) and name: provenance (docs/sites.md)
    executor: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # into JobContext.extra (e.g. inputs_from, for provenance)


@dataclass
class Outcome:
    """The result of one task as seen by the executor. Written atomically, so presence = complete."""

    process_id: str
    ok: bool
    summary: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    error: str = ""
    started: float = 0.0
    finished: float = 0.0
    slurm_job_id: str = ""
    nodes: str = ""
    hostname: str = ""
    ranks: int = 1
    threads: int = 1

    def write(self, path: str | os.PathLike) -> None:
        write_atomic(path, json.dumps(asdict(self), default=str))

    @classmethod
    def read(cls, path: str | os.PathLike) -> Outcome:
        data = json.loads(Path(path).read_text())
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})
