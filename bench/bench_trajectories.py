"""Noisy statevector trajectories: hpcq's split over MPI ranks vs Aer's own parallel shots.

Side by side in one run, per register size (TFIM chain, real_amplitudes reps=1, depolarizing noise,
method statevector, the same total shots and noise model everywhere):

* hpcq, 1 rank and 2 ranks: the real worker (``python -m hpcq.worker SWEEP --out DIR --threads 1``,
  under ``mpiexec -n 2`` as hpcq runs it; ``parallel: trajectories``), a short COBYLA run. Time per
  energy evaluation = the file's optimize time / evaluations; energy and its standard error at the
  optimum from the file (bit-identical for 1 and 2 ranks: checked).
* Aer, one process: the SAME stored circuit, noise model and final parameters from the 1-rank file,
  the same shots in one ``run`` (per-shot energies, so the same standard error), with
  ``max_parallel_threads=2, max_parallel_shots=2`` (Aer's parallel shots) and with 1 thread.

Also reported: the HDF5 write time each worker recorded (provenance h5_write_time_s) as a fraction
of its job. Writes bench/results/trajectories.json. Usage:
    nice -n 10 .venv/bin/python bench/bench_trajectories.py [--qubits 10 12 14] [--shots 128]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUT = ROOT / "bench" / "results" / "trajectories.json"


def sweep(n: int, shots: int, maxiter: int) -> dict:
    return {
        "study": f"traj{n}",
        "problems": [{"kind": "tfim", "n_qubits": n}],
        "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
        "optimizers": [{"kind": "cobyla", "maxiter": maxiter}],
        "noise": [{"kind": "depolarizing", "p": 0.002, "p2": 0.01}],
        "seeds": [11],
        "method": "statevector",
        "shots": shots,
        "parallel": "trajectories",
    }


def run_worker(work: Path, n: int, ranks: int, shots: int, maxiter: int) -> dict:
    from hpcq.results.h5format import WRITE_TIME, read_summary
    from hpcq.testing import retry_mpi_start

    spec = work / f"sweep{n}.json"
    spec.write_text(json.dumps(sweep(n, shots, maxiter)))
    out = work / f"n{n}-r{ranks}"
    shutil.rmtree(out, ignore_errors=True)  # one file per run
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1")
    env.pop("SLURM_CPUS_PER_TASK", None)
    cmd = [sys.executable, "-m", "hpcq.worker", str(spec), "--out", str(out), "--threads", "1"]
    if ranks > 1:
        cmd = [str(BIN / "mpiexec"), "-n", str(ranks)] + cmd
    else:
        env["HPCQ_NO_MPI"] = "1"
    t0 = time.perf_counter()
    r = retry_mpi_start(lambda: subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900))
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"worker n={n} ranks={ranks} failed:\n{r.stderr[-3000:]}")
    (path,) = out.glob("*.h5")
    s = read_summary(path)
    (t,) = s["tasks"]
    timings = json.loads(t["attrs"]["timings_json"])
    m = t["metrics"]
    return {
        "file": str(path),
        "ranks": ranks,
        "threads_per_rank": 1,
        "wall_s": round(wall, 3),
        "evaluations": int(m["evaluations"]),
        "per_eval_s": timings["optimize_s"] / int(m["evaluations"]),
        "energy": float(m["energy"]),
        "energy_stderr": float(m["energy_stderr"]),
        "exact_energy": float(m["exact_energy"]),
        "h5_write_s": float(s["provenance"][WRITE_TIME]),
        "h5_write_fraction": float(s["provenance"][WRITE_TIME]) / wall,
    }


def aer_parallel_shots(path: str, shots: int, threads: int, repeats: int) -> dict:
    """Aer's own parallel shots on the stored circuit at the stored optimum (same noise, shots)."""
    from qiskit_aer import AerSimulator

    from hpcq.results.h5format import task_ids
    from hpcq.sim.readout import build_energy_circuit
    from hpcq.worker.taskfile import load_task

    rec = load_task(path, task_ids(path)[0])
    ec = build_energy_circuit(rec.circuit, rec.hamiltonian, "expval", pershot=True)
    bound = ec.circuit.assign_parameters(dict(zip(rec.circuit.parameters, rec.final_parameters, strict=True)))
    sim = AerSimulator(
        method="statevector",
        noise_model=rec.noise_model,
        max_parallel_threads=threads,
        max_parallel_shots=threads,
        max_parallel_experiments=1,
        seed_simulator=int(rec.attrs["seed"]),
    )
    times, per_shot = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = sim.run(bound, shots=shots).result()
        times.append(time.perf_counter() - t0)
        if not res.success:
            raise RuntimeError(f"Aer failed: {res.status}")
        per_shot = np.asarray(ec.energies_pershot(res.data(0)), dtype=float).ravel()
        meta = res.results[0].metadata
    return {
        "threads": threads,
        "max_parallel_shots": threads,
        "aer_parallel_shots_used": int(meta.get("parallel_shots", 0)),
        "per_eval_s": statistics.median(times),
        "per_eval_all_s": [round(x, 4) for x in times],
        "energy": float(per_shot.mean()),
        "energy_stderr": float(per_shot.std(ddof=1) / math.sqrt(per_shot.size)),
        "shots": int(per_shot.size),
    }


