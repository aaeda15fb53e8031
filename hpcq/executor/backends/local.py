"""Local backend: submitit's local executor, for machines without Slurm (laptops, quick checks).

Each element is a child process of the executor (job id = its PID, logs named like Slurm's).
Jobs are not queued and do not outlive a host reboot; after an executor restart a job whose
process is gone and left no result is reported as LOST.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpcq.executor.backends.base import JOB_PYTHON, JobInfo

# submitit's local executor only understands these generic parameters
LOCAL_PARAMS = {"timeout_min", "tasks_per_node", "nodes", "cpus_per_task", "gpus_per_node", "mem_gb", "name"}


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError, ValueError):
        return False


class LocalBackend:
    name = "local"

    def __init__(self) -> None:
        self._jobs: dict[str, Any] = {}
        self._submitted: dict[str, float] = {}
        self._names: dict[str, list[str]] = {}  # job name -> element ids (this executor's lifetime)

    def submit(
        self, fn: Callable[..., Any], element_args: list[Any], params: dict[str, Any], job_name: str, folder: Path
    ) -> list[str]:
        import submitit

        python = {"local_python": params[JOB_PYTHON]} if params.get(JOB_PYTHON) else {}
        ex = submitit.AutoExecutor(folder=Path(folder) / "%j", cluster="local", **python)
        ex.update_parameters(**{k: v for k, v in params.items() if k in LOCAL_PARAMS and k != "nodes"})
        ids = []
        for args in element_args:  # local "arrays" are just several processes
            job = ex.submit(fn, args)
            self._jobs[str(job.job_id)] = job
            self._submitted[str(job.job_id)] = time.time()
            ids.append(str(job.job_id))
        self._names[job_name] = ids
        return ids

    def find(self, job_name: str, since: float, elements: int) -> list[str] | None:
        # no scheduler to ask: only jobs submitted by this executor process are known; after a
        # restart an unsubmitted intent is submitted again (local jobs do not outlive it anyway)
        ids = self._names.get(job_name)
        return list(ids) if ids and len(ids) == elements else None

    def query(self, job_ids: list[str]) -> dict[str, JobInfo]:
        out = {}
        for jid in job_ids:
            job = self._jobs.get(jid)
            if job is not None and job._process is not None:
                rc = job._process.poll()
                state = "RUNNING" if rc is None else ("COMPLETED" if rc == 0 else "FAILED")
            else:
                state = "RUNNING" if jid.isdigit() and _pid_alive(int(jid)) else "LOST"
            t = self._submitted.get(jid)
            out[jid] = JobInfo(job_id=jid, state=state, nodes=os.uname().nodename, submit=t, start=t, alloc_cpus=1)
        return out

    def ping(self) -> None:
        """This machine always answers."""

    def cancel(self, job_ids: list[str]) -> None:
        for jid in job_ids:
            job = self._jobs.get(jid)
            try:
                if job is not None and job._process is not None:
                    job._process.kill()
                elif jid.isdigit() and _pid_alive(int(jid)):
                    os.kill(int(jid), signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log_paths(self, job_id: str, folder: Path) -> tuple[Path, Path]:
        from submitit.core.utils import JobPaths

        p = JobPaths(Path(folder) / "%j", job_id=job_id, task_id=0)
        return p.stdout, p.stderr
