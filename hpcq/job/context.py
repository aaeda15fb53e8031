"""Build a JobContext from the Slurm / submitit / MPI environment and pin thread counts.

Thread variables must be set before numpy/Qiskit are imported in the job, otherwise OpenMP
and BLAS start one thread per core on every rank and oversubscribe the node.
"""

from __future__ import annotations

import os
import socket

from hpcq.functions import JobContext

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS")


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


def threads_per_rank() -> int:
    """cpus-per-task of this step (what Slurm gave each rank); 1 when unknown."""
    return max(1, _int_env("SLURM_CPUS_PER_TASK", 1))


def pin_threads(threads: int) -> None:
    for name in THREAD_VARS:
        os.environ[name] = str(threads)


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
