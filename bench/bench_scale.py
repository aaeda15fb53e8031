"""Scale: one energy evaluation of a big statevector, 1 rank vs 2 ranks distributed, side by side.

For each qubit count (default 20, 24, 26, 28) the same TFIM energy (real_amplitudes reps=2, seeded
point) runs through hpcq's evaluation path (SweepParams -> TaskSpec -> hpcq.sim.vqe.simulator_options:
blocking_qubits from hpcq.sim.memory; the Z-rotated groups of hpcq.sim.readout) under srun on the
local Slurm lab with the MPI Aer (.aer-mpi, scripts/build-aer-mpi.sh):
  1 rank  : srun -N1 -n1 --cpus-per-task=2 (2 Aer threads)
  2 ranks : srun -N2 -n2 --cpus-per-task=1 (one rank per virtual node, 1 thread each, one state)
Both use the machine's 2 cores. The lab's 2 "nodes" are one host: distributing gains capacity
(each rank holds half the state, plus Aer's receive buffer), not speed; speed comes with real nodes.
Per run: time to build the circuit, time of one evaluation, peak RSS per rank vs THE memory model
(hpcq.sim.memory.footprint), and the energies of 1 and 2 ranks (they must agree).
Also: the largest qubit count that fits 20 GiB per the memory model, and with --run-largest that
run itself (one rank, peak RSS checked against the budget).

    nice -n 10 .venv/bin/python bench/bench_scale.py [--qubits 20,24,26,28] [--precision double]
Writes bench/results/scale.json. Needs root + Slurm (the lab) and .aer-mpi (setup builds it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
AER_MPI_PYTHON = REPO / ".aer-mpi" / "bin" / "python"
CORES = 2  # what both layouts get: 1 rank x 2 threads, 2 ranks x 1 thread
GIB = 1024**3


def sweep_for(n: int, precision: str, study: str = "scale") -> dict:
    """One TFIM energy (real_amplitudes reps 2, one COBYLA step) as ONE distributed statevector."""
    return {
        "study": study,
        "problems": [{"kind": "tfim", "n_qubits": n}],
        "ansatze": [{"kind": "real_amplitudes", "reps": 2}],
        "optimizers": [{"kind": "cobyla", "maxiter": 1}],
        "seeds": [3],
        "method": "statevector",
        "precision": precision,
        "parallel": "statevector",
    }


def build_evaluation(n: int, precision: str, size: int, threads: int, study: str = "scale", one_chunk: bool = False):
    """What every rank builds for one energy evaluation of sweep_for(n)'s task, as the worker does
    (hpcq.sim.vqe): the Aer simulator, the energy circuit, its parameter binds and Aer's options.
    ``one_chunk``: the layout before issue 24, one chunk per rank and no swap buffer."""
    import numpy as np
    import qiskit_aer  # noqa: F401 - registers save_expectation_value on QuantumCircuit
    from qiskit import transpile

    from hpcq.sim.ansatz import build_ansatz, initial_point
    from hpcq.sim.noise import BASIS_GATES
    from hpcq.sim.problems import hamiltonian
    from hpcq.sim.readout import build_energy_circuit
    from hpcq.sim.spec import parse_sweep
    from hpcq.sim.vqe import _binds, _simulator, energy_strategy, simulator_options

    spec = parse_sweep(sweep_for(n, precision, study)).tasks()[0]
    H = hamiltonian(spec.problem)
    ansatz = build_ansatz(spec.ansatz, n, spec.problem)
    tqc = transpile(ansatz, basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=spec.seed)
    ec = build_energy_circuit(tqc, H, energy_strategy(spec))
    opts = simulator_options(spec, size)
    if one_chunk and size > 1:
        opts["blocking_qubits"] = n - (size.bit_length() - 1)
        opts.pop("chunk_swap_buffer_qubits", None)
    sim = _simulator("statevector", "CPU", None, threads, spec.seed, **opts)
    x = initial_point(spec.ansatz, len(ansatz.parameters), np.random.default_rng(spec.seed))
    return sim, ec, _binds(list(ansatz.parameters), x[None, :]), opts


def evaluate(sim, ec, binds):
    """One evaluation: Aer's result, the energy and the seconds Aer took."""
    t1 = time.perf_counter()
    res = sim.run(ec.circuit, parameter_binds=binds, shots=1).result()
    t_eval = time.perf_counter() - t1
    if not res.success:
        raise RuntimeError(f"Aer failed: {res.status}")
    return res, ec.energy(res.data(0)), t_eval


