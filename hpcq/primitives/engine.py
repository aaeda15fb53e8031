"""Catalog entry ``primitive_run``: run estimator/sampler PUBs with Qiskit Aer, parameter sets and
PUBs split over the job's MPI ranks. Local mode calls the same function in-process.

Why results equal Aer's own EstimatorV2/SamplerV2 bit for bit: each task runs a slice of one
PUB's parameter sets with Aer exactly as Aer's primitives do (``save_expectation_value`` per Pauli,
resp. ``memory=True`` sampling); when a seed is set, the slice is run with the seed Aer would have
given its first experiment (Aer seeds experiment i of a run with ``seed + i * step``), and rank 0
assembles evs / bit arrays, and adds the estimator's precision noise, as Aer does.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from hpcq.functions import FunctionResult, JobContext
from hpcq.mpi import mpi_world, polling_barrier
from hpcq.primitives.params import PrimitiveRunParams
from hpcq.worker.dispatch import run_tasks

log = logging.getLogger("hpcq.primitives")


@dataclass(frozen=True)
class Slice:
    """Parameter sets [start, stop) of PUB ``pub``; ``first`` = index of its first experiment in
    Aer's run (for the seed); ``group`` = shots group of a sampler PUB."""

    pub: int
    start: int
    stop: int
    first: int


@lru_cache(maxsize=1)
def seed_step() -> int:
    """How Aer spaces the seeds of the experiments of one run (measured, not assumed)."""
    from qiskit import QuantumCircuit
    from qiskit_aer import AerSimulator

    qc = QuantumCircuit(1, 1)
    qc.measure(0, 0)
    res = AerSimulator().run([qc, qc], shots=1, seed_simulator=0).result().results
    return int(res[1].seed_simulator) - int(res[0].seed_simulator)


def _noise_model(params: PrimitiveRunParams):
    from hpcq.sim.noise import build_noise_model, noise_model_from_json

    o = params.options
    if o.noise_model is not None:
        return noise_model_from_json(o.noise_model)
    if o.noise is not None:
        return build_noise_model(o.noise)
    return None


def _readout_only(nm) -> bool:
    """A noise model with readout errors only: no gate is noisy, so none is 'outside' it."""
    return not any(e.get("type") == "qerror" for e in nm.to_dict().get("errors", []))


def backend_options(params: PrimitiveRunParams, threads: int | None) -> dict[str, Any]:
    from hpcq.sim.aer_env import resolve_device

    o = params.options
    opts: dict[str, Any] = {"method": o.method, "device": resolve_device(o.device)}
    nm = _noise_model(params)
    if nm is not None:
        opts["noise_model"] = nm
    if threads:
        opts["max_parallel_threads"] = threads
    return opts


def plan_slices(sizes: list[int], firsts: list[int], ranks: int, per_task: int | None) -> list[Slice]:
    """Split every PUB's parameter sets into slices: ``per_task`` sets at most, else about two
    slices per rank over the whole call (one slice per PUB on one rank: Aer's own granularity)."""
    if per_task is None:
        per_task = max(sizes) if ranks <= 1 else max(1, math.ceil(sum(sizes) / (2 * ranks)))
    out = []
    for i, (n, first) in enumerate(zip(sizes, firsts, strict=True)):
        for start in range(0, max(n, 1), per_task):
            out.append(Slice(i, start, min(max(n, 1), start + per_task), first + start))
    return out


class CircuitNotRunnable(ValueError):
    """A PUB's circuit has instructions Aer cannot run, or gates a noise model would leave noiseless;
    the message names them and the fix (transpile to the basis)."""


# instructions that are no gates: a noise model neither has nor needs errors on them
NOT_GATES = {"measure", "barrier", "delay", "reset", "id", "store", "if_else", "for_loop", "while_loop"}
NOT_GATES |= {"switch_case", "break_loop", "continue_loop"}


def check_circuits(circuits: list, supported: set[str], noise_basis: set[str] | None) -> None:
    """Refuse, with the fix, what would fail or mislead inside Aer (Qiskit's V2 primitives take
    circuits already transpiled to the target, "ISA circuits", and so does hpcq: it never
    transpiles a PUB, so results stay Aer's bit for bit): instructions Aer does not know (an
    untranspiled UCCSD's PauliEvolution gates: Aer's raw "unknown instruction"), and with a noise
    model, gates outside its basis, which Aer would run noiseless."""
    for i, c in enumerate(circuits):
        names = {inst.operation.name for inst in c.data}
        unknown = sorted(n for n in names - NOT_GATES if n not in supported and not n.startswith("save_"))
        fix = (
            "transpile it first, e.g. qiskit.transpile(circuit, basis_gates=['cx', 'rz', 'sx', 'x']) "
            "(for a noise model: its basis_gates; for a fake backend: transpile(circuit, backend))"
        )
        if unknown:
            raise CircuitNotRunnable(f"pubs[{i}]: the circuit has {', '.join(unknown)}, which Aer cannot run; {fix}")
        if noise_basis is not None:
            quiet = sorted(n for n in names - NOT_GATES - noise_basis if not n.startswith("save_"))
            if quiet:
                raise CircuitNotRunnable(
                    f"pubs[{i}]: gates {', '.join(quiet)} are outside the noise model's basis "
                    f"({', '.join(sorted(noise_basis))}) and would run without noise; {fix}"
                )


