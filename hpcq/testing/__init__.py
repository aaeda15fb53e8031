"""Helpers shared by hpcq's tests, benchmarks and fault suite (real services, no mocks).

Fixture modules (loaded by tests/conftest.py as pytest plugins):
  hpcq.testing.server  embedded ColonyOS server fixtures
  hpcq.testing.slurm   the real local Slurm cluster (scripts/slurm-up.sh)
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Any


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(ok: bool, reason: str) -> None:
    """Skip with ``reason`` when a prerequisite is missing, but fail under CI=true:
    CI must run every Slurm/MPI/browser test, never skip it."""
    import pytest

    if ok:
        return
    if in_ci():
        pytest.fail(f"CI=true but a prerequisite is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def retry_mpi_start(run: Callable[[], Any], attempts: int | None = None) -> Any:
    """``run()`` (a subprocess.CompletedProcess-like result with ``returncode`` and ``stderr``)
    again when pip MPICH/UCX failed to start MPI (hpcq.executor.slurm_errors.mpi_start_failed),
    as the executor resubmits such jobs; any other failure is returned as it is."""
    from hpcq.executor.slurm_errors import INFRA_RETRIES, mpi_start_failed

    for attempt in range(attempts or INFRA_RETRIES):
        r = run()
        if r.returncode == 0 or not mpi_start_failed(r.stderr or "") or attempt + 1 == (attempts or INFRA_RETRIES):
            return r
        time.sleep(0.5)
    return r


def have_root() -> bool:
    return os.geteuid() == 0


def have_cmd(name: str) -> bool:
    return shutil.which(name) is not None


def wait_for(pred: Callable[[], Any], timeout: float, poll: float = 0.5, what: str = "condition") -> Any:
    """Poll ``pred`` until it returns something truthy (returned) or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
