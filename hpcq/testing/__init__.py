"""Helpers shared by hpcq's tests, benchmarks and fault suite (real services, no mocks).

Fixture modules (loaded by tests/conftest.py as pytest plugins):
  hpcq.testing.server  embedded ColonyOS server fixtures
  hpcq.testing.slurm   the real local Slurm cluster (scripts/slurm-up.sh)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
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


class MpiHang(AssertionError):
    """An MPI launch outlived its timeout: ``report`` holds each rank's Python stacks (SIGUSR1, see
    hpcq.logfmt.dump_stacks_on_signal), the launcher's output and Slurm's view of the jobs."""

    def __init__(self, report: str, in_start: bool):
        super().__init__(report)
        self.report, self.in_start = report, in_start


def run_mpi(cmd: list[str], *, env: dict[str, str], timeout: float, marker: str) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True)`` for an MPI launch (srun or mpiexec of
    hpcq's worker on this host): when it outlives ``timeout``, every process whose command line holds
    ``marker`` (a path unique to this launch) gets SIGUSR1 and prints its stacks, then the launch is
    killed and MpiHang raised, saying where the ranks were; ``in_start`` when every rank that answered
    was still starting MPI (hpcq.mpi.mpi_world), which retry_mpi_start treats as a failed start."""
    from hpcq.logfmt import STACK_DUMP_RE, STACK_FRAME_RE, STACK_SIGNAL

    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
        return subprocess.CompletedProcess(cmd, p.returncode, out, err)
    except subprocess.TimeoutExpired:
        pass
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    ranks = [pid for pid in found if not _is_launcher(pid)]  # SIGUSR1 would kill srun or mpiexec
    subprocess.run(["kill", f"-{STACK_SIGNAL}", *ranks], capture_output=True)
    time.sleep(3)  # faulthandler writes at once; srun forwards the ranks' stderr
    views = (["squeue"], ["sinfo", "-N"]) if Path(cmd[0]).name == "srun" else ()  # pending? a node down?
    slurm = [subprocess.run(c, env=env, capture_output=True, text=True) for c in views]
    p.kill()
    subprocess.run(["pkill", "-KILL", "-f", marker], capture_output=True)
    out, err = p.communicate()
    dumps = len(STACK_DUMP_RE.findall(err))
    # hpcq's frames in the dumps (the ranks' lines may interleave): only the worker's main calling mpi_world
    ours = {fn for path, fn in STACK_FRAME_RE.findall(err) if "/hpcq/" in path}
    in_start = "mpi_world" in ours and ours <= {"mpi_world", "main", "<module>"}
    report = (
        f"{' '.join(cmd)}\nran past {timeout:.0f} s; {len(ranks)} rank process(es) found, {dumps} "
        f"stack dump(s){' (all still starting MPI)' if in_start else ''}\n--- stderr (stacks included):\n"
        f"{err[-6000:]}\n--- stdout:\n{out[-1000:]}\n"
        + "".join(f"--- {' '.join(r.args)}:\n{r.stdout}{r.stderr}" for r in slurm)
    )
    raise MpiHang(report, in_start)


def _is_launcher(pid: str) -> bool:
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    return Path(argv0).name in ("srun", "mpiexec", "mpiexec.hydra", "mpirun")


def retry_mpi_start(run: Callable[[], Any], attempts: int | None = None) -> Any:
    """``run()`` (a subprocess.CompletedProcess-like result with ``returncode`` and ``stderr``)
    again when pip MPICH/UCX failed to start MPI (hpcq.executor.slurm_errors.mpi_start_failed), or
    hung while starting it (MpiHang.in_start, from run_mpi), as the executor resubmits such jobs;
    any other failure is returned (a hang elsewhere raised) as it is."""
    from hpcq.executor.slurm_errors import INFRA_RETRIES, mpi_start_failed

    n = attempts or INFRA_RETRIES
    for attempt in range(n):
        try:
            r = run()
        except MpiHang as hang:
            if not hang.in_start or attempt + 1 == n:
                raise
            print(f"MPI start hung (attempt {attempt + 1} of {n}), retrying:\n{hang.report}")
            continue
        if r.returncode == 0 or not mpi_start_failed(r.stderr or "") or attempt + 1 == n:
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
