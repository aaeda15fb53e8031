"""Synthetic hpcq result files (format v2, docs/results-format.md) for tests and benchmarks.

Why: the catalog, ranking and dashboard must be tested on realistic studies without running
Qiskit. A study is a tree problem -> ansatz -> optimizer (VQE, step "vqe") -> noise model
(step "noise", ``parent_task_id`` = the VQE task). Each workflow writes two files, like a real
workflow writes one file per Slurm job: ``<wf>-vqe.h5`` and ``<wf>-noise.h5``. Metrics are
computed from the synthetic distributions (entropy, JSD, fidelity), so they are mutually
consistent (hpcq.sim.metrics computes them, as for real runs), and everything is seeded: the same
arguments give the same files. Every task stores full distributions, as real tasks up to the
dense limit do.

Files are written by the format's own writer (hpcq.results.h5format.write_file) and pass
``h5format.validate`` (with ``payload="full"``): the circuit is real QPY with the task's number of
parameters (Qiskit imported on first use, one circuit per shape cached) and the noise model JSON
loads. ``payload="attrs"`` files hold attributes only, so validate reports their missing datasets.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from hpcq.results import h5format as h5
from hpcq.results.h5format import TaskData
from hpcq.sim.metrics import accuracy_metrics, distribution_metrics, shannon_entropy

# problem -> (n_qubits, exact ground energy in Hartree / model units, params)
PROBLEMS: dict[str, tuple[int, float, dict[str, Any]]] = {
    "h2": (4, -1.137306, {"bond_length": 0.735, "basis": "sto3g"}),
    "lih": (6, -7.882362, {"bond_length": 1.595, "basis": "sto3g", "freeze_core": True}),
    "tfim": (5, -6.026674, {"j": 1.0, "h": 1.0, "periodic": False}),
    "heisenberg": (4, -8.0, {"j": 1.0, "periodic": True}),
}
ANSATZES = {"RealAmplitudes": 1.0, "EfficientSU2": 0.7, "TwoLocal": 1.3}  # error scale
OPTIMIZERS: dict[str, tuple[dict[str, Any], float]] = {
    "COBYLA": ({"maxiter": 200, "tol": 1e-6}, 1.0),
    "SPSA": ({"maxiter": 150, "learning_rate": 0.05, "perturbation": 0.1}, 3.0),
    "L_BFGS_B": ({"maxiter": 100, "ftol": 1e-9}, 0.5),
}
NOISE_MODELS: dict[str, list[dict[str, Any]]] = {
    "depolarizing": [{"p1": 0.001, "p2": 0.01}, {"p1": 0.005, "p2": 0.05}],
    "bit_flip": [{"p": 0.01}, {"p": 0.05}],
    "thermal": [{"t1_us": 100.0, "t2_us": 80.0, "gate_time_ns": 50.0}],
    "readout": [{"p0given1": 0.02, "p1given0": 0.01}],
    "fake_backend": [{"backend": "FakeManilaV2"}],
}


H2 = {"kind": "h2", "bond_length": 0.735}


def real_sweep(
    study: str,
    problems: list[dict[str, Any]] | None = None,
    noise: list[dict[str, Any]] | None = None,
    maxiter: int = 15,
    seed: int = 3,
    **more: Any,
) -> dict[str, Any]:
    """A small sweep (hpcq.sim.spec.SweepParams as a dict) for tests that run the real worker and
    writer beside the synthetic files: RealAmplitudes (1 rep), COBYLA, the density matrix; by
    default H2 with no, depolarizing and readout noise. ``more`` adds or replaces keys."""
    default_noise = [{"kind": "none"}, {"kind": "depolarizing", "p": 0.02}, {"kind": "readout", "p": 0.05}]
    sweep = {"study": study, "problems": problems or [H2], "noise": noise or default_noise, "seeds": [seed]}
    sweep.update(ansatze=[{"kind": "real_amplitudes", "reps": 1}], optimizers=[{"kind": "cobyla", "maxiter": maxiter}])
    return {**sweep, "method": "density_matrix", **more}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


@functools.cache
def circuit_qpy(n_qubits: int, n_params: int) -> bytes:
    """QPY of a layered RY/CX circuit with ``n_params`` parameters on ``n_qubits`` qubits.
    Fixed circuit name and parameter UUIDs, so the same arguments give the same bytes."""
    from uuid import UUID

    from qiskit import QuantumCircuit, qpy
    from qiskit.circuit import Parameter

    theta = [Parameter(f"θ{i:03d}", uuid=UUID(int=i + 1)) for i in range(n_params)]
    qc = QuantumCircuit(n_qubits, name="synthetic")
    for i, p in enumerate(theta):
        q = i % n_qubits
        qc.ry(p, q)
        if q == n_qubits - 1 and n_qubits > 1:
            for k in range(n_qubits - 1):
                qc.cx(k, k + 1)
    buf = io.BytesIO()
    qpy.dump(qc, buf)
    return buf.getvalue()


def _distribution(rng: np.random.Generator, n_qubits: int) -> np.ndarray:
    """A peaked output distribution, like a converged VQE state's."""
    p = rng.dirichlet(np.full(2**n_qubits, 0.08))
    return p / p.sum()


