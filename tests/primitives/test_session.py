"""Sessions: one Slurm allocation serving many run() calls, ended by close() or idle timeout."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp

from hpcq.colonyos import ProcessState
from hpcq.primitives import EstimatorV2, PrimitiveJobError, SamplerV2, Session
from hpcq.testing.faults import ExecutorProc

pytestmark = [pytest.mark.slurm, pytest.mark.both_servers]


def _slurm_jobs(remote, exclude: set[str] = frozenset()) -> list[dict[str, str]]:
    """hpcq's jobs in slurmdbd (not the lab's own probe jobs), minus those in ``exclude``; names from
    slurmctld (LocalCluster.job_names says why not from sacct)."""
    out = remote.cluster.run("sacct", "-n", "-X", "-P", "-o", "JobID,State", "-S", "2000-01-01").stdout
    rows = [dict(zip(("JobID", "State"), ln.split("|"), strict=False)) for ln in out.splitlines() if ln]
    names = remote.cluster.job_names()
    return [r for r in rows if names.get(r["JobID"], "").startswith("hpcq-") and r["JobID"] not in exclude]


def test_session_serves_50_calls_with_one_slurm_job(remote):
    qc = efficient_su2(2, reps=1)
    ham = SparsePauliOp.from_list([("ZZ", 1.0), ("XI", 0.4), ("IX", 0.4)])
    rng = np.random.default_rng(1)
    before = set(remote.cluster.job_names())  # every job slurmctld knows now (sacct may lag behind it)
    opts = remote.options(resources={"walltime": 300, "mem": "1Gi"})
    with Session(settings=remote.settings, idle_timeout_s=120, **opts) as session:
        est = EstimatorV2(mode=session, **opts)
        local = EstimatorV2(mode="local")
        jobs_of_calls = set()
        for _ in range(49):  # a VQE loop: one call per iteration
            x = rng.uniform(-1, 1, qc.num_parameters)
            job = est.run([(qc, ham, x)])
            ev = job.result()[0].data.evs
            np.testing.assert_allclose(ev, local.run([(qc, ham, x)]).result()[0].data.evs, rtol=0, atol=1e-12)
            jobs_of_calls.add({a.key: a.value for a in job.process.attributes}["slurm_job_id"])
        sampler_job = SamplerV2(mode=session, seed=4, **opts).run([(qc.measure_all(inplace=False), x)], shots=64)
        counts = sampler_job.result()[0].data.meas.get_counts()
        assert sum(counts.values()) == 64
        jobs_of_calls.add({a.key: a.value for a in sampler_job.process.attributes}["slurm_job_id"])
        session_job = Session.slurm_job_id(session.process())
        sid = session.session_id
    assert jobs_of_calls == {session_job}
    end = session.closed_process
    assert end.state == ProcessState.SUCCESS, end.errors
    summary = json.loads(end.output[1])
    assert summary["calls"] == 50 and summary["ended"] == "closed"
    deadline = time.monotonic() + 60
    while True:
        jobs = _slurm_jobs(remote, before)
        done = jobs and all(j["State"] == "COMPLETED" for j in jobs)  # []: slurmdbd has not got it yet
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [(j["JobID"], j["State"]) for j in jobs] == [(session_job, "COMPLETED")], jobs  # sacct shows one job
    # a call to the ended session is refused with a clear message
    late = EstimatorV2(mode="remote", settings=remote.settings, **opts)
    late._mode = session
    with pytest.raises(PrimitiveJobError, match=f"session {sid} has ended"):
        late.run([(qc, ham, x)]).result()


def test_session_ends_on_idle_timeout(remote):
    opts = remote.options(resources={"walltime": 300, "mem": "1Gi"})
    session = Session(settings=remote.settings, idle_timeout_s=2, **opts).start()
    deadline = time.monotonic() + 90
    while not ProcessState(session.process().state).final:
        assert time.monotonic() < deadline, "the session did not end on its idle timeout"
        time.sleep(0.5)
    p = session.process()
    assert p.state == ProcessState.SUCCESS, p.errors
    assert json.loads(p.output[1])["ended"] == "idle timeout"
    job = Session.slurm_job_id(p)
    deadline = time.monotonic() + 60
    while remote.sacct(job)[0]["State"] != "COMPLETED":
        assert time.monotonic() < deadline, remote.sacct(job)
        time.sleep(0.5)


def test_session_with_two_mpi_ranks_splits_each_call(remote):
    qc = efficient_su2(3, reps=1)
    vals = np.random.default_rng(5).uniform(-1, 1, (6, qc.num_parameters))
    opts = remote.options(resources={"walltime": 300, "mem": "2Gi", "ranks_per_node": 2})
    local = EstimatorV2(mode="local").run([(qc, ["ZZZ", "XIX"], vals[:, None, :])]).result()
    with Session(settings=remote.settings, idle_timeout_s=60, **opts) as session:
        est = EstimatorV2(mode=session, **opts)
        for _ in range(3):
            res = est.run([(qc, ["ZZZ", "XIX"], vals[:, None, :])]).result()
            assert res.metadata["hpcq"]["ranks"] == 2
            np.testing.assert_allclose(res[0].data.evs, local[0].data.evs, rtol=0, atol=1e-12)
    assert json.loads(session.closed_process.output[1])["calls"] == 3


def test_session_calls_stay_with_its_executor_when_two_serve_the_type(remote):
    """Two executors of one type: a session's calls are pinned (conditions.executornames) to the
    executor whose job serves the session; unpinned, about half would go to the other executor,
    which refuses them ("not a session this executor serves")."""
    other = ExecutorProc(
        env_file=None,
        state_dir=remote.tmp / "state-2",
        name="prim-exec-2",
        executor_type=remote.options()["executor_type"],
        extra_args=["--poll", "0.02"],
        env=remote.executor.env,
    ).start()
    try:
        qc = efficient_su2(2, reps=1)
        ham = SparsePauliOp.from_list([("ZZ", 1.0), ("XI", 0.4)])
        opts = remote.options(resources={"walltime": 300, "mem": "1Gi"})
        with Session(settings=remote.settings, idle_timeout_s=120, **opts) as session:
            assert session.executor in ("prim-exec", "prim-exec-2")
            owner = session.process().assignedexecutorid
            est = EstimatorV2(mode=session, **opts)
            jobs = [est.run([(qc, ham, np.full(qc.num_parameters, 0.1 * k))]) for k in range(6)]
            for job in jobs:
                assert job.result()[0].data.evs is not None
                assert job.process.assignedexecutorid == owner
                assert job.process.spec.conditions.executornames == [session.executor]
    finally:
        other.stop()