class _Runner:
    def __init__(self, params: PrimitiveRunParams, threads: int | None):
        from qiskit_aer import AerSimulator

        from hpcq.primitives.wire import decode_pub

        self.params = params
        self.pubs = [decode_pub(p, params.primitive) for p in params.pubs]
        opts = backend_options(params, threads)
        self.backend = AerSimulator(**opts)
        nm = opts.get("noise_model")
        check_circuits(
            [p.circuit for p in self.pubs],
            set(AerSimulator(method=opts["method"]).target.operation_names),  # without the noise model's basis
            set(nm.basis_gates) if nm is not None and not _readout_only(nm) else None,
        )
        self.seed = params.options.seed
        self._prepared: dict[int, Any] = {}

    def binds(self, i: int, s: Slice) -> dict:
        pub = self.pubs[i]
        c = pub.circuit
        if not c.num_parameters:
            return {}
        arr = np.asarray(pub.parameter_values.as_array(c.parameters), dtype=float).reshape(-1, c.num_parameters)
        return {p: arr[s.start : s.stop, k] for k, p in enumerate(c.parameters)}

    def seed_of(self, s: Slice) -> int | None:
        return None if self.seed is None else self.seed + seed_step() * s.first

    # estimator: circuit with one save_expectation_value per Pauli label (as Aer's EstimatorV2)
    def est_circuit(self, i: int):
        if i not in self._prepared:
            from qiskit.quantum_info import Pauli

            pub = self.pubs[i]
            circuit = pub.circuit.copy()
            paulis = sorted({p for obs in pub.observables.ravel() for p in obs})
            for pauli in paulis:
                circuit.save_expectation_value(Pauli(pauli), qubits=range(circuit.num_qubits), label=pauli)
            self._prepared[i] = (circuit, paulis)
        return self._prepared[i]

    def run_slice(self, s: Slice):
        if self.params.primitive == "estimator":
            circuit, paulis = self.est_circuit(s.pub)
            kw = {} if self.seed is None else {"seed_simulator": self.seed_of(s)}
            result = self.backend.run(circuit, parameter_binds=[self.binds(s.pub, s)], **kw).result()
            n = s.stop - s.start
            values = np.array([[result.data(j)[p] for p in paulis] for j in range(n)], dtype=float)
            return s, values, dict(result.metadata)
        pub = self.pubs[s.pub]
        result = self.backend.run(
            [pub.circuit],
            shots=pub.shots,
            seed_simulator=self.seed_of(s),
            parameter_binds=[self.binds(s.pub, s)],
            memory=True,
        ).result()
        from qiskit_aer.primitives.sampler_v2 import _prepare_memory

        return s, _prepare_memory(result), dict(result.metadata)


def _firsts(params: PrimitiveRunParams, sizes: list[int]) -> list[int]:
    """Index of each PUB's first experiment in the Aer run that Aer's primitive would make."""
    if params.primitive == "estimator":
        return [0] * len(sizes)  # one run per PUB
    offset: dict[int, int] = defaultdict(int)  # sampler: one run per shots value, PUBs in order
    out = []
    for p, n in zip(params.pubs, sizes, strict=True):
        out.append(offset[p.shots])
        offset[p.shots] += n
    return out


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(meta, default=str))


def _assemble_estimator(r: _Runner, i: int, parts: list) -> dict[str, Any]:
    from hpcq.primitives.wire import estimator_pub_json

    pub = r.pubs[i]
    _, paulis = r.est_circuit(i)
    values = np.concatenate([v for _, v, _ in sorted(parts, key=lambda t: t[0].start)])
    col = {p: k for k, p in enumerate(paulis)}
    shape = pub.parameter_values.shape
    param_indices = np.fromiter(np.ndindex(shape), dtype=object).reshape(shape)
    bc_param_ind, bc_obs = np.broadcast_arrays(param_indices, pub.observables)
    flat_index_map = {tup: k for k, tup in enumerate(param_indices.ravel())}
    evs = np.zeros_like(bc_param_ind, dtype=float)
    stds = np.full(bc_param_ind.shape, pub.precision)
    for index in np.ndindex(*bc_param_ind.shape):
        row = values[flat_index_map[bc_param_ind[index]]]
        for pauli, coeff in bc_obs[index].items():
            evs[index] += row[col[pauli]] * coeff
    if pub.precision > 0:
        rng = np.random.default_rng(r.seed)
        evs = rng.normal(evs, pub.precision, evs.shape)
    meta = {
        "target_precision": pub.precision,
        "circuit_metadata": pub.circuit.metadata,
        "simulator_metadata": parts[0][2],
        "hpcq_slices": len(parts),
    }
    return estimator_pub_json(evs, stds, _json_safe(meta))


