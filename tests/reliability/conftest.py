"""Fixtures for the fault suite: the session Slurm lab + a fresh server and executor per test."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from hpcq.testing.faults import ExecutorProc


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/reliability" in str(item.fspath):
            item.add_marker(pytest.mark.slurm)


@dataclass
class Rig:
    server: object  # hpcq.testing.server.ColoniesServer
    cluster: object  # hpcq.testing.slurm.LocalCluster
    ex: ExecutorProc
    figures: Path

    @property
    def client(self):
        return self.server.client()

    @property
    def prv(self) -> str:
        return self.server.user_prvkey

    @property
    def colony(self) -> str:
        return self.server.colony

    def record(self, name: str, **data) -> None:
        """Append this case's figures (for docs/reliability.md) when HPCQ_FAULT_FIGURES is set."""
        with open(self.figures, "a") as fh:
            fh.write(json.dumps({"case": name, **data}, default=str) + "\n")


@pytest.fixture
def rig(slurm_cluster, colonies_server, tmp_path):
    ex = ExecutorProc(env_file=colonies_server.env_file, state_dir=tmp_path / "executor", backend="slurm")
    figures = Path(os.environ.get("HPCQ_FAULT_FIGURES") or tmp_path / "figures.jsonl")
    ex.start()
    try:
        yield Rig(server=colonies_server, cluster=slurm_cluster, ex=ex, figures=figures)
    finally:
        ex.stop()
        # never leave jobs of this test behind in the shared session cluster
        ids = [p.parent.name.split("_")[0] for p in ex.jobs_dir.glob("*/*_submitted.pkl")]
        if ids:
            slurm_cluster.run("scancel", *sorted(set(ids)), check=False)
        slurm_cluster.heal()  # a node crash may leave a node DRAINED for the next test
