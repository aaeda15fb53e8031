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

from hpcq.sim import memory
from hpcq.sim import metrics as M
from hpcq.sim.aer_env import gpu_options, resolve_device
from hpcq.sim.ansatz import build_ansatz, start_point
from hpcq.sim.noise import (
    BASIS_GATES,
    apply_readout,
    build_noise_model,
    fake_backend,
    readout_attenuation,
    readout_matrices,
)
from hpcq.sim.optimizers import OptResult, minimize
from hpcq.sim.problems import exact_ground_energy, hamiltonian, reference
from hpcq.sim.readout import build_energy_circuit, sweeps_from_metadata, trajectory_energies
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
    start: dict[str, Any] = field(default_factory=dict)  # the initial point and restarts (_optimize)
    initial_parameters: Any = None  # the kept run's starting point

    @property
    def task_id(self) -> str:
        return self.spec.task_id


def _simulator(method: str, device: str, noise_model, threads: int, seed: int, **opts):
    """``opts["max_parallel_experiments"]``: from ``memory.parallel_experiments`` (default ``threads``)."""
    from qiskit_aer import AerSimulator

    opts.setdefault("max_parallel_experiments", threads)
    return AerSimulator(
        method=method,
        device=device,
        noise_model=noise_model,
        max_parallel_threads=threads,
        max_parallel_shots=1,
        seed_simulator=seed,
        **opts,
    )


def simulator_options(spec: TaskSpec, ranks: int = 1) -> dict[str, Any]:
    """Aer options from the spec: precision, MPS bond/truncation, and for one statevector over
    ``ranks`` MPI ranks the chunk size (Aer's automatic blocking is wrong: always set it)."""
    opts: dict[str, Any] = {"precision": spec.precision}
    if spec.resolved_method == "matrix_product_state":
        opts["matrix_product_state_truncation_threshold"] = spec.mps.truncation_threshold
        if spec.mps.bond_dimension is not None:
            opts["matrix_product_state_max_bond_dimension"] = spec.mps.bond_dimension
    if spec.parallel == "statevector" and ranks > 1:
        opts["blocking_enable"] = True
        b, swap_buffer = memory.distributed_layout(spec.simulated_qubits, ranks, spec.precision)
        opts["blocking_qubits"] = b
        opts["chunk_swap_buffer_qubits"] = swap_buffer
    return opts


def energy_strategy(spec: TaskSpec) -> str:
    """How <H> is read (hpcq.sim.readout): local supports for MPS, Z-rotated groups for a
    distributed statevector (avoids Aer's chunked X/Y defect), qubit-wise-commuting groups read
    from one marginal each for a statevector on one process (fewest passes over the state), one
    operator otherwise (density matrices). Noisy circuits always use ``expval`` (vqe._prepare)."""
    if spec.resolved_method == "matrix_product_state":
        return "local"
    if spec.parallel == "statevector":
        return "rotated_z"
    if spec.resolved_method == "statevector":
        return "grouped"
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


@dataclass
class _Prepared:
    """One task made ready to run: its operators, the transpiled circuit, the simulator that
    evaluates the energy and how it reads <H> (hpcq.sim.readout)."""

    spec: TaskSpec
    threads: int
    device: str
    method: str
    hamiltonian: Any  # SparsePauliOp on the logical qubits
    h_phys: Any  # the same on the transpiled circuit's physical qubits
    exact: float
    refs: dict[str, Any]  # chemistry references (PySCF vs qubit sector)
    params: list[Any]  # the ansatz's Parameters, in order
    noise_model: Any  # qiskit_aer NoiseModel or None
    circuit: Any  # the transpiled ansatz
    measured: list[int]  # physical qubits that carry the logical ones
    noisy: bool  # the noise model acts on the state (not at readout only)
    sim_opts: dict[str, Any]
    sim: Any  # the AerSimulator of the energy evaluations
    shots: int
    trajectories: bool  # noisy statevector shots split over the ranks of comm
    energy: Any  # hpcq.sim.readout.EnergyCircuit
    start: dict[str, Any] = field(default_factory=dict)  # how the optimisation started (_optimize)
    x0: Any = None  # the kept run's starting point

    def simulator(self, seed: int, noise_model: Any = None, method: str = "", **opts: Any):
        return _simulator(method or self.method, self.device, noise_model, self.threads, seed, **opts)


