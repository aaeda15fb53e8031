"""Time per energy evaluation against the memory-bandwidth roofline, and Aer's own EstimatorV2 on
the same circuit, parameters and observable (issue 24, items 2 and 3).

- bandwidth: a STREAM-style triad a = b + s*c in numpy over arrays far larger than the caches, split
  over ``--threads`` Python threads (numpy releases the GIL); numpy does it in two passes
  (a = s*c; a += b), so the bytes counted are the 5 array passes it really makes (STREAM counts 3);
  the best of 5 repetitions. Also a plain copy (2 passes).
- sweeps: one evaluation of hpcq's energy circuit (the transpiled ansatz + the ``grouped`` read-out,
  hpcq.sim.readout) run with ``fusion_verbose``: gate sweeps after Aer's fusion (each reads and writes
  the state) + read passes of the saves (each reads it once); the old ``expval`` path counted the
  same way (one read per Pauli term).
- roofline bound = (2 x gate sweeps + read passes) x state bytes / bandwidth; ratio = measured / bound.
- Aer's EstimatorV2 (qiskit_aer.primitives, exact: default precision 0) with the same threads.

Problem: open TFIM chain (J = 1, h = 1), real_amplitudes reps 2 linear (aer-scale.md's circuit), the
runner's transpilation (basis cx rz sx x, optimization level 1), seeded random parameters.

    .venv/bin/python bench/bench_roofline.py [--sizes 20 22 24] [--threads 2] [--repeats 3]
    .venv/bin/python bench/bench_roofline.py --large      (adds 26, 28 and 30 qubits: 1, 4 and 16 GiB states;
                                                           about 25 min on 2 cores, 18 GiB of memory)
    --fusion N: also time the grouped path at N qubits for each Aer ``fusion_max_qubit`` 1-5 (the
    choice of fusion settings by measurement); --kernels N: each kind of Aer gate kernel alone at N
    qubits, its bytes moved per second against the triad (why the ratio is what it is).

Writes bench/results/roofline.json and prints a markdown table (docs/performance.md, "Roofline").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def triad_bandwidth(threads: int, n: int = 1 << 25, repeats: int = 5) -> dict[str, float]:
    """Bytes/s of a numpy triad and a copy over ``threads`` slices (best of ``repeats``)."""
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    cuts = np.linspace(0, n, threads + 1).astype(int)
    parts = list(zip(cuts[:-1], cuts[1:], strict=True))

    def triad(lo_hi):
        lo, hi = lo_hi
        np.multiply(c[lo:hi], 3.0, out=a[lo:hi])
        np.add(a[lo:hi], b[lo:hi], out=a[lo:hi])

    def copy(lo_hi):
        lo, hi = lo_hi
        np.copyto(a[lo:hi], b[lo:hi])

    out = {}
    with ThreadPoolExecutor(threads) as pool:
        for name, fn, passes in (("triad", triad, 5), ("copy", copy, 2)):
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                list(pool.map(fn, parts))
                best = min(best, time.perf_counter() - t)
            out[f"{name}_GBps"] = passes * 8 * n / best / 1e9
    return out


def _problem(n: int, seed: int = 0):
    from qiskit import transpile
    from qiskit.circuit.library import real_amplitudes

    from hpcq.sim.noise import BASIS_GATES
    from hpcq.sim.problems import hamiltonian
    from hpcq.sim.spec import ProblemSpec

    H = hamiltonian(ProblemSpec(kind="tfim", n_qubits=n))
    tqc = transpile(real_amplitudes(n, reps=2), basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=seed)
    x = np.random.default_rng(seed).uniform(-np.pi, np.pi, tqc.num_parameters)
    return tqc, H, x


def _hpcq_eval(tqc, H, x, strategy: str, threads: int, repeats: int, **aer_options) -> dict:
    from qiskit_aer import AerSimulator

    from hpcq.sim.readout import build_energy_circuit, sweeps_from_metadata

    ec = build_energy_circuit(tqc, H, strategy)
    sim = AerSimulator(
        method="statevector", max_parallel_threads=threads, fusion_verbose=True, seed_simulator=0, **aer_options
    )
    binds = [{p: [v] for p, v in zip(tqc.parameters, x, strict=True)}]
    times, energy, sweeps = [], 0.0, {}
    for _ in range(repeats):
        t = time.perf_counter()
        res = sim.run(ec.circuit, parameter_binds=binds).result()
        times.append(time.perf_counter() - t)
        energy = ec.energy(res.data(0))
        sweeps = sweeps_from_metadata(res.results[0].metadata, ec)
    return {"energy": energy, "time_s": statistics.median(times), "times_s": times, **sweeps}


FUSION_MAX_QUBITS = (1, 2, 3, 4, 5)  # Aer's default is 5 (its fusion_threshold 14 is below every size here)


def fusion_sweep(n: int, threads: int, repeats: int, bw: float) -> list[dict]:
    """The grouped path at ``n`` qubits with each ``fusion_max_qubit``: time, sweeps, ratio."""
    tqc, H, x = _problem(n)
    out = []
    for fmax in FUSION_MAX_QUBITS:
        r = _hpcq_eval(tqc, H, x, "grouped", threads, repeats, fusion_max_qubit=fmax)
        bound = (2 * r["gate_sweeps"] + r["read_passes"]) * 16 * 2**n / (bw * 1e9)
        out.append(dict(r, n=n, fusion_max_qubit=fmax, bound_s=bound, ratio=r["time_s"] / bound))
        print(json.dumps(out[-1], default=float), flush=True)
    return out


def kernel_rates(n: int, threads: int, k: int = 12) -> list[dict]:
    """Each Aer kernel alone (``k`` gates, fusion off, minus an empty run) at ``n`` qubits: seconds
    per gate and the bytes per second it moves if it reads and writes the whole state once."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import UnitaryGate
    from qiskit.quantum_info import random_unitary
    from qiskit_aer import AerSimulator

    sim = AerSimulator(method="statevector", max_parallel_threads=threads, fusion_enable=False)
    state = 16 * 2**n

    def timed(qc) -> float:
        qc.save_amplitudes([0])
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            sim.run(qc).result()
            best = min(best, time.perf_counter() - t)
        return best

    def circuit(add) -> float:
        qc = QuantumCircuit(n)
        qc.x(0)
        for i in range(k):
            add(qc, i)
        return timed(qc)

    def unitary(width: int, high: bool):
        def add(qc, i):
            first = n - width if high else (i % (n - width))
            qc.append(UnitaryGate(random_unitary(2**width, seed=i)), list(range(first, first + width)))

        return add

    empty = circuit(lambda qc, i: None)
    kinds = {
        "1-qubit unitary (low qubits)": unitary(1, False),
        "1-qubit unitary (top qubit)": unitary(1, True),
        "2-qubit unitary": unitary(2, False),
        "3-qubit unitary": unitary(3, False),
        "4-qubit unitary": unitary(4, False),
        "5-qubit unitary": unitary(5, False),
        "cx": lambda qc, i: qc.cx(i % (n - 1), i % (n - 1) + 1),
        "rz (diagonal)": lambda qc, i: qc.rz(0.1 + i, i % n),
    }
    rows = []
    for name, add in kinds.items():
        per = max(circuit(add) - empty, 1e-9) / k
        rows.append({"kernel": name, "n": n, "s_per_gate": per, "GBps_read_write": 2 * state / per / 1e9})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _estimator(tqc, H, x, threads: int, repeats: int) -> dict:
    from qiskit_aer.primitives import EstimatorV2

    est = EstimatorV2(options={"backend_options": {"method": "statevector", "max_parallel_threads": threads}})
    times, energy = [], 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        energy = float(est.run([(tqc, H, x)]).result()[0].data.evs)
        times.append(time.perf_counter() - t)
    return {"energy": energy, "time_s": statistics.median(times), "times_s": times}


