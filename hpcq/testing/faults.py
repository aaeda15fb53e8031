"""Fault-injection helpers for the reliability suite (tests/reliability, scripts/fault-suite.sh).

Real services only: an executor subprocess (``python -m hpcq.executor start``) against the embedded
server and the local Slurm lab. The checks are independent of the executor's own bookkeeping:

- Slurm jobs per process: every job submitit sbatched leaves ``<jobs>/<jobid>/<jobid>_submitted.pkl``
  holding the Tasks it carries; sacct gives each job's final state.
- runs per process: ``[hpcq] begin process <pid>`` markers in the jobs' rank-0 stdout logs. A run
  is one start of the function in one job: an MPI job of N ranks is ONE run (every rank prints the
  marker, only rank 0's log counts).
- closes per process: the executor logs one ``closed process=<pid>`` line per close RPC that the
  server accepted (the server itself refuses a second close of a finished process).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpcq.colonyos import ProcessState
from hpcq.logfmt import BEGIN_RE, CLOSED_RE, SERVING
from hpcq.testing import wait_for  # noqa: F401 - re-exported for the fault tests

WAITING, RUNNING, SUCCESS, FAILED = (
    ProcessState.WAITING,
    ProcessState.RUNNING,
    ProcessState.SUCCESS,
    ProcessState.FAILED,
)  # re-exported for the fault tests
FINAL = tuple(s for s in ProcessState if s.final)


# --- executor subprocess -------------------------------------------------------------------------
@dataclass
class ExecutorProc:
    """THE executor-process helper of the tests (executor, reliability, client, fuzz, security):
    an `hpcq executor start` subprocess in its own process group; logs append to ``log_path``
    across restarts so that close counts cover every incarnation. ``env_file`` None: the
    COLONIES_* settings come from ``env`` (the environment) alone."""

    env_file: Path | None
    state_dir: Path
    backend: str = "slurm"
    name: str = "fault-ex"
    executor_type: str = "hpcq"
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.state_dir.parent / f"{self.state_dir.name}.log"

    @property
    def jobs_dir(self) -> Path:
        return self.state_dir / "jobs"

    @property
    def results_dir(self) -> Path:
        return self.state_dir / "results"

    def start(self, wait_ready: float = 60) -> ExecutorProc:
        cmd = [
            sys.executable,
            "-m",
            "hpcq.executor",
            "start",
            *(["--env-file", str(self.env_file)] if self.env_file else []),
            "--state-dir",
            str(self.state_dir),
            "--backend",
            self.backend,
            "--name",
            self.name,
            "--type",
            self.executor_type,
            "--assign-timeout-s",
            "2",
            "--batch-wait-s",
            "0.3",
            "--query-every-s",
            "1",
            *self.extra_args,
        ]
        self.state_dir.parent.mkdir(parents=True, exist_ok=True)
        before = self.log_text().count(SERVING % "")
        env = self.env if self.env_file is None else {**os.environ, **self.env}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env, start_new_session=True
            )
        self.starts += 1
        deadline = time.monotonic() + wait_ready
        while time.monotonic() < deadline:
            if self.log_text().count(SERVING % "") > before:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"executor exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"executor not serving after {wait_ready} s:\n{self.log_text()[-3000:]}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """SIGKILL the executor's process group (a crash: no cleanup, no journal flush)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            self.proc.wait(30)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM (clean stop), SIGKILL if it does not exit in time; returns the exit status."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> ExecutorProc:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --- submitting and waiting ----------------------------------------------------------------------
def make_spec(
    colony: str,
    funcname: str,
    params: dict[str, Any] | None = None,
    executortype: str = "hpcq",
    walltime: int = 120,
    maxexectime: int = -1,
    maxretries: int = 0,
    **conditions: Any,
):
    """A pycolonies FuncSpec for a catalogued function (kwargs.params JSON convention)."""
    from pycolonies import func_spec

    from hpcq.functions import encode_kwargs

    spec = func_spec(
        funcname,
        [],
        colony,
        executortype,
        kwargs=encode_kwargs(params or {}),
        maxexectime=maxexectime,
        maxretries=maxretries,
        maxwaittime=-1,
    )
    spec.conditions.walltime = walltime
    for k, v in conditions.items():
        setattr(spec.conditions, k, v)
    return spec


