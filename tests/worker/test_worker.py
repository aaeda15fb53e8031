"""The MPI worker: dynamic dispatch, 1 vs 2 ranks bit for bit (mpiexec and srun --mpi=pmi2)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hpcq.results
from hpcq.functions import FunctionResult, JobContext, get
from hpcq.testing import need, retry_mpi_start, run_mpi
from hpcq.worker.dispatch import TaskFailed, run_tasks
from hpcq.worker.entry import run_sweep

BIN = Path(sys.executable).parent
MPIEXEC = BIN / "mpiexec"
SWEEP = {
    "study": "ranks",
    "problems": [
        {"kind": "h2", "bond_length": 0.735},
        {"kind": "tfim", "n_qubits": 4},
        {"kind": "heisenberg", "n_qubits": 3},
    ],
    "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
    "optimizers": [{"kind": "cobyla", "maxiter": 30}],
    "noise": [{"kind": "none"}, {"kind": "depolarizing", "p": 0.02}],
    "seeds": [11],
    "method": "density_matrix",
}


def _env():
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    env.pop("SLURM_CPUS_PER_TASK", None)
    return env


def _energies(path) -> dict:
    df = hpcq.results.open(path)
    return dict(zip(df.task_id, df.energy, strict=True)), dict(zip(df.task_id, df["rank"], strict=True))


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("sweep") / "sweep.json"
    p.write_text(json.dumps(SWEEP))
    return p


@pytest.fixture(scope="module")
def one_process(sweep_file, tmp_path_factory):
    """Reference: the same sweep in one process without MPI."""
    out = tmp_path_factory.mktemp("one")
    subprocess.run(
        [sys.executable, "-m", "hpcq.worker", str(sweep_file), "--out", str(out), "--threads", "1"],
        check=True,
        env=dict(_env(), HPCQ_NO_MPI="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    (path,) = out.glob("*.h5")
    return _energies(path)[0]


def test_run_tasks_without_mpi_and_failures_are_reported():
    assert run_tasks([1, 2, 3], lambda x: x * 10) == [10, 20, 30]
    assert run_tasks([1, 2, 3], lambda x: x, order=[2, 0, 1]) == [3, 1, 2]

    def work(x):
        if x == 2:
            raise ValueError("bad task two")
        return x

    with pytest.raises(TaskFailed, match="bad task two"):
        run_tasks([1, 2, 3], work)


def test_run_sweep_entry_in_process(tmp_path):
    fd = get("vqe_sweep")
    assert fd.mpi and fd.load() is run_sweep
    small = dict(SWEEP, problems=SWEEP["problems"][:1], noise=[{"kind": "none"}])
    res = run_sweep(small, JobContext(process_id="p-1", workdir=str(tmp_path), threads=1, slurm_job_id="4242"))
    assert isinstance(res, FunctionResult)
    assert res.files == [str(tmp_path / "ranks-4242.h5")]
    json.dumps(res.summary)  # small and JSON-able: becomes the ColonyOS process output
    assert res.summary["n_tasks"] == 1 and res.summary["one_circuit_splitting"] == "unavailable"
    assert hpcq.results.validate(res.files[0]) == []
    prov = hpcq.results.h5format.read_summary(res.files[0])["provenance"]
    starts = json.loads(prov["initial_points"])  # where each task started (issue 25)
    assert len(starts) == 1 and next(iter(starts.values()))["kind"] in ("hf", "default")


@pytest.mark.mpi
def test_two_ranks_mpiexec_bit_identical_to_one_process(sweep_file, one_process, tmp_path):
    need(MPIEXEC.exists(), f"{MPIEXEC} missing (pip install mpich)")
    out = tmp_path / "two"
    cmd = [str(MPIEXEC), "-n", "2", sys.executable, "-m", "hpcq.worker", str(sweep_file), "--out", str(out)]
    r = retry_mpi_start(lambda: run_mpi([*cmd, "--threads", "1"], env=_env(), timeout=300, marker=str(out)))
    assert r.returncode == 0, r.stderr
    files = list(out.glob("*.h5"))
    assert len(files) == 1  # rank 0 alone writes
    energies, ranks = _energies(files[0])
    assert energies == one_process  # bit for bit, every task
    assert set(ranks.values()) == {0, 1}  # both ranks did work
    prov = hpcq.results.read_summary(files[0])["provenance"]
    assert prov["mpi_ranks"] == 2 and prov["threads_per_rank"] == 1


DISPATCH_SCRIPT = """
import json, sys, time
from mpi4py import MPI
from hpcq.worker.dispatch import run_tasks
tasks = [3.0] + [0.05] * 8          # one long task, eight short ones
def work(sec):
    time.sleep(sec)
    return MPI.COMM_WORLD.Get_rank()