def inner(n: int, precision: str) -> None:
    """One srun step: every rank builds the identical circuit and runs one evaluation; rank 0 prints."""
    import resource

    from mpi4py import MPI  # before Aer: Aer then finds MPI initialised

    comm = MPI.COMM_WORLD
    size, rank = comm.Get_size(), comm.Get_rank()
    threads = max(1, CORES // size)
    from hpcq.sim.aer_env import pin_threads

    pin_threads(threads)
    t0 = time.perf_counter()
    sim, ec, binds, opts = build_evaluation(n, precision, size, threads)
    t_build = time.perf_counter() - t0
    res, energy, t_eval = evaluate(sim, ec, binds)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss_all = comm.gather(rss, root=0)
    if rank == 0:
        meta = res.metadata
        print(
            "BENCH "
            + json.dumps(
                {
                    "n": n,
                    "ranks": size,
                    "threads_per_rank": threads,
                    "precision": precision,
                    "blocking_qubits": opts.get("blocking_qubits"),
                    "aer_mpi_processes": int(meta.get("num_mpi_processes", 1) or 1),
                    "energy_groups": ec.groups,
                    "energy": energy,
                    "build_s": round(t_build, 3),
                    "eval_s": round(t_eval, 3),
                    "peak_rss_bytes_per_rank": rss_all,
                }
            ),
            flush=True,
        )


def run_one(cluster, n: int, ranks: int, precision: str) -> dict:
    from hpcq.sim import memory
    from hpcq.testing import retry_mpi_start

    cmd = [
        "srun", f"-N{ranks}", f"-n{ranks}", "--mpi=pmi2", f"--cpus-per-task={CORES // ranks}", "--time=60",
        str(AER_MPI_PYTHON), str(Path(__file__).resolve()), "--inner", str(n), "--precision", precision,
    ]  # fmt: skip
    env = cluster.env(PYTHONHASHSEED="0", UCX_TLS="self,sm")
    env.pop("VIRTUAL_ENV", None)
    t0 = time.perf_counter()
    r = retry_mpi_start(lambda: subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600))
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{n} qubits, {ranks} rank(s): rc {r.returncode}\n{r.stderr[-3000:]}")
    line = next(x for x in r.stdout.splitlines() if x.startswith("BENCH "))
    out = json.loads(line[len("BENCH ") :])
    fp = memory.footprint(n, "statevector", precision, ranks=ranks)
    out["model_rank_bytes"] = fp.rank_bytes
    out["peak_rss_vs_model"] = round(max(out["peak_rss_bytes_per_rank"]) / fp.rank_bytes, 3)
    out["srun_wall_s"] = round(wall, 2)
    return out


