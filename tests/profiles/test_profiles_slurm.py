"""The local profile's submitit parameters, run for real on the lab cluster."""

from __future__ import annotations

import pytest

from hpcq.executor.profiles import load_profile, resolve_resources, submitit_params
from hpcq.executor.slurm_errors import INFRA_RETRIES as MPI_START_ATTEMPTS
from hpcq.executor.slurm_errors import mpi_start_failed

pytestmark = [pytest.mark.slurm, pytest.mark.mpi]


def _inside_job():
    import os

    import submitit
    from mpi4py import MPI

    env = submitit.JobEnvironment()
    keys = ("SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS", "SLURM_MEM_PER_NODE", "SLURM_JOB_PARTITION", "SLURMD_NODENAME")
    return (
        env.global_rank,
        env.num_tasks,
        env.num_nodes,
        MPI.COMM_WORLD.Get_rank(),
        MPI.COMM_WORLD.Get_size(),
        {k: os.environ.get(k) for k in keys},
    )


def test_local_profile_params_run_an_mpi_job(slurm_cluster, tmp_path):
    import submitit

    prof = load_profile("local")
    res = resolve_resources(prof, {"nodes": 2, "processespernode": 2, "cpu": "2000m", "mem": "1024Mi", "walltime": 120})
    params = submitit_params(res, prof)
    ex = submitit.AutoExecutor(folder=tmp_path / "sub", cluster="slurm")
    ex.update_parameters(**params)
    for attempt in range(MPI_START_ATTEMPTS):
        # as the executor does: an MPI start-up fault of pip MPICH (before any rank ran) is retried
        job = ex.submit(_inside_job)
        try:
            out = job.results()
            break
        except submitit.core.utils.UncompletedJobError:
            stderr = job.stderr() or ""
            if attempt + 1 == MPI_START_ATTEMPTS or not mpi_start_failed(stderr):
                raise
    assert sorted(r[0] for r in out) == [0, 1, 2, 3]
    assert all(r[0] == r[3] for r in out)  # submitit rank == MPI rank: one world via --mpi=pmi2
    assert {(r[1], r[2], r[4]) for r in out} == {(4, 2, 4)}
    envs = [r[5] for r in out]
    assert {e["SLURM_CPUS_PER_TASK"] for e in envs} == {"2"}
    assert {e["OMP_NUM_THREADS"] for e in envs} == {"2"}  # threads pinned to cpus-per-task
    assert {e["SLURM_MEM_PER_NODE"] for e in envs} == {"1024"}
    assert {e["SLURM_JOB_PARTITION"] for e in envs} == {"debug"}
    assert len({e["SLURMD_NODENAME"] for e in envs}) == 2
    assert slurm_cluster.wait_job(job.job_id) == "COMPLETED"  # sacct lags the result file
    row = slurm_cluster.run(
        "sacct", "-n", "-X", "-P", "-o", "Timelimit,Partition,NNodes", "-j", job.job_id
    ).stdout.split()
    assert row == ["00:02:00|debug|2"]
