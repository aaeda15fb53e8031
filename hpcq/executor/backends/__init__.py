"""Job backends: how a batch of hpcq Tasks becomes jobs and how their states are read.

`slurm` submits with submitit's AutoExecutor(cluster="slurm") and reads states with one
sacct call for all watched jobs; `local` uses submitit's local executor (no Slurm; tests and
laptops). Both follow hpcq.executor.backends.base.Backend.
"""

from __future__ import annotations

import shutil

from hpcq.executor.backends.base import TERMINAL, Backend, JobInfo


def make_backend(name: str) -> Backend:
    """``slurm``, ``local``, or ``auto``: slurm when sbatch is on PATH, else local."""
    if name == "auto":
        name = "slurm" if shutil.which("sbatch") else "local"
    if name == "slurm":
        from hpcq.executor.backends.slurm import SlurmBackend

        return SlurmBackend()
    if name == "local":
        from hpcq.executor.backends.local import LocalBackend

        return LocalBackend()
    raise ValueError(f"backend {name!r} is unknown; use --backend slurm or --backend local")


__all__ = ["Backend", "JobInfo", "TERMINAL", "make_backend"]
