"""THE memory model against the worker's measured peak at 24, 26 and 28 qubits (issue 24): one
statevector task run as a job runs it (``python -m hpcq.worker`` on one process, 2 threads, hpcq's
default read-out), its peak resident memory (VmHWM from /proc/self/status at exit, not ru_maxrss)
within 15 % of ``hpcq.sim.memory.footprint`` with the parallel experiments the runner chose.

SPSA's step evaluates two points in one Aer run; Aer simulates them side by side, a state each, when
they fit (``memory.parallel_experiments``: measured 2261 MiB at 26 qubits, two states, where the
model without them said 1331 MiB). The run records how many it allowed (metric
``parallel_experiments``) and the model counts them. The distributed (MPI) sizes:
tests/scale/test_capacity.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scale.test_capacity import PROBE

REPO = Path(__file__).resolve().parents[2]
SIZES = (24, 26, 28)  # 256 MiB, 1 GiB and 4 GiB states
TOLERANCE = 0.15


def _worker_peak(tmp_path: Path, n: int) -> tuple[int, dict]:
    sweep = {
        "study": f"peak{n}",
        "problems": [{"kind": "tfim", "n_qubits": n}],
        "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
        "optimizers": [{"kind": "spsa", "maxiter": 1, "learning_rate": 0.1}],  # one 2-point step
        "seeds": [5],
        "method": "statevector",
    }
    work = tmp_path / f"n{n}"
    (work / "hwm").mkdir(parents=True)
    (work / "sweep.json").write_text(json.dumps(sweep))
    (work / "probe.py").write_text(PROBE)
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="2", PYTHONPATH=str(REPO))
    env["HPCQ_HWM_DIR"] = str(work / "hwm")
    cmd = [sys.executable, str(work / "probe.py"), str(work / "sweep.json"), "--out", str(work / "out")]
    r = subprocess.run([*cmd, "--threads", "2", "-q"], env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"{n} qubits: rc {r.returncode}\n{r.stderr[-4000:]}"
    from hpcq.results.h5format import task_ids
    from hpcq.worker.taskfile import load_task

    (path,) = (work / "out").glob("*.h5")
    (tid,) = task_ids(path)
    (hwm,) = (work / "hwm").iterdir()  # one process: one file
    return int(hwm.read_text()), load_task(path, tid).metrics


@pytest.mark.timeout(1500)
def test_memory_model_within_15_percent_of_worker_peak_24_to_28_qubits(tmp_path):
    from hpcq.sim import memory

    rows = {}
    for n in SIZES:
        peak, metrics = _worker_peak(tmp_path, n)
        k = int(metrics["parallel_experiments"])
        assert 1 <= k <= 2, metrics
        model = memory.footprint(n, "statevector", experiments=k).rank_bytes
        rows[n] = (round(peak / memory.MiB), round(model / memory.MiB), k)
    print("qubits: (VmHWM MiB, model MiB, parallel experiments)", rows)
    for n, (peak, model, k) in rows.items():
        assert abs(peak - model) <= TOLERANCE * peak, (n, peak, model, k)
    # the peak follows the states: from 26 to 28 qubits it grows by (about) k x 3 GiB
    (p26, _, k26), (p28, _, k28) = rows[26], rows[28]
    if k26 == k28:
        assert abs((p28 - p26) - k28 * 3 * 1024) <= 0.1 * k28 * 3 * 1024, rows
