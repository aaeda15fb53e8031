"""Build a JobContext from the Slurm / submitit / MPI environment (threads: hpcq.threads)."""

from __future__ import annotations

import os
import socket

from hpcq.functions import JobContext
from hpcq.threads import threads_per_rank


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


def slurm_job_id() -> str:
    """`123_4` for an array element, `123` otherwise (same spelling as sacct and submitit)."""
    array_id, task_id = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_id and task_id:
        return f"{array_id}_{task_id}"
    return os.environ.get("SLURM_JOB_ID", "")


def rank_and_size() -> tuple[int, int]:
    """Global rank and world size: Slurm's task ids (srun), else submitit's local executor, else 0/1."""
    if "SLURM_PROCID" in os.environ:
        return _int_env("SLURM_PROCID", 0), max(1, _int_env("SLURM_NTASKS", 1))
    if "SUBMITIT_LOCAL_GLOBAL_RANK" in os.environ:
        return _int_env("SUBMITIT_LOCAL_GLOBAL_RANK", 0), max(1, _int_env("SUBMITIT_LOCAL_NTASKS", 1))
    return 0, 1


def build_context(process_id: str, workdir: str, inputs: list | None = None, gpu: bool = False) -> JobContext:
    rank, size = rank_and_size()
    return JobContext(
        process_id=process_id,
        workdir=workdir,
        slurm_job_id=slurm_job_id(),
        nodes=os.environ.get("SLURM_JOB_NODELIST", socket.gethostname()),
        rank=rank,
        size=size,
        threads=threads_per_rank(),
        gpu=gpu,
        inputs=list(inputs or []),
        extra={"hostname": socket.gethostname()},
    )
