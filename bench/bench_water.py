"""Water noise study: wall time per energy evaluation by method and size, and noisy statevector
trajectories vs density matrix at equal standard error.

    .venv/bin/python bench/bench_water.py [--trajectories 64] [--target-stderr 1e-3] [--out bench/results/water.json]

Per case (water STO-3G, JW; CAS(4e,4o) = 8 qubits, CAS(8e,5o) = 10, CAS(8e,6o) = 12; ansatz on
the HF state at fixed seeded angles; depolarizing 1q p=1e-3, 2q p=1e-2 on the basis gates):
  t_sv        noiseless statevector, exact expectation (one evaluation)
  t_dm        density matrix with noise, exact expectation (one evaluation; zero statistical error)
  t_traj      one noisy statevector trajectory (mean over --trajectories single-shot runs)
  sigma       standard deviation of one trajectory's energy (Ha)
  shots_eq    trajectories for standard error --target-stderr: (sigma / target)^2
  t_traj_eq   shots_eq * t_traj; ratio = t_traj_eq / t_dm (> 1: the density matrix is faster)
  dm_cost_ratio  t_dm / (t_traj * 2^n): the constant of `automatic`'s cost model
              (hpcq.sim.spec.AUTO_DM_COST_RATIO must be at least the largest of these)
Both methods run side by side in one process, single-threaded.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np


def cases():
    water = dict(kind="molecule", geometry="h2o", mapping="jordan_wigner")
    return [
        ("uccsd", dict(water, active_electrons=4, active_orbitals=4)),
        ("efficient_su2", dict(water, active_electrons=4, active_orbitals=4)),
        ("efficient_su2", dict(water, active_electrons=8, active_orbitals=5)),
        ("efficient_su2", dict(water, active_electrons=8, active_orbitals=6)),
    ]


def timed(fn, repeat=1):
    t0 = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return (time.perf_counter() - t0) / repeat, out


def run_case(ansatz_kind, problem, n_traj, target, seed=5):
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    from hpcq.sim import problems as P
    from hpcq.sim.ansatz import build_ansatz
    from hpcq.sim.noise import BASIS_GATES, build_noise_model
    from hpcq.sim.spec import AnsatzSpec, NoiseSpec, ProblemSpec

    prob = ProblemSpec(**problem)
    H = P.hamiltonian(prob)
    spec = AnsatzSpec(kind=ansatz_kind, reps=1)
    qc = build_ansatz(spec, prob.qubits, prob)
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.05, qc.num_parameters)
    tqc = transpile(qc.assign_parameters(x), basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=seed)
    circ = tqc.copy()
    circ.save_expectation_value(H, list(range(prob.qubits)), label="e")
    nm = build_noise_model(NoiseSpec(kind="depolarizing", p=1e-3, p2=1e-2))
    opts = dict(max_parallel_threads=1, max_parallel_experiments=1, max_parallel_shots=1)
    sv = AerSimulator(method="statevector", **opts)
    dm = AerSimulator(method="density_matrix", noise_model=nm, **opts)
    t_sv, r = timed(lambda: sv.run(circ, shots=1).result())
    e_ideal = float(np.real(r.data(0)["e"]))
    t_dm, r = timed(lambda: dm.run(circ, shots=1).result())
    e_dm = float(np.real(r.data(0)["e"]))
    vals = []
    t0 = time.perf_counter()
    for k in range(n_traj):
        traj = AerSimulator(method="statevector", noise_model=nm, seed_simulator=seed * 100003 + k, **opts)
        vals.append(float(np.real(traj.run(circ, shots=1).result().data(0)["e"])))
    t_traj = (time.perf_counter() - t0) / n_traj
    sigma = float(np.std(vals, ddof=1))
    shots_eq = max(1, int(np.ceil((sigma / target) ** 2)))
    ops = tqc.count_ops()
    return {
        "ansatz": ansatz_kind,
        "qubits": prob.qubits,
        "pauli_terms": len(H),
        "cx": int(ops.get("cx", 0)),
        "t_sv_s": t_sv,
        "t_dm_s": t_dm,
        "t_traj_s": t_traj,
        "e_ideal": e_ideal,
        "e_dm": e_dm,
        "e_traj_mean": float(np.mean(vals)),
        "e_traj_stderr": sigma / np.sqrt(n_traj),
        "sigma": sigma,
        "trajectories": n_traj,
        "target_stderr": target,
        "shots_eq": shots_eq,
        "t_traj_eq_s": shots_eq * t_traj,
        "ratio_traj_over_dm": shots_eq * t_traj / t_dm,
        "dm_cost_ratio": t_dm / (t_traj * 2**prob.qubits),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trajectories", type=int, default=64)
    ap.add_argument("--target-stderr", type=float, default=1e-3)
    ap.add_argument("--out", default="bench/results/water.json")
    a = ap.parse_args()
    from hpcq.sim.spec import AUTO_DM_COST_RATIO

    rows = []
    for kind, prob in cases():
        row = run_case(kind, prob, a.trajectories, a.target_stderr)
        rows.append(row)
        print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    worst = max(r["dm_cost_ratio"] for r in rows)
    print(f"dm_cost_ratio max {worst:.3f}; AUTO_DM_COST_RATIO = {AUTO_DM_COST_RATIO}", flush=True)
    if worst > AUTO_DM_COST_RATIO:
        print("WARNING: raise hpcq.sim.spec.AUTO_DM_COST_RATIO to cover this machine's figures", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(
        json.dumps(
            {"bench": "water", "python": platform.python_version(), "machine": platform.machine(), "rows": rows},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
