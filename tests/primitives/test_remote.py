"""Remote mode through the real embedded server, the real executor and the local Slurm cluster:
the same numbers as local mode (and Aer), MPI splitting, the job's own error in result(), and
cancel() stopping the Slurm job."""

from __future__ import annotations

import time

import numpy as np
import pytest
from qiskit.circuit.library import efficient_su2
from qiskit.providers import JobStatus
from qiskit.quantum_info import SparsePauliOp

from hpcq.primitives import EstimatorV2, PrimitiveJobError, SamplerV2

pytestmark = [pytest.mark.slurm, pytest.mark.both_servers]


def _pubs():
    qc = efficient_su2(3, reps=1)
    vals = np.random.default_rng(2).uniform(-np.pi, np.pi, (4, qc.num_parameters))
    obs = [[SparsePauliOp.from_list([("XZI", 1.0), ("ZZZ", -0.3)])], [SparsePauliOp("IIY")]]
    return [(qc, obs, vals), (qc, "ZZZ", vals[:2])]


def _same_estimates(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.data.evs.shape == y.data.evs.shape
        np.testing.assert_allclose(x.data.evs, y.data.evs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(x.data.stds, y.data.stds, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def slow_job(remote):
    """Submitted first so that it is running while the quick cases are checked."""
    qc = efficient_su2(16, reps=4)
    vals = np.random.default_rng(0).uniform(0, 1, (4000, qc.num_parameters))
    est = EstimatorV2(mode="remote", settings=remote.settings, **remote.options(label="slow"))
    return est.run([(qc, "Z" * 16, vals)])


def test_remote_estimator_equals_local_and_runs_as_slurm_job(remote, slow_job):
    pubs = _pubs()
    est = EstimatorV2(mode="remote", settings=remote.settings, **remote.options(seed=3))
    job = est.run(pubs, precision=0.01)
    local = EstimatorV2(mode="local", seed=3).run(pubs, precision=0.01).result()
    res = job.result()
    assert job.status() == JobStatus.DONE and job.done() and job.in_final_state()
    _same_estimates(res, local)
    p = job.process
    assert p.processid == job.job_id() and p.spec.funcname == "primitive_run"
    slurm = {a.key: a.value for a in p.attributes}["slurm_job_id"]
    deadline = time.monotonic() + 60
    while remote.sacct(slurm)[:1] and remote.sacct(slurm)[0]["State"] != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert remote.sacct(slurm)[0]["State"] == "COMPLETED"


def test_remote_exact_estimator_equals_aer(remote):
    from qiskit_aer.primitives import EstimatorV2 as AerEstimator

    pubs = _pubs()
    res = EstimatorV2(mode="remote", settings=remote.settings, **remote.options()).run(pubs).result()
    _same_estimates(res, AerEstimator().run(pubs).result())


def test_remote_sampler_equals_local(remote):
    qc = efficient_su2(3, reps=1)
    qc.measure_all()
    vals = np.random.default_rng(4).uniform(0, np.pi, (2, 3, qc.num_parameters))
    pubs = [(qc, vals), (qc, vals[0, :1], 50)]
    job = SamplerV2(mode="remote", settings=remote.settings, **remote.options(seed=9)).run(pubs, shots=200)
    local = SamplerV2(mode="local", seed=9).run(pubs, shots=200).result()
    res = job.result()
    for a, b in zip(res, local, strict=True):
        assert a.data.meas.shape == b.data.meas.shape
        assert np.array_equal(a.data.meas.array, b.data.meas.array)


def test_remote_splits_parameter_sets_over_mpi_ranks(remote):
    pubs = _pubs()
    opts = remote.options(resources={"walltime": 120, "mem": "2Gi", "ranks_per_node": 2})
    res = EstimatorV2(mode="remote", settings=remote.settings, **opts).run(pubs).result()
    assert res.metadata["hpcq"]["ranks"] == 2 and res.metadata["hpcq"]["slices"] >= 2
    _same_estimates(res, EstimatorV2(mode="local").run(pubs).result())


def test_error_in_the_job_raises_in_result_with_its_message(remote):
    job = EstimatorV2(mode="remote", settings=remote.settings, **remote.options(device="GPU")).run(_pubs())
    with pytest.raises(PrimitiveJobError, match=r"primitive_run failed in Slurm job \d+.*device: 'GPU' requested"):
        job.result()
    assert job.status() == JobStatus.ERROR


def test_bad_input_is_refused_before_anything_is_queued(remote):
    from hpcq.primitives import OptionsError

    est = EstimatorV2(mode="remote", settings=remote.settings, **remote.options())
    before = _count(remote)
    qc = efficient_su2(2, reps=1)
    with pytest.raises(ValueError, match="not a valid estimator PUB"):
        est.run([(qc, "ZZZ")])
    with pytest.raises(OptionsError, match="unknown option 'precison'"):
        EstimatorV2(mode="remote", settings=remote.settings, precison=0.1)
    assert _count(remote) == before


def test_cancel_stops_the_slurm_job(remote, slow_job):
    job = slow_job
    deadline = time.monotonic() + 120
    while job.status() != JobStatus.RUNNING or not remote.sacct(_slurm_id(job)):
        assert time.monotonic() < deadline, "slow job never ran"
        time.sleep(0.2)
    slurm = _slurm_id(job)
    assert job.cancel()
    while remote.sacct(slurm)[0]["State"].split()[0] in ("PENDING", "RUNNING", "COMPLETING"):
        assert time.monotonic() < deadline + 60, remote.sacct(slurm)
        time.sleep(0.3)
    assert remote.sacct(slurm)[0]["State"].startswith("CANCELLED")
    job.wait(60)
    assert job.cancelled() and job.status() == JobStatus.CANCELLED
    with pytest.raises(PrimitiveJobError, match="cancel"):
        job.result()


def _count(remote) -> int:
    from hpcq.colonyos import ProcessState, connect

    c = connect(remote.settings)
    return sum(
        len(c.list_processes(remote.settings.colony_name, 100, s, remote.settings.prvkey) or [])
        for s in (ProcessState.WAITING, ProcessState.RUNNING, ProcessState.SUCCESS, ProcessState.FAILED)
    )


def _slurm_id(job) -> str:
    return {a.key: a.value for a in job.process.attributes}.get("slurm_job_id", "")
