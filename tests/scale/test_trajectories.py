"""Noisy statevector trajectories split over the job's ranks: each rank its seeded blocks of shots,
one combined estimate with its standard error, bit-identical for 1 and 2 ranks (real mpiexec)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hpcq.results
from hpcq.testing import need
from tests.scale import tfim_sweep

BIN = Path(sys.executable).parent
MPIEXEC = BIN / "mpiexec"
SWEEP = tfim_sweep(
    "traj",
    4,
    6,
    seed=5,
    noise=[{"kind": "depolarizing", "p": 0.02}],
    method="statevector",
    shots=80,
    parallel="trajectories",
)  # 3 blocks (32, 32, 16): uneven over 2 ranks


def _run(tmp_path, ranks):
    sweep = tmp_path / "sweep.json"
    sweep.write_text(json.dumps(SWEEP))
    out = tmp_path / f"r{ranks}"
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    env.pop("SLURM_CPUS_PER_TASK", None)
    cmd = [sys.executable, "-m", "hpcq.worker", str(sweep), "--out", str(out), "--threads", "1"]
    if ranks > 1:
        cmd = [str(MPIEXEC), "-n", str(ranks)] + cmd
    else:
        env["HPCQ_NO_MPI"] = "1"
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    (path,) = out.glob("*.h5")
    df = hpcq.results.open(path)
    return path, df


@pytest.mark.mpi
def test_trajectories_one_and_two_ranks_bit_identical(tmp_path):
    need(MPIEXEC.exists(), f"{MPIEXEC} missing (pip install mpich)")
    p1, one = _run(tmp_path, 1)
    p2, two = _run(tmp_path, 2)
    assert list(one.energy) == list(two.energy)  # bit for bit
    assert list(one.energy_stderr) == list(two.energy_stderr)
    se = float(one.energy_stderr.iloc[0])
    assert 0 < se < 0.5  # a real sampling uncertainty from 80 trajectories
    assert hpcq.results.read_summary(p2)["provenance"]["mpi_ranks"] == 2
    assert hpcq.results.validate(p2) == []
