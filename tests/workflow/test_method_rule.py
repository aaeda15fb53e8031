"""`automatic` with gate noise: the cost model of hpcq.sim.spec.auto_method picks the faster method
for the size, its constant covers what bench/bench_water.py measured, and method_reason says which
method and why with the numbers."""

import json
from pathlib import Path

import pytest

from hpcq.sim import memory
from hpcq.sim.spec import AUTO_DENSITY_MATRIX_MAX_BYTES, AUTO_DM_COST_RATIO, auto_method, parse_sweep
from hpcq.workflow.steps import method_reason

BENCH = Path(__file__).resolve().parents[2] / "bench" / "results" / "water.json"


def task(n: int, shots: int = 1024, noise: str = "depolarizing", **kw):
    nm = {"kind": noise, "p": 0.01} if noise != "none" else {"kind": "none"}
    return parse_sweep({"problems": [{"kind": "tfim", "n_qubits": n}], "noise": [nm], "shots": shots, **kw}).tasks()[0]


@pytest.mark.parametrize(
    "n, shots, method",
    [
        (8, 1024, "density_matrix"),
        (12, 1024, "density_matrix"),
        (13, 1024, "density_matrix"),
        (14, 1024, "statevector"),
        (9, 64, "density_matrix"),
        (10, 64, "statevector"),
    ],
)
def test_automatic_picks_the_cheaper_method(n, shots, method):
    t = task(n, shots)
    assert t.resolved_method == method
    a = auto_method(n, shots)
    assert a["dm_cost"] == pytest.approx(AUTO_DM_COST_RATIO * 4**n)
    assert a["trajectories_cost"] == pytest.approx(shots * 2**n)
    reason = method_reason(t)
    assert reason.startswith(method if method == "density_matrix" else "statevector trajectories")
    assert f"4^{n}" in reason and f"{shots} trajectories" in reason and memory.fmt_bytes(a["dm_bytes"]) in reason


def test_memory_bounds_the_density_matrix():
    # cheaper by the cost model (huge shot count) but its 16*4^n state exceeds the limit
    n = next(k for k in range(8, 20) if memory.state_bytes(k, "density_matrix") > AUTO_DENSITY_MATRIX_MAX_BYTES)
    a = auto_method(n, 10**7)
    assert a["dm_faster"] and not a["dm_fits"] and a["method"] == "statevector"
    assert "does not fit" in method_reason(task(n, 10**7))
    # the bound follows the precision (hpcq.sim.memory)
    assert auto_method(n - 1, 10**7, "single")["dm_bytes"] == memory.state_bytes(n - 1, "density_matrix", "single")


def test_noiseless_and_explicit_methods():
    assert task(12, noise="none").resolved_method == "statevector"
    assert method_reason(task(12, method="statevector")) == "statevector: requested explicitly"


def test_cost_ratio_covers_the_bench():
    """The constant is t_dm / (t_trajectory * 2^n) from bench/bench_water.py, rounded up: with it the
    model never calls the density matrix cheaper than it was measured."""
    rows = json.loads(BENCH.read_text())["rows"]
    ratios = [r["t_dm_s"] / (r["t_traj_s"] * 2 ** r["qubits"]) for r in rows]
    assert max(ratios) <= AUTO_DM_COST_RATIO < 2 * max(ratios)
