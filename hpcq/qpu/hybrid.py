"""The workflow's QPU step ``study_qpu`` (docs/studies.md, docs/qpu.md): the hybrid workflow's last
stage. Its parent, a noiseless VQE step on the HPC side, hands over its HDF5 file (ColonyOS ``in``);
this step reads the parent task's optimal parameters, its ansatz (QPY) and its Hamiltonian from that
file (as the noise step reads the parameters) and evaluates them on the QPU the job was granted, or
on its twin, with the same machinery as ``qpu_run`` (hpcq.qpu.run.measure: exact transpile checks,
bit-order and GHZ checks, shots, readout mitigation). One task of step "qpu" whose parent is the VQE
task, so the catalog, ``results rank --step compare`` and the graph put its energy beside the
simulator's and the noise models' at the same parameters.

``replay_on_twin`` is ``hpcq rerun`` of a QPU result: the stored task (ISA-independent: the logical
circuit, the operator and the parameters) evaluated again on the twin the file names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from hpcq.functions import FunctionResult, JobContext
from hpcq.qpu import QpuError
from hpcq.qpu.params import QpuOptions, QpuStepParams

PARENT_ATTRS = ("problem", "problem_params", "n_qubits", "ansatz", "reps", "optimizer", "optimizer_params", "seed")


def _result_files(inputs: list) -> list[str]:
    return sorted({i for i in inputs if isinstance(i, str) and i.endswith(".h5") and Path(i).is_file()})


def parent_task(inputs: list, parent_task_id: str) -> tuple[Any, str]:
    """(StoredTask, path) of the parent VQE task among the handed-over HDF5 files."""
    from hpcq.results import h5format as F

    files = _result_files(inputs)
    for f in files:
        if parent_task_id in F.task_ids(f):
            return F.read_task(f, parent_task_id), f
    raise QpuError(
        f"study_qpu: parent task {parent_task_id} is in none of the {len(files)} handed-over HDF5 file(s) "
        f"{files}; the parent VQE step failed to hand its file over (check it with hpcq status)"
    )


def circuit_and_operator(stored: Any) -> tuple[Any, Any]:
    """The stored task's ansatz (parametrised) and Hamiltonian as Qiskit objects."""
    import io

    from qiskit import qpy
    from qiskit.quantum_info import SparsePauliOp

    ansatz = qpy.load(io.BytesIO(stored.circuit_qpy))[0]
    return ansatz, SparsePauliOp(stored.paulis, stored.coeffs)


def hybrid_task(p: QpuOptions, parent: Any, info: dict, r: dict, ansatz: Any, observable: Any, started: float) -> Any:
    """The evaluation as a task of step "qpu", child of the parent VQE task (its attributes copied)."""
    from hpcq.qpu.run import kind_of, qpu_task

    pid = str(parent.attrs["task_id"])
    attrs = {
        **{k: parent.attrs[k] for k in PARENT_ATTRS if k in parent.attrs},
        "task_id": f"{pid}-{kind_of(info)}-{p.target}",
        "parent_task_id": pid,
        "parent_energy": float(parent.metrics["energy"]),
    }
    exact = float(parent.metrics.get("exact_energy", float("nan")))
    x = np.asarray(parent.final_parameters, dtype=float)
    return qpu_task(p, info, r, attrs, exact, ansatz, observable, x, started)


def study_qpu(kwargs: dict[str, Any], ctx: JobContext) -> FunctionResult | None:
    """The parent VQE's optimum on the QPU (or its twin): one task of step "qpu"."""
    from hpcq.qpu.run import measure_and_write, rank0_entry

    p = QpuStepParams(**kwargs)
    if (granted := rank0_entry(p, ctx)) is None:
        return None
    qpu, started = granted
    parent, parent_file = parent_task(ctx.inputs, p.parent_task_id)
    ansatz, observable = circuit_and_operator(parent)
    x = np.asarray(parent.final_parameters, dtype=float)
    if x.shape != (ansatz.num_parameters,):
        raise QpuError(
            f"study_qpu: the parent's final parameters have shape {x.shape}, its circuit takes "
            f"{ansatz.num_parameters}; the parent file {parent_file} is inconsistent (hpcq results validate)"
        )
    made: list[Any] = []

    def tasks_of(info: dict[str, Any], results: list[dict[str, Any]]) -> list[Any]:
        made.append(hybrid_task(p, parent, info, results[0], ansatz, observable, started))
        return made

    summary, path = measure_and_write(p, ctx, qpu, started, ansatz, observable, x[None, :], tasks_of)
    summary.update(
        step="qpu",
        parent_task_id=p.parent_task_id,
        parent_file=parent_file,
        parent_energy=float(parent.metrics["energy"]),
        exact_energy=made[0].metrics["exact_energy"],
    )
    return FunctionResult(summary=summary, files=[path.name])


def replay_on_twin(path: str, task_id: str) -> dict[str, Any]:
    """A stored QPU (or twin) task evaluated again on the twin its file names (/qpu twin_json), with
    the stored options (shots, mitigation, seed); {energy, energy_std, stored_energy, stored_std,
    sigmas, label}. Not bit for bit: shots are random, and a QPU is not its twin."""
    import h5py

    from hpcq.qpu.backend import open_backend
    from hpcq.qpu.run import measure
    from hpcq.results import h5format as F

    with h5py.File(path, "r") as f:
        if F.QPU not in f:
            raise QpuError(f"{path} has no /{F.QPU} group: not a QPU result")
        twin = json.loads(str(f[F.QPU].attrs.get("twin_json", "") or "{}"))
        target = str(f[F.QPU].attrs.get("qpu", "") or "qpu")
        options = json.loads(f[F.PROVENANCE].attrs["sweep_json"])
    if not twin:
        raise QpuError(
            f"{path}: /{F.QPU} names no twin (twin_json; files written before the twin was recorded); "
            "replay it with an explicit profile's twin"
        )
    stored = F.read_task(path, task_id)
    ansatz, observable = circuit_and_operator(stored)
    x = np.asarray(stored.final_parameters, dtype=float)
    p = QpuOptions.model_validate(
        {k: v for k, v in options.items() if k in QpuOptions.model_fields} | {"target": target, "access": "twin"}
    )
    backend, info = open_backend({"name": target, "twin": twin}, "twin")
    (r,), _, _ = measure(p, backend, info, ansatz, observable, x[None, :])
    s_std = float(stored.attrs.get("energy_std", float("nan")))
    e0 = float(stored.metrics["energy"])
    sigma = float(np.hypot(r["energy_std"], s_std))
    return {
        "energy": r["energy"],
        "energy_std": r["energy_std"],
        "stored_energy": e0,
        "stored_std": s_std,
        "sigmas": abs(r["energy"] - e0) / sigma if sigma > 0 else float("inf"),
        "label": info["label"],
        "stored_access": str(stored.attrs.get("access", "")),
    }
