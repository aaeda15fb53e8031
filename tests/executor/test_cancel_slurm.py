"""Server-side cancellation (colonies v1.9.12 cancelprocessgraphmsg) with the real executor and
Slurm: a workflow cancelled mid-run leaves no Slurm job and every process CANCELLED."""

from __future__ import annotations

import time

import pytest

from hpcq.client import cancel
from hpcq.colonyos import ProcessState as PS
from hpcq.colonyos import client as hpcq_client
from hpcq.functions import encode_kwargs

from .conftest import EXECUTOR_TYPE

pytestmark = [pytest.mark.slurm, pytest.mark.both_servers]


def test_workflow_cancelled_mid_run_leaves_no_slurm_job(lab):
    from model import Workflow
    from pycolonies import func_spec

    col = lab.col
    ex = lab.executor("exec-cancel")
    specs = []
    for name, deps, fn, params in (
        ("long", [], "hpcq_sleep", {"seconds": 600}),
        ("after", ["long"], "hpcq_echo", {"message": "never"}),
    ):
        s = func_spec(
            fn,
            [],
            col.colony,
            EXECUTOR_TYPE,
            kwargs=encode_kwargs(params),
            maxexectime=3600,
            maxretries=0,
            maxwaittime=-1,
        )
        s.nodename, s.conditions.dependencies, s.conditions.walltime = name, deps, 300
        specs.append(s)
    g = col.client.submit_workflow(Workflow(colonyname=col.colony, functionspecs=specs), col.prvkey)
    long_pid = next(pid for pid in g.processids if col.get(pid).spec.nodename == "long")
    job = col.wait_attr(long_pid, "slurm_job_id", 120)
    c = hpcq_client(col.client.host, col.client.port)  # pycolonies' client plus the cancel messages
    assert cancel.supports_cancel(c, col.prvkey)
    c.cancel_processgraph(g.processgraphid, col.prvkey)
    assert [col.get(pid).state for pid in g.processids] == [PS.CANCELLED] * 2
    assert col.client.get_processgraph(g.processgraphid, col.prvkey).state == PS.CANCELLED
    assert lab.wait_sacct_state(job, 90).startswith("CANCELLED")  # the executor scancelled it
    deadline = time.monotonic() + 30
    while job.split("_")[0] in lab.cluster.run("squeue", "-h", "-o", "%i").stdout:
        assert time.monotonic() < deadline, "the cancelled job is still in squeue"
        time.sleep(0.5)
    assert [col.get(pid).state for pid in g.processids] == [PS.CANCELLED] * 2  # the executor did not reopen them
    assert ex.alive(), ex.log_text()[-3000:]
