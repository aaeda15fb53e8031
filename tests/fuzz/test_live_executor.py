"""A sample of fuzzed specs submitted through pycolonies to a live executor (submitit local
backend: refusals happen before any job, so Slurm adds nothing here). Every process ends FAILED
with a message (or SUCCESS for the near-valid ones that really are valid), nothing the spec says
runs as code, and the executor still serves a final echo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings

from hpcq.colonyos import ProcessState as PS
from hpcq.testing.faults import ExecutorProc, make_spec, wait_final
from tests.fuzz.strategies import FUZZ, any_spec

PWNED = Path("/tmp/hpcq-pwned")
SAMPLE = int(os.environ.get("HPCQ_FUZZ_LIVE", "20"))


def _specs(n: int) -> list[dict]:
    out: list[dict] = []

    @settings(FUZZ, max_examples=n)
    @given(any_spec)
    def collect(fields):
        out.append(fields)

    collect()
    return out[:n]


def _funcspec(colony: str, f: dict):
    from model import Conditions, FuncSpec, Gpu

    c = dict(f["conditions"])
    # the server already refuses malformed sizes (400 naming the field, see test_api); keep the
    # process submittable so the *executor* sees the hostile funcname/kwargs/env/sizes
    for k in ("cpu", "mem"):
        if c.get(k) not in ("", "1000m", "2000m", "1Gi", "512Mi", "4Gi"):
            c[k] = ""
    # like Colonies, the server never assigns counts > 127 (int8), nor Colonies' exclusive-assign
    # mode storage > 0: such a process would wait forever, so they are kept out of the live sample
    c["storage"] = ""
    for k in ("nodes", "processespernode", "processes"):
        c[k] = min(c.get(k, 0), 127)
    c["executornames"] = None  # a random name would leave the process waiting for no one
    g = dict(c.pop("gpu"))
    g["mem"] = ""
    gpu = Gpu(**g)
    return FuncSpec(
        nodename="fuzz",
        funcname=f["funcname"],
        args=[],
        kwargs=f["kwargs"],
        priority=0,
        maxwaittime=-1,
        maxexectime=f["maxexectime"],
        maxretries=0,
        env=f["env"],
        conditions=Conditions(colonyname=colony, executortype="hpcq", gpu=gpu, **c),
    )


def _run(colonies_server, tmp_path, n):
    PWNED.unlink(missing_ok=True)
    ex = ExecutorProc(env_file=colonies_server.env_file, state_dir=tmp_path / "executor", backend="local")
    client, key = colonies_server.client(), colonies_server.user_prvkey
    with ex.start():
        pids, refused_at_submit = [], 0
        for f in _specs(n):
            try:
                pids.append(client.submit_func_spec(_funcspec(colonies_server.colony, f), key).processid)
            except Exception as exc:  # noqa: BLE001 - the server refused it: the message must say why
                assert "spec" in str(exc), (str(exc), f)
                refused_at_submit += 1
        procs = wait_final(client, key, pids, 120 + 2 * n)
        assert ex.alive(), ex.log_text()[-3000:]
        final = make_spec(colonies_server.colony, "hpcq_echo", {"message": "still serving"}, walltime=60)
        echo = client.submit_func_spec(final, key).processid
        done = wait_final(client, key, [echo], 120)[echo]
    assert done.state == PS.SUCCESS, done.errors
    states = {p: procs[p].state for p in pids}
    assert all(PS(s).final for s in states.values()), states
    for p in pids:
        if procs[p].state == PS.FAILED:
            assert procs[p].errors and procs[p].errors[0].strip(), procs[p]
    assert not PWNED.exists(), "a fuzzed spec ran a shell command"
    assert "Traceback" not in ex.log_text(), ex.log_text()[-3000:]
    return {
        "submitted": len(pids),
        "refused_at_submit": refused_at_submit,
        "failed": sum(s == PS.FAILED for s in states.values()),
        "succeeded": sum(s == PS.SUCCESS for s in states.values()),
    }


def test_fuzzed_specs_against_live_executor(colonies_server, tmp_path):
    stats = _run(colonies_server, tmp_path, SAMPLE)
    assert stats["failed"] > 0, stats


@pytest.mark.slow
def test_fuzzed_specs_against_live_executor_long(colonies_server, tmp_path):
    stats = _run(colonies_server, tmp_path, int(os.environ.get("HPCQ_FUZZ_LIVE", "200")))
    print(f"live executor fuzz: {stats}")