def _noise_strength(model: str, params: dict[str, Any]) -> float:
    if model == "depolarizing":
        return 6 * params["p2"]
    if model == "bit_flip":
        return 4 * params["p"]
    if model == "thermal":
        return 0.08
    if model == "readout":
        return params["p0given1"] + params["p1given0"]
    return 0.15  # fake backend: a real device's mix of errors


def scan_point(problem: str, name: str, value: float) -> tuple[float, dict[str, Any]]:
    """(exact energy, problem params) of ``problem`` with parameter ``name`` set to ``value``:
    a Morse-like curve with its minimum at the problem's own value, for scan studies."""
    _, exact, pparams = PROBLEMS[problem]
    x0 = float(pparams.get(name, 1.0))
    return exact + 0.6 * (1 - np.exp(-1.4 * (value - x0))) ** 2, {**pparams, name: value}


def _vqe_task(
    rng, task_id, problem, ansatz, reps, optimizer, seed, payload, point: tuple[float, dict[str, Any]] | None = None
) -> TaskData:
    n_qubits, exact, pparams = PROBLEMS[problem]
    if point is not None:
        exact, pparams = point
    oparams, oscale = OPTIMIZERS[optimizer]
    abs_error = float(rng.lognormal(np.log(2e-3 * ANSATZES[ansatz] * oscale / reps), 0.8))
    energy = exact + abs_error
    iterations = int(rng.integers(30, oparams["maxiter"]))
    evaluations = iterations * (2 if optimizer == "SPSA" else 1) + int(rng.integers(0, 10))
    wall = float(iterations * 0.02 * n_qubits * reps * rng.uniform(0.8, 1.2))
    ideal = _distribution(rng, n_qubits)
    n_params = n_qubits * (reps + 1) * (2 if ansatz == "EfficientSU2" else 1)
    attrs = {
        "task_id": task_id,
        "step": "vqe",
        "parent_task_id": "",
        "problem": problem,
        "problem_params": _dumps(pparams),
        "n_qubits": n_qubits,
        "ansatz": ansatz,
        "reps": reps,
        "optimizer": optimizer,
        "optimizer_params": _dumps(oparams),
        "noise_model": "none",
        "noise_params": _dumps({}),
        "method": "statevector",
        "seed": seed,
        "shots": 0,
        "rank": 0,
        "wall_time_s": wall,
    }
    nan = float("nan")
    metrics = {
        **accuracy_metrics(energy, exact),
        "iterations": iterations,
        "evaluations": evaluations,
        "wall_time_s": wall,
        "entropy_ideal": shannon_entropy(ideal),
        **dict.fromkeys(("entropy_noisy", "delta_entropy", "entropy_ratio", "jsd", "fidelity"), nan),
    }
    data: dict[str, Any] = {}
    if payload == "full":
        trace = energy + (abs(exact) * 0.3) * np.exp(-np.linspace(0, 6, iterations))
        params = rng.uniform(-np.pi, np.pi, size=(iterations, n_params))
        data = _datasets(rng, n_qubits, ideal, ideal, trace, params, "null")
    return TaskData(attrs, metrics, data)