def submit_many(client, prvkey: str, specs: list) -> list[str]:
    return [client.submit_func_spec(s, prvkey).processid for s in specs]


def wait_final(client, prvkey: str, pids: list[str], timeout: float, poll: float = 1.0) -> dict[str, Any]:
    """Wait until every process is SUCCESS or FAILED (or timeout); return pid -> Process."""
    deadline = time.monotonic() + timeout
    procs: dict[str, Any] = {}
    while True:
        for pid in pids:
            if pid in procs and procs[pid].state in FINAL:
                continue
            with contextlib.suppress(Exception):  # the server may be down on purpose
                procs[pid] = client.get_process(pid, prvkey)
        if all(p in procs and procs[p].state in FINAL for p in pids) or time.monotonic() > deadline:
            return procs
        time.sleep(poll)


def running_job_ids(jobs_dir: Path) -> set[str]:
    """Job ids whose submitit folder exists (i.e. sbatch returned)."""
    return {p.parent.name for p in Path(jobs_dir).glob("*/*_submitted.pkl")}


# --- independent accounting ----------------------------------------------------------------------
def jobs_by_process(jobs_dir: Path) -> dict[str, list[str]]:
    """process id -> Slurm job ids (array elements count singly) that carried it, from the
    submitit pickles of every job sbatched into ``jobs_dir``."""
    from submitit.core.utils import DelayedSubmission

    out: dict[str, list[str]] = {}
    for pkl in sorted(Path(jobs_dir).glob("*/*_submitted.pkl")):
        job_id = pkl.name[: -len("_submitted.pkl")]
        try:
            ds = DelayedSubmission.load(pkl)
        except Exception:  # noqa: BLE001 - a truncated pickle is itself worth failing on
            out.setdefault("<unreadable>", []).append(job_id)
            continue
        for task in ds.args[0]:
            out.setdefault(task.process_id, []).append(job_id)
    return out


def runs_by_process(jobs_dir: Path) -> Counter:
    """How many times each process started running, from the BEGIN markers in job stdout logs."""
    runs: Counter = Counter()
    for log in Path(jobs_dir).glob("*/*_0_log.out"):
        runs.update(BEGIN_RE.findall(log.read_text(errors="replace")))
    return runs


def closes_by_process(executor_log: str) -> Counter:
    """Accepted close RPCs per process (success or failed), over all executor incarnations."""
    return Counter(m.group(1) for m in CLOSED_RE.finditer(executor_log))


ACTIVE = ("PENDING", "RUNNING", "REQUEUED", "COMPLETING", "SUSPENDED", "?")