res = run_tasks(list(range(len(tasks))), lambda i: (i, work(tasks[i])), MPI.COMM_WORLD)
if res is not None:
    print(json.dumps(sorted(res)))
"""


@pytest.mark.mpi
def test_dispatch_is_dynamic_uneven_tasks_balance(tmp_path):
    need(MPIEXEC.exists(), f"{MPIEXEC} missing (pip install mpich)")
    script = tmp_path / "d.py"
    script.write_text(DISPATCH_SCRIPT)
    r = retry_mpi_start(
        lambda: subprocess.run(
            [str(MPIEXEC), "-n", "2", sys.executable, str(script)],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    )
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout.strip().splitlines()[-1])
    assert sorted(i for i, _ in done) == list(range(9))
    long_rank = dict(done)[0]
    # whoever ran the 3 s task ran nothing else: the other rank took all the short ones
    assert [i for i, rk in done if rk == long_rank] == [0]


@pytest.mark.slurm
@pytest.mark.mpi
def test_two_ranks_srun_pmi2_bit_identical(slurm_cluster, sweep_file, one_process, tmp_path):
    need(MPIEXEC.exists(), "pip mpich missing")
    out = tmp_path / "srun"
    r = retry_mpi_start(
        lambda: slurm_cluster.run(
            "srun",
            "--mpi=pmi2",
            "-n",
            "2",
            "-c",
            "1",
            "-t",
            "5",
            sys.executable,
            "-m",
            "hpcq.worker",
            str(sweep_file),
            "--out",
            str(out),
            check=False,
            timeout=300,
        )
    )
    assert r.returncode == 0, r.stderr
    (path,) = out.glob("*.h5")
    energies, ranks = _energies(path)
    assert energies == one_process
    assert set(ranks.values()) == {0, 1}
    prov = hpcq.results.read_summary(path)["provenance"]
    assert prov["mpi_ranks"] == 2 and prov["threads_per_rank"] == 1  # from SLURM_CPUS_PER_TASK
    assert prov["slurm_job_id"]
    assert hpcq.results.validate(path) == []


def test_job_tasks_without_an_mpi_world_are_refused(tmp_path):
    """ctx says 2 ranks but MPI sees 1 (e.g. srun --mpi=none): refuse instead of writing twice."""
    small = dict(SWEEP, problems=SWEEP["problems"][:1], noise=[{"kind": "none"}])
    with pytest.raises(RuntimeError, match="MPI world has 1 rank"):
        run_sweep(small, JobContext(workdir=str(tmp_path), threads=1, rank=0, size=2))
    assert list(tmp_path.iterdir()) == []


def test_job_context_from_env_reads_slurm_once(monkeypatch):
    """The worker's context: Slurm's job id and nodes, rank and size from its MPI world."""
    for k in ("SLURM_PROCID", "SLURM_NTASKS", "SUBMITIT_LOCAL_GLOBAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    env = {"SLURM_JOB_ID": "43", "SLURM_ARRAY_JOB_ID": "40", "SLURM_ARRAY_TASK_ID": "3", "SLURM_JOB_NODELIST": "n[1-2]"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ctx = JobContext.from_env("p", "/w", threads=2, rank_size=(1, 2), extra={"command": "x"})
    assert (ctx.slurm_job_id, ctx.nodes, ctx.rank, ctx.size, ctx.threads) == ("40_3", "n[1-2]", 1, 2, 2)
    assert ctx.extra["command"] == "x" and ctx.extra["hostname"]
    assert (JobContext.from_env().rank, JobContext.from_env().size) == (0, 1)  # no task ids, no world