def _noise_task(rng, task_id, parent: TaskData, model, nparams, shots, payload) -> TaskData:
    a = dict(parent.attrs)
    lam = min(0.9, _noise_strength(model, nparams) * rng.uniform(0.7, 1.3))
    n_qubits = a["n_qubits"]
    ideal = parent.data.get(h5.DIST_IDEAL)
    if ideal is None:
        ideal = _distribution(rng, n_qubits)
    noisy = (1 - lam) * ideal + lam / 2**n_qubits
    pm = parent.metrics
    exact = pm["exact_energy"]
    abs_error = pm["abs_error"] + lam * abs(exact) * rng.uniform(0.2, 0.5)
    wall = float(pm["wall_time_s"] * rng.uniform(0.3, 0.6))
    a.update(
        {
            "task_id": task_id,
            "step": "noise",
            "parent_task_id": parent.attrs["task_id"],
            "noise_model": model,
            "noise_params": _dumps(nparams),
            "method": "density_matrix",
            "shots": shots,
            "wall_time_s": wall,
        }
    )
    metrics = {
        **accuracy_metrics(exact + abs_error, exact),
        "iterations": 0,
        "evaluations": 1,
        "wall_time_s": wall,
        **distribution_metrics(ideal, noisy),
    }
    data: dict[str, Any] = {}
    if payload == "full":
        n_params = len(parent.data[h5.FINAL_PARAMETERS])
        data = _datasets(
            rng,
            n_qubits,
            ideal,
            noisy,
            np.zeros(0),
            np.zeros((0, n_params)),
            _dumps({"errors": [], "x90_gates": [], "model": model, **nparams}),
            final=parent.data[h5.FINAL_PARAMETERS],
        )
    return TaskData(a, metrics, data)


def _datasets(
    rng,
    n_qubits,
    ideal,
    noisy,
    trace,
    params,
    noise_json,
    final=None,
) -> dict[str, Any]:
    final = params[-1] if final is None else final
    paulis = ["".join(rng.choice(list("IXYZ"), n_qubits)) for _ in range(4 * n_qubits)]
    return {
        h5.CIRCUIT_QPY: np.frombuffer(circuit_qpy(n_qubits, len(final)), dtype=np.uint8),
        h5.NOISE_MODEL_JSON: noise_json,
        h5.HAM_PAULIS: np.array(paulis, dtype=object),
        h5.HAM_COEFFS: rng.normal(0, 0.5, len(paulis)),
        h5.TRACE_ENERGY: np.asarray(trace, dtype=float),
        h5.TRACE_PARAMETERS: np.asarray(params, dtype=float),
        h5.FINAL_PARAMETERS: np.asarray(final, dtype=float),
        h5.DIST_IDEAL: ideal,
        h5.DIST_NOISY: noisy,
    }


def _provenance(rng, wf: int, job: int, started: datetime, wall: float, n_tasks: int) -> dict:
    return {
        "hpcq_version": "0.1.0",
        "qiskit_version": "2.6.0",
        "aer_version": "0.18.0",
        "python_version": "3.11.2",
        "numpy_version": np.__version__,
        "hostname": f"node{job % 4:02d}",
        "slurm_job_id": str(1000 + job),
        "slurm_nodes": f"node{job % 4:02d}",
        "mpi_ranks": int(min(4, n_tasks)),
        "threads_per_rank": 2,
        "colonies_process_id": hashlib.sha256(f"proc{job}".encode()).hexdigest(),
        "workflow_id": f"wf-{wf:05d}",
        "started": started.isoformat(),
        "finished": (started + timedelta(seconds=wall)).isoformat(),
        "wall_time_s": wall,
        "command": "hpcq-run vqe_sweep",
    }


