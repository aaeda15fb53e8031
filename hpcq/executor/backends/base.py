"""The contract every job backend follows (plain dataclass + Protocol)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# A plan's params key (not a submitit parameter): the Python the job runs, where it is not the
# executor's own (a QPU profile's ``python``: the QPU clients' venv, docs/qpu.md); backends pop it.
JOB_PYTHON = "hpcq_python"

# Slurm job states after which nothing more will happen (sacct spelling).
TERMINAL = {
    "COMPLETED",
    "FAILED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "CANCELLED",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "REVOKED",
    "LOST",
}

EXPLAIN = {
    "TIMEOUT": "the job reached its Slurm time limit (raise conditions.walltime)",
    "OUT_OF_MEMORY": "the job used more memory than it asked for (raise conditions.mem)",
    "NODE_FAIL": "a node of the job failed",
    "CANCELLED": "the job was cancelled (scancel or an administrator)",
    "PREEMPTED": "the job was preempted by a higher-priority job",
    "BOOT_FAIL": "the node failed to boot",
    "DEADLINE": "the job missed its deadline",
    "FAILED": "the job exited with a non-zero code before hpcq could record a result",
    "COMPLETED": "the job ended without writing a result for this process",
    "LOST": "the job is gone and left no result (local backend: its process died)",
}


@dataclass
class JobInfo:
    job_id: str  # element id as sacct prints it: 123 or 123_4
    state: str  # first word of sacct's State (CANCELLED by 0 -> CANCELLED)
    nodes: str = ""
    submit: float | None = None  # Unix times; None when Slurm does not know yet
    start: float | None = None
    end: float | None = None
    alloc_cpus: int = 0
    exit_code: str = ""
    name: str = ""

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


class Backend(Protocol):
    name: str

    def submit(
        self, fn: Callable[..., Any], element_args: list[Any], params: dict[str, Any], job_name: str, folder: Path
    ) -> list[str]:
        """Submit one job (one element) or one array (several); return the element job ids."""

    def find(self, job_name: str, since: float, elements: int) -> list[str] | None:
        """Element job ids of an earlier submission with this unique name, or None if none exists."""

    def query(self, job_ids: list[str]) -> dict[str, JobInfo]:
        """States of many jobs in one call; unknown ids are left out."""

    def cancel(self, job_ids: list[str]) -> None: ...

    def ping(self) -> None:
        """Raise (a SlurmError) when the scheduler does not answer; return when it does. Asked while
        the executor pauses for a Slurm outage and holds nothing to retry (hpcq.executor.daemon)."""

    def log_paths(self, job_id: str, folder: Path) -> tuple[Path, Path]:
        """(stdout, stderr) of an element (rank 0)."""
