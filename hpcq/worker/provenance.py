"""The provenance of the job that writes a result file: software versions, host, Slurm job, ranks.

Gathered here, on the worker's side, because it asks Qiskit, Qiskit Aer and SciPy for their
versions and Aer for its build; the format module (hpcq.results.h5format) only stores the dict it
is handed, so reading results never imports the simulator.
"""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

import h5py
import numpy as np

import hpcq
from hpcq.functions import JobContext


def job_provenance(ctx: JobContext, ranks: int, threads: int) -> dict[str, Any]:
    """The provenance every result file shares: software versions, host, Slurm job and ColonyOS
    process of the job that wrote it. Writers add what is their own (timings, command, seeds,
    sweep) on top."""
    import qiskit
    import qiskit_aer
    import scipy

    from hpcq.sim.aer_env import aer_build

    return {
        **aer_build(),  # aer_package, aer_version, aer_devices, aer_build (CPU / GPU / MPI flavour)
        "hpcq_version": hpcq.__version__,
        "qiskit_version": qiskit.__version__,
        "aer_version": qiskit_aer.__version__,
        "python_version": platform.python_version(),
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "h5py_version": h5py.__version__,
        "hostname": socket.gethostname(),
        "slurm_job_id": ctx.slurm_job_id or os.environ.get("SLURM_JOB_ID", ""),
        "slurm_nodes": ctx.nodes or os.environ.get("SLURM_JOB_NODELIST", ""),
        "mpi_ranks": ranks,
        "threads_per_rank": threads,
        "colonies_process_id": ctx.process_id,
        "site": ctx.site,  # the executor's ColonyOS locationname (docs/sites.md)
        "executor": ctx.executor,
    }


def initial_points(results: list) -> dict[str, Any]:
    """The file-level record of where every task's optimisation started (issue 25): per task id its
    start's kind, seed or file, restarts and the one kept (the full record, every restart's energy,
    is the task attribute initial_point_json; the kept start is /tasks/<id>/initial_parameters)."""
    keep = ("kind", "seed", "file", "default", "restarts", "kept", "parent_task_id")
    return {"initial_points": {r.task_id: {k: r.start[k] for k in keep if k in r.start} for r in results}}
