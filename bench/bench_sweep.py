"""Sweep benchmark: hpcq's MPI worker on 1 vs N ranks, against Aer's own parallel_experiments
running the same sweep in one process, and the HDF5 write share of the job.

    .venv/bin/python bench/bench_sweep.py [--ranks 2] [--qubits 6] [--maxiter 60] [--tasks 8]

Writes bench/results/sweep.json and prints it. Every variant runs the identical tasks (same
seeds, COBYLA, density_matrix with depolarizing noise), so energies must agree bit for bit;
the script checks that too. Variants run one after another in one invocation (ratios side by side).

Aer baseline ("aer_parallel_experiments"): one process, threads = ranks; every live task's next
energy evaluation is collected (lock-step over Python threads that each run the real optimizer)
and submitted as ONE Aer run with max_parallel_experiments = ranks. That is how a single process
would use Aer's own experiment-level parallelism for a sweep of sequential optimizers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MPIEXEC = os.environ.get("HPCQ_MPIEXEC") or (
    str(BIN / "mpiexec") if (BIN / "mpiexec").exists() else shutil.which("mpiexec") or "mpiexec"
)


def sweep_dict(qubits: int, maxiter: int, tasks: int) -> dict:
    fields = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25]
    n_fields = max(1, min(len(fields), tasks // 2))
    seeds = list(range(1, max(1, tasks // n_fields) + 1))
    return {
        "study": "bench",
        "problems": [{"kind": "tfim", "n_qubits": qubits, "h": h} for h in fields[:n_fields]],
        "ansatze": [{"kind": "efficient_su2", "reps": 2}],
        "optimizers": [{"kind": "cobyla", "maxiter": maxiter}],
        "noise": [{"kind": "depolarizing", "p": 0.002}],
        "seeds": seeds,
        "method": "density_matrix",
    }


def run_worker(sweep_path: Path, ranks: int, out: Path) -> tuple[float, dict]:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    env.pop("SLURM_CPUS_PER_TASK", None)
    cmd = [sys.executable, "-m", "hpcq.worker", str(sweep_path), "--out", str(out), "--threads", "1"]
    if ranks > 1:
        cmd = [MPIEXEC, "-n", str(ranks)] + cmd
    else:
        env["HPCQ_NO_MPI"] = "1"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise SystemExit(f"worker failed ({' '.join(cmd)}):\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout)
    out["summary"]["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, out


class LockstepBatcher:
    """Collects one energy request from every live task, then runs them as one Aer job."""

    def __init__(self, live: int, threads: int):
        self.cv = threading.Condition()
        self.live = live
        self.threads = threads
        self.pending: dict[int, tuple] = {}
        self.done: dict[int, list[float]] = {}
        self.batches = 0
        self.experiments = 0

    def _flush(self) -> None:
        if not self.pending or len(self.pending) < self.live:
            return
        items = sorted(self.pending.items())
        self.pending = {}
        sim = items[0][1][0]
        sim.set_options(max_parallel_threads=self.threads, max_parallel_experiments=self.threads)
        circuits = [c for _, (_, c, _, _) in items]
        binds = [b[0] for _, (_, _, b, _) in items]
        res = sim.run(circuits, parameter_binds=binds, shots=items[0][1][3]).result()
        k = 0
        for key, (_, _, b, _) in items:
            n = len(next(iter(b[0].values())))
            self.done[key] = [float(res.data(k + j)["energy"].real) for j in range(n)]
            k += n
        self.batches += 1
        self.experiments += k
        self.cv.notify_all()

    def execute(self, sim, circuit, binds, shots):
        key = threading.get_ident()
        with self.cv:
            self.pending[key] = (sim, circuit, binds, shots)
            self._flush()
            while key not in self.done:
                self.cv.wait()
            return self.done.pop(key)

    def finished(self) -> None:
        with self.cv:
            self.live -= 1
            self._flush()


def run_aer_parallel(sweep: dict, threads: int) -> tuple[float, dict, dict]:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    from hpcq.sim.spec import parse_sweep
    from hpcq.sim.vqe import run_task

    tasks = parse_sweep(sweep).tasks()
    batcher = LockstepBatcher(len(tasks), threads)
    energies: dict[str, float] = {}
    errors: list[BaseException] = []

    def one(task):
        try:
            r = run_task(task, threads=1, execute=batcher.execute)
            energies[task.task_id] = r.metrics["energy"]
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            batcher.finished()

    t0 = time.perf_counter()
    ths = [threading.Thread(target=one, args=(t,)) for t in tasks]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return wall, energies, {"aer_runs": batcher.batches, "experiments": batcher.experiments}


def energies_of(path: str) -> dict:
    import hpcq.results

    df = hpcq.results.open(path)
    return dict(zip(df.task_id, df.energy, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--qubits", type=int, default=6)
    ap.add_argument("--maxiter", type=int, default=150)
    ap.add_argument("--tasks", type=int, default=16)
    ap.add_argument(
        "--repeats", type=int, default=3, help="variants run interleaved this many times; figures use the fastest run"
    )
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "sweep.json"))
    args = ap.parse_args()
    n = args.ranks

    sweep = sweep_dict(args.qubits, args.maxiter, args.tasks)
    tmp = Path(tempfile.mkdtemp(prefix="hpcq-bench-"))
    runs: dict[str, list] = {"1": [], "n": [], "aer": []}
    load = [os.getloadavg()[0]]
    identical = {f"{n}_ranks_vs_1": True, "aer_baseline_vs_1": True}
    try:
        sp = tmp / "sweep.json"
        sp.write_text(json.dumps(sweep))
        for rep in range(args.repeats):
            w1, s1 = run_worker(sp, 1, tmp / f"r1-{rep}")
            wn, sn = run_worker(sp, n, tmp / f"rn-{rep}")
            wa, ea, aer_stats = run_aer_parallel(sweep, n)
            e1, en = energies_of(s1["files"][0]), energies_of(sn["files"][0])
            identical[f"{n}_ranks_vs_1"] &= e1 == en
            identical["aer_baseline_vs_1"] &= e1 == ea
            runs["1"].append((w1, s1["summary"]))
            runs["n"].append((wn, sn["summary"]))
            runs["aer"].append(wa)
            load.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    w1, s1 = min(runs["1"], key=lambda r: r[0])
    wn, sn = min(runs["n"], key=lambda r: r[0])
    wa = min(runs["aer"])
    job1 = min(s["wall_time_s"] for _, s in runs["1"])
    jobn = min(s["wall_time_s"] for _, s in runs["n"])
    share1 = max(s["write_time_s"] / s["wall_time_s"] for _, s in runs["1"])
    sharen = max(s["write_time_s"] / s["wall_time_s"] for _, s in runs["n"])
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "host": platform.node(),
            "load_avg_1min_during": [round(x, 2) for x in load],
            "note": "figures = fastest of the repeats; the machine may be shared",
        },
        "sweep": {
            "tasks": s1["n_tasks"],
            "qubits": args.qubits,
            "maxiter": args.maxiter,
            "method": "density_matrix",
            "noise": "depolarizing p=0.002",
            "optimizer": "cobyla",
            "ansatz": "efficient_su2 reps=2",
        },
        "ranks": n,
        "repeats": args.repeats,
        "wall_s": {
            "hpcq_1_rank": round(w1, 3),
            f"hpcq_{n}_ranks": round(wn, 3),
            f"aer_parallel_experiments_{n}_threads": round(wa, 3),
        },
        "wall_s_all": {
            "hpcq_1_rank": [round(w, 3) for w, _ in runs["1"]],
            f"hpcq_{n}_ranks": [round(w, 3) for w, _ in runs["n"]],
            f"aer_parallel_experiments_{n}_threads": [round(w, 3) for w in runs["aer"]],
        },
        "job_s": {"hpcq_1_rank": job1, f"hpcq_{n}_ranks": jobn},
        "cpu_s_all": {
            "hpcq_1_rank": [round(s["cpu_s"], 2) for _, s in runs["1"]],
            f"hpcq_{n}_ranks": [round(s["cpu_s"], 2) for _, s in runs["n"]],
        },
        "parallel_efficiency": round(w1 / (n * wn), 3),
        # CPU seconds of all processes, 1 rank / N ranks: < 1 means MPI/dispatch overhead; when it
        # is ~1 but the wall-clock efficiency is low, the cores were busy with other work
        "cpu_efficiency": round(min(s["cpu_s"] for _, s in runs["1"]) / min(s["cpu_s"] for _, s in runs["n"]), 3),
        "parallel_efficiency_in_job": round(job1 / (n * jobn), 3),
        "speedup_vs_aer_parallel_experiments": round(wa / wn, 3),
        "hdf5_write_share_worst": {"1_rank": round(share1, 4), f"{n}_ranks": round(sharen, 4)},
        "hdf5_write_s": {
            "1_rank": [s["write_time_s"] for _, s in runs["1"]],
            f"{n}_ranks": [s["write_time_s"] for _, s in runs["n"]],
        },
        "aer_baseline": aer_stats,
        "bit_identical": identical,
        "goals": {
            "parallel_efficiency": ">= 0.9",
            "vs_aer_parallel_experiments": ">= 1.0 (no slower)",
            "hdf5_write_share": "<= 0.02",
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
