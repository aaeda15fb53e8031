"""A worker's TaskResults as result-file tasks, and a stored task as Qiskit objects again.

The Qiskit side of the HDF5 format (docs/results-format.md): the circuit as QPY, the noise model
as Aer's JSON, the spec and how the task ran as attributes. The format module
(hpcq.results.h5format) writes and reads plain values only, so the catalog, the dashboard and
`hpcq results` never import Qiskit; the worker, the workflow steps and `hpcq rerun` use this one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from hpcq.results import h5format as F

if TYPE_CHECKING:
    from hpcq.sim.vqe import TaskResult


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def task_attrs(r: TaskResult) -> dict[str, Any]:
    """The task attributes (h5format.TASK_ATTRS) of a TaskResult, and what rerun needs beyond them."""
    s = r.spec
    problem = s.problem.model_dump(mode="json")
    return {
        **F.scan_attrs(problem),
        "task_id": s.task_id,
        "step": s.step,
        "parent_task_id": s.parent_task_id,
        "problem": s.problem.kind,
        "problem_params": _json(problem),
        "n_qubits": int(s.problem.qubits),
        "ansatz": s.ansatz.kind,
        "reps": int(s.ansatz.reps),
        "optimizer": s.optimizer.kind,
        "optimizer_params": _json(s.optimizer.model_dump(mode="json")),
        "noise_model": s.noise.kind,
        "noise_params": _json(s.noise.model_dump(mode="json")),
        "method": s.resolved_method,
        "seed": int(s.seed),
        "shots": int(s.shots),
        "rank": int(r.rank),
        "wall_time_s": float(r.metrics["wall_time_s"]),
        # beyond the listed attributes: what rerun needs and how it ran
        "spec_json": s.model_dump_json(),
        "requested_method": s.method,
        "device": r.device,
        "threads": int(r.threads),
        "gradient": r.gradient if s.optimizer.kind == "l_bfgs_b" else "",
        "timings_json": _json(r.timings),
        F.INITIAL_POINT: _json(r.start),
    }


def task_data(r: TaskResult) -> F.TaskData:
    """A TaskResult as the format's TaskData: serializes the circuit (QPY) and the noise model."""
    from qiskit import qpy

    from hpcq.sim.noise import noise_model_to_json

    attrs = task_attrs(r)
    buf = io.BytesIO()
    qpy.dump(r.circuit, buf)
    coeffs = np.asarray(r.hamiltonian.coeffs)
    data: dict[str, Any] = {
        F.CIRCUIT_QPY: np.frombuffer(buf.getvalue(), dtype=np.uint8),
        F.NOISE_MODEL_JSON: noise_model_to_json(r.noise_model),
        F.HAM_PAULIS: r.hamiltonian.paulis.to_labels(),
        F.HAM_COEFFS: np.real(coeffs).astype(np.float64),
        F.TRACE_ENERGY: np.asarray(r.trace_energy, dtype=np.float64),
        F.TRACE_PARAMETERS: np.asarray(r.trace_parameters, dtype=np.float64),
        F.FINAL_PARAMETERS: np.asarray(r.final_parameters, dtype=np.float64),
    }
    group_attrs: dict[str, dict[str, Any]] = {}
    if r.counts is not None:  # above the dense limit: sampled counts, no 2^n arrays
        data.update(F.counts_datasets(r.counts))
        group_attrs[F.COUNTS] = F.counts_attrs(r.counts)
    else:
        data[F.DIST_IDEAL] = np.asarray(r.dist_ideal, dtype=np.float64)
        data[F.DIST_NOISY] = np.asarray(r.dist_noisy, dtype=np.float64)
    if r.initial_parameters is not None:
        data[F.INITIAL_PARAMETERS] = np.asarray(r.initial_parameters, dtype=np.float64)
    if np.any(np.imag(coeffs) != 0):
        data[F.HAM_COEFFS_IMAG] = np.imag(coeffs).astype(np.float64)
    return F.TaskData(attrs, dict(r.metrics), data, group_attrs)


def write_results(
    path: str | Path,
    results: Iterable[TaskResult],
    provenance: dict[str, Any],
    study: str = "study",
    extend: Callable[[h5py.File], None] | None = None,
) -> Path:
    """Write TaskResults (any order; stored sorted by task_id) atomically; returns the path."""
    return F.write_file(path, study, (task_data(r) for r in results), provenance, extend=extend)


@dataclass
class TaskRecord:
    """Everything stored for one task, with the Qiskit objects rebuilt."""

    attrs: dict[str, Any]
    metrics: dict[str, Any]
    provenance: dict[str, Any]
    spec: Any  # hpcq.sim.spec.TaskSpec
    circuit: Any  # QuantumCircuit
    noise_model: Any  # NoiseModel | None
    hamiltonian: Any  # SparsePauliOp
    trace_energy: np.ndarray
    trace_parameters: np.ndarray
    final_parameters: np.ndarray
    dist_ideal: np.ndarray | None  # None where the task stores sampled counts (v2)
    dist_noisy: np.ndarray | None
    counts: dict[str, Any] | None = None  # h5format.read_counts: {"ideal": {bitstring: count}, ...}


# the StoredTask fields TaskRecord holds as Qiskit objects (the rest it holds as they are)
STORED_OBJECTS = ("circuit_qpy", "noise_model_json", "paulis", "coeffs")


def _circuit(qpy_bytes: bytes) -> Any:
    from qiskit import qpy

    return qpy.load(io.BytesIO(qpy_bytes))[0]


def load_task(path: str | Path, task_id: str) -> TaskRecord:
    """One stored task (h5format.read_task) with its spec, circuit, noise model and operator."""
    from qiskit.quantum_info import SparsePauliOp

    from hpcq.sim.noise import noise_model_from_json
    from hpcq.sim.spec import parse_task

    s = F.read_task(path, task_id)
    plain = {k: v for k, v in vars(s).items() if k not in STORED_OBJECTS}
    return TaskRecord(
        **plain,
        spec=parse_task(json.loads(s.attrs["spec_json"])),
        circuit=_circuit(s.circuit_qpy),
        noise_model=noise_model_from_json(s.noise_model_json),
        hamiltonian=SparsePauliOp(s.paulis, s.coeffs),
    )


def check_objects(path: str | Path) -> list[str]:
    """Problems loading each task's circuit (with as many parameters as final_parameters) and
    noise model with Qiskit ([] = every one loads); h5format.validate checks the rest."""
    from hpcq.sim.noise import noise_model_from_json

    problems = []
    with h5py.File(path, "r") as f:
        for tid, g in f[F.TASKS].items() if F.TASKS in f else ():
            where = f"/tasks/{tid}"
            try:
                qc = _circuit(g[F.CIRCUIT_QPY][()].tobytes())
                n_params = g[F.FINAL_PARAMETERS].shape[0]
                if qc.num_parameters != n_params:
                    problems.append(
                        f"{where}/{F.CIRCUIT_QPY} has {qc.num_parameters} parameters, "
                        f"{F.FINAL_PARAMETERS} has {n_params}"
                    )
            except Exception as exc:  # noqa: BLE001 - any failure to load is the problem to report
                problems.append(f"{where}/{F.CIRCUIT_QPY} does not load: {type(exc).__name__}: {exc}")
            try:
                noise_model_from_json(g[F.NOISE_MODEL_JSON].asstr()[()])
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{where}/{F.NOISE_MODEL_JSON} does not load: {type(exc).__name__}: {exc}")
    return problems
