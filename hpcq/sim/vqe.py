"""Run one VQE task (``TaskSpec``) on Aer and measure it: the unit of work of a sweep (hpcq.sim.vqe;
the Slurm job's entry point is hpcq.job.runner, the MPI task farm hpcq.worker.dispatch).

Determinism: the transpiler, the simulator, the optimizer and the initial point are all seeded
from ``spec.seed``, so the same spec gives bit-identical numbers wherever it runs (for circuits
below Aer's 14-qubit parallel threshold also for any thread count).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpcq.sim import metrics as M
from hpcq.sim.aer_env import gpu_options, resolve_device
from hpcq.sim.ansatz import build_ansatz, initial_point
from hpcq.sim.estimator import build_energy_circuit, trajectory_energies
from hpcq.sim.noise import (
    BASIS_GATES,
    apply_readout,
    build_noise_model,
    fake_backend,
    readout_attenuation,
    readout_matrices,
)
from hpcq.sim.optimizers import minimize
from hpcq.sim.problems import exact_ground_energy, hamiltonian, reference
from hpcq.sim.spec import TaskSpec

STATE_FIDELITY_MAX_QUBITS = 10  # density matrices above this are not saved just for a metric


@dataclass
class TaskResult:
    spec: TaskSpec
    metrics: dict[str, Any]
    circuit: Any  # the transpiled, parameterised circuit that ran (QuantumCircuit)
    noise_model: Any  # qiskit_aer NoiseModel or None
    hamiltonian: Any  # SparsePauliOp (logical qubits)
    trace_energy: np.ndarray
    trace_parameters: np.ndarray
    final_parameters: np.ndarray
    dist_ideal: np.ndarray
    dist_noisy: np.ndarray
    rank: int = 0
    counts: dict[str, Any] | None = None  # sampled counts above the dense limit (_sample_counts)
    threads: int = 1
    device: str = "CPU"
    gradient: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def task_id(self) -> str:
        return self.spec.task_id


def _simulator(method: str, device: str, noise_model, threads: int, seed: int, **opts):
    from qiskit_aer import AerSimulator

    return AerSimulator(
        method=method,
        device=device,
        noise_model=noise_model,
        max_parallel_threads=threads,
        max_parallel_experiments=threads,
        max_parallel_shots=1,
        seed_simulator=seed,
        **opts,
    )


def simulator_options(spec: TaskSpec, ranks: int = 1) -> dict[str, Any]:
    """Aer options from the spec: precision, MPS bond/truncation, and for one statevector over
    ``ranks`` MPI ranks the chunk size (Aer's automatic blocking is wrong: always set it)."""
    from hpcq.sim import memory

    opts: dict[str, Any] = {"precision": spec.precision}
    if spec.resolved_method == "matrix_product_state":
        opts["matrix_product_state_truncation_threshold"] = spec.mps.truncation_threshold
        if spec.mps.bond_dimension is not None:
            opts["matrix_product_state_max_bond_dimension"] = spec.mps.bond_dimension
    if spec.parallel == "statevector" and ranks > 1:
        opts["blocking_enable"] = True
        opts["blocking_qubits"] = memory.blocking_qubits(spec.simulated_qubits, ranks, spec.precision)
    return opts


def energy_strategy(spec: TaskSpec) -> str:
    """How <H> is read (hpcq.sim.estimator): local supports for MPS, Z-rotated groups for a
    distributed statevector (avoids Aer's chunked X/Y defect), one operator otherwise."""
    if spec.resolved_method == "matrix_product_state":
        return "local"
    if spec.parallel == "statevector":
        return "rotated_z"
    return "expval"


def _shift_rule_valid(circuit, params) -> bool:
    """Parameter shift is exact when each parameter enters exactly one rx/ry/rz angle as +-theta+c."""
    uses = {p: 0 for p in params}
    for inst in circuit.data:
        for arg in inst.operation.params:
            syms = getattr(arg, "parameters", set())
            for p in syms:
                if inst.operation.name not in ("rx", "ry", "rz"):
                    return False
                if abs(float(arg.gradient(p))) != 1.0:
                    return False
                uses[p] += 1
    return all(n == 1 for n in uses.values())


def _binds(params, X: np.ndarray) -> list[dict]:
    return [{p: X[:, i].tolist() for i, p in enumerate(params)}]


def aer_execute(sim, circuit, binds: list[dict], shots: int) -> list[float]:
    """Run one parameterised energy circuit for every bound point; the energies, in order."""
    res = sim.run(circuit, parameter_binds=binds, shots=shots).result()
    if not res.success:
        raise RuntimeError(f"Aer failed: {res.status}")
    return [float(np.real(res.data(i)["energy"])) for i in range(len(res.results))]


def run_task(
    spec: TaskSpec,
    threads: int = 1,
    rank: int = 0,
    execute=aer_execute,
    x0: np.ndarray | None = None,
    optimize: bool = True,
    comm=None,
    ranks: int = 1,
) -> TaskResult:
    """Run one task. ``execute`` runs the energy circuit (benchmarks swap in a cross-task
    batcher to compare with Aer's own parallel_experiments). ``x0``: start here (a noise step
    starts from its parent's optimum); ``optimize=False``: only evaluate the energy at ``x0``.
    ``comm``: ranks that share this task's noisy trajectories (parallel 'trajectories'); ``ranks``:
    MPI ranks Aer spreads one statevector over (parallel 'statevector')."""
    from qiskit import transpile

    t0 = time.perf_counter()
    seed = spec.seed
    device = resolve_device(spec.device)
    method = spec.resolved_method
    problem = spec.problem
    n = problem.qubits
    H = hamiltonian(problem)
    exact = exact_ground_energy(problem)
    ansatz = build_ansatz(spec.ansatz, n, problem)
    refs = reference(problem)  # chemistry: PySCF vs qubit-sector check (raises on mismatch)
    params = list(ansatz.parameters)
    nm = build_noise_model(spec.noise)

    if spec.noise.kind == "fake_backend":
        backend = fake_backend(spec.noise.backend)
        tqc = transpile(ansatz, backend=backend, optimization_level=1, seed_transpiler=seed)
        H_phys = H.apply_layout(tqc.layout)
        measured = list(tqc.layout.final_index_layout())
    else:
        tqc = transpile(ansatz, basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=seed)
        H_phys = H
        measured = list(range(n))
    n_sim = tqc.num_qubits
    att = readout_attenuation(spec.noise)
    if att is not None:  # exact effect of symmetric readout flips on every Pauli expectation
        weights = np.array([sum(1 for c in lbl if c != "I") for lbl in H_phys.paulis.to_labels()])
        H_eval = H_phys.copy()
        H_eval.coeffs = H_eval.coeffs * att**weights
    else:
        H_eval = H_phys
    t_setup = time.perf_counter()

    noisy = nm is not None and spec.noise.kind != "readout"
    sim_opts = dict(simulator_options(spec, ranks), **gpu_options(method, device))
    sim = _simulator(method, device, nm if noisy else None, threads, seed, **sim_opts)
    shots = spec.shots if (noisy and method == "statevector") else 1
    strategy = energy_strategy(spec) if not noisy else "expval"
    trajectories = noisy and method == "statevector" and spec.parallel == "trajectories"
    ec = build_energy_circuit(tqc, H_eval, strategy, pershot=trajectories)
    energy_circ = ec.circuit
    last_se = [math.nan]

    def run_block(binds, b: int, seed_b: int, shots_b: int) -> np.ndarray:
        res = (
            _simulator(method, device, nm, threads, seed_b, **sim_opts)
            .run(energy_circ, parameter_binds=binds, shots=shots_b)
            .result()
        )
        if not res.success:
            raise RuntimeError(f"Aer failed: {res.status}")
        return np.stack([ec.energies_pershot(res.data(i)) for i in range(len(res.results))])

    def fun_batch(X: np.ndarray) -> np.ndarray:
        binds = _binds(params, X)
        if trajectories:  # shots in seeded blocks shared by the ranks of comm: same for any rank count
            est = trajectory_energies(lambda b, sb, nb: run_block(binds, b, sb, nb), shots, seed, comm)
            last_se[0] = float(est.stderr[0])
            return est.mean
        if strategy == "expval" and execute is not aer_execute:
            return np.array(execute(sim, energy_circ, binds, shots), dtype=float)
        res = sim.run(energy_circ, parameter_binds=binds, shots=shots).result()
        if not res.success:
            raise RuntimeError(f"Aer failed: {res.status}")
        return np.array([ec.energy(res.data(i)) for i in range(len(res.results))], dtype=float)

    gradient = spec.optimizer.gradient
    if spec.optimizer.kind == "l_bfgs_b" and gradient == "parameter_shift" and not _shift_rule_valid(tqc, params):
        gradient = "finite_difference"
    rng = np.random.default_rng(seed)
    if x0 is None:
        x0 = initial_point(spec.ansatz, len(params), rng)
    elif len(x0) != len(params):
        raise ValueError(f"x0 has {len(x0)} parameters, the ansatz {len(params)}: the parent ran another ansatz")
    x0 = np.asarray(x0, dtype=float)
    if optimize:
        opt = minimize(spec.optimizer, fun_batch, x0, seed, gradient=gradient)
    else:  # energy at the given point only (a noise step at its parent's parameters)
        from hpcq.sim.optimizers import OptResult

        f0 = float(fun_batch(x0[None, :])[0])
        opt = OptResult(x=x0, fun=f0, evaluations=1, trace_x=[x0], trace_f=[f0], message="evaluated at x0")
    t_opt = time.perf_counter()

    final_se = last_se[0]
    records = dict(sim_opts)  # what ran, for the file (Aer options and, for MPS, the truncation it did)
    if method == "matrix_product_state":  # at the optimum, from Aer's mps_log_data
        records.update(_mps_truncation(method, device, threads, seed, sim_opts, energy_circ, params, opt.x))
    if trajectories:  # the standard error at the optimum (the trace's last point need not be it)
        final_se = float(
            trajectory_energies(
                lambda b, sb, nb: run_block(_binds(params, opt.x[None, :]), b, sb, nb), shots, seed, comm
            ).stderr[0]
        )
    run = (spec, opt, exact, tqc, nm, H, params, rank, threads, device, gradient, refs, t0, t_setup, t_opt)
    if spec.sampled_distributions:  # above distributions.max_qubits (and MPS): no 2^n arrays, sampled counts
        counts = _sample_counts(spec, tqc.assign_parameters(dict(zip(params, opt.x))), measured, nm, threads, sim_opts)
        dist_m = M.sampled_distribution_metrics(counts["ideal"], counts["noisy"], spec.seed, paired=counts["paired"])
        empty = np.zeros(0)
        return _task_result(
            *run,
            scale=_scale_metrics(spec, ec, final_se, records),
            dist_metrics=dist_m,
            ideal_energy=opt.fun if nm is None else math.nan,
            state_fid=math.nan,
            dists=(empty, empty),
            t_end=time.perf_counter(),
            counts=counts,
        )
    # Output distributions of the final circuit, noiseless and with the noise model
    final = tqc.assign_parameters(dict(zip(params, opt.x)))
    ideal_circ = final.copy()
    ideal_circ.save_probabilities(measured, label="p")
    ideal_circ.save_statevector(label="psi")
    # a distributed statevector keeps its chunks for these runs too: without blocking_qubits an MPI Aer
    # over several ranks segfaults (or blocks automatically, which is wrong); the saves are gathered
    dist_opts = {k: sim_opts[k] for k in ("blocking_enable", "blocking_qubits") if k in sim_opts}
    ideal_res = _simulator("statevector", device, None, threads, seed, **dist_opts).run(ideal_circ).result()
    dist_ideal = np.asarray(ideal_res.data(0)["p"], dtype=float)
    psi = ideal_res.data(0)["psi"]
    ideal_energy = float(np.real(psi.expectation_value(H_phys)))
    state_fid = math.nan
    if nm is None or spec.noise.kind == "readout":  # readout acts at measurement, not on the state
        state_fid = 1.0
    if nm is None:
        dist_noisy = dist_ideal.copy()
    else:
        save_dm = method == "density_matrix" and n_sim <= STATE_FIDELITY_MAX_QUBITS
        noisy_circ = final.copy()
        noisy_circ.save_probabilities(measured, label="p")
        if save_dm:
            noisy_circ.save_density_matrix(label="rho")
        res = (
            _simulator(method, device, nm if noisy else None, threads, seed, **dist_opts)
            .run(noisy_circ, shots=spec.shots if method == "statevector" and noisy else 1)
            .result()
        )
        dist_noisy = apply_readout(np.asarray(res.data(0)["p"], dtype=float), readout_matrices(nm, measured))
        if save_dm:
            rho = np.asarray(res.data(0)["rho"])
            v = np.asarray(psi.data)
            state_fid = float(np.real(np.conj(v) @ rho @ v))
    return _task_result(
        *run,
        scale=_scale_metrics(spec, ec, final_se, records),
        dist_metrics=M.distribution_metrics(dist_ideal, dist_noisy),
        ideal_energy=ideal_energy,
        state_fid=state_fid,
        dists=(dist_ideal, dist_noisy),
        t_end=time.perf_counter(),
    )


def _task_result(
    spec, opt, exact, tqc, nm, H, params, rank, threads, device, gradient, refs, t0, t_setup, t_opt,
    *, scale, dist_metrics, ideal_energy, state_fid, dists, t_end, counts=None,
) -> TaskResult:  # fmt: skip
    """The one TaskResult of a VQE, dense (2^n distributions) or sampled (counts): metrics in one
    order, and the chemistry references (totals, Ha) in both."""
    m: dict[str, Any] = M.accuracy_metrics(opt.fun, exact)
    m.update(dist_metrics)
    m.update(
        iterations=opt.iterations,
        evaluations=opt.evaluations,
        wall_time_s=t_end - t0,
        ideal_energy=ideal_energy,
        state_fidelity=state_fid,
    )
    m.update(scale)
    for k in ("hf_energy", "pyscf_energy"):
        if k in refs:
            m[k] = float(refs[k])
    return TaskResult(
        spec=spec,
        metrics=m,
        circuit=tqc,
        noise_model=nm,
        hamiltonian=H,
        trace_energy=np.array(opt.trace_f, dtype=float),
        trace_parameters=np.array(opt.trace_x, dtype=float).reshape(len(opt.trace_x), len(params)),
        final_parameters=np.asarray(opt.x, dtype=float),
        dist_ideal=dists[0],
        dist_noisy=dists[1],
        rank=rank,
        threads=threads,
        device=device,
        gradient=gradient,
        timings={
            "setup_s": t_setup - t0,
            "optimize_s": t_opt - t_setup,
            "distributions_s": t_end - t_opt,
            "total_s": t_end - t0,
        },
        counts=counts,
    )


_MPS_LOG_SEEN = [0]  # length of Aer's process-wide MPS log already read (_mps_truncation)


def _mps_truncation(method, device, threads, seed, sim_opts, energy_circ, params, x) -> dict[str, Any]:
    """One more evaluation at ``x`` with Aer's ``mps_log_data``: the largest bond dimension the MPS
    reached and the Schmidt weight its SVDs discarded in total (0 = the energy is that of the
    untruncated circuit, hence variational). Keys start with ``_`` (records, not Aer options).
    Aer 0.18.2 keeps ONE log per process and never clears it (each result shows everything logged
    so far): this run's part is what follows the length seen last time (_MPS_LOG_SEEN)."""
    import re

    sim = _simulator(method, device, None, threads, seed, mps_log_data=True, **sim_opts)
    res = sim.run(energy_circ, parameter_binds=_binds(params, np.asarray(x)[None, :])).result()
    full = str(res.results[0].metadata.get("MPS_log_data", "")) if res.success else ""
    full = full.strip().removeprefix("{").removesuffix("}")
    seen = _MPS_LOG_SEEN[0] if len(full) >= _MPS_LOG_SEEN[0] else 0
    log, _MPS_LOG_SEEN[0] = full[seen:], len(full)
    bonds = [int(b) for bd in re.findall(r"BD=\[([0-9 ]*)\]", log) for b in bd.split()]
    discarded = [float(v) for v in re.findall(r"discarded_value=([-+0-9.eE]+)", log)]
    return {"_mps_max_bond": max(bonds, default=1), "_mps_discarded": float(sum(discarded))}


def _scale_metrics(spec: TaskSpec, ec, stderr: float, sim_opts: dict) -> dict[str, Any]:
    """How the energy was obtained: estimator path, its standard error (trajectories), MPS controls."""
    # numbers only (metrics are float attributes); the strategy follows from the spec (energy_strategy)
    m: dict[str, Any] = {"energy_groups": int(ec.groups), "energy_stderr": float(stderr)}
    if spec.resolved_method == "matrix_product_state":
        m["mps_bond_dimension"] = int(spec.mps.bond_dimension or 0)  # 0 = not capped
        m["mps_truncation_threshold"] = float(spec.mps.truncation_threshold)
        # a truncated MPS energy is NOT variational: 1 only when nothing was discarded (uncapped, or the
        # cap was never reached: mps_discarded_weight 0 at the optimum)
        m["mps_max_bond_reached"] = int(sim_opts.get("_mps_max_bond", 0))
        m["mps_discarded_weight"] = float(sim_opts.get("_mps_discarded", math.nan))
        m["mps_variational"] = float(spec.mps.bond_dimension is None or m["mps_discarded_weight"] == 0.0)
    if "blocking_qubits" in sim_opts:
        m["blocking_qubits"] = int(sim_opts["blocking_qubits"])
    if "cuStateVec_enable" in sim_opts:  # GPU runs: 1 = NVIDIA cuStateVec, 0 = Aer's own CUDA kernels
        m["custatevec"] = float(bool(sim_opts["cuStateVec_enable"]))
    return m


def _sample_counts(spec: TaskSpec, final, measured: list[int], nm, threads: int, sim_opts: dict) -> dict[str, Any]:
    """``spec.distributions.shots`` measurements of the final circuit, noiseless (seed) and with the
    noise model (seed + 1; readout errors act on these measurements); without a noise model the
    noisy counts ARE the ideal ones (paired). Bitstrings in Qiskit order over the measured qubits."""
    from qiskit import ClassicalRegister

    circ = final.copy()
    creg = ClassicalRegister(len(measured), "out")
    circ.add_register(creg)
    circ.measure(measured, creg)
    shots = spec.distributions.shots
    method, device = spec.resolved_method, resolve_device(spec.device)

    def sample(noise_model, seed: int) -> dict[str, int]:
        res = _simulator(method, device, noise_model, threads, seed, **sim_opts).run(circ, shots=shots).result()
        if not res.success:
            raise RuntimeError(f"Aer failed while sampling counts: {res.status}")
        return {str(k): int(v) for k, v in res.get_counts(0).items()}

    ideal = sample(None, spec.seed)
    noisy = ideal if nm is None else sample(nm, spec.seed + 1)
    return {
        "ideal": ideal,
        "noisy": noisy,
        "shots": shots,
        "seed_ideal": spec.seed,
        "seed_noisy": spec.seed + (nm is not None),
        "n_bits": len(measured),
        "paired": nm is None,
    }
