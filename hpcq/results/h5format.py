"""HDF5 result format v2 (reads v1): writer, readers, checksum and validator (docs/results-format.md).

Why HDF5 with everything inside: a result file must re-run bit-identically years later, so it
carries the circuit (QPY), the noise model, the Hamiltonian, seeds and versions, not just numbers.
Writes are atomic (temp file in the same directory, fsync, rename): a file that exists is whole.
``content_sha256`` (root attribute) hashes a canonical traversal of every dataset and attribute
except itself, so any change of content is detected by ``validate``.

Version 2 (issue 11): a task above the dense limit (spec ``distributions.max_qubits``, default
hpcq.sim.memory.DENSE_MAX_QUBITS; always for MPS) stores sampled counts (``/tasks/<id>/counts``)
instead of the 2^n ``distributions``, with the estimators of its entropy/JSD metrics named in the
counts group and an error per estimated metric (``<metric>_err``). Version-1 files still read.

Imports no Qiskit (the services that read results must not): the worker turns its Qiskit objects
into ``TaskData`` and back (hpcq.worker.taskfile) and gathers the provenance (hpcq.worker.provenance);
``validate`` checks the stored circuit (QPY header) and noise model (JSON layout) structurally.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hpcq.atomicfile import write_atomic


def _metrics():
    """hpcq.sim.metrics, imported when a counts group is written or checked: reading and listing
    results (``hpcq results ls``) must not load the simulation package."""
    from hpcq.sim import metrics

    return metrics


FORMAT = "hpcq-results"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: every task stores full 2^n distributions
ROOT_ATTRS = ("format", "format_version", "study", "created", "n_tasks", "content_sha256")
PROVENANCE_ATTRS = (
    "hpcq_version",
    "qiskit_version",
    "aer_version",
    "python_version",
    "numpy_version",
    "hostname",
    "slurm_job_id",
    "slurm_nodes",
    "mpi_ranks",
    "threads_per_rank",
    "colonies_process_id",
    "workflow_id",
    "started",
    "finished",
    "wall_time_s",
    "command",
)
TASK_ATTRS = (
    "task_id",
    "step",
    "parent_task_id",
    "problem",
    "problem_params",
    "n_qubits",
    "ansatz",
    "reps",
    "optimizer",
    "optimizer_params",
    "noise_model",
    "noise_params",
    "method",
    "seed",
    "shots",
    "rank",
    "wall_time_s",
)
# Task attributes that say what the energies (metrics, trace) are; written by _write_task from the
# problem kind (issue 10). Chemistry energies are totals in Ha.
ENERGY_UNITS, ENERGY_CONVENTION = "energy_units", "energy_convention"
ENERGY_TOTAL = "total: electronic + nuclear repulsion + frozen-core"
ENERGY_CONVENTIONS = {
    "molecule": ("Ha", ENERGY_TOTAL),
    "fcidump": ("Ha", ENERGY_TOTAL + " (the FCIDUMP's core energy)"),
    "pauli": ("Ha", "the Pauli file's operator as given (hpcq's own Hamiltonian files: " + ENERGY_TOTAL + ")"),
    "h2": ("Ha", ENERGY_TOTAL),
    "tfim": ("J", "units of the Hamiltonian (the coupling J), not Ha"),
    "heisenberg": ("J", "units of the Hamiltonian (the coupling J), not Ha"),
}
# what files written before totals everywhere (issue 25) say; still valid, and read as they say
LEGACY_ENERGY_CONVENTIONS = {
    "h2": ("Ha", "electronic: nuclear repulsion excluded"),
    "tfim": ("J", "units of the coupling J"),
    "heisenberg": ("J", "units of the coupling J"),
}


# A scanned problem (hpcq.sim.scan): the key of its point in problem_params (= ProblemSpec.scan_point,
# {name, value, unit}) and the task attributes that repeat it, written only for scanned problems.
SCAN_POINT = "scan_point"
SCAN_NAME, SCAN_VALUE, SCAN_UNIT = "scan_name", "scan_value", "scan_unit"


def scan_attrs(problem_params: dict[str, Any]) -> dict[str, Any]:
    """The scan attributes of a task whose problem parameters are ``problem_params`` ({} if not scanned)."""
    point = problem_params.get(SCAN_POINT)
    if not isinstance(point, dict):
        return {}
    return {SCAN_NAME: str(point["name"]), SCAN_VALUE: float(point["value"]), SCAN_UNIT: str(point.get("unit", ""))}


def energy_convention(problem_kind: str) -> tuple[str, str]:
    """(energy_units, energy_convention) of a problem kind."""
    return ENERGY_CONVENTIONS.get(problem_kind, ("", "unknown problem kind"))


METRIC_ATTRS = (
    "energy",
    "exact_energy",
    "abs_error",
    "rel_error",
    "chemical_accuracy",
    "iterations",
    "evaluations",
    "wall_time_s",
    "entropy_ideal",
    "entropy_noisy",
    "delta_entropy",
    "entropy_ratio",
    "jsd",
    "fidelity",
)
INT_METRICS, BOOL_METRICS = ("iterations", "evaluations"), ("chemical_accuracy",)  # the rest are floats
# Metrics a task has when they apply (issue 25; not required, so older files stay valid): chemistry
# problems' HF energy, signed error (energy - exact), correlation energy recovered in percent
# (100 (E_HF - E) / (E_HF - E_exact)), and <N>, <S^2> of the noiseless VQE state (hpcq.sim.vqe).
HF_ENERGY, SIGNED_ERROR, CORRELATION_RECOVERED = "hf_energy", "signed_error", "correlation_recovered_pct"
N_EXPECTATION, S2_EXPECTATION = "n_expectation", "s2_expectation"
OPTIONAL_METRICS = (HF_ENERGY, SIGNED_ERROR, CORRELATION_RECOVERED, N_EXPECTATION, S2_EXPECTATION)
# How a task's optimisation started (task attribute, JSON): the initial point's kind, its seed or
# source, the restarts and the final energy of each, and which one was kept (hpcq.sim.vqe)
INITIAL_POINT = "initial_point_json"
INITIAL_PARAMETERS = "initial_parameters"  # dataset: the starting point of the kept restart
# group and dataset names: every module that reads or writes them imports these
PROVENANCE, TASKS, METRICS = "provenance", "tasks", "metrics"
CIRCUIT_QPY, NOISE_MODEL_JSON, FINAL_PARAMETERS = "circuit_qpy", "noise_model_json", "final_parameters"
HAMILTONIAN, TRACE, DISTRIBUTIONS = "hamiltonian", "trace", "distributions"
HAM_PAULIS, HAM_COEFFS, HAM_COEFFS_IMAG = (
    f"{HAMILTONIAN}/paulis",
    f"{HAMILTONIAN}/coeffs",
    f"{HAMILTONIAN}/coeffs_imag",
)
TRACE_ENERGY, TRACE_PARAMETERS = f"{TRACE}/energy", f"{TRACE}/parameters"
DIST_IDEAL, DIST_NOISY = f"{DISTRIBUTIONS}/ideal", f"{DISTRIBUTIONS}/noisy"
DENSE_DATASETS = (DIST_IDEAL, DIST_NOISY)
# v2, above the dense limit: sampled counts, per set ("ideal", "noisy") fixed-length ASCII
# bitstrings (S<n_bits>, Qiskit order: qubit 0 is the LAST character; sorted, unique) + uint64 counts
COUNTS = "counts"
COUNT_SETS = ("ideal", "noisy")
COUNTS_OUTCOMES = {k: f"{COUNTS}/{k}/outcomes" for k in COUNT_SETS}
COUNTS_COUNTS = {k: f"{COUNTS}/{k}/counts" for k in COUNT_SETS}
COUNTS_DATASETS = tuple(d for k in COUNT_SETS for d in (COUNTS_OUTCOMES[k], COUNTS_COUNTS[k]))
# attributes of /tasks/<id>/counts: the sampling and the estimators of the metrics (hpcq.sim.metrics)
COUNTS_ATTRS = (
    "shots",
    "seed_ideal",
    "seed_noisy",
    "n_bits",
    "bit_order",
    "paired",
    "entropy_estimator",
    "jsd_estimator",
    "fidelity_estimator",
    "error_estimator",
    "bootstrap",
    "bootstrap_replicates",
)
BIT_ORDER = "qiskit: character i from the right is measured qubit i"
# A QPU step (hpcq.qpu.run, docs/qpu.md): tasks of step "qpu" (one per parameter vector; the
# measured Z-basis distribution as ``distributions/noisy``), their QPU attributes (QPU_TASK_ATTRS),
# and one file-level group /qpu with what a hardware run needs to be trusted and replayed.
QPU_STEP = "qpu"
QPU = "qpu"
QPU_ATTRS = (
    "qpu",
    "backend",
    "access",
    "label",
    "calibration_set_id",
    "shots",
    "calibration_shots",
    "mitigation",
    "mitigation_shots",
    "qpu_time_s",
    "queue_time_s",
    "job_ids",
)
QPU_TASK_ATTRS = (
    "backend",
    "access",
    "calibration_set_id",
    "energy_raw",
    "energy_std",
    "energy_raw_std",
    "ideal_energy",
)
QPU_ISA_QPY = f"{QPU}/isa_qpy"  # every transpiled circuit submitted (one QPY file, in submission order)
QPU_CIRCUITS_JSON = f"{QPU}/circuits_json"  # per submitted circuit: name, role, layout (physical qubit per clbit)
QPU_COUNTS_JSON = f"{QPU}/raw_counts_json"  # per submitted circuit: its raw counts (Qiskit bit order)
QPU_CHECKS_JSON = f"{QPU}/transpile_checks_json"  # the statevector and native-gate checks of each transpile
QPU_MITIGATION_QUBITS = f"{QPU}/mitigation/qubits"  # physical qubits calibrated
QPU_MITIGATION_MATRICES = f"{QPU}/mitigation/assignment"  # (k, 2, 2): A[measured, prepared] per qubit
QPU_TIMELINE_JSON = f"{QPU}/timeline_json"  # the server's job timeline(s), as returned
COMMON_DATASETS = (
    CIRCUIT_QPY,
    NOISE_MODEL_JSON,
    HAM_PAULIS,
    HAM_COEFFS,
    TRACE_ENERGY,
    TRACE_PARAMETERS,
    FINAL_PARAMETERS,
)  # every task; then DENSE_DATASETS, or (v2, a sampled task) COUNTS_DATASETS
TASK_DATASETS = COMMON_DATASETS + DENSE_DATASETS  # a task with full distributions (every v1 task)
PROVENANCE_COLUMNS = ("slurm_job_id", "colonies_process_id", "workflow_id", "site", "executor")
INPUTS_FROM = "inputs_from"  # provenance: JSON list of the parent files staged from another site
# per task row, from INPUTS_FROM: bytes and seconds of those transfers (0 when every input was local)
TRANSFER_COLUMNS = ("inputs_bytes", "inputs_s")
WRITE_TIME = "h5_write_time_s"  # provenance (v2): seconds write_file took up to the checksum
# One JSON string duplicating every task's attributes and metrics, so that indexing a file costs
# one dataset read instead of ~40 attribute reads per task (validate checks they agree).
INDEX = "tasks_index_json"
STR = h5py.string_dtype("utf-8")


class FormatError(ValueError):
    pass


# --------------------------------------------------------------------------- checksum


def _canon(value: Any) -> bytes:
    """Type-tagged canonical bytes of an attribute or dataset value."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return b"s:" + value.encode("utf-8", "surrogateescape")
    a = np.asarray(value)
    if a.dtype.kind in "OSU":
        items = [x.decode("utf-8", "surrogateescape") if isinstance(x, bytes) else str(x) for x in a.ravel()]
        return b"S:" + str(a.shape).encode() + json.dumps(items).encode()
    a = np.ascontiguousarray(a)
    return f"{a.dtype.str}:{a.shape}:".encode() + a.tobytes()


