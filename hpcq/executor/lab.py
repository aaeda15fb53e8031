"""A real local Slurm cluster on this one host, for the demo, the tests and the benchmarks
(see docs/slurm-lab.md).

``local_cluster(dir, ...)`` runs slurm-up.sh / slurm-down.sh around a block and returns a
``LocalCluster`` with helpers (sacct, squeue, node states, fault injection, heal). The pytest
fixture that brings one up per test session lives in hpcq/testing/slurm.py.

The two scripts ship inside the package (hpcq/executor/lab_scripts/; scripts/slurm-*.sh in a
checkout are thin wrappers), so a wheel install can run the lab too:
``python -m hpcq.executor.lab up|down [DIR]``. What it needs from the machine (root, Debian's
Slurm 22.05 packages) is checked by ``prerequisites()``, whose message says so plainly.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent / "lab_scripts"  # package data (setup.cfg)
UP_SCRIPT = SCRIPTS / "slurm-up.sh"
DOWN_SCRIPT = SCRIPTS / "slurm-down.sh"
# Debian 12 packages slurm-up.sh installs (with apt-get) when missing; dbd=False needs only the first four
DEBIAN_PACKAGES = (
    "slurmctld",
    "slurmd",
    "slurm-client",
    "psmisc",
    "slurmdbd",
    "mariadb-server-core",
    "mariadb-client-core",
)
NEEDS = (
    "a local Slurm cluster needs root (slurmd runs the jobs as root, SlurmUser=root) and Debian's "
    f"Slurm 22.05 packages ({' '.join(DEBIAN_PACKAGES)}), which slurm-up.sh installs with apt-get "
    "when they are missing"
)

SACCT_FIELDS = (
    "JobID",
    "JobName",
    "State",
    "ExitCode",
    "NodeList",
    "NNodes",
    "AllocCPUS",
    "Partition",
    "Account",
    "QOS",
    "Elapsed",
    "Start",
    "End",
)
SQUEUE_FORMAT = ("JobID", "%i"), ("Name", "%j"), ("State", "%T"), ("Time", "%M"), ("Nodes", "%D"), ("NodeList", "%R")


class SlurmLabError(RuntimeError):
    """The lab cluster could not be started or did not behave; the message says where the logs are."""


def prerequisites() -> tuple[bool, str]:
    """(ok, reason): root plus either Slurm's binaries or apt-get to install them; the reason
    says what is missing and what the lab needs."""
    if os.geteuid() != 0:
        return False, f"not root: {NEEDS}"
    have = all(shutil.which(c) for c in ("slurmctld", "slurmd", "sbatch", "sacct"))
    if not have and not shutil.which("apt-get"):
        return False, f"Slurm is not installed and there is no apt-get to install it: {NEEDS}"
    return True, ""


def _ports_free(ports: list[int]) -> bool:
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                return False
    return True


def free_port_base(nodes: int, tries: int = 200) -> int:
    """A slurmctld port P with P, P+2 (slurmdbd) and P+10..P+9+nodes (slurmd) all free, picked at
    random in 20000-32767 (below Linux's ephemeral range, so outgoing connections cannot take them
    between this check and the daemons' start) so that clusters of parallel sessions rarely collide."""
    for _ in range(tries):
        base = random.randrange(20000, 32768 - 20 - nodes, 20)
        if _ports_free([base, base + 2, *range(base + 10, base + 10 + nodes)]):
            return base
    raise SlurmLabError("no free port range for a Slurm lab cluster")


def _parse_table(text: str, sep: str = "|") -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return []
    header = lines[0].split(sep)
    return [dict(zip(header, ln.split(sep), strict=False)) for ln in lines[1:]]


@dataclass
class LocalCluster:
    """A running lab cluster: its directory, config, node names and helpers to poke it."""

    dir: Path
    nodes: list[str]
    cpus: int
    port: int
    dbd: bool
    name: str = "lab"  # ClusterName: two clusters on this host are two sites
    up_seconds: float = 0.0
    up_output: str = ""
    _down: bool = field(default=False, repr=False)

    @property
    def conf(self) -> Path:
        return self.dir / "slurm.conf"

    def env(self, **extra: str) -> dict[str, str]:
        """os.environ with SLURM_CONF pointing at this cluster (for subprocesses)."""
        return {**os.environ, "SLURM_CONF": str(self.conf), **extra}

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a Slurm client command against this cluster; CalledProcessError carries its stderr."""
        return subprocess.run(list(cmd), env=self.env(), capture_output=True, text=True, check=check, timeout=timeout)

    # --- queries -------------------------------------------------------------------------------
    def sacct(self, jobid: str | int) -> list[dict[str, str]]:
        """Real accounting rows for a job (the job itself first, then its steps)."""
        if not self.dbd:
            raise SlurmLabError("this cluster runs without slurmdbd (dbd=False): sacct is disabled")
        out = self.run("sacct", "-j", str(jobid), "--parsable2", "-o", ",".join(SACCT_FIELDS)).stdout
        return _parse_table(out)

    def squeue(self) -> list[dict[str, str]]:
        fmt = "|".join(code for _, code in SQUEUE_FORMAT)
        out = self.run("squeue", "-h", "-o", fmt).stdout
        header = [name for name, _ in SQUEUE_FORMAT]
        return [dict(zip(header, ln.split("|"), strict=False)) for ln in out.splitlines() if ln.strip()]

    def job_names(self) -> dict[str, str]:
        """Job id -> name, from slurmctld (finished jobs stay there MinJobAge=3600 s). Ask here, not
        sacct, for names: when a step's start reaches slurmdbd before its job's, slurmdbd records
        the job under the name "allocation" (seen in CI under load)."""
        out = self.run("squeue", "-h", "-t", "all", "-o", "%i|%j").stdout
        return dict(ln.split("|", 1) for ln in out.splitlines() if "|" in ln)

    def node_states(self) -> dict[str, str]:
        """Node name -> state as sinfo prints it (e.g. idle, allocated, down*, idle*)."""
        out = self.run("sinfo", "-h", "-N", "-o", "%N|%T").stdout
        return dict(ln.split("|", 1) for ln in out.splitlines() if "|" in ln)

    def wait_node_state(self, node: str, prefixes: tuple[str, ...], timeout: float = 60) -> str:
        """Poll sinfo until ``node``'s state starts with one of ``prefixes``; return that state."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.node_states().get(node, "")
            if state.startswith(prefixes):
                return state
            time.sleep(0.5)
        raise SlurmLabError(f"node {node} still {state!r} after {timeout:.0f} s (wanted {prefixes})")

    def wait_job(self, jobid: str | int, timeout: float = 60) -> str:
        """Wait until sacct shows a final state for the job; return it (e.g. COMPLETED, FAILED)."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            rows = [r for r in self.sacct(jobid) if r["JobID"] == str(jobid)]
            state = rows[0]["State"] if rows else ""
            if state and state.split()[0] not in ("PENDING", "RUNNING", "REQUEUED", "COMPLETING", "SUSPENDED"):
                return state
            time.sleep(0.5)
        raise SlurmLabError(f"job {jobid} still {state!r} after {timeout:.0f} s")

    def sbatch(self, *args: str, wrap: str | None = None) -> str:
        """Submit with sbatch --parsable; returns the job id."""
        cmd = ["sbatch", "--parsable", *args] + (["--wrap", wrap] if wrap is not None else [])
        return self.run(*cmd).stdout.strip().split(";")[0]

    # --- faults --------------------------------------------------------------------------------
    def _pid(self, name: str) -> int | None:
        path = self.dir / f"{name}.pid"
        try:
            pid = int(path.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def daemon_pids(self) -> dict[str, int]:
        """Live daemons of this lab by name (slurmctld, slurmd-n1, ..., slurmdbd, mariadbd)."""
        names = ["slurmctld", "slurmdbd", "mariadbd"] + [f"slurmd-{n}" for n in self.nodes]
        return {n: p for n in names if (p := self._pid(n)) is not None}

    def kill_slurmd(self, node: str, sig: int = signal.SIGKILL) -> None:
        """Kill node's slurmd (SIGKILL: a crash; its running steps survive, as on real hardware).
        The node goes DOWN (jobs on it NODE_FAIL) 25-27 s later here with SlurmdTimeout=10."""
        self._check_node(node)
        pid = self._pid(f"slurmd-{node}")
        if pid is None:
            raise SlurmLabError(f"slurmd of {node} is not running")
        os.kill(pid, sig)
        _wait_gone(pid, 15)

    def start_slurmd(self, node: str, wait: bool = True, timeout: float = 60) -> None:
        """Restart node's slurmd; with wait, until the node is back in service (ReturnToService=2)."""
        self._check_node(node)
        if self._pid(f"slurmd-{node}") is None:
            self.run("slurmd", "-N", node)
        if wait:
            self.wait_node_state(node, ("idle", "mixed", "allocated", "completing"), timeout)

    def stop_ctld(self) -> None:
        """Stop slurmctld (SIGTERM: it saves state); jobs keep running on the nodes."""
        pid = self._pid("slurmctld")
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 30)

    def start_ctld(self, timeout: float = 30) -> None:
        """Start slurmctld again; it recovers jobs from its StateSaveLocation."""
        if self._pid("slurmctld") is None:
            self.run("slurmctld")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run("scontrol", "ping", check=False).stdout.count("UP") >= 1:
                return
            time.sleep(0.2)
        raise SlurmLabError(f"slurmctld did not answer within {timeout} s; see {self.dir}/log/slurmctld.log")

    def heal(self, timeout: float = 90) -> dict[str, str]:
        """Undo faults for the next test of a shared session cluster: restart dead daemons,
        RESUME drained/down nodes (a crashed node can stay DRAINED, e.g. "Kill task failed"),
        and wait until every node is idle or busy again. Returns the final node states."""
        if self._pid("slurmctld") is None:
            self.start_ctld()
        for node in self.nodes:
            if self._pid(f"slurmd-{node}") is None:
                self.start_slurmd(node, wait=False)
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.node_states()
            bad = [n for n, st in states.items() if st.rstrip("*~#").startswith(("drain", "down", "fail"))]
            if not bad and all(not st.endswith("*") for st in states.values()):
                return states
            for n in bad:
                self.run("scontrol", "update", f"NodeName={n}", "State=RESUME", check=False)
            time.sleep(1.0)
        raise SlurmLabError(f"nodes did not come back within {timeout:.0f} s: {states}")

    def _check_node(self, node: str) -> None:
        if node not in self.nodes:
            raise SlurmLabError(f"no node {node!r} in this cluster (nodes: {', '.join(self.nodes)})")

    # --- lifecycle -----------------------------------------------------------------------------
    def down(self, purge: bool = False) -> None:
        """Stop every process of this cluster (idempotent)."""
        if self._down:
            return
        args = ["bash", str(DOWN_SCRIPT), str(self.dir)] + (["--purge"] if purge else [])
        subprocess.run(args, capture_output=True, text=True, timeout=120)
        self._down = True


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)
    raise SlurmLabError(f"process {pid} still alive after {timeout} s")


