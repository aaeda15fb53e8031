"""Remote-mode fixtures: the real embedded server, the real local Slurm cluster and the executor as
a subprocess (`python -m hpcq.executor start`); the primitives talk to the server only through
hpcq's client (pycolonies)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from hpcq.testing.faults import ExecutorProc

EXECUTOR_TYPE = "hpcq-prim"


@dataclass
class Remote:
    cluster: object
    settings: object  # hpcq.config.Settings of a colony user
    executor: ExecutorProc
    tmp: Path

    def options(self, **kw) -> dict:
        base = {
            "executor_type": EXECUTOR_TYPE,
            "profile": "local",
            "resources": {"walltime": 120, "mem": "1Gi"},
            "result_timeout_s": 240,
        }
        base.update(kw)
        return base

    def sacct(self, job_id: str) -> list[dict[str, str]]:
        out = self.cluster.run("sacct", "-n", "-X", "-P", "-o", "JobID,JobName,State", "-j", job_id).stdout
        return [dict(zip(("JobID", "JobName", "State"), ln.split("|"), strict=False)) for ln in out.splitlines() if ln]

    def log_text(self) -> str:
        return self.executor.log_text()


@pytest.fixture(scope="module")
def remote(slurm_cluster, tmp_path_factory, server_kind):
    from hpcq.config import Settings
    from hpcq.testing.server import make_server

    tmp = tmp_path_factory.mktemp("primitives")
    handle = make_server(tmp, kind=server_kind)
    env = handle.env
    settings = Settings(
        host=handle.host, port=handle.port, colony_name=env["COLONIES_COLONY_NAME"], prvkey=env["COLONIES_PRVKEY"]
    )
    xenv = slurm_cluster.env(**env)
    xenv.update(HPCQ_CONFIG_DIR=str(tmp / "config"), PYTHONUNBUFFERED="1")
    xenv.pop("COLONIES_EXECUTOR_NAME", None)
    xenv.pop("HPCQ_EXECUTOR_PRVKEY", None)
    ex = ExecutorProc(
        env_file=None,
        state_dir=tmp / "state",
        name="prim-exec",
        executor_type=EXECUTOR_TYPE,
        extra_args=["--poll", "0.02"],
        env=xenv,
    ).start()
    r = Remote(cluster=slurm_cluster, settings=settings, executor=ex, tmp=tmp)
    try:
        yield r
        assert ex.alive(), "executor died:\n" + ex.log_text()[-3000:]
    finally:
        ex.stop()
        out = slurm_cluster.run("squeue", "-h", "-o", "%i|%j").stdout
        ids = [ln.split("|")[0] for ln in out.splitlines() if ln.split("|")[-1].startswith("hpcq-")]
        if ids:
            slurm_cluster.run("scancel", *ids, check=False)
        slurm_cluster.heal()
        handle.close()
