"""Thread pinning: the one owner of how many threads a rank's libraries may start.

With pip MPICH (no binding) each rank's OpenMP/BLAS would otherwise start one thread per core and
oversubscribe the node (2 ranks on 2 cores ran 6x slower, aer-lab.md). The variables must be set
before numpy/Qiskit load their runtimes, so the job entry point calls ``pin_threads`` first.
"""

from __future__ import annotations

import os

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)


def threads_per_rank(default: int = 1) -> int:
    """cpus-per-task inside a Slurm step, else OMP_NUM_THREADS, else ``default``."""
    for var in ("SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS"):
        val = os.environ.get(var, "")
        if val.isdigit() and int(val) > 0:
            return int(val)
    return max(1, default)


def pin_threads(threads: int) -> None:
    """Export every thread variable as ``threads`` (call before importing numpy/Qiskit)."""
    for name in THREAD_VARS:
        os.environ[name] = str(int(threads))