def start_cluster(
    dir: str | Path,
    nodes: int = 3,
    cpus: int = 8,
    dbd: bool = True,
    port: int | None = None,
    mpi: str = "pmi2",
    slurmd_timeout: int = 10,
    mem_mb: int = 16000,
    qpu: str = "",
    qpu_endpoint: str = "",
    name: str = "lab",
) -> LocalCluster:
    """Run slurm-up.sh in ``dir`` and return the running cluster (call .down() later). ``qpu``: a
    QPU name the cluster grants as gres ``qpu`` and license ``iqm_qc_<qpu>``, with a TaskProlog
    exporting QRMI's environment (endpoint ``qpu_endpoint``) to jobs granted it (docs/qpu.md).
    ``name``: its ClusterName (lower-case letters, digits, _); with its own dir (state, spool,
    database) and free ports, several clusters run side by side, e.g. two sites
    (tests/executor/test_failover.py)."""
    ok, reason = prerequisites()
    if not ok:
        raise SlurmLabError(reason)
    port = port or free_port_base(nodes)
    env = {
        **os.environ,
        "SLURM_LAB_NODES": str(nodes),
        "SLURM_LAB_CPUS": str(cpus),
        "SLURM_LAB_DBD": "1" if dbd else "0",
        "SLURM_LAB_PORT": str(port),
        "SLURM_LAB_MPI": mpi,
        "SLURM_LAB_SLURMD_TIMEOUT": str(slurmd_timeout),
        "SLURM_LAB_MEM_MB": str(mem_mb),
        "SLURM_LAB_QPU": qpu,
        **({"SLURM_LAB_QPU_ENDPOINT": qpu_endpoint} if qpu_endpoint else {}),
        "SLURM_LAB_CLUSTER": name,
    }
    cluster = LocalCluster(
        dir=Path(dir).resolve(), nodes=[f"n{i}" for i in range(1, nodes + 1)], cpus=cpus, port=port, dbd=dbd, name=name
    )
    t0 = time.monotonic()
    r = subprocess.run(["bash", str(UP_SCRIPT), str(cluster.dir)], env=env, capture_output=True, text=True, timeout=300)
    cluster.up_seconds = time.monotonic() - t0
    cluster.up_output = r.stdout
    if r.returncode != 0:
        cluster.down()
        raise SlurmLabError(f"{UP_SCRIPT} {cluster.dir} failed (rc {r.returncode}):\n{r.stdout}{r.stderr}")
    return cluster