def counts_file(work: Path, n: int, shots: int) -> dict:
    """A sampled-counts file (format v2) of an n-qubit MPS run, written by the worker's code path
    in this process: its HDF5 write time against the job. The exact TFIM energy comes from free
    fermions (hpcq.sim.tfim_exact; Lanczos cannot do 2^n at this size)."""
    import h5py

    from hpcq.functions import JobContext
    from hpcq.results.h5format import COUNTS, PROVENANCE, TASKS, WRITE_TIME, validate
    from hpcq.sim import vqe
    from hpcq.sim.tfim_exact import tfim_open_ground_energy
    from hpcq.worker.entry import run_sweep

    vqe.exact_ground_energy = lambda p: tfim_open_ground_energy(p.qubits)
    spec = {
        "study": f"counts{n}",
        "problems": [{"kind": "tfim", "n_qubits": n}],
        "ansatze": [{"kind": "real_amplitudes", "reps": 1}],
        "optimizers": [{"kind": "spsa", "maxiter": 5}],
        "noise": [{"kind": "none"}, {"kind": "readout", "p": 0.02}],
        "seeds": [1],
        "method": "matrix_product_state",
        "mps": {"bond_dimension": 8},
        "distributions": {"shots": shots},
    }
    out = work / f"counts{n}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    res = run_sweep(spec, JobContext(process_id="bench", workdir=str(out), threads=1))
    wall = time.perf_counter() - t0
    path = Path(res.files[0])
    with h5py.File(path, "r") as f:
        write = float(f[PROVENANCE].attrs[WRITE_TIME])
        outcomes = {tid: int(g[COUNTS]["noisy/outcomes"].shape[0]) for tid, g in f[TASKS].items()}
        largest = max(d.size for d in _datasets(f))
    return {
        "n_qubits": n,
        "method": "matrix_product_state (bond 8), 2 tasks (none, readout 0.02)",
        "shots": shots,
        "valid": validate(path) == [],
        "job_s": round(wall, 3),
        "h5_write_s": write,
        "h5_write_fraction": write / wall,
        "file_bytes": path.stat().st_size,
        "largest_dataset_elements": int(largest),
        "distinct_noisy_outcomes": outcomes,
        "dense_bytes_avoided": 2 * 8 * 2**n * len(outcomes),
    }