def _transpile(spec: TaskSpec, ansatz, H, n: int) -> tuple[Any, Any, list[int]]:
    """The ansatz on the simulated register: a fake backend's layout (H moved onto it) or the basis gates."""
    from qiskit import transpile

    if spec.noise.kind == "fake_backend":
        backend = fake_backend(spec.noise.backend)
        tqc = transpile(ansatz, backend=backend, optimization_level=1, seed_transpiler=spec.seed)
        return tqc, H.apply_layout(tqc.layout), list(tqc.layout.final_index_layout())
    tqc = transpile(ansatz, basis_gates=BASIS_GATES, optimization_level=1, seed_transpiler=spec.seed)
    return tqc, H, list(range(n))


def _prepare(spec: TaskSpec, threads: int, ranks: int) -> _Prepared:
    device, method, problem = resolve_device(spec.device), spec.resolved_method, spec.problem
    n = problem.qubits
    H = hamiltonian(problem)
    exact = exact_ground_energy(problem)
    ansatz = build_ansatz(spec.ansatz, n, problem)
    refs = reference(problem)  # chemistry: PySCF vs qubit-sector check (raises on mismatch)
    nm = build_noise_model(spec.noise)
    tqc, H_phys, measured = _transpile(spec, ansatz, H, n)
    att = readout_attenuation(spec.noise)
    H_eval = H_phys
    if att is not None:  # exact effect of symmetric readout flips on every Pauli expectation
        weights = np.array([sum(1 for c in lbl if c != "I") for lbl in H_phys.paulis.to_labels()])
        H_eval = H_phys.copy()
        H_eval.coeffs = H_eval.coeffs * att**weights
    noisy = nm is not None and spec.noise.kind != "readout"
    sim_opts = dict(simulator_options(spec, ranks), **gpu_options(method, device))
    # bound points side by side only as far as their states fit this job (hpcq.sim.memory)
    sim_opts["max_parallel_experiments"] = memory.parallel_experiments(
        spec.simulated_qubits,
        method,
        spec.precision,
        threads=threads,
        ranks=ranks,
        gpus_per_rank=1 if device == "GPU" else 0,
    )
    strategy = energy_strategy(spec) if not noisy else "expval"
    trajectories = noisy and method == "statevector" and spec.parallel == "trajectories"
    return _Prepared(
        # where and how it runs
        spec=spec,
        threads=threads,
        device=device,
        method=method,
        # the problem
        hamiltonian=H,
        h_phys=H_phys,
        exact=exact,
        refs=refs,
        # the circuit and its noise
        params=list(ansatz.parameters),
        noise_model=nm,
        circuit=tqc,
        measured=measured,
        noisy=noisy,
        # the energy evaluations
        sim_opts=sim_opts,
        sim=_simulator(method, device, nm if noisy else None, threads, spec.seed, fusion_verbose=True, **sim_opts),
        shots=spec.shots if (noisy and method == "statevector") else 1,
        trajectories=trajectories,
        energy=build_energy_circuit(tqc, H_eval, strategy, pershot=trajectories),
    )


class _EnergyFunction:
    """The batched energy E(X) the optimizer calls (one row of X per point); for trajectories it
    keeps the standard error of its last estimate."""

    def __init__(self, p: _Prepared, execute, comm) -> None:
        self.p, self.execute, self.comm = p, execute, comm
        self.last_stderr = math.nan
        self.sweeps: dict[str, int] = {}  # state sweeps per evaluation (readout.sweeps_from_metadata)

    def _block(self, binds, seed_b: int, shots_b: int) -> np.ndarray:
        p = self.p
        res = (
            p.simulator(seed_b, p.noise_model, **p.sim_opts)
            .run(p.energy.circuit, parameter_binds=binds, shots=shots_b)
            .result()
        )
        if not res.success:
            raise RuntimeError(f"Aer failed: {res.status}")
        return np.stack([p.energy.energies_pershot(res.data(i)) for i in range(len(res.results))])

    def trajectories(self, X: np.ndarray):
        """Shots in seeded blocks shared by the ranks of comm: the same for any rank count."""
        binds = _binds(self.p.params, X)
        return trajectory_energies(
            lambda b, sb, nb: self._block(binds, sb, nb), self.p.shots, self.p.spec.seed, self.comm
        )

    def __call__(self, X: np.ndarray) -> np.ndarray:
        p = self.p
        if p.trajectories:
            est = self.trajectories(X)
            self.last_stderr = float(est.stderr[0])
            return est.mean
        binds = _binds(p.params, X)
        if p.energy.strategy == "expval" and self.execute is not aer_execute:
            return np.array(self.execute(p.sim, p.energy.circuit, binds, p.shots), dtype=float)
        res = p.sim.run(p.energy.circuit, parameter_binds=binds, shots=p.shots).result()
        if not res.success:
            raise RuntimeError(f"Aer failed: {res.status}")
        if not self.sweeps and p.method in ("statevector", "density_matrix"):
            self.sweeps = sweeps_from_metadata(res.results[0].metadata, p.energy)
        return np.array([p.energy.energy(res.data(i)) for i in range(len(res.results))], dtype=float)