@contextlib.contextmanager
def local_cluster(dir: str | Path, set_env: bool = False, purge: bool = True, **options: Any) -> Iterator[LocalCluster]:
    """A lab cluster for the duration of a with-block; torn down on exit, exception or Ctrl-C.
    ``options`` are those of ``start_cluster`` (nodes, cpus, dbd, port, mpi, slurmd_timeout, mem_mb, qpu,
    qpu_endpoint, name).
    set_env=True also points os.environ["SLURM_CONF"] at it (restored afterwards)."""
    cluster = start_cluster(dir, **options)
    atexit.register(cluster.down)  # last resort if the interpreter exits inside the block
    old = os.environ.get("SLURM_CONF")
    if set_env:
        os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if set_env:
            if old is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = old
        cluster.down(purge=purge)
        atexit.unregister(cluster.down)


def main(argv: list[str] | None = None) -> int:
    """``python -m hpcq.executor.lab up [DIR] | down [DIR] [--purge]``: the lab scripts from an
    installed package (same environment knobs as scripts/slurm-up.sh, see docs/slurm-lab.md)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m hpcq.executor.lab", description=main.__doc__)
    ap.add_argument("action", choices=["up", "down"])
    ap.add_argument("dir", nargs="?", default=".slurm-lab")
    ap.add_argument("--purge", action="store_true", help="down: also delete DIR")
    a = ap.parse_args(argv)
    if a.action == "up":
        ok, reason = prerequisites()
        if not ok:
            print(f"hpcq lab: {reason}", file=sys.stderr)
            return 1
        return subprocess.call(["bash", str(UP_SCRIPT), a.dir])
    return subprocess.call(["bash", str(DOWN_SCRIPT), a.dir] + (["--purge"] if a.purge else []))


if __name__ == "__main__":
    sys.exit(main())