def content_sha256(f: h5py.File) -> str:
    """SHA-256 over every object path (sorted), its kind, its attributes (sorted; the root's
    content_sha256 excluded) and each dataset's dtype, shape and bytes."""
    h = hashlib.sha256()
    names: list[str] = []
    f.visit(names.append)
    for name in [""] + sorted(names):
        obj = f[name] if name else f
        kind = b"D" if isinstance(obj, h5py.Dataset) else b"G"
        h.update(b"\x00" + name.encode() + b"\x00" + kind)
        for key in sorted(obj.attrs):
            if name == "" and key == "content_sha256":
                continue
            h.update(b"\x01" + key.encode() + b"\x02" + _canon(obj.attrs[key]))
        if kind == b"D":
            h.update(b"\x03" + _canon(obj[()]))
    return h.hexdigest()


# --------------------------------------------------------------------------- writing


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)


def _metric_value(k: str, v: Any) -> Any:
    return bool(v) if k in BOOL_METRICS else (int(v) if k in INT_METRICS else float(v))


@dataclass
class TaskData:
    """One task as plain values: ``attrs`` (TASK_ATTRS and more), ``metrics`` (METRIC_ATTRS) and
    ``data`` (dataset name -> array or str, e.g. TASK_DATASETS). What ``write_file`` stores; the
    synthetic generator (hpcq.testing.synthetic) builds these directly, without Qiskit objects."""

    attrs: dict[str, Any]
    metrics: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    group_attrs: dict[str, dict[str, Any]] = field(default_factory=dict)  # group path -> its attributes