def _assemble_sampler(r: _Runner, i: int, parts: list) -> dict[str, Any]:
    from qiskit_aer.primitives.sampler_v2 import (
        _analyze_circuit,
        _memory_array,
        _samples_to_packed_array,
    )

    from hpcq.primitives.wire import sampler_pub_json

    pub = r.pubs[i]
    memory = [m for _, mem, _ in sorted(parts, key=lambda t: t[0].start) for m in mem]
    meas_info, max_num_bytes = _analyze_circuit(pub.circuit)
    shape = pub.parameter_values.shape
    arrays = {it.creg_name: np.zeros(shape + (pub.shots, it.num_bytes), dtype=np.uint8) for it in meas_info}
    memory_array = _memory_array(memory, max_num_bytes)
    for samples, index in zip(memory_array, np.ndindex(*shape), strict=False):
        for it in meas_info:
            arrays[it.creg_name][index] = _samples_to_packed_array(samples, it.num_bits, it.start)
    meta = {
        "shots": pub.shots,
        "circuit_metadata": pub.circuit.metadata,
        "simulator_metadata": parts[0][2],
        "hpcq_slices": len(parts),
    }
    return sampler_pub_json(
        {it.creg_name: (arrays[it.creg_name], it.num_bits) for it in meas_info}, shape, _json_safe(meta)
    )


def execute(params: PrimitiveRunParams, comm=None, threads: int | None = None) -> dict[str, Any] | None:
    """Run every PUB; returns the result dict on rank 0 (None on other ranks)."""
    t0 = time.perf_counter()
    r = _Runner(params, threads)
    size = comm.Get_size() if comm else 1
    sizes = [int(np.prod(p.parameter_values.shape, dtype=int)) for p in r.pubs]
    slices = plan_slices(sizes, _firsts(params, sizes), size, params.options.parameter_sets_per_task)
    done = run_tasks(slices, r.run_slice, comm)
    if done is None:
        return None
    by_pub: dict[int, list] = defaultdict(list)
    for part in done:
        by_pub[part[0].pub].append(part)
    assemble = _assemble_estimator if params.primitive == "estimator" else _assemble_sampler
    pubs = [assemble(r, i, by_pub[i]) for i in range(len(r.pubs))]
    return {
        "primitive": params.primitive,
        "pubs": pubs,
        "metadata": {
            "version": 2,
            "hpcq": {"ranks": size, "slices": len(slices), "wall_time_s": round(time.perf_counter() - t0, 6)},
        },
    }


def primitive_run(kwargs: dict, ctx: JobContext) -> FunctionResult | None:
    """Runs on every rank; rank 0 returns the result as the summary (and an HDF5 file on request)."""
    params = kwargs if isinstance(kwargs, PrimitiveRunParams) else PrimitiveRunParams.model_validate(kwargs)
    if params.op == "close":  # only meaningful inside a session (hpcq.executor.sessions handles it)
        return FunctionResult(summary={"closed": params.session})
    if params.qpu is not None:  # on a QPU or its twin: one task, rank 0 (hpcq.primitives.qpu)
        return _on_qpu(params, ctx)
    comm = mpi_world()
    rank = comm.Get_rank() if comm else 0
    if ctx.size > 1 and (comm.Get_size() if comm else 1) != ctx.size:
        raise RuntimeError(
            f"the job has {ctx.size} tasks but the MPI world has "
            f"{comm.Get_size() if comm else 1} rank(s): launch the ranks as one MPI world"
        )
    try:
        result = execute(params, comm, threads=max(1, int(ctx.threads or 1)) if ctx.slurm_job_id else None)
        if rank != 0:
            return None
        files = []
        if params.h5:
            from hpcq.primitives.h5 import write_primitive_h5

            files.append(str(write_primitive_h5(params, result, ctx)))
        return FunctionResult(summary={"result": result}, files=files)
    finally:
        polling_barrier(comm)


def _on_qpu(params: PrimitiveRunParams, ctx: JobContext) -> FunctionResult | None:
    from hpcq.primitives.qpu import execute_on_qpu

    if ctx.rank != 0:
        return None
    result, runs, entry = execute_on_qpu(params, ctx)
    files = []
    if params.h5:
        from hpcq.primitives.h5 import write_primitive_h5

        files.append(str(write_primitive_h5(params, result, ctx, qpu_runs=runs, qpu_entry=entry)))
    return FunctionResult(summary={"result": result}, files=files)
