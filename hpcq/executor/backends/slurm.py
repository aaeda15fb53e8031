"""Slurm backend: submit through submitit (AutoExecutor, cluster="slurm"), watch with sacct.

submitit writes the sbatch script, pickles the call and names the log files; hpcq does not use
its per-job result polling (one sacct per job and a 1-s sleep loop) but reads the states of
every watched job with ONE ``squeue -j a,b,c`` call per watcher cycle (sacct only for jobs
slurmctld has already forgotten).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from hpcq.executor.backends.base import JOB_PYTHON, JobInfo

SACCT_FIELDS = "JobID,JobName,State,NodeList,Submit,Start,End,AllocCPUS,ExitCode"
SQUEUE_FORMAT = "%i|%j|%T|%N|%V|%S|%e|%C|"  # the same columns, from slurmctld


class SlurmError(RuntimeError):
    pass


def _run(cmd: list[str], timeout: float = 60) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SlurmError(f"{cmd[0]} not found: is Slurm installed and on PATH on this login node?") from None
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{' '.join(cmd[:2])} did not answer in {timeout:.0f} s") from None
    if r.returncode != 0:
        raise SlurmError(f"{' '.join(cmd[:3])}... failed ({r.returncode}): {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def _time(value: str) -> float | None:
    if not value or value in ("Unknown", "None"):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()  # sacct prints local time
    except ValueError:
        return None


def _expand(job_id: str) -> list[str]:
    """`12_[3-5,7%8]` -> 12_3 12_4 12_5 12_7 (pending array remainder), else the id itself."""
    if "_[" not in job_id:
        return [job_id]
    main, rest = job_id.split("_[", 1)
    out = []
    for part in rest.rstrip("]").split("%")[0].split(","):
        lo, _, hi = part.partition("-")
        out += [f"{main}_{i}" for i in range(int(lo), int(hi or lo) + 1)]
    return out


def parse_sacct(text: str) -> dict[str, JobInfo]:
    infos: dict[str, JobInfo] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 9 or not parts[0] or "." in parts[0]:
            continue
        jid, name, state, nodes, submit, start, end, cpus, exit_code = parts[:9]
        for one in _expand(jid):
            infos[one] = JobInfo(
                job_id=one,
                state=(state.split() or ["UNKNOWN"])[0],
                name=name,
                nodes="" if nodes in ("None assigned", "(null)") else nodes,
                submit=_time(submit),
                start=_time(start),
                end=_time(end),
                alloc_cpus=int(cpus) if cpus.isdigit() else 0,
                exit_code=exit_code,
            )
    return infos


def make_executor(params: dict[str, Any], job_name: str, folder: Path, python: str | None = None):
    """The submitit executor whose sbatch script hpcq submits (tests/packaging renders it for the
    golden scripts). Every rank starts through hpcq.job.runner.job_python_command, which ignores
    SIGUSR2 until hpcq's handler is installed (a time-limit warning must never kill a job)."""
    import submitit

    from hpcq.job.runner import job_python_command

    python = python or params.get(JOB_PYTHON)
    ex = submitit.AutoExecutor(folder=Path(folder) / "%j", cluster="slurm", slurm_python=job_python_command(python))
    ex.update_parameters(**{k: v for k, v in params.items() if k != JOB_PYTHON})
    ex.update_parameters(name=job_name)
    return ex


class SlurmBackend:
    name = "slurm"

    def submit(
        self, fn: Callable[..., Any], element_args: list[Any], params: dict[str, Any], job_name: str, folder: Path
    ) -> list[str]:
        ex = make_executor(params, job_name, folder)
        if len(element_args) == 1:
            jobs = [ex.submit(fn, element_args[0])]
        else:
            with ex.batch():
                jobs = [ex.submit(fn, a) for a in element_args]
        return [str(j.job_id) for j in jobs]

    def find(self, job_name: str, since: float, elements: int) -> list[str] | None:
        """Look the job up by its unique name: squeue first (controller memory), then sacct."""
        ids = _run(["squeue", "-h", "-t", "all", "--name", job_name, "-o", "%F"]).split()
        if not ids:
            start = datetime.fromtimestamp(since - 120).strftime("%Y-%m-%dT%H:%M:%S")
            out = _run(["sacct", "-n", "-X", "-P", "--name", job_name, "-S", start, "-o", "JobID"])
            ids = [line.split("_")[0] for line in out.split()]
        if not ids:
            return None
        main = ids[0]
        return [main] if elements == 1 else [f"{main}_{i}" for i in range(elements)]

    def query(self, job_ids: list[str]) -> dict[str, JobInfo]:
        """squeue first (slurmctld memory, ~10 ms), sacct for what it has purged (~100 ms, slurmdbd)."""
        if not job_ids:
            return {}
        mains = sorted({j.split("_")[0] for j in job_ids})
        infos: dict[str, JobInfo] = {}
        with contextlib.suppress(SlurmError):  # squeue refuses the whole list when one id is already purged
            infos = parse_sacct(_run(["squeue", "-h", "-t", "all", "-j", ",".join(mains), "-o", SQUEUE_FORMAT]))
        missing = sorted({j.split("_")[0] for j in job_ids if j not in infos})
        if missing:
            infos.update(parse_sacct(_run(["sacct", "-n", "-X", "-P", "-o", SACCT_FIELDS, "-j", ",".join(missing)])))
        return {j: infos[j] for j in job_ids if j in infos}

    def ping(self) -> None:
        """One cheap call to slurmctld (sinfo): raises SlurmError when it does not answer."""
        _run(["sinfo", "-h", "-o", "%P"], timeout=20)

    def cancel(self, job_ids: list[str]) -> None:
        if job_ids:
            _run(["scancel", *job_ids])

    def log_paths(self, job_id: str, folder: Path) -> tuple[Path, Path]:
        from submitit.core.utils import JobPaths

        p = JobPaths(Path(folder) / "%j", job_id=job_id, task_id=0)
        return p.stdout, p.stderr