def _optimize(p: _Prepared, fun: _EnergyFunction, x0: np.ndarray | None, optimize: bool) -> tuple[OptResult, str]:
    """The optimizer's run from ``x0`` (default: the ansatz's initial point), or only the energy
    at ``x0``; with the gradient method that ran (parameter shift falls back when not exact)."""
    spec, params = p.spec, p.params
    gradient = spec.optimizer.gradient
    if spec.optimizer.kind == "l_bfgs_b" and gradient == "parameter_shift" and not _shift_rule_valid(p.circuit, params):
        gradient = "finite_difference"
    if x0 is None and optimize:
        return _restarts(p, fun, gradient), gradient
    if x0 is None:
        x0, p.start = start_point(spec.ansatz, spec.problem, len(params), spec.seed)
    elif len(x0) != len(params):
        raise ValueError(f"x0 has {len(x0)} parameters, the ansatz {len(params)}: the parent ran another ansatz")
    else:
        p.start = {"kind": "parent", "parent_task_id": spec.parent_task_id}
    x0 = np.asarray(x0, dtype=float)
    p.x0 = x0
    if optimize:
        return minimize(spec.optimizer, fun, x0, spec.seed, gradient=gradient), gradient
    f0 = float(fun(x0[None, :])[0])  # energy at the given point only (a noise step at its parent's parameters)
    return OptResult(x=x0, fun=f0, evaluations=1, trace_x=[x0], trace_f=[f0], message="evaluated at x0"), gradient


def _restarts(p: _Prepared, fun: _EnergyFunction, gradient: str) -> OptResult:
    """ansatz.restarts runs (the first from initial_point, the others from seeded random points:
    hpcq.sim.ansatz.start_point); the lowest final energy is kept. Every start and its energy go
    into p.start (the task's initial_point_json attribute)."""
    spec = p.spec
    best: OptResult | None = None
    runs, kept = [], 0
    for k in range(spec.ansatz.restarts):
        x0, rec = start_point(spec.ansatz, spec.problem, len(p.params), spec.seed, k)
        opt = minimize(spec.optimizer, fun, x0, spec.seed, gradient=gradient)
        runs.append(dict(rec, energy=float(opt.fun), evaluations=int(opt.evaluations)))
        if best is None or opt.fun < best.fun:
            best, p.x0, kept = opt, x0, k
    assert best is not None
    p.start = dict(runs[kept], restarts=spec.ansatz.restarts, kept=kept, runs=runs)
    return best


@dataclass
class _Run:
    """A finished optimisation, named (what the result is built from)."""

    prep: _Prepared
    opt: OptResult
    rank: int
    gradient: str
    scale: dict[str, Any]  # how the energy was obtained (_scale_metrics)
    t0: float
    t_setup: float
    t_opt: float


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
    t0 = time.perf_counter()
    p = _prepare(spec, threads, ranks)
    t_setup = time.perf_counter()
    fun = _EnergyFunction(p, execute, comm)
    opt, gradient = _optimize(p, fun, x0, optimize)
    t_opt = time.perf_counter()
    records = dict(p.sim_opts)  # what ran, for the file (Aer options and, for MPS, the truncation it did)
    records.update({f"_{k}": v for k, v in fun.sweeps.items()})  # state sweeps per evaluation
    if p.method == "matrix_product_state":  # at the optimum, from Aer's mps_log_data
        records.update(_mps_truncation(p, opt.x))
    final_se = fun.last_stderr
    if p.trajectories:  # the standard error at the optimum (the trace's last point need not be it)
        final_se = float(fun.trajectories(opt.x[None, :]).stderr[0])
    run = _Run(p, opt, rank, gradient, _scale_metrics(spec, p.energy, final_se, records), t0, t_setup, t_opt)
    final = p.circuit.assign_parameters(dict(zip(p.params, opt.x, strict=True)))
    if spec.sampled_distributions:  # above distributions.max_qubits (and MPS): no 2^n arrays, sampled counts
        counts = _sample_counts(spec, final, p.measured, p.noise_model, threads, p.sim_opts)
        empty = np.zeros(0)
        return _task_result(
            run,
            dist_metrics=M.sampled_distribution_metrics(
                counts["ideal"], counts["noisy"], spec.seed, paired=counts["paired"]
            ),
            ideal_energy=opt.fun if p.noise_model is None else math.nan,
            state_fid=math.nan,
            dists=(empty, empty),
            counts=counts,
        )
    dist_ideal, dist_noisy, ideal_energy, state_fid = _distributions(p, final)
    return _task_result(
        run,
        dist_metrics=M.distribution_metrics(dist_ideal, dist_noisy),
        ideal_energy=ideal_energy,
        state_fid=state_fid,
        dists=(dist_ideal, dist_noisy),
    )