def _datasets(f) -> list:
    import h5py

    out: list = []
    f.visititems(lambda _, o: out.append(o) if isinstance(o, h5py.Dataset) else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qubits", type=int, nargs="+", default=[10, 12, 14])
    ap.add_argument("--shots", type=int, default=128)
    ap.add_argument("--maxiter", type=int, default=10, help="COBYLA maxiter (raised by scipy to n_params+2)")
    ap.add_argument("--repeats", type=int, default=3, help="Aer runs per configuration (median)")
    ap.add_argument("--work", default="/tmp/hpcq-bench-trajectories")
    ap.add_argument("--counts-qubits", type=int, default=30, help="register of the sampled-counts file")
    ap.add_argument("--only-counts", action="store_true", help="keep the stored trajectory rows")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    load_start = os.getloadavg()
    rows = []
    for n in [] if a.only_counts else a.qubits:
        # serial and parallel variants alternate, so a change of the machine's load hits both
        one = run_worker(work, n, 1, a.shots, a.maxiter)
        aer1 = aer_parallel_shots(one["file"], a.shots, 1, a.repeats)
        two = run_worker(work, n, 2, a.shots, a.maxiter)
        aer2 = aer_parallel_shots(one["file"], a.shots, 2, a.repeats)
        row = {
            "n_qubits": n,
            "shots": a.shots,
            "hpcq_1_rank": one,
            "hpcq_2_ranks": two,
            "aer_parallel_shots_2_threads": aer2,
            "aer_1_thread": aer1,
            "bit_identical_1_vs_2_ranks": one["energy"] == two["energy"]
            and one["energy_stderr"] == two["energy_stderr"],
            "speedup_hpcq_2_ranks": one["per_eval_s"] / two["per_eval_s"],
            "speedup_aer_parallel_shots": aer1["per_eval_s"] / aer2["per_eval_s"],
            "hpcq_2_ranks_vs_aer_parallel_shots": aer2["per_eval_s"] / two["per_eval_s"],
            "energy_difference_in_stderr": (one["energy"] - aer2["energy"])
            / math.hypot(one["energy_stderr"], aer2["energy_stderr"]),
        }
        rows.append(row)
        print(
            f"n={n:2d} shots={a.shots}: per evaluation hpcq 1 rank {one['per_eval_s']:.3f} s, "
            f"2 ranks {two['per_eval_s']:.3f} s (x{row['speedup_hpcq_2_ranks']:.2f}); Aer 1 thread "
            f"{aer1['per_eval_s']:.3f} s, parallel shots 2 threads {aer2['per_eval_s']:.3f} s "
            f"(x{row['speedup_aer_parallel_shots']:.2f}); E = {one['energy']:.5f} +- {one['energy_stderr']:.5f} "
            f"(hpcq, 1 = 2 ranks: {row['bit_identical_1_vs_2_ranks']}), Aer {aer2['energy']:.5f} +- "
            f"{aer2['energy_stderr']:.5f}; h5 write {one['h5_write_fraction']:.2%} of the job",
            flush=True,
        )
    cf = counts_file(work, a.counts_qubits, 4096)
    print(
        f"counts file, {cf['n_qubits']} qubits: write {cf['h5_write_s'] * 1e3:.1f} ms = "
        f"{cf['h5_write_fraction']:.2%} of a {cf['job_s']:.1f} s job, {cf['file_bytes']} bytes, valid {cf['valid']}",
        flush=True,
    )
    if a.only_counts:  # the stored trajectory figures stay as they were measured
        result = json.loads(OUT.read_text())
        result["counts_file"] = cf
        OUT.write_text(json.dumps(result, indent=2) + "\n")
        print(f"updated counts_file in {OUT}")
        return
    result = {
        "bench": "trajectories",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "host": platform.node(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": load_start,
            "load_avg_at_end": os.getloadavg(),
        },
        "setup": {
            "problem": "tfim open chain J=h=1",
            "ansatz": "real_amplitudes reps=1",
            "noise": "depolarizing p=0.002 (1q), p2=0.01 (2q)",
            "method": "statevector (trajectories)",
            "optimizer": f"cobyla maxiter={a.maxiter}",
            "mpi": "pip MPICH mpiexec, 1 Aer thread per rank",
        },
        "rows": rows,
        "counts_file": cf,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT} in {result['wall_s']} s")


if __name__ == "__main__":
    main()