def largest_in(mem_bytes: float) -> dict:
    """THE memory model's answer: the largest statevector that fits ``mem_bytes`` per rank."""
    from hpcq.sim import memory

    out = {}
    for precision in ("double", "single"):
        for ranks in (1, 2):
            n = memory.max_qubits("statevector", precision, mem_bytes, ranks=ranks)
            fp = memory.footprint(n, "statevector", precision, ranks=ranks)
            out[f"{precision}_{ranks}_rank"] = {"qubits": n, "rank_bytes": fp.rank_bytes, "ranks": ranks}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qubits", default="20,24,26,28", help="comma-separated qubit counts")
    ap.add_argument("--precision", default="double", choices=("double", "single"))
    ap.add_argument("--budget-gib", type=float, default=20.0, help="memory for 'the largest that fits'")
    ap.add_argument(
        "--run-largest", action="store_true", help="also run the largest n that fits --budget-gib (one rank)"
    )
    ap.add_argument("--inner", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "scale.json"))
    args = ap.parse_args()
    if args.inner is not None:
        inner(args.inner, args.precision)
        return
    from hpcq.sim import memory
    from hpcq.testing.slurm import local_cluster

    if not AER_MPI_PYTHON.exists():
        sys.exit(f"no {AER_MPI_PYTHON}: bash scripts/build-aer-mpi.sh --install-into .aer-mpi")
    qubits = [int(q) for q in args.qubits.split(",")]
    rows: list[dict] = []
    t_start = time.perf_counter()
    result = {
        "bench": "scale",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "layout": "local Slurm lab: 2 virtual nodes on ONE host (2 cores); 1 rank x 2 threads vs 2 ranks x 1 thread",
        "note": "on one host distribution buys capacity (half the state per rank), not speed",
        "qubits": qubits,
        "precision": args.precision,
        "runs": rows,
        "largest_in_budget": {"budget_bytes": args.budget_gib * GIB, **largest_in(args.budget_gib * GIB)},
        "largest_run_here": None,
        "complete": False,
    }

    def save() -> None:  # after every run: an interrupted bench keeps what it measured
        result["total_wall_s"] = round(time.perf_counter() - t_start, 1)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")

    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as d,
        local_cluster(Path(d) / "lab", nodes=2, cpus=CORES, dbd=False, set_env=True) as cluster,
    ):
        for n in qubits:
            pair = {}
            for ranks in (1, 2):
                row = run_one(cluster, n, ranks, args.precision)
                pair[ranks] = row
                if ranks == 2:
                    row["energy_diff_vs_1_rank"] = abs(pair[1]["energy"] - row["energy"])
                    row["speedup_vs_1_rank"] = round(pair[1]["eval_s"] / row["eval_s"], 3)
                rows.append(row)
                save()
                print(
                    f"{n:3d} q {ranks} rank(s): eval {row['eval_s']:8.2f} s  build {row['build_s']:6.2f} s  "
                    f"peak RSS/rank {max(row['peak_rss_bytes_per_rank']) / GIB:6.2f} GiB "
                    f"(model {row['model_rank_bytes'] / GIB:.2f})  E={row['energy']:.12f}",
                    flush=True,
                )
            if pair[2]["energy_diff_vs_1_rank"] > 1e-10:
                raise RuntimeError(f"{n} qubits: 1 vs 2 ranks differ by {pair[2]['energy_diff_vs_1_rank']:.3g}")
        if args.run_largest:  # the model's largest n in the budget, on one rank, if this host has room
            budget = args.budget_gib * GIB
            n_big = memory.max_qubits("statevector", args.precision, budget)
            need = memory.footprint(n_big, "statevector", args.precision).rank_bytes
            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
            if avail < need:
                result["largest_run_here"] = {
                        "n": n_big, "not_run": f"this host has {avail / GIB:.1f} GiB available, the model needs "
                        f"{need / GIB:.1f} GiB",
                    }  # fmt: skip
            else:
                largest = run_one(cluster, n_big, 1, args.precision)
                largest["budget_bytes"] = budget
                largest["host_available_bytes"] = avail
                largest["peak_rss_within_budget"] = max(largest["peak_rss_bytes_per_rank"]) <= budget
                result["largest_run_here"] = largest
                print(
                    f"largest in {args.budget_gib:g} GiB: {n_big} q, eval {largest['eval_s']:.1f} s, peak RSS "
                    f"{max(largest['peak_rss_bytes_per_rank']) / GIB:.2f} GiB, E={largest['energy']:.12f}",
                    flush=True,
                )
            save()
    result["complete"] = True
    save()
    print(json.dumps(result["largest_in_budget"], indent=1))
    print(f"wrote {args.out} ({result['total_wall_s']} s)")


if __name__ == "__main__":
    main()
