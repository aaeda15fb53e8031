"""Two bound points in one Aer run: one after the other (``max_parallel_experiments=1``) or side by
side (2, a state each), what an SPSA step asks of the runner; the figures behind
``hpcq.sim.memory.parallel_experiments`` (docs/performance.md, "Memory model against the worker's peak").

Same circuit as bench_roofline (open TFIM chain, real_amplitudes reps 2 linear, the runner's
transpilation and hpcq's ``grouped`` read-out), 2 threads, best of ``--repeats``.

    .venv/bin/python bench/bench_experiments.py [--sizes 12 14 16 18 20 22] [--repeats 5]

Writes bench/results/experiments.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_roofline import _problem  # noqa: E402 - the one definition of the bench circuit


def side_by_side(n: int, threads: int, repeats: int) -> dict:
    from qiskit_aer import AerSimulator

    from hpcq.sim.readout import build_energy_circuit

    tqc, H, x = _problem(n)
    ec = build_energy_circuit(tqc, H, "grouped")
    points = np.stack([x, x + 0.01])
    binds = [{p: points[:, i].tolist() for i, p in enumerate(tqc.parameters)}]
    row: dict = {"n": n}
    for k in (1, 2):
        sim = AerSimulator(
            method="statevector", max_parallel_threads=threads, max_parallel_experiments=k, max_parallel_shots=1
        )
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            sim.run(ec.circuit, parameter_binds=binds).result()
            best = min(best, time.perf_counter() - t)
        row[f"experiments_{k}_s"] = best
    row["one_after_other_over_side_by_side"] = row["experiments_1_s"] / row["experiments_2_s"]
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[12, 14, 16, 18, 20, 22])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows = [side_by_side(n, args.threads, args.repeats) for n in args.sizes]
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "threads": args.threads, "rows": rows}
    path = REPO / "bench" / "results" / "experiments.json"
    path.write_text(json.dumps(out, indent=1))
    print("| qubits | " + " | ".join(str(r["n"]) for r in rows) + " |")
    print("| --- |" + " --- |" * len(rows))
    print(
        "| one after the other / side by side (time) | "
        + " | ".join(f"{r['one_after_other_over_side_by_side']:.2f}" for r in rows)
        + " |"
    )


if __name__ == "__main__":
    main()
