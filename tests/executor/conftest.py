"""Executor test helpers: a real embedded server, the real local Slurm cluster, and the executor
as a SUBPROCESS (`python -m hpcq.executor start`) so that tests can SIGKILL it. The submitting
side uses only pycolonies."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hpcq.colonyos import AttributeType
from hpcq.colonyos import ProcessState as PS
from hpcq.testing.faults import ExecutorProc, make_spec

EXECUTOR_TYPE = "hpcq-test"


@dataclass
class Colony:
    """The client side: a pycolonies client, the colony, a user key."""

    client: object
    colony: str
    prvkey: str
    colony_prvkey: str
    env: dict[str, str]

    def submit(
        self,
        funcname: str,
        params: dict | None = None,
        walltime: int = 60,
        maxexectime: int = 3600,
        maxretries: int = 0,
        executortype: str = EXECUTOR_TYPE,
        env: dict | None = None,
        **conditions,
    ):
        spec = make_spec(self.colony, funcname, params, executortype, walltime, maxexectime, maxretries, **conditions)
        spec.env.update(env or {})
        return self.client.submit_func_spec(spec, self.prvkey)

    def get(self, pid: str):
        return self.client.get_process(pid, self.prvkey)

    def wait(self, pid: str, timeout: float = 120, states=(PS.SUCCESS, PS.FAILED, PS.CANCELLED)):
        deadline = time.monotonic() + timeout
        while True:
            p = self.get(pid)
            if p.state in states:
                return p
            if time.monotonic() > deadline:
                raise AssertionError(f"process {pid} still in state {p.state} after {timeout} s")
            time.sleep(0.2)

    def attrs(self, p) -> dict[str, str]:
        return {a.key: a.value for a in (p.attributes or []) if a.attributetype == AttributeType.OUT}

    def wait_attr(self, pid: str, key: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.attrs(self.get(pid)).get(key)
            if v:
                return v
            time.sleep(0.2)
        raise AssertionError(f"process {pid} has no attribute {key} after {timeout} s")

    def logs(self, pid: str) -> str:
        rows = self.client.get_process_log(self.colony, pid, 500, 0, self.prvkey) or []
        return "\n".join(r["message"] for r in rows)


def make_colony(tmp: Path, kind: str = "embedded") -> tuple[object, Colony]:
    """A server of ``kind`` (hpcq.testing.server) with colony "dev"; (its handle, the client side)."""
    from pycolonies import Colonies

    from hpcq.testing.server import make_server

    srv = make_server(tmp, kind=kind)
    handle, env = srv, srv.env
    col = Colony(
        client=Colonies(srv.host, srv.port),
        colony=env["COLONIES_COLONY_NAME"],
        prvkey=env["COLONIES_PRVKEY"],
        colony_prvkey=env["COLONIES_COLONY_PRVKEY"],
        env=env,
    )
    return handle, col


@dataclass
class Lab:
    """A real Slurm cluster + a real embedded server + executor subprocesses, for one test module."""

    cluster: object
    col: Colony
    tmp: Path
    executors: list[ExecutorProc] = field(default_factory=list)

    def executor(
        self, name: str, *args: str, executor_type: str = EXECUTOR_TYPE, extra_env: dict[str, str] | None = None
    ) -> ExecutorProc:
        env = self.cluster.env(**self.col.env, **(extra_env or {}))
        env["HPCQ_CONFIG_DIR"] = str(self.tmp / "config")
        env.pop("COLONIES_EXECUTOR_NAME", None)
        env.pop("HPCQ_EXECUTOR_PRVKEY", None)
        env["PYTHONUNBUFFERED"] = "1"
        state = self.tmp / name / "state"
        state.parent.mkdir(parents=True, exist_ok=True)
        ex = ExecutorProc(
            env_file=None,
            env=env,
            state_dir=state,
            backend="slurm",
            name=name,
            executor_type=executor_type,
            extra_args=list(args),
        )
        self.executors.append(ex)
        return ex.start()

    def sacct_jobs(self, job_ids: set[str]) -> list[dict[str, str]]:
        """Allocation rows (no steps) for these main job ids, straight from slurmdbd."""
        out = self.cluster.run(
            "sacct", "-n", "-X", "-P", "-o", "JobID,JobName,State", "-j", ",".join(sorted(job_ids))
        ).stdout
        return [dict(zip(("JobID", "JobName", "State"), ln.split("|"), strict=False)) for ln in out.splitlines() if ln]

    def wait_sacct_state(self, job_id: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            rows = [r for r in self.sacct_jobs({job_id.split("_")[0]}) if r["JobID"] == job_id]
            state = rows[0]["State"] if rows else ""
            if state and state.split()[0] not in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED"):
                return state
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} still {state!r} after {timeout} s")

    def cancel_leftovers(self) -> None:
        out = self.cluster.run("squeue", "-h", "-o", "%i|%j").stdout
        ids = [ln.split("|")[0] for ln in out.splitlines() if ln.split("|")[-1].startswith("hpcq-")]
        if ids:
            self.cluster.run("scancel", *ids, check=False)


@pytest.fixture(scope="module")
def lab(slurm_cluster, tmp_path_factory, server_kind):
    tmp = tmp_path_factory.mktemp("executor")
    handle, col = make_colony(tmp, server_kind)
    lab = Lab(cluster=slurm_cluster, col=col, tmp=tmp)
    try:
        yield lab
    finally:
        for ex in lab.executors:
            ex.stop()
        lab.cancel_leftovers()
        slurm_cluster.heal()  # leave the shared session cluster as we found it
        handle.close()