def make_study(
    out_dir: str | Path,
    n_workflows: int = 4,
    study: str = "noise-study",
    seed: int = 7,
    noise_per_vqe: int = 3,
    vqe_per_workflow: int = 2,
    payload: str = "full",
    problems: list[str] | None = None,
    scan: tuple[str, list[float]] | None = None,
    sites: tuple[str, str] | None = None,
) -> list[Path]:
    """Write ``2 * n_workflows`` result files under ``out_dir``; return their paths.

    Workflow ``w`` takes a (problem, ansatz, reps) and runs ``vqe_per_workflow`` optimizers
    (vqe file), then ``noise_per_vqe`` noise models on each VQE result (noise file).
    ``payload="attrs"`` skips the array datasets (faster; the catalog reads attributes only).
    ``problems`` restricts the problems cycled through; ``scan=(name, values)`` makes a scan:
    workflow ``w`` sets problem parameter ``name`` to ``values[w % len(values)]``.
    ``sites=(a, b)``: the VQE jobs ran at site a, the noise jobs at site b, each fetching its VQE
    file from a (provenance site, executor, inputs_from; docs/sites.md).
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    problems = list(problems or PROBLEMS)
    ansatzes, optimizers = list(ANSATZES), list(OPTIMIZERS)
    noise_choices = [(m, p) for m, ps in NOISE_MODELS.items() for p in ps]
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    paths: list[Path] = []
    for w in range(n_workflows):
        problem = problems[w % len(problems)]
        ansatz = ansatzes[(w // len(problems)) % len(ansatzes)]
        reps = 1 + (w // (len(problems) * len(ansatzes))) % 3
        point = scan_point(problem, scan[0], scan[1][w % len(scan[1])]) if scan else None
        vqes: list[TaskData] = []
        for k in range(vqe_per_workflow):
            opt = optimizers[(w + k) % len(optimizers)]
            tid = f"{study}-w{w:05d}-vqe{k}"
            vqes.append(_vqe_task(rng, tid, problem, ansatz, reps, opt, 1000 + w * 10 + k, payload, point))
        noises: list[TaskData] = []
        for t in vqes:
            picks = rng.choice(len(noise_choices), size=noise_per_vqe, replace=False)
            for j, idx in enumerate(picks):
                model, nparams = noise_choices[int(idx)]
                tid = f"{t.attrs['task_id']}-n{j}"
                noises.append(_noise_task(rng, tid, t, model, nparams, 4096, payload))
        started = t0 + timedelta(minutes=10 * w)
        where = _where(sites[0], []) if sites else {}
        path, finished = _write_job(rng, out / f"wf{w:05d}-vqe.h5", study, vqes, w, 2 * w, started, where)
        paths.append(path)
        if sites:  # the noise job's executor fetched the VQE file from the other site
            moved = {"bytes": path.stat().st_size, "seconds": round(0.05 + 0.01 * float(rng.random()), 4)}
            where = _where(sites[1], [{"process_id": f"proc{2 * w}", "name": path.name, **moved}])
        path, _ = _write_job(
            rng, out / f"wf{w:05d}-noise.h5", study, noises, w, 2 * w + 1, finished + timedelta(seconds=30), where
        )
        paths.append(path)
    return paths


def _where(site: str, moved: list[dict[str, Any]]) -> dict[str, Any]:
    return {"site": site, "executor": f"hpcq-{site}", "inputs_from": _dumps(moved)}


def _write_job(
    rng,
    path: Path,
    study: str,
    tasks: list[TaskData],
    wf: int,
    job: int,
    started: datetime,
    where: dict[str, Any] | None = None,
) -> tuple[Path, datetime]:
    """One Slurm job's result file (h5format.write_file): its tasks spread over its ranks. Returns
    the path and when the job finished."""
    wall = sum(t.attrs["wall_time_s"] for t in tasks)
    prov = {**_provenance(rng, wf, job, started, wall, len(tasks)), **(where or {})}
    for i, t in enumerate(tasks):
        t.attrs["rank"] = i % prov["mpi_ranks"]
    finished = started + timedelta(seconds=wall)
    return h5.write_file(path, study, tasks, prov, finished.isoformat()), finished
