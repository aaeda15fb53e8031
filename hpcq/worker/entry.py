"""Catalog entry ``vqe_sweep``: run a SweepParams sweep on every rank; rank 0 writes one HDF5 file."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpcq.functions import FunctionResult, JobContext
from hpcq.mpi import mpi_world, polling_barrier
from hpcq.sim.spec import SweepParams, TaskSpec, parse_sweep
from hpcq.threads import pin_threads, threads_per_rank
from hpcq.worker.dispatch import TaskFailed, TaskFailure, run_tasks

log = logging.getLogger("hpcq.worker")

ONE_CIRCUIT_SPLITTING_UNAVAILABLE = (
    "unavailable: this qiskit-aer is built without MPI (the PyPI wheel), so one circuit cannot be "
    "split across ranks; ranks share the sweep instead. An AER_MPI source build would run one "
    "circuit over all ranks with blocking_enable=True, blocking_qubits=<qubits per rank chunk>."
)


def task_cost(t: TaskSpec) -> float:
    """Rough relative cost, to hand out expensive tasks first (longest-processing-time order)."""
    n = t.simulated_qubits
    state = 4.0**n if t.resolved_method == "density_matrix" else 2.0**n
    if t.noise.kind not in ("none", "readout") and t.resolved_method == "statevector":
        state *= t.shots
    per_iter = 2 * 4 * n * (t.ansatz.reps + 1) if t.optimizer.kind == "l_bfgs_b" else 2
    return (state + 2e3) * t.optimizer.maxiter * per_iter


def _provenance(
    params: SweepParams, ctx: JobContext, threads: int, size: int, started: str, wall: float, aer_mpi: int, device: str
) -> dict[str, Any]:
    from hpcq.results.h5format import now_iso
    from hpcq.worker.provenance import job_provenance

    return {
        **job_provenance(ctx, size, threads),
        "workflow_id": str(ctx.extra.get("workflow_id", "")),
        "inputs_from": ctx.extra.get("inputs_from", []),  # parent files fetched from another site (staging)
        "started": started,
        "finished": now_iso(),
        "wall_time_s": wall,
        "command": str(ctx.extra.get("command", "vqe_sweep")),
        "seeds": params.seeds,
        "sweep_json": params.model_dump_json(),
        "device": device,
        "aer_mpi_processes": aer_mpi,
        "one_circuit_splitting": "available" if aer_mpi > 1 else ONE_CIRCUIT_SPLITTING_UNAVAILABLE,
    }


def output_name(params: SweepParams, ctx: JobContext) -> str:
    tag = ctx.slurm_job_id or ctx.process_id[:16] or time.strftime("%Y%m%dT%H%M%S")
    return f"{params.study}-{tag}.h5"


def run_sweep(kwargs: dict[str, Any] | SweepParams, ctx: JobContext) -> FunctionResult | None:
    """Runs on every rank. Threads per rank = ctx.threads (cpus-per-task); rank 0 returns the
    FunctionResult with a small summary and the one HDF5 file, written into ctx.workdir."""
    from hpcq.results.h5format import now_iso

    t0 = time.perf_counter()
    started = now_iso()
    params = kwargs if isinstance(kwargs, SweepParams) else parse_sweep(kwargs)
    threads = max(1, int(ctx.threads or threads_per_rank()))
    pin_threads(threads)
    from hpcq.sim.aer_env import resolve_device

    resolve_device(params.device)  # device: GPU without a GPU Aer fails here, before any task runs

    comm = mpi_world()
    rank = comm.Get_rank() if comm else 0
    size = comm.Get_size() if comm else 1
    if ctx.size > 1 and size != ctx.size:
        # each task of the job would run the whole sweep and write the same file
        raise RuntimeError(
            f"the job has {ctx.size} tasks but the MPI world has {size} rank(s): launch the ranks as "
            "one MPI world (srun --mpi=pmi2 / MpiDefault=pmi2 with pip MPICH, or mpiexec)"
        )
    tasks = params.tasks()
    order = sorted(range(len(tasks)), key=lambda i: -task_cost(tasks[i]))
    if rank == 0:
        log.info("%s: %d tasks on %d rank(s) x %d thread(s)", params.study, len(tasks), size, threads)
    work = _task_runner(params, threads, rank, comm, size)
    try:
        # parallel tasks: rank 0 hands the tasks out; otherwise every rank runs every task together
        shared = params.parallel != "tasks"
        # a task that fails is recorded as failed (the file's provenance failed_tasks, the summary) and
        # the others are written; only when every task fails does the job fail
        results = [work(tasks[i]) for i in order] if shared else run_tasks(tasks, work, comm, order, keep_failures=True)
        if rank != 0 or results is None:
            return None
        failures = [r for r in results if isinstance(r, TaskFailure)]
        for f in failures:
            log.error("%s: task %s failed on rank %d: %s", params.study, f.task_id, f.rank, f.error)
        if len(failures) == len(results):
            raise TaskFailed(
                "every task failed: "
                + "; ".join(f"task {f.task_id}: {f.error}" for f in failures[:5])
                + "\n\n"
                + "\n".join(f.traceback for f in failures)
            )
        done = [r for r in results if not isinstance(r, TaskFailure)]
        return _finish(params, ctx, done, threads, size, started, t0, failures=failures)
    finally:
        polling_barrier(comm)  # other ranks sleep until rank 0 has written the file


def _task_runner(params: SweepParams, threads: int, rank: int, comm, size: int) -> Callable[[TaskSpec], Any]:
    """How this rank runs one task: alone (parallel 'tasks'), or with every rank of the world:
    'trajectories' splits the noisy shots over comm, 'statevector' has Aer spread one statevector
    over MPI_COMM_WORLD (identical circuits on every rank: PYTHONHASHSEED=0)."""
    from hpcq.sim.vqe import run_task

    shared: dict[str, Any] = {}
    if params.parallel != "tasks":
        if params.parallel == "statevector" and size > 1 and os.environ.get("PYTHONHASHSEED") != "0":
            raise RuntimeError(
                "parallel: statevector needs PYTHONHASHSEED=0 on every rank (Aer builds the "
                "circuit's measurements from a Python set); export it in the job"
            )
        if params.parallel == "statevector":
            from hpcq.sim.aer_env import aer_mpi_processes

            # its probe circuit must run on EVERY rank (an MPI Aer spans all of them; rank 0 alone
            # would hang in _finish); cached, so rank 0's provenance reuses the answer
            aer_mpi_processes()
        shared = {"comm": comm if params.parallel == "trajectories" else None, "ranks": size}

    def work(t: TaskSpec):
        r = run_task(t, threads=threads, rank=rank, **shared)
        m = r.metrics
        msg = "rank %d: %s done in %.2f s: E=%.10g abs_error=%.3g"
        log.info(msg, rank, t.task_id, m["wall_time_s"], m["energy"], m["abs_error"])
        return r

    return work


def _finish(
    params: SweepParams,
    ctx: JobContext,
    results: list,
    threads: int,
    size: int,
    started: str,
    t0: float,
    extra_provenance: dict | None = None,
    failures: list[TaskFailure] | None = None,
) -> FunctionResult:
    from hpcq.sim.aer_env import aer_mpi_processes, resolve_device
    from hpcq.worker.taskfile import write_results

    device = resolve_device(params.device)
    prov = _provenance(params, ctx, threads, size, started, time.perf_counter() - t0, aer_mpi_processes(), device)
    prov.update(extra_provenance or {})  # e.g. a noise step's parent parameters (hpcq.workflow.steps)
    from hpcq.worker.provenance import initial_points

    prov.update(initial_points(results))
    failed = [{"task_id": f.task_id, "rank": f.rank, "error": f.error} for f in failures or []]
    prov.update(n_failed=len(failed), failed_tasks=failed)
    path = Path(ctx.workdir) / output_name(params, ctx)
    tw = time.perf_counter()
    write_results(path, results, prov, study=params.study)
    write_s = time.perf_counter() - tw
    import h5py

    with h5py.File(path, "r") as f:
        sha = str(f.attrs["content_sha256"])
    best = min(results, key=lambda r: r.metrics["abs_error"])
    summary = {
        "study": params.study,
        "file": path.name,
        "n_tasks": len(results),
        "n_failed": len(failed),
        "failed_tasks": failed,
        "content_sha256": sha,
        "mpi_ranks": size,
        "threads_per_rank": threads,
        "device": device,
        "chemical_accuracy": sum(bool(r.metrics["chemical_accuracy"]) for r in results),
        "best_task": best.task_id,
        "best_abs_error": best.metrics["abs_error"],
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "write_time_s": round(write_s, 4),
        "one_circuit_splitting": "available" if aer_mpi_processes() > 1 else "unavailable",
    }
    return FunctionResult(summary=summary, files=[str(path)])