def counts_datasets(counts: dict[str, Any]) -> dict[str, np.ndarray]:
    """Datasets of sampled counts ``{"ideal": {bitstring: count}, "noisy": {...}, "n_bits": n,
    ...}``: per set the sorted bitstrings (fixed-length ASCII) and their uint64 counts."""
    n = int(counts["n_bits"])
    out: dict[str, np.ndarray] = {}
    for k in COUNT_SETS:
        keys = sorted(counts[k])
        out[COUNTS_OUTCOMES[k]] = np.array([b.encode("ascii") for b in keys], dtype=f"S{n}").reshape(len(keys))
        out[COUNTS_COUNTS[k]] = np.array([counts[k][b] for b in keys], dtype=np.uint64).reshape(len(keys))
    return out


def counts_attrs(counts: dict[str, Any]) -> dict[str, Any]:
    """The counts group's attributes: the sampling and the estimators (hpcq.sim.metrics)."""
    return {
        "shots": int(counts["shots"]),
        "seed_ideal": int(counts["seed_ideal"]),
        "seed_noisy": int(counts["seed_noisy"]),
        "n_bits": int(counts["n_bits"]),
        "bit_order": BIT_ORDER,
        "paired": bool(counts.get("paired", False)),
        **_metrics().estimators(),
    }