def _distributions(p: _Prepared, final) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Output distributions of the final circuit, noiseless and with the noise model, the ideal
    energy, and the state fidelity (from the density matrix when it is small enough, else nan)."""
    ideal_circ = final.copy()
    ideal_circ.save_probabilities(p.measured, label="p")
    ideal_circ.save_statevector(label="psi")
    # a distributed statevector keeps its chunks for these runs too: without blocking_qubits an MPI Aer
    # over several ranks segfaults (or blocks automatically, which is wrong); the saves are gathered
    dist = ("blocking_enable", "blocking_qubits", "chunk_swap_buffer_qubits")
    dist_opts = {k: p.sim_opts[k] for k in dist if k in p.sim_opts}
    ideal_res = p.simulator(p.spec.seed, None, "statevector", **dist_opts).run(ideal_circ).result()
    dist_ideal = np.asarray(ideal_res.data(0)["p"], dtype=float)
    psi = ideal_res.data(0)["psi"]
    ideal_energy = float(np.real(psi.expectation_value(p.h_phys)))
    nm = p.noise_model
    state_fid = 1.0 if nm is None or p.spec.noise.kind == "readout" else math.nan  # readout acts at measurement
    if nm is None:
        return dist_ideal, dist_ideal.copy(), ideal_energy, state_fid
    save_dm = p.method == "density_matrix" and p.circuit.num_qubits <= STATE_FIDELITY_MAX_QUBITS
    noisy_circ = final.copy()
    noisy_circ.save_probabilities(p.measured, label="p")
    if save_dm:
        noisy_circ.save_density_matrix(label="rho")
    res = (
        p.simulator(p.spec.seed, nm if p.noisy else None, **dist_opts)
        .run(noisy_circ, shots=p.spec.shots if p.method == "statevector" and p.noisy else 1)
        .result()
    )
    dist_noisy = apply_readout(np.asarray(res.data(0)["p"], dtype=float), readout_matrices(nm, p.measured))
    if save_dm:
        rho = np.asarray(res.data(0)["rho"])
        v = np.asarray(psi.data)
        state_fid = float(np.real(np.conj(v) @ rho @ v))
    return dist_ideal, dist_noisy, ideal_energy, state_fid


def _task_result(
    run: _Run,
    *,
    dist_metrics: dict[str, Any],
    ideal_energy: float,
    state_fid: float,
    dists: tuple[np.ndarray, np.ndarray],
    counts: dict[str, Any] | None = None,
) -> TaskResult:
    """The one TaskResult of a VQE, dense (2^n distributions) or sampled (counts): metrics in one
    order, and the chemistry references (totals, Ha) in both."""
    t_end = time.perf_counter()
    p, opt = run.prep, run.opt
    m: dict[str, Any] = M.accuracy_metrics(opt.fun, p.exact)
    m.update(dist_metrics)
    m.update(
        iterations=opt.iterations,
        evaluations=opt.evaluations,
        wall_time_s=t_end - run.t0,
        ideal_energy=ideal_energy,
        state_fidelity=state_fid,
    )
    m.update(run.scale)
    for k in ("hf_energy", "pyscf_energy"):
        if k in p.refs:
            m[k] = float(p.refs[k])
    if "hf_energy" in p.refs:  # chemistry: signed error, correlation energy recovered, <N>, <S^2>
        m.update(M.chemistry_metrics(opt.fun, p.exact, float(p.refs["hf_energy"])))
        m.update(_state_observables(p, opt.x))
    return TaskResult(
        spec=p.spec,
        metrics=m,
        circuit=p.circuit,
        noise_model=p.noise_model,
        hamiltonian=p.hamiltonian,
        trace_energy=np.array(opt.trace_f, dtype=float),
        trace_parameters=np.array(opt.trace_x, dtype=float).reshape(len(opt.trace_x), len(p.params)),
        final_parameters=np.asarray(opt.x, dtype=float),
        dist_ideal=dists[0],
        dist_noisy=dists[1],
        rank=run.rank,
        threads=p.threads,
        device=p.device,
        gradient=run.gradient,
        timings={
            "setup_s": run.t_setup - run.t0,
            "optimize_s": run.t_opt - run.t_setup,
            "distributions_s": t_end - run.t_opt,
            "total_s": t_end - run.t0,
        },
        counts=counts,
        start=p.start,
        initial_parameters=p.x0,
    )


def _state_observables(p: _Prepared, x: np.ndarray) -> dict[str, float]:
    """<N> and <S^2> of the noiseless VQE state at ``x``: the number and total-spin operators in the
    problem's qubit mapping (hpcq.sim.chem.mappings.spin_operators), on the circuit's physical qubits."""
    from hpcq.sim.chem.mappings import spin_operators

    prob = p.spec.problem
    ops = spin_operators(prob.mapping, prob.spatial_orbitals, prob.electrons)
    circ = p.circuit.assign_parameters(dict(zip(p.params, np.asarray(x, dtype=float), strict=True)))
    layout = getattr(circ, "layout", None) if p.spec.noise.kind == "fake_backend" else None
    for name, op in ops.items():
        op = op.apply_layout(layout) if layout is not None else op
        circ.save_expectation_value(op, range(circ.num_qubits), label=name)
    method = "matrix_product_state" if p.method == "matrix_product_state" else "statevector"
    opts = {k: v for k, v in p.sim_opts.items() if not k.startswith("_") and k != "precision"}
    res = p.simulator(p.spec.seed, None, method, **opts).run(circ).result()
    if not res.success:
        raise RuntimeError(f"Aer failed while measuring <N>, <S^2>: {res.status}")
    return {name: float(np.real(res.data(0)[name])) for name in ops}


_MPS_LOG_SEEN = [0]  # length of Aer's process-wide MPS log already read (_mps_truncation)


def _mps_truncation(p: _Prepared, x: np.ndarray) -> dict[str, Any]:
    """One more evaluation at ``x`` with Aer's ``mps_log_data``: the largest bond dimension the MPS
    reached and the Schmidt weight its SVDs discarded in total (0 = the energy is that of the
    untruncated circuit, hence variational). Keys start with ``_`` (records, not Aer options).
    Aer 0.18.2 keeps ONE log per process and never clears it (each result shows everything logged
    so far): this run's part is what follows the length seen last time (_MPS_LOG_SEEN)."""
    import re

    sim = p.simulator(p.spec.seed, None, mps_log_data=True, **p.sim_opts)
    res = sim.run(p.energy.circuit, parameter_binds=_binds(p.params, np.asarray(x)[None, :])).result()
    full = str(res.results[0].metadata.get("MPS_log_data", "")) if res.success else ""
    full = full.strip().removeprefix("{").removesuffix("}")
    seen = _MPS_LOG_SEEN[0] if len(full) >= _MPS_LOG_SEEN[0] else 0
    log, _MPS_LOG_SEEN[0] = full[seen:], len(full)
    bonds = [int(b) for bd in re.findall(r"BD=\[([0-9 ]*)\]", log) for b in bd.split()]
    discarded = [float(v) for v in re.findall(r"discarded_value=([-+0-9.eE]+)", log)]
    return {"_mps_max_bond": max(bonds, default=1), "_mps_discarded": float(sum(discarded))}


def _scale_metrics(spec: TaskSpec, ec, stderr: float, sim_opts: dict) -> dict[str, Any]:
    """How the energy was obtained: read-out path (hpcq.sim.readout), its standard error, MPS controls."""
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
    if "max_parallel_experiments" in sim_opts:  # states simulated side by side (memory.parallel_experiments)
        m["parallel_experiments"] = int(sim_opts["max_parallel_experiments"])
    for k in ("sweeps", "gate_sweeps", "read_passes"):  # per energy evaluation (hpcq.sim.readout)
        if f"_{k}" in sim_opts:
            m[f"energy_{k}"] = int(sim_opts[f"_{k}"])
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