def sacct_states(cluster, job_ids: list[str], settle_s: float = 20) -> dict[str, str]:
    """sacct state of each job / array element, waiting up to ``settle_s`` for slurmdbd to catch
    up with jobs that have already ended."""
    if not job_ids:
        return {}
    mains = sorted({j.split("_")[0] for j in job_ids})
    deadline = time.monotonic() + settle_s
    while True:
        out = cluster.run("sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(mains), check=False).stdout
        raw = {}
        for line in out.splitlines():
            jid, _, state = line.partition("|")
            raw[jid] = (state.split() or ["?"])[0]
        states = {j: raw.get(j, raw.get(j.split("_")[0], "?")) for j in job_ids}
        if all(s not in ACTIVE for s in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(1)


@dataclass
class Ledger:
    """What happened to a set of processes, from independent sources; ``problems()`` is empty
    when nothing was lost, no process got two live Slurm jobs and none was closed twice."""

    pids: list[str]
    procs: dict[str, Any]
    jobs: dict[str, list[str]]
    runs: Counter
    closes: Counter
    job_states: dict[str, str] = field(default_factory=dict)

    def lost(self, expect: int = SUCCESS) -> list[str]:
        return [p for p in self.pids if p not in self.procs or self.procs[p].state != expect]

    def duplicate_jobs(self, allowed_failed: tuple[str, ...] = ()) -> dict[str, list[str]]:
        """Processes with more than one Slurm job, not counting jobs that ended in one of
        ``allowed_failed`` states (a NODE_FAIL job legitimately gets a retry)."""
        dup = {}
        for pid in self.pids:
            live = [j for j in self.jobs.get(pid, []) if self.job_states.get(j, "?") not in allowed_failed]
            if len(live) > 1:
                dup[pid] = live
        return dup

    def duplicate_closes(self) -> dict[str, int]:
        return {p: n for p, n in self.closes.items() if p in self.pids and n > 1}

    def summary(self) -> dict[str, Any]:
        states = Counter(getattr(self.procs.get(p), "state", None) for p in self.pids)
        return {
            "processes": len(self.pids),
            "states": dict(states),
            "slurm_jobs": len({j for js in self.jobs.values() for j in js}),
            "runs": sum(self.runs[p] for p in self.pids),
            "closes": sum(self.closes[p] for p in self.pids),
        }


def ledger(client, prvkey: str, pids: list[str], ex: ExecutorProc, cluster=None) -> Ledger:
    procs = {}
    for pid in pids:
        with contextlib.suppress(Exception):
            procs[pid] = client.get_process(pid, prvkey)
    jobs = jobs_by_process(ex.jobs_dir)
    all_ids = sorted({j for js in jobs.values() for j in js})
    states = sacct_states(cluster, all_ids) if cluster is not None else {}
    return Ledger(
        pids=pids,
        procs=procs,
        jobs=jobs,
        runs=runs_by_process(ex.jobs_dir),
        closes=closes_by_process(ex.log_text()),
        job_states=states,
    )


# --- node faults -----------------------------------------------------------------------------------
def job_pids(job_id: str, slurm_conf: str | Path) -> list[int]:
    """PIDs of a Slurm job of *this* lab cluster on this host: its slurmstepd daemons and every
    process whose environment has SLURM_JOB_ID=<job_id>. Other labs on the same host reuse job
    ids, so a process only counts when its environment also has SLURM_CONF=<slurm_conf>."""
    main = str(job_id).split("_")[0]
    want = {f"SLURM_JOB_ID={main}".encode(), f"SLURM_CONF={slurm_conf}".encode()}
    conf = f"SLURM_CONF={slurm_conf}".encode()
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
            env = set((d / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if cmd.startswith(b"slurmstepd") and f"[{main}.".encode() in cmd and conf in env or want <= env:
            pids.append(int(d.name))
    return pids


def crash_node_job(cluster, node: str, job_id: str) -> int:
    """What a node power loss does to a job: slurmd of ``node`` and every process of the job die
    (SIGKILL). The lab's kill_slurmd alone leaves the job's steps running. Returns PIDs killed."""
    cluster.kill_slurmd(node)
    pids = job_pids(job_id, cluster.conf)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


# --- disk faults -----------------------------------------------------------------------------------
def can_mount() -> bool:
    return os.geteuid() == 0


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "256k") -> Iterator[Path]:
    """Mount a tiny tmpfs at ``path`` (root only) so writes fail with ENOSPC; unmounted after."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(path)], check=True, capture_output=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path, name: str = "filler.bin", leave_bytes: int = 0) -> Path:
    """Fill the filesystem under ``path`` until writes fail (ENOSPC), leaving about leave_bytes."""
    target = Path(path) / name
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize - leave_bytes
    with open(target, "wb") as fh:
        chunk = b"\0" * 4096
        written = 0
        try:
            while written < free:
                fh.write(chunk)
                written += len(chunk)
            fh.flush()
        except OSError:
            pass
    return target


@contextlib.contextmanager
def read_only_dir(path: Path) -> Iterator[Path]:
    """Make ``path`` read-only (root ignores modes, so use a read-only bind mount when root)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True, capture_output=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True, capture_output=True)
        try:
            yield path
        finally:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
    else:
        old = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(old)


# --- secrets -------------------------------------------------------------------------------------
def files_containing(root: Path, secrets: list[str]) -> list[tuple[str, str]]:
    """(file, secret prefix) for every file under ``root`` whose bytes contain one of ``secrets``;
    files that must hold a key (``*.key``, ``*.env``) are the caller's to exclude."""
    hits = []
    needles = [(s, s.encode()) for s in secrets if s]
    for p in Path(root).rglob("*"):
        if not p.is_file() or p.is_symlink():
            continue
        try:
            data = p.read_bytes()
        except OSError:
            continue
        for s, b in needles:
            if b in data:
                hits.append((str(p), s[:6]))
    return hits