def read_counts(g: h5py.Group) -> dict[str, Any] | None:
    """A task group's sampled counts as ``{"ideal": {bitstring: count}, "noisy": {...}, **attrs}``
    (None for a task that stores full distributions)."""
    if COUNTS not in g:
        return None
    out: dict[str, Any] = {k: _py(v) for k, v in g[COUNTS].attrs.items()}
    for k in COUNT_SETS:
        keys = [x.decode("ascii") for x in g[COUNTS_OUTCOMES[k]][()]]
        out[k] = dict(zip(keys, (int(c) for c in g[COUNTS_COUNTS[k]][()]), strict=True))
    return out


def _write_dataset(g: h5py.Group, name: str, value: Any) -> None:
    if isinstance(value, (bytes, bytearray)):
        value = np.frombuffer(bytes(value), dtype=np.uint8)
    if isinstance(value, str):
        g.create_dataset(name, data=value, dtype=STR)
        return
    a = np.asarray(value)
    if a.dtype.kind == "S" and a.dtype.itemsize > 0:  # fixed-length ASCII (counts' bitstrings)
        g.create_dataset(name, data=a)
    elif a.dtype.kind in "UOS":
        g.create_dataset(name, data=[_py(x) for x in a.ravel()], dtype=STR)
    else:
        g.create_dataset(name, data=a)


def _write_task(g: h5py.Group, t: TaskData) -> dict[str, Any]:
    """Write one task group; returns its {"attrs", "metrics"} entry for the tasks index."""
    attrs = {k: _py(v) for k, v in t.attrs.items()}
    metrics = {k: _metric_value(k, v) for k, v in t.metrics.items()}
    missing = [k for k in TASK_ATTRS if k not in attrs] + [f"metrics.{k}" for k in METRIC_ATTRS if k not in metrics]
    if missing:
        raise FormatError(
            f"task {attrs.get('task_id')!r} lacks {', '.join(missing)} "
            "(TASK_ATTRS/METRIC_ATTRS in hpcq.results.h5format)"
        )
    units, convention = energy_convention(str(attrs["problem"]))
    attrs.setdefault(ENERGY_UNITS, units)
    attrs.setdefault(ENERGY_CONVENTION, convention)
    for k, v in attrs.items():
        g.attrs[k] = v
    m = g.create_group(METRICS)
    for k, v in metrics.items():
        m.attrs[k] = v
    for name, value in t.data.items():
        _write_dataset(g, name, value)
    for name, values in t.group_attrs.items():
        sub = g.require_group(name)
        for k, v in values.items():
            sub.attrs[k] = _py(v)
    return {"attrs": attrs, "metrics": metrics}


