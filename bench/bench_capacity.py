"""Capacity with ranks: the largest statevector that fits a fixed per-rank memory cap over 1, 2 and 4
MPI ranks, and peak memory per rank against THE memory model (hpcq.sim.memory.footprint).

Each run is one energy evaluation (TFIM, real_amplitudes reps=2, seeded point) through hpcq's
distributed path (hpcq.sim.vqe.simulator_options: Aer's ``blocking_qubits`` and
``chunk_swap_buffer_qubits`` from hpcq.sim.memory.distributed_layout; the Z-rotated groups of
hpcq.sim.readout), every rank building the same circuit, under the MPI Aer's own ``mpiexec -n P``
(.aer-mpi, scripts/build-aer-mpi.sh, with scripts/aer-mpi-patches applied).

The cap is ENFORCED: each rank moves itself into its own child of this process's cgroup-v1 memory
controller with ``memory.limit_in_bytes`` = the cap before Aer allocates (what Slurm's ``--mem`` does
with ConstrainRAMSpace); a rank over the cap is OOM-killed and the run counts as "does not fit".
Peak memory per rank is VmHWM from /proc/self/status (not ru_maxrss), read after the evaluation.

    nice -n 10 .venv/bin/python bench/bench_capacity.py [--cap-mib 768] [--ranks 1,2,4]
    .venv/bin/python bench/bench_capacity.py --rss --qubits 20,22,24 --ranks 1,2,4   # peak RSS table
Writes bench/results/capacity.json (or --out). Needs root (cgroups) and .aer-mpi (setup builds it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
AER_MPI_PYTHON = REPO / ".aer-mpi" / "bin" / "python"
CORES = 2
MIB = 1024**2
GIB = 1024**3
CG_ROOT = Path("/sys/fs/cgroup/memory")


def _own_memory_cgroup() -> Path | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrl, rel = line.split(":", 2)
        if "memory" in ctrl.split(","):
            return CG_ROOT / rel.lstrip("/")
    return None


def _join_capped_cgroup(cap: int, tag: str) -> Path:
    """Move this process into a new child memory cgroup limited to ``cap`` bytes (swap included)."""
    parent = _own_memory_cgroup()
    if parent is None or not parent.is_dir():
        raise RuntimeError("no cgroup-v1 memory controller for this process: cannot enforce the cap")
    cg = parent / tag
    cg.mkdir(exist_ok=True)
    (cg / "memory.limit_in_bytes").write_text(str(cap))
    with contextlib.suppress(OSError):  # no swap accounting: the RAM limit alone
        (cg / "memory.memsw.limit_in_bytes").write_text(str(cap))
    (cg / "cgroup.procs").write_text(str(os.getpid()))
    return cg


def inner(n: int, precision: str, layout: str) -> None:
    """One mpiexec step: every rank builds the identical circuit and runs one evaluation; rank 0 prints."""
    cap = int(os.environ.get("HPCQ_BENCH_CAP_BYTES", "0"))
    if cap:  # first, before any import: everything the rank allocates counts
        _join_capped_cgroup(cap, f"{os.environ['HPCQ_BENCH_CG_TAG']}-r{os.environ.get('PMI_RANK', '0')}")
    from mpi4py import MPI  # before Aer: Aer then finds MPI initialised

    comm = MPI.COMM_WORLD
    size, rank = comm.Get_size(), comm.Get_rank()
    threads = max(1, CORES // size)
    from hpcq.sim.aer_env import pin_threads

    pin_threads(threads)
    from bench_scale import build_evaluation, evaluate

    from hpcq.sim import memory

    sim, ec, binds, opts = build_evaluation(n, precision, size, threads, "capacity", one_chunk=layout == "one-chunk")
    base = memory.proc_status_bytes("VmHWM")
    comm.Barrier()
    res, energy, t_eval = evaluate(sim, ec, binds)
    hwm = comm.gather(memory.proc_status_bytes("VmHWM"), root=0)
    bases = comm.gather(base, root=0)
    if rank == 0:
        meta = res.metadata
        fp = memory.footprint(n, "statevector", precision, ranks=size, dense_results=False)
        print(
            "BENCH "
            + json.dumps(
                {
                    "n": n,
                    "ranks": size,
                    "layout": layout,
                    "threads_per_rank": threads,
                    "precision": precision,
                    "blocking_qubits": opts.get("blocking_qubits"),
                    "chunk_swap_buffer_qubits": opts.get("chunk_swap_buffer_qubits"),
                    "aer_mpi_processes": int(meta.get("num_mpi_processes", 1) or 1),
                    "cacheblocking": res.results[0].metadata.get("cacheblocking"),
                    "energy": energy,
                    "eval_s": round(t_eval, 3),
                    "vmhwm_before_run_bytes": bases,
                    "vmhwm_bytes": hwm,
                    "state_bytes": fp.state_bytes,
                    "model_rank_bytes": fp.rank_bytes,
                }
            ),
            flush=True,
        )


def run_one(python: Path, n: int, ranks: int, precision: str, layout: str, cap: int = 0) -> dict:
    """One evaluation under mpiexec; {'fits': False, ...} when a rank was killed over the cap."""
    tag = f"hpcq-cap-{os.getpid()}-{n}-{ranks}-{time.monotonic_ns()}"
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS=str(max(1, CORES // ranks)), PYTHONPATH=str(REPO))
    env.update(HPCQ_BENCH_CAP_BYTES=str(cap), HPCQ_BENCH_CG_TAG=tag, UCX_TLS="self,sm")
    env.pop("VIRTUAL_ENV", None)
    mpiexec = python.parent / "mpiexec"
    cmd = [str(mpiexec), "-n", str(ranks), str(python), str(Path(__file__).resolve())]
    cmd += ["--inner", str(n), "--precision", precision, "--layout", layout]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    finally:
        oom = []
        parent = _own_memory_cgroup()
        for cg in sorted(parent.glob(tag + "-r*")) if parent else []:
            try:
                oom.append(int((cg / "memory.failcnt").read_text()))
                cg.rmdir()
            except OSError:
                pass
    wall = time.perf_counter() - t0
    line = next((x for x in r.stdout.splitlines() if x.startswith("BENCH ")), None)
    if r.returncode != 0 or line is None:
        killed = "Killed" in r.stderr or r.returncode in (137, -9, 9) or "signal 9" in r.stderr
        if cap and killed:
            return {"n": n, "ranks": ranks, "layout": layout, "fits": False, "rc": r.returncode, "wall_s": round(wall)}
        raise RuntimeError(f"{n} qubits, {ranks} rank(s): rc {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    out = json.loads(line[len("BENCH ") :])
    out["fits"] = True
    out["cap_failcnt"] = oom
    out["peak_vs_model"] = round(max(out["vmhwm_bytes"]) / out["model_rank_bytes"], 3)
    out["wall_s"] = round(wall, 1)
    return out


def _show(row: dict) -> None:
    if not row["fits"]:
        print(f"{row['n']:3d} q {row['ranks']} rank(s) [{row['layout']}]: over the cap (rc {row['rc']})", flush=True)
        return
    print(
        f"{row['n']:3d} q {row['ranks']} rank(s) [{row['layout']}] blocking {row['blocking_qubits']} "
        f"swapbuf {row['chunk_swap_buffer_qubits']}: eval {row['eval_s']:7.2f} s  VmHWM/rank "
        f"{max(row['vmhwm_bytes']) / MIB:7.0f} MiB (before run {max(row['vmhwm_before_run_bytes']) / MIB:.0f}) "
        f"model {row['model_rank_bytes'] / MIB:7.0f} MiB ({row['peak_vs_model']:.3f})  E={row['energy']:.12f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cap-mib", type=int, default=768, help="per-rank memory cap (cgroup memory.limit_in_bytes)")
    ap.add_argument("--ranks", default="1,2,4")
    ap.add_argument("--precision", default="double", choices=("double", "single"))
    ap.add_argument("--layout", default="hpcq", choices=("hpcq", "one-chunk"))
    ap.add_argument("--rss", action="store_true", help="no cap: peak RSS per rank at --qubits vs the model")
    ap.add_argument("--qubits", default="20,22,24")
    ap.add_argument("--python", default=str(AER_MPI_PYTHON), help="python of the MPI Aer venv")
    ap.add_argument("--inner", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.inner is not None:
        inner(args.inner, args.precision, args.layout)
        return
    from hpcq.sim import memory

    python = Path(args.python)
    if not python.exists():
        sys.exit(f"no {python}: bash scripts/build-aer-mpi.sh --install-into .aer-mpi")
    ranks_list = [int(r) for r in args.ranks.split(",")]
    name = "capacity_rss" if args.rss else "capacity"
    out_path = Path(args.out or REPO / "bench" / "results" / f"{name}.json")
    t_start = time.perf_counter()
    rows: list[dict] = []
    result: dict = {
        "bench": name,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "aer_python": str(python),
        "launcher": "mpiexec -n P (the MPI Aer venv's MPICH), one host, 2 cores shared by all ranks",
        "precision": args.precision,
        "layout": args.layout,
        "runs": rows,
        "complete": False,
    }

    def save() -> None:
        result["total_wall_s"] = round(time.perf_counter() - t_start, 1)
        out_path.write_text(json.dumps(result, indent=2) + "\n")

    if args.rss:
        for n in [int(q) for q in args.qubits.split(",")]:
            for ranks in ranks_list:
                row = run_one(python, n, ranks, args.precision, args.layout)
                rows.append(row)
                _show(row)
                save()
    else:
        cap = args.cap_mib * MIB
        result["cap_bytes"] = cap
        result["cap_how"] = "per-rank cgroup v1 memory.limit_in_bytes (+memsw), a rank over it is OOM-killed"
        capacity: dict[int, dict] = {}
        for ranks in ranks_list:
            n = max(memory.max_qubits("statevector", args.precision, cap, ranks=ranks), ranks.bit_length() + 1)
            best, tried = 0, set()
            while n not in tried:  # walk from the model's answer to the largest n that really fits
                tried.add(n)
                row = run_one(python, n, ranks, args.precision, args.layout, cap)
                row["model_max_qubits"] = memory.max_qubits("statevector", args.precision, cap, ranks=ranks)
                rows.append(row)
                _show(row)
                save()
                if row["fits"]:
                    best = max(best, n)
                    n += 1
                elif best == 0 and n > 2:
                    n -= 1
            amp = memory.AMPLITUDE_BYTES[args.precision]
            capacity[ranks] = {"qubits": best, "state_bytes": amp << best if best else 0}
        result["capacity"] = capacity
        c1 = capacity.get(1, {}).get("state_bytes") or 0
        if c1:
            result["capacity_ratio"] = {f"C({r})/C(1)": capacity[r]["state_bytes"] / c1 for r in capacity}
        print(json.dumps(result.get("capacity_ratio", capacity)), flush=True)
    result["complete"] = True
    save()
    print(f"wrote {out_path} ({result['total_wall_s']} s)")


if __name__ == "__main__":
    main()
