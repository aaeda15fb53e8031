"""Build a JobContext inside the Slurm job (the environment is read by JobContext.from_env; threads: hpcq.threads)."""

from __future__ import annotations

from hpcq.functions import JobContext, slurm_job_id
from hpcq.threads import threads_per_rank

__all__ = ["build_context", "slurm_job_id"]


def build_context(
    process_id: str,
    workdir: str,
    inputs: list | None = None,
    gpu: bool = False,
    site: str = "",
    executor: str = "",
    extra: dict | None = None,
) -> JobContext:
    return JobContext.from_env(
        process_id,
        workdir,
        threads=threads_per_rank(),
        gpu=gpu,
        inputs=inputs,
        site=site,
        executor=executor,
        extra=extra,
    )