def write_file(
    path: str | Path,
    study: str,
    tasks: Iterable[TaskData],
    provenance: dict[str, Any],
    created: str | None = None,
    extend: Callable[[h5py.File], None] | None = None,
) -> Path:
    """Write TaskData (any order; stored sorted by task_id) atomically with the tasks index and
    the checksum; returns the path. The one HDF5 writer: write_results, the synthetic files and
    the primitives' files (their own groups through ``extend``, called before the checksum).
    Records its own time (datasets and attributes, before the checksum) as provenance
    ``h5_write_time_s``.

    The file is built in memory (HDF5 core driver) and its image written with plain ``os.write``:
    a full or read-only disk is then one clean OSError. Writing through HDF5's own file driver,
    h5py segfaulted on ENOSPC while freeing its objects, so the job died without an outcome.
    Result files are small (distributions stop at distributions.max_qubits; larger tasks keep
    sampled counts), so the image fits in memory twice."""
    t_start = time.perf_counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tasks = sorted(tasks, key=lambda t: t.attrs["task_id"])  # may be lazy
    with h5py.File(f"{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False) as f:  # name unused
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["study"] = study
        f.attrs["created"] = created or now_iso()
        f.attrs["n_tasks"] = len(tasks)
        prov = f.create_group(PROVENANCE)
        for k in PROVENANCE_ATTRS:
            prov.attrs[k] = provenance.get(k, "")
        for k, v in provenance.items():
            if k not in PROVENANCE_ATTRS:
                prov.attrs[k] = v if isinstance(v, (int, float, str, bool)) else _json(v)
        group = f.create_group(TASKS)
        index = [_write_task(group.create_group(t.attrs["task_id"]), t) for t in tasks]
        f.create_dataset(INDEX, data=_index_json(index), dtype=STR)
        if extend is not None:
            extend(f)
        prov.attrs[WRITE_TIME] = time.perf_counter() - t_start
        f.flush()
        f.attrs["content_sha256"] = content_sha256(f)
        f.flush()
        image = f.id.get_file_image()
    write_atomic(path, image)
    return path


# --------------------------------------------------------------------------- reading


def _py(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    if isinstance(v, np.generic):
        return v.item()
    return v


def _index_json(index: list[dict[str, Any]]) -> str:
    return json.dumps(index, sort_keys=True)  # NaN is written as NaN (Python's json reads it back)


def _walk_tasks(f: h5py.File) -> list[dict[str, Any]]:
    """Task attributes and metrics read attribute by attribute (the slow path)."""
    tasks = []
    for name in sorted(f[TASKS]) if TASKS in f else []:
        g = f[TASKS][name]
        metrics = g[METRICS].attrs if METRICS in g else {}
        tasks.append(
            {"attrs": {k: _py(v) for k, v in g.attrs.items()}, "metrics": {k: _py(v) for k, v in metrics.items()}}
        )
    return tasks


def read_summary(path: str | Path) -> dict[str, Any]:
    """Attributes only: {"attrs": root, "provenance": {...}, "tasks": [{"attrs": {...}, "metrics":
    {...}}, ...]} (tasks sorted by id). Fast: the task part comes from the one JSON dataset
    /tasks_index_json (a copy of the task attributes) when present. The catalog indexes with it."""
    with h5py.File(path, "r") as f:
        if _py(f.attrs.get("format")) != FORMAT:
            raise FormatError(f"{path} is not an hpcq result file (root attribute format != {FORMAT!r})")
        tasks = json.loads(_py(f[INDEX][()])) if INDEX in f else _walk_tasks(f)
        prov = f[PROVENANCE].attrs if PROVENANCE in f else {}
        return {
            "attrs": {k: _py(v) for k, v in f.attrs.items()},
            "provenance": {k: _py(v) for k, v in prov.items()},
            "tasks": tasks,
        }


def transfer_totals(provenance: dict[str, Any]) -> dict[str, Any]:
    """TRANSFER_COLUMNS of a file: the bytes and seconds its step's executor spent bringing parent
    files from another site (hpcq.executor.staging); 0 and 0.0 when none came (or an older file)."""
    raw = provenance.get(INPUTS_FROM) or "[]"
    try:
        moved = json.loads(raw) if isinstance(raw, str) else list(raw)
    except ValueError:
        moved = []
    moved = [m for m in moved if isinstance(m, dict)]
    return {
        "inputs_bytes": int(sum(int(m.get("bytes", 0) or 0) for m in moved)),
        "inputs_s": float(sum(float(m.get("seconds", 0.0) or 0.0) for m in moved)),
    }


def open_results(path: str | Path):
    """One row per task: file, study, task attributes, metrics, the provenance columns
    (PROVENANCE_COLUMNS) and the transfer totals (TRANSFER_COLUMNS)."""
    import pandas as pd

    s = read_summary(path)
    rows = []
    for t in s["tasks"]:
        row = {"file": str(path), "study": s["attrs"].get("study", "")}
        row.update(t["attrs"])
        row.update(t["metrics"])
        row.update({k: s["provenance"].get(k, "") for k in PROVENANCE_COLUMNS})
        row.update(transfer_totals(s["provenance"]))
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class StoredTask:
    """Everything stored for one task, as plain values (hpcq.worker.taskfile.load_task rebuilds
    the Qiskit objects from it: the circuit from ``circuit_qpy``, the noise model, the operator)."""

    attrs: dict[str, Any]
    metrics: dict[str, Any]
    provenance: dict[str, Any]
    circuit_qpy: bytes
    noise_model_json: str
    paulis: list[str]  # the Hamiltonian's Pauli labels and their (complex) coefficients
    coeffs: np.ndarray
    trace_energy: np.ndarray
    trace_parameters: np.ndarray
    final_parameters: np.ndarray
    dist_ideal: np.ndarray | None  # None where the task stores sampled counts (v2)
    dist_noisy: np.ndarray | None
    counts: dict[str, Any] | None = None  # read_counts: {"ideal": {bitstring: count}, "noisy": ..., attrs}


def task_ids(path: str | Path) -> list[str]:
    with h5py.File(path, "r") as f:
        return sorted(f[TASKS]) if TASKS in f else []


def read_task(path: str | Path, task_id: str) -> StoredTask:
    """One task's attributes, metrics, the file's provenance and every dataset."""
    with h5py.File(path, "r") as f:
        if task_id not in f.get(TASKS, {}):
            raise KeyError(f"task {task_id!r} is not in {path}; tasks: {', '.join(sorted(f[TASKS]))}")
        g = f[TASKS][task_id]
        coeffs = g[HAM_COEFFS][()].astype(complex)
        if HAM_COEFFS_IMAG in g:
            coeffs = coeffs + 1j * g[HAM_COEFFS_IMAG][()]
        return StoredTask(
            attrs={k: _py(v) for k, v in g.attrs.items()},
            metrics={k: _py(v) for k, v in g[METRICS].attrs.items()},
            provenance={k: _py(v) for k, v in f[PROVENANCE].attrs.items()},
            circuit_qpy=g[CIRCUIT_QPY][()].tobytes(),
            noise_model_json=_py(g[NOISE_MODEL_JSON][()]),
            paulis=[_py(x) for x in g[HAM_PAULIS][()]],
            coeffs=coeffs,
            trace_energy=g[TRACE_ENERGY][()],
            trace_parameters=g[TRACE_PARAMETERS][()],
            final_parameters=g[FINAL_PARAMETERS][()],
            dist_ideal=g[DIST_IDEAL][()] if DIST_IDEAL in g else None,
            dist_noisy=g[DIST_NOISY][()] if DIST_NOISY in g else None,
            counts=read_counts(g),
        )


# --------------------------------------------------------------------------- validation


def validate(path: str | Path, deep: bool = True) -> list[str]:
    """Problems found in a result file ([] = valid). ``deep`` also checks each stored circuit (a QPY
    file of one circuit) and noise model (``NoiseModel.to_dict``'s layout), without Qiskit;
    hpcq.worker.taskfile.check_objects loads them."""
    problems: list[str] = []
    try:
        f = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001 - any failure to open is the problem to report
        return [f"cannot open as HDF5: {type(exc).__name__}: {exc}"]
    with f:
        try:
            _validate_open(f, problems, deep)
        except Exception as exc:  # noqa: BLE001 - a damaged file can fail anywhere
            problems.append(f"unreadable content: {type(exc).__name__}: {exc}")
    return problems


def _validate_open(f: h5py.File, problems: list[str], deep: bool) -> None:
    if _py(f.attrs.get("format")) != FORMAT:
        problems.append(f"root attribute format is {_py(f.attrs.get('format'))!r}, expected {FORMAT!r}")
        return
    version = _py(f.attrs.get("format_version"))
    if version not in READABLE_VERSIONS:
        problems.append(
            f"format_version is {version!r}; this reader understands {', '.join(map(str, READABLE_VERSIONS))}"
        )
    problems += [f"root attribute {k} missing" for k in ROOT_ATTRS if k not in f.attrs]
    if PROVENANCE not in f:
        problems.append("group /provenance missing")
    else:
        problems += [f"/provenance attribute {k} missing" for k in PROVENANCE_ATTRS if k not in f[PROVENANCE].attrs]
    tasks = f.get(TASKS)
    if tasks is None:
        problems.append("group /tasks missing")
        return
    if _py(f.attrs.get("n_tasks")) != len(tasks):
        problems.append(f"n_tasks is {_py(f.attrs.get('n_tasks'))} but /tasks has {len(tasks)} groups")
    for tid, g in tasks.items():
        _validate_task(tid, g, problems, deep, version)
    if INDEX not in f:
        problems.append(f"dataset /{INDEX} missing")
    elif _index_json(json.loads(_py(f[INDEX][()]))) != _index_json(_walk_tasks(f)):
        problems.append(f"/{INDEX} does not match the task attributes and metrics")
    stored = _py(f.attrs.get("content_sha256", ""))
    actual = content_sha256(f)
    if stored != actual:
        problems.append(
            f"content_sha256 mismatch: stored {stored[:16]}..., computed {actual[:16]}... "
            "(the file was modified or corrupted after writing)"
        )


def _validate_task(tid: str, g: h5py.Group, problems: list[str], deep: bool, version: Any = FORMAT_VERSION) -> None:
    where = f"/tasks/{tid}"
    problems += _attr_problems(where, tid, g)
    if METRICS not in g:
        problems.append(f"{where}/metrics missing")
        metrics: Any = {}
    else:
        metrics = g[METRICS].attrs
        problems += [f"{where}/metrics attribute {k} missing" for k in METRIC_ATTRS if k not in metrics]
    sampled = version != 1 and COUNTS in g
    missing = [d for d in COMMON_DATASETS + (COUNTS_DATASETS if sampled else DENSE_DATASETS) if d not in g]
    problems += [f"{where}/{d} missing" for d in missing]
    if missing:
        return
    if sampled and DISTRIBUTIONS in g:
        problems.append(f"{where} has both {COUNTS} and {DISTRIBUTIONS}; a task stores one of them")
    n = int(_py(g.attrs.get("n_qubits", 0)))
    problems += _shape_problems(where, g, n, metrics)
    if sampled:
        _validate_counts(where, g, n, metrics, problems)
    else:
        problems += _dense_problems(where, g, n)
    if deep:
        problems += _payload_problems(where, g)


def _attr_problems(where: str, tid: str, g: h5py.Group) -> list[str]:
    """The task's attributes: present, its id, its step, and its energy units."""
    problems = [f"{where} attribute {k} missing" for k in TASK_ATTRS if k not in g.attrs]
    if _py(g.attrs.get("task_id")) != tid:
        problems.append(f"{where}: attribute task_id {_py(g.attrs.get('task_id'))!r} != group name")
    step = _py(g.attrs.get("step"))
    if step not in ("vqe", "noise", QPU_STEP):
        problems.append(f"{where}: step {step!r} is not 'vqe', 'noise' or '{QPU_STEP}'")
    if step == "noise" and not _py(g.attrs.get("parent_task_id")):
        problems.append(f"{where}: a noise step needs parent_task_id")
    kind = _py(g.attrs.get("problem"))
    if kind in ENERGY_CONVENTIONS and (ENERGY_UNITS in g.attrs or kind in ("molecule", "fcidump", "pauli")):
        got = (_py(g.attrs.get(ENERGY_UNITS)), _py(g.attrs.get(ENERGY_CONVENTION)))
        if got != energy_convention(kind) and got != LEGACY_ENERGY_CONVENTIONS.get(kind):
            problems.append(
                f"{where}: {ENERGY_UNITS}/{ENERGY_CONVENTION} are {got}, expected {energy_convention(kind)} "
                f"for problem {kind!r}"
            )
    return problems


def _shape_problems(where: str, g: h5py.Group, n: int, metrics: Any) -> list[str]:
    """The trace against the iterations and parameters; the Hamiltonian against n qubits."""
    problems = []
    n_params = g[FINAL_PARAMETERS].shape[0]
    iters = g[TRACE_ENERGY].shape[0]
    if "iterations" in metrics and int(metrics["iterations"]) != iters:
        problems.append(f"{where}: metrics.iterations {int(metrics['iterations'])} != trace length {iters}")
    if g[TRACE_PARAMETERS].shape != (iters, n_params):
        problems.append(f"{where}/{TRACE_PARAMETERS} shape {g[TRACE_PARAMETERS].shape} != ({iters}, {n_params})")
    labels = g[HAM_PAULIS][()]
    if len(labels) != g[HAM_COEFFS].shape[0]:
        problems.append(f"{where}/{HAMILTONIAN}: {len(labels)} paulis but {g[HAM_COEFFS].shape[0]} coeffs")
    if any(len(_py(x)) != n for x in labels):
        problems.append(f"{where}/{HAM_PAULIS}: labels are not {n} qubits long")
    return problems


def _dense_problems(where: str, g: h5py.Group, n: int) -> list[str]:
    """Full distributions: 2^n probabilities each."""
    problems = []
    for d in DENSE_DATASETS:
        arr = g[d][()]
        if arr.shape != (2**n,):
            problems.append(f"{where}/{d} shape {arr.shape} != ({2**n},)")
        elif not (np.all(arr >= -1e-12) and math.isclose(float(arr.sum()), 1.0, abs_tol=1e-6)):
            problems.append(f"{where}/{d} is not a probability distribution (sum {float(arr.sum()):.6g})")
    return problems


QPY_MAGIC = b"QISKIT"
_QPY_HEADER = struct.Struct(">6sBBBBQ")  # magic, QPY version, Qiskit major/minor/patch, programs


def _payload_problems(where: str, g: h5py.Group) -> list[str]:
    """The circuit and the noise model, checked without Qiskit: a QPY file holding one circuit,
    and the layout of ``NoiseModel.to_dict`` (hpcq.worker.taskfile.check_objects loads both)."""
    problems = []
    qpy = g[CIRCUIT_QPY][()].tobytes()
    if len(qpy) < _QPY_HEADER.size or qpy[: len(QPY_MAGIC)] != QPY_MAGIC:
        problems.append(f"{where}/{CIRCUIT_QPY} is not QPY (no {QPY_MAGIC.decode()} header)")
    elif _QPY_HEADER.unpack_from(qpy)[-1] != 1:
        problems.append(f"{where}/{CIRCUIT_QPY} holds {_QPY_HEADER.unpack_from(qpy)[-1]} circuits, not 1")
    problems += [f"{where}/{NOISE_MODEL_JSON}: {p}" for p in noise_model_problems(_py(g[NOISE_MODEL_JSON][()]))]
    return problems


def noise_model_problems(text: str) -> list[str]:
    """What is wrong with a noise model's JSON ([] = it has Aer's ``NoiseModel.to_dict`` layout:
    ``null``, or ``errors``, each a ``qerror`` (instructions with their probabilities) or a
    ``roerror`` (a probability matrix) on named operations)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("errors"), list):
        return ["not a noise model: expected null or an object with a list 'errors'"]
    problems = []
    for i, err in enumerate(data["errors"]):
        ok = isinstance(err, dict) and isinstance(err.get("operations"), list)
        ok = ok and isinstance(err.get("probabilities"), list) and err.get("type") in ("qerror", "roerror")
        if ok and err["type"] == "qerror":
            ins = err.get("instructions")
            ok = isinstance(ins, list) and len(ins) == len(err["probabilities"])
            ok = ok and all(isinstance(c, list) and all(isinstance(x, dict) and "name" in x for x in c) for c in ins)
        if not ok:
            problems.append(f"errors[{i}] is not a qerror or roerror with operations and probabilities")
    return problems


def _validate_counts(where: str, g: h5py.Group, n: int, metrics: Any, problems: list[str]) -> None:
    """Sampled counts: estimator attributes, bitstrings of n bits (unique, sorted), positive counts
    summing to the shots, and an error for every estimated metric."""
    c = g[COUNTS]
    absent = [k for k in COUNTS_ATTRS if k not in c.attrs]
    problems += [f"{where}/{COUNTS} attribute {k} missing" for k in absent]
    problems += [f"{where}/metrics attribute {k} missing" for k in _metrics().SAMPLED_ERR_METRICS if k not in metrics]
    if absent:
        return
    shots, n_bits = int(c.attrs["shots"]), int(c.attrs["n_bits"])
    if n_bits != n:
        problems.append(f"{where}/{COUNTS}: n_bits {n_bits} != n_qubits {n}")
    for k in COUNT_SETS:
        outcomes, counts = g[COUNTS_OUTCOMES[k]], g[COUNTS_COUNTS[k]]
        if outcomes.shape != counts.shape or outcomes.ndim != 1:
            problems.append(f"{where}/{COUNTS}/{k}: {outcomes.shape} outcomes but {counts.shape} counts")
            continue
        if outcomes.dtype != np.dtype(f"S{n_bits}") or counts.dtype != np.uint64:
            problems.append(f"{where}/{COUNTS}/{k}: dtypes {outcomes.dtype}/{counts.dtype}, expected S{n_bits}/uint64")
            continue
        o, cnt = outcomes[()], counts[()]
        if any(len(x) != n_bits or x.strip(b"01") for x in o):
            problems.append(f"{where}/{COUNTS}/{k}/outcomes: not all are {n_bits}-bit strings of 0/1")
        if o.size > 1 and not np.all(o[1:] > o[:-1]):
            problems.append(f"{where}/{COUNTS}/{k}/outcomes: not sorted and unique")
        if np.any(cnt == 0):
            problems.append(f"{where}/{COUNTS}/{k}/counts: zero counts are stored")
        total = int(cnt.sum(dtype=np.uint64))
        if total != shots:
            problems.append(f"{where}/{COUNTS}/{k}/counts sum to {total}, not shots = {shots}")
