"""Capacity that grows with ranks (issue 24 item 1): one 23-qubit statevector over 1, 2 and 4 MPI
ranks with hpcq's chunk layout (hpcq.sim.memory.distributed_layout: 8 chunks per rank, one
receive buffer alive at a time, Aer patched by scripts/aer-mpi-patches), run as a job runs it
(``mpiexec -n P python -m hpcq.worker``, the MPI Aer of .aer-mpi, SPSA with one iteration).

Must show: the energies of 1, 2 and 4 ranks agree to 1e-10; each rank's peak memory (VmHWM from
/proc/self/status, not ru_maxrss) is at most THE memory model's rank bytes (5 % slack) and at least
0.8 of them (at 23 qubits the
base process, 214-313 MiB measured between runs and rank counts, is most of a rank's peak: the
issue's 15 % at 24-28 qubits: tests/scale/test_peak_memory.py); and a rank of
the 2- and 4-rank runs holds less than the single process by at least half its share of the state
(with Aer's own buffers every rank held its share twice: 2 ranks no more than 1).
Larger sizes (24-28 qubits) and the capacity at a per-rank cap: bench/bench_capacity.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from hpcq.testing import retry_mpi_start, run_mpi
from tests.scale.test_distributed import aer_mpi_python  # noqa: F401 - the fixture (waits for the build)

pytestmark = [pytest.mark.mpi, pytest.mark.aer_mpi]

REPO = Path(__file__).resolve().parents[2]
N = 23
RANKS = (1, 2, 4)
# runs the worker; at exit each rank writes its VmHWM to $HPCQ_HWM_DIR/<rank> (a file: after MPI_Finalize
# the launcher may no longer forward a rank's output)
PROBE = """import atexit, os, runpy, sys
def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            path = os.path.join(os.environ["HPCQ_HWM_DIR"], os.environ.get("PMI_RANK", "0"))
            open(path, "w").write(str(int(line.split()[1]) * 1024))
atexit.register(_hwm)
sys.argv = ["hpcq.worker"] + sys.argv[1:]
runpy.run_module("hpcq.worker", run_name="__main__")
"""


def _sweep(tmp_path: Path) -> Path:
    sweep = {
        "study": "capacity",
        "problems": [{"kind": "tfim", "n_qubits": N}],
        "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
        # seeded SPSA, one iteration, fixed gains: 3 evaluations, identical on every rank count
        "optimizers": [{"kind": "spsa", "maxiter": 1, "learning_rate": 0.1}],
        "seeds": [5],
        "method": "statevector",
        "parallel": "statevector",
    }
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(sweep))
    return path


def _run(python: Path, sweep: Path, out: Path, ranks: int) -> tuple[subprocess.CompletedProcess, list[int]]:
    probe = out.parent / "probe.py"
    probe.write_text(PROBE)
    threads = max(1, 2 // ranks)
    hwm_dir = out.parent / f"hwm{ranks}"
    hwm_dir.mkdir()
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS=str(threads), UCX_TLS="self,sm", PYTHONPATH=str(REPO))
    env["HPCQ_HWM_DIR"] = str(hwm_dir)
    env.pop("VIRTUAL_ENV", None)
    cmd = [str(python.parent / "mpiexec"), "-n", str(ranks), str(python), str(probe), str(sweep)]
    cmd += ["--out", str(out), "--threads", str(threads), "-q"]

    def run():
        for stale in [*out.glob("*.h5"), *hwm_dir.iterdir()]:
            stale.unlink()
        return run_mpi(cmd, env=env, timeout=600, marker=str(out))  # a hang shows every rank's stack

    r = retry_mpi_start(run)
    hwm = [int(f.read_text()) for f in sorted(hwm_dir.iterdir())]
    return r, hwm


@pytest.mark.timeout(1200)
def test_capacity_grows_with_ranks_same_energy(aer_mpi_python, tmp_path):  # noqa: F811 - the fixture
    from hpcq.results.h5format import read_summary, task_ids
    from hpcq.sim import memory
    from hpcq.worker.taskfile import load_task

    sweep = _sweep(tmp_path)
    energy, peak, model, timings = {}, {}, {}, {}
    for ranks in RANKS:
        out = tmp_path / f"r{ranks}"
        t0 = time.perf_counter()
        r, hwm = _run(aer_mpi_python, sweep, out, ranks)
        timings[ranks] = round(time.perf_counter() - t0, 1)
        assert r.returncode == 0, f"{ranks} rank(s): rc {r.returncode}\n{r.stderr[-4000:]}"
        assert len(hwm) == ranks, r.stderr[-2000:]
        (path,) = out.glob("*.h5")
        assert read_summary(path)["provenance"]["aer_mpi_processes"] == ranks  # one state over all ranks
        (tid,) = task_ids(path)
        rec = load_task(path, tid)
        energy[ranks] = float(rec.metrics["energy"])
        if ranks > 1:  # several chunks per rank: the receive buffer is a fraction of the rank's share
            b, _ = memory.distributed_layout(N, ranks)
            assert rec.metrics["blocking_qubits"] == b == N - (ranks.bit_length() - 1) - memory.BUFFER_SHIFT
        peak[ranks] = max(hwm)
        k = int(rec.metrics["parallel_experiments"])  # SPSA's two points side by side on one process
        assert k == 1 or ranks == 1, rec.metrics
        model[ranks] = memory.footprint(N, "statevector", ranks=ranks, experiments=k).rank_bytes
    print(f"wall per run (s): {timings}")
    print("energy:", energy)
    print("VmHWM per rank (MiB):", {r: round(v / 2**20) for r, v in peak.items()})
    print("model rank bytes (MiB):", {r: round(v / 2**20) for r, v in model.items()})
    for ranks in RANKS:
        assert abs(energy[ranks] - energy[1]) < 1e-10, (ranks, energy)
        # measured 2026-12-06: 1 rank 447 MiB (two states: SPSA's points side by side; the model with
        # them 525 MiB), 2 ranks 328 (328), 4 ranks 265 and, in a CI run, 250 (292)
        # never under the peak (it sizes --mem), and over it by at most 25 %: the model's base (256 MiB)
        # is the heavier non-MPI worker's, this MPI worker's is 170-310 MiB (measured 437 vs 525 at
        # 1 rank in a clean-clone run); the 15 % at 24-28 qubits: tests/scale/test_peak_memory.py
        assert 0.95 * peak[ranks] <= model[ranks] <= 1.25 * peak[ranks], (ranks, peak[ranks], model[ranks])
    state = memory.state_bytes(N, "statevector")
    for ranks in RANKS[1:]:
        share = state // ranks
        assert peak[1] - peak[ranks] >= share // 2, (ranks, peak, share)