def run(sizes: list[int], threads: int, repeats: int, expval_max: int = 24) -> dict:
    bw = triad_bandwidth(threads)  # and again at the end: the higher of the two is the bound's
    rows = []
    for n in sizes:
        tqc, H, x = _problem(n)
        state = 16 * 2**n
        reps = repeats if n <= 24 else 1
        row: dict = {"n": n, "state_bytes": state, "terms": len(H)}
        for strategy in ("grouped", "expval") if n <= expval_max else ("grouped",):
            r = _hpcq_eval(tqc, H, x, strategy, threads, reps)
            bound = (2 * r["gate_sweeps"] + r["read_passes"]) * state / (bw["triad_GBps"] * 1e9)
            row[strategy] = dict(r, bound_s=bound, ratio=r["time_s"] / bound)
        row["estimator"] = _estimator(tqc, H, x, threads, reps)
        row["max_abs_energy_diff"] = max(
            abs(row["grouped"]["energy"] - row[k]["energy"]) for k in ("expval", "estimator") if k in row
        )
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "estimator"}, default=float), flush=True)
    after = triad_bandwidth(threads)
    best = max(bw["triad_GBps"], after["triad_GBps"])
    if best > bw["triad_GBps"]:  # a busier host at the start: every bound from the higher bandwidth
        for row in rows:
            for path in ("grouped", "expval"):
                if path in row:
                    row[path]["bound_s"] *= bw["triad_GBps"] / best
                    row[path]["ratio"] = row[path]["time_s"] / row[path]["bound_s"]
    bw = {**(bw if best == bw["triad_GBps"] else after), "triad_GBps_start": bw["triad_GBps"]}
    bw["triad_GBps_end"] = after["triad_GBps"]
    return {
        "machine": {"node": platform.node(), "cpus": os.cpu_count(), "threads": threads},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bandwidth": bw,
        "rows": rows,
    }


def table(out: dict) -> str:
    bw = out["bandwidth"]["triad_GBps"]
    lines = [
        f"triad bandwidth {bw:.1f} GB/s (copy {out['bandwidth']['copy_GBps']:.1f} GB/s), "
        f"{out['machine']['threads']} threads",
        "",
        "| qubits | path | gate sweeps | read passes | bound (s) | measured (s) | measured / bound "
        "| Aer EstimatorV2 (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in out["rows"]:
        for path in ("grouped", "expval"):
            if path not in r:
                continue
            p = r[path]
            est = f"{r['estimator']['time_s']:.2f}" if path == "grouped" else ""
            lines.append(
                f"| {r['n']} | {path} | {p['gate_sweeps']} | {p['read_passes']} | {p['bound_s']:.3f} | "
                f"{p['time_s']:.2f} | {p['ratio']:.1f} | {est} |"
            )
    if out.get("fusion"):
        lines += [
            "",
            "| qubits | fusion_max_qubit | gate sweeps | bound (s) | measured (s) | measured / bound |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        best = min(out["fusion"], key=lambda f: f["time_s"])
        for f in out["fusion"]:
            mark = " (fastest)" if f is best else ""
            lines.append(
                f"| {f['n']} | {f['fusion_max_qubit']}{mark} | {f['gate_sweeps']} | {f['bound_s']:.2f} | "
                f"{f['time_s']:.2f} | {f['ratio']:.1f} |"
            )
    if out.get("kernels"):
        lines += [
            "",
            f"| kernel ({out['kernels'][0]['n']} qubits, fusion off) | ms per gate | GB/s (read + write) "
            "| share of the triad |",
            "| --- | --- | --- | --- |",
        ]
        for k in out["kernels"]:
            lines.append(
                f"| {k['kernel']} | {k['s_per_gate'] * 1e3:.0f} | {k['GBps_read_write']:.1f} | "
                f"{k['GBps_read_write'] / bw:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 22, 24])
    ap.add_argument("--large", action="store_true", help="add 26, 28 and 30 qubits (1, 4 and 16 GiB states)")
    ap.add_argument("--expval-max", type=int, default=24, help="time the old expval path up to this size")
    ap.add_argument("--fusion", type=int, metavar="N", help="time fusion_max_qubit 1-5 at N qubits")
    ap.add_argument("--kernels", type=int, metavar="N", help="time each Aer gate kernel alone at N qubits")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sizes = args.sizes + ([26, 28, 30] if args.large else [])
    out = run(sizes, args.threads, args.repeats, args.expval_max)
    bw = out["bandwidth"]["triad_GBps"]
    if args.fusion:
        out["fusion"] = fusion_sweep(args.fusion, args.threads, args.repeats if args.fusion <= 24 else 1, bw)
    if args.kernels:
        out["kernels"] = kernel_rates(args.kernels, args.threads)
    path = REPO / "bench" / "results" / "roofline.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=float))
    print(table(out))


if __name__ == "__main__":
    main()
