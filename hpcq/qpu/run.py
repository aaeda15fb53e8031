"""The catalog step ``qpu_run`` (docs/qpu.md): on the QPU the job was granted (or its twin), a GHZ
check and the energy of a hardware-efficient ansatz on a TFIM chain at given parameter vectors,
with shots and readout-error mitigation from a measured calibration.

Every circuit is transpiled to the device's native gates and coupling (hpcq.qpu.transpile: exact
scheduling, MOVE routing on star chips), checked equal to the logical circuit by statevector and
native on the device's loci before anything is submitted. One job runs the GHZ and every
(basis group x parameter vector) circuit; a second runs the two calibration circuits. The HDF5 file
(hpcq.results.h5format: tasks of step "qpu", group /qpu) holds the backend, calibration-set id,
transpiled circuits (QPY), layouts, shots, raw counts, the calibration, QPU and queue times.
"""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from hpcq.functions import FunctionResult, JobContext
from hpcq.qpu import QpuError
from hpcq.qpu.params import QpuOptions, QpuRunParams


def _problem(p: QpuRunParams) -> tuple[Any, Any, float]:
    from qiskit.circuit.library import efficient_su2
    from qiskit.quantum_info import SparsePauliOp

    from hpcq.sim.tfim_exact import tfim_open_ground_energy

    n = p.qubits
    terms = [("ZZ", [i, i + 1], -p.j) for i in range(n - 1)] + [("X", [i], -p.h) for i in range(n)]
    observable = SparsePauliOp.from_sparse_list(terms, num_qubits=n).simplify()
    ansatz = efficient_su2(n, ["ry", "rz"], entanglement="linear", reps=p.reps)
    return ansatz, observable, tfim_open_ground_energy(n, p.j, p.h)


def _ghz(n: int) -> Any:
    from qiskit import QuantumCircuit

    from hpcq.qpu.mitigation import measure_every_qubit

    qc = QuantumCircuit(n, name=f"ghz_{n}")
    qc.h(0)
    for i in range(n - 1):
        qc.cx(i, i + 1)
    measure_every_qubit(qc)
    return qc


BIT_ORDER_QUBITS = 3


def _bit_order(n: int) -> Any:
    """X on qubit 0 of n, all measured: Qiskit order reads 0...01 (docs/qpu.md, the one-shot bit-order test)."""
    from qiskit import QuantumCircuit

    from hpcq.qpu.mitigation import measure_every_qubit

    qc = QuantumCircuit(n, name=f"bit_order_{n}")
    qc.x(0)
    measure_every_qubit(qc)
    return qc


def _check_bit_order(roles: list, counts: list) -> str:
    """The most frequent outcome of the bit-order circuit; QpuError unless it is 0...01."""
    c = counts[[r["role"] for r in roles].index("bit_order")]
    top = max(c, key=c.get).replace(" ", "")
    want = "0" * (BIT_ORDER_QUBITS - 1) + "1"
    if top != want:
        raise QpuError(
            f"bit-order check failed: X on qubit 0 of {BIT_ORDER_QUBITS} read {top!r}, expected {want!r} "
            "(Qiskit order, qubit 0 rightmost): this backend's counts are in another bit order; every "
            "energy would be wrong. No result file was written (docs/qpu.md, checking a new QPU)"
        )
    return top


def _measured_on(isa: Any) -> list[int]:
    """The physical qubit each clbit is measured on (clbit i = logical qubit i: measure_every_qubit)."""
    from hpcq.qpu.transpile import physical_index

    where = physical_index(isa)
    out: dict[int, int] = {}
    for inst in isa.data:
        if inst.operation.name == "measure":
            out[isa.find_bit(inst.clbits[0]).index] = where[inst.qubits[0]]
    return [out[k] for k in sorted(out)]


def _transpile(logical: Any, backend: Any, p: QpuOptions, values: Any = None) -> tuple[Any, dict[str, Any]]:
    from hpcq.qpu.transpile import check_equivalent, check_native, isa_circuit

    isa = isa_circuit(logical, backend, level=p.optimization_level, seed=p.seed)
    check = check_equivalent(logical, isa, max_qubits=p.check_max_qubits, values=values)
    check_native(isa, backend)
    check["native"] = True
    return isa, check


def _submit(
    backend: Any, circuits: list[Any], shots: int, info: dict[str, Any]
) -> tuple[list[dict[str, int]], dict[str, Any]]:
    """Run one batch; its counts and {job_id, queue_time_s, qpu_time_s, timeline, wall_s}."""
    from hpcq.qpu.backend import job_times

    t0 = time.perf_counter()
    job = backend.run(circuits, shots=shots)
    result = job.result()
    wall = time.perf_counter() - t0
    counts = [dict(result.get_counts(i)) for i in range(len(circuits))]
    job_id = str(job.job_id())
    times: dict[str, Any] = {"queue_time_s": math.nan, "qpu_time_s": math.nan, "timeline": []}
    if info["access"] == "qrmi":
        times = job_times(info["resource"], job_id)
    else:
        times["times_error"] = "a twin has no queue: wall_s is the simulation"
    return counts, {"job_id": job_id, "wall_s": wall, **times}


def _entry(p: QpuOptions, ctx: JobContext) -> dict[str, Any]:
    """The profile's QPU entry the executor handed to the job, with the shots checked against it."""
    qpu = dict(ctx.extra.get("qpu") or {})
    if not qpu:
        raise QpuError(
            f"qpu_run: the job got no QPU entry (ctx.extra['qpu']); run it through an executor whose site "
            f"profile lists QPU {p.target!r} under qpus (docs/qpu.md)"
        )
    limit = int(qpu.get("max_shots") or max(p.shots, p.calibration_shots))
    if max(p.shots, p.calibration_shots) > limit:
        raise QpuError(
            f"shots {p.shots} / calibration_shots {p.calibration_shots} exceed QPU {p.target!r}'s max_shots "
            f"{limit} (site profile): lower them"
        )
    return qpu


def _circuits(p: QpuOptions, backend: Any, ansatz: Any, groups: list, sets: np.ndarray) -> tuple[list, list, list]:
    """(ISA circuits, their checks, their roles): the GHZ, then per basis group one per parameter vector."""
    from hpcq.qpu.mitigation import basis_circuit

    isas: list[Any] = []
    checks: list[Any] = []
    roles: list[dict[str, Any]] = []

    def add(circuit: Any, check: Any, role: dict[str, Any]) -> None:
        isas.append(circuit)
        checks.append(check)
        roles.append(role)

    add(*_transpile(_bit_order(BIT_ORDER_QUBITS), backend, p), {"role": "bit_order"})
    if p.ghz_qubits:
        add(*_transpile(_ghz(p.ghz_qubits), backend, p), {"role": "ghz"})
    for gi, (basis, _, _) in enumerate(groups):
        isa, check = _transpile(basis_circuit(ansatz, basis), backend, p, values=sets)
        for k, theta in enumerate(sets):
            add(isa.assign_parameters(theta), check, {"role": "group", "group": gi, "basis": basis, "set": k})
    for r, isa in zip(roles, isas, strict=True):
        r["measured_on"], r["name"] = _measured_on(isa), isa.name
    return isas, checks, roles


def _calibrate(p: QpuOptions, backend: Any, info: dict[str, Any], run: dict[str, Any]) -> Any:
    """Measure the readout calibration of every physical qubit read (2 circuits); appended to ``run``."""
    from hpcq.qpu.mitigation import calibration_circuits, calibration_from_counts

    physical = sorted({q for r in run["roles"] for q in r["measured_on"]})
    cal_isas = calibration_circuits(backend, physical)
    cal_counts, job = _submit(backend, cal_isas, p.calibration_shots, info)
    run["jobs"].append(job)
    run["isas"] += cal_isas
    run["counts"] += cal_counts
    run["roles"] += [
        {"role": "calibration", "prepared": b, "measured_on": physical, "name": c.name}
        for b, c in zip("01", cal_isas, strict=True)
    ]
    run["checks"] += [{"checked": False, "reason": "calibration circuit, built native"}] * 2
    return calibration_from_counts(physical, cal_counts[0], cal_counts[1])


def measure(p: QpuOptions, backend: Any, info: dict[str, Any], ansatz: Any, observable: Any, sets: np.ndarray):
    """The energies of ``observable`` at each parameter vector of ``sets`` on ``backend``: one job with
    the bit-order circuit, the GHZ check and every (basis group x vector) circuit, then (mitigation
    readout) the calibration job. Returns (per-vector results, the run record, the calibration)."""
    from hpcq.qpu.mitigation import measured_groups

    groups = measured_groups(observable)
    run, cal = run_groups(p, backend, info, ansatz, groups, sets)
    results = _energies(p, groups, sets, run["roles"], run["counts"], cal, ansatz, observable)
    info.update(
        ghz_fraction=_ghz_fraction(p, run["roles"], run["counts"]),
        shots=p.shots,
        calibration_shots=p.calibration_shots if cal else 0,
    )
    return results, run, cal


def run_groups(p: QpuOptions, backend: Any, info: dict[str, Any], ansatz: Any, groups: list, sets: np.ndarray):
    """The counts of every (basis group x parameter vector) circuit, with the bit-order and GHZ
    checks, in one job, then (mitigation readout) the calibration job: (the run record, the
    calibration or None). Also hpcq's EstimatorV2 on a QPU (hpcq.primitives.qpu)."""
    isas, checks, roles = _circuits(p, backend, ansatz, groups, sets)
    counts, job = _submit(backend, isas, p.shots, info)
    _check_bit_order(roles, counts)
    run: dict[str, Any] = {"isas": isas, "checks": checks, "roles": roles, "counts": counts, "jobs": [job]}
    run["shots_total"] = p.shots * len(isas)
    cal = _calibrate(p, backend, info, run) if p.mitigation == "readout" else None
    run["shots_total"] += cal.shots if cal else 0
    return run, cal


def _summary(info: dict[str, Any], results: list[dict[str, Any]], run: dict[str, Any], path: Path) -> dict[str, Any]:
    return {
        **{k: info[k] for k in ("backend", "access", "calibration_set_id", "ghz_fraction")},
        "file": path.name,
        "energies": [
            {k: r[k] for k in ("energy", "energy_std", "energy_raw", "energy_raw_std", "ideal_energy")} for r in results
        ],
        "shots_total": run["shots_total"],
    }


def rank0_entry(p: QpuOptions, ctx: JobContext) -> tuple[dict[str, Any], float] | None:
    """Rank 0's QPU entry (profile, grant, limits) and start time; None on other ranks: one job, one client."""
    return (_entry(p, ctx), time.time()) if ctx.rank == 0 else None


def measure_and_write(
    p: QpuOptions, ctx: JobContext, qpu: dict[str, Any], started: float, ansatz: Any, observable: Any, sets: np.ndarray,
    tasks_of: Any,
) -> tuple[dict[str, Any], Path]:  # fmt: skip
    """What qpu_run and the hybrid study's QPU step share once their problem is built (cheap checks
    first): open the granted QPU (or twin), ``measure`` every vector of ``sets``, write the HDF5 file
    with the tasks ``tasks_of(info, results)`` makes; returns the function summary and the file."""
    from hpcq.qpu.backend import open_backend

    backend, info = open_backend(qpu, p.access)
    results, run, cal = measure(p, backend, info, ansatz, observable, sets)
    path = write_qpu_file(p, ctx, info, tasks_of(info, results), run, cal, started, qpu)
    return _summary(info, results, run, path), path


def qpu_run(kwargs: dict[str, Any], ctx: JobContext) -> FunctionResult | None:
    p = QpuRunParams(**kwargs)
    if (granted := rank0_entry(p, ctx)) is None:
        return None
    qpu, started = granted
    ansatz, observable, exact = _problem(p)
    sets = _parameter_sets(p, ansatz)

    def tasks_of(info: dict[str, Any], results: list[dict[str, Any]]) -> list[Any]:
        problem = (exact, ansatz, observable, sets, results)
        return [_task(p, info, problem, k, started) for k in range(len(sets))]

    summary, path = measure_and_write(p, ctx, qpu, started, ansatz, observable, sets, tasks_of)
    return FunctionResult(summary={**summary, "exact_energy": exact}, files=[path.name])


def _parameter_sets(p: QpuRunParams, ansatz: Any) -> np.ndarray:
    if p.parameters is not None:
        sets = np.asarray(p.parameters, dtype=float)
        if sets.ndim != 2 or sets.shape[1] != ansatz.num_parameters:
            raise QpuError(
                f"parameters: {sets.shape} given, the ansatz (efficient_su2, {p.qubits} qubits, reps {p.reps}) "
                f"takes vectors of {ansatz.num_parameters}: fix kwargs.parameters"
            )
        return sets
    return np.random.default_rng(p.seed).uniform(-np.pi, np.pi, (p.parameter_sets, ansatz.num_parameters))


def _energies(p, groups, sets, roles, counts, cal, ansatz, observable) -> list[dict[str, Any]]:
    from qiskit.quantum_info import Statevector

    from hpcq.qpu.mitigation import distribution, estimate_group

    n = observable.num_qubits
    out = []
    for k, theta in enumerate(sets):
        raw = var_raw = mit = var_mit = 0.0
        z_counts: dict[str, int] = {}
        for i, r in enumerate(roles):
            if r["role"] != "group" or r["set"] != k:
                continue
            basis, labels, coeffs = groups[r["group"]]
            e = estimate_group(counts[i], labels, coeffs, n, r["measured_on"], cal)
            raw, var_raw = raw + e["raw"], var_raw + e["raw_var"]
            mit, var_mit = mit + e.get("mitigated", e["raw"]), var_mit + e.get("mitigated_var", e["raw_var"])
            if set(basis) == {"Z"} or not z_counts:
                z_counts = counts[i]
        ideal = float(np.real(Statevector(ansatz.assign_parameters(theta)).expectation_value(observable)))
        out.append(
            {
                "energy": mit,
                "energy_std": math.sqrt(var_mit),
                "energy_raw": raw,
                "energy_raw_std": math.sqrt(var_raw),
                "ideal_energy": ideal,
                "dist_noisy": distribution(z_counts, n)[0],
                "dist_ideal": Statevector(ansatz.assign_parameters(theta)).probabilities(),
            }
        )
    return out


def _ghz_fraction(p: QpuOptions, roles, counts) -> float:
    for r, c in zip(roles, counts, strict=False):
        if r["role"] == "ghz":
            total = sum(c.values())
            return (c.get("0" * p.ghz_qubits, 0) + c.get("1" * p.ghz_qubits, 0)) / total
    return math.nan


def _qpy(circuits: list[Any]) -> np.ndarray:
    from qiskit import qpy

    buf = io.BytesIO()
    qpy.dump(circuits, buf)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def qpu_task(
    p: QpuOptions, info: dict, r: dict, attrs: dict[str, Any], exact: float, ansatz: Any, observable: Any,
    theta: Any, started: float,
) -> Any:  # fmt: skip
    """One measured parameter vector as a task of step "qpu": ``attrs`` (what the task is: problem,
    ansatz, parent) plus what every QPU task records; the measured Z-basis distribution is its noisy one."""
    from hpcq.results import h5format as F
    from hpcq.sim.metrics import accuracy_metrics, distribution_metrics

    kind = kind_of(info)
    attrs = {
        **attrs,
        "step": F.QPU_STEP,
        "noise_model": f"{kind}:{p.target}",
        "noise_params": json.dumps({"label": info["label"]}),
        "method": kind,
        "shots": p.shots,
        "rank": 0,
        "wall_time_s": time.time() - started,
        **{a: (r[a] if a in r else info[a]) for a in F.QPU_TASK_ATTRS},
    }
    metrics = {
        "energy": r["energy"],
        "exact_energy": exact,
        **accuracy_metrics(r["energy"], exact),
        "iterations": 1,
        "evaluations": 1,
        "wall_time_s": time.time() - started,
        **distribution_metrics(r["dist_ideal"], r["dist_noisy"]),
    }
    data = {
        F.CIRCUIT_QPY: _qpy([ansatz]),
        F.NOISE_MODEL_JSON: "null",
        F.HAM_PAULIS: observable.paulis.to_labels(),
        F.HAM_COEFFS: np.real(np.asarray(observable.coeffs)).astype(np.float64),
        F.TRACE_ENERGY: np.asarray([r["energy"]]),
        F.TRACE_PARAMETERS: np.asarray([theta]),
        F.FINAL_PARAMETERS: np.asarray(theta),
        F.DIST_IDEAL: np.asarray(r["dist_ideal"], dtype=np.float64),
        F.DIST_NOISY: np.asarray(r["dist_noisy"], dtype=np.float64),
    }
    return F.TaskData(attrs, metrics, data)


def _task(p: QpuRunParams, info: dict, problem: tuple, k: int, started: float) -> Any:
    """Parameter vector k of qpu_run's TFIM problem as a task."""
    exact, ansatz, observable, sets, results = problem
    attrs = {
        "task_id": f"{p.study}-{p.target}-{kind_of(info)}-p{k}",
        "parent_task_id": "",
        "problem": "tfim",
        "problem_params": json.dumps({"qubits": p.qubits, "J": p.j, "field": p.h, "boundary": "open"}),
        "n_qubits": p.qubits,
        "ansatz": "efficient_su2",
        "reps": p.reps,
        "optimizer": "none",
        "optimizer_params": "{}",
        "seed": p.seed,
    }
    return qpu_task(p, info, results[k], attrs, exact, ansatz, observable, sets[k], started)


def kind_of(info: dict) -> str:
    """Twin or QPU: what measured the task (its id, file name and noise model say so)."""
    return "twin" if info["access"] == "twin" else "qpu"


def _total(jobs: list[dict[str, Any]], key: str) -> float:
    """Summed over the jobs; NaN when no job reported it."""
    values = [j[key] for j in jobs if not math.isnan(j[key])]
    return float(sum(values)) if values else math.nan


def write_qpu_file(
    p: QpuOptions,
    ctx: JobContext,
    info: dict,
    tasks: list[Any],
    run: dict,
    cal: Any,
    started: float,
    qpu: dict[str, Any],
) -> Path:
    """The HDF5 file: the tasks of step "qpu" (one per parameter vector), and the group /qpu (with
    the profile's twin, so ``hpcq rerun`` can replay the run on it)."""
    from hpcq.results import h5format as F
    from hpcq.worker.provenance import job_provenance

    qpu_attrs = {
        **{k: info.get(k, "") for k in ("qpu", "backend", "access", "label", "calibration_set_id", "shots")},
        "calibration_shots": info.get("calibration_shots", 0),
        "mitigation": p.mitigation if cal else "none",
        "mitigation_shots": cal.shots if cal else 0,
        "qpu_time_s": _total(run["jobs"], "qpu_time_s"),
        "queue_time_s": _total(run["jobs"], "queue_time_s"),
        "job_ids": json.dumps([j["job_id"] for j in run["jobs"]]),
        "ghz_fraction": info.get("ghz_fraction", math.nan),
        "twin_json": json.dumps(qpu.get("twin") or {}),
    }

    def extend(f) -> None:
        g = f.create_group(F.QPU)
        for k, v in qpu_attrs.items():
            g.attrs[k] = v
        f.create_dataset(F.QPU_ISA_QPY, data=_qpy(run["isas"]))
        f.create_dataset(F.QPU_CIRCUITS_JSON, data=json.dumps(run["roles"]), dtype=F.STR)
        f.create_dataset(F.QPU_COUNTS_JSON, data=json.dumps(run["counts"]), dtype=F.STR)
        f.create_dataset(F.QPU_CHECKS_JSON, data=json.dumps(run["checks"], default=float), dtype=F.STR)
        f.create_dataset(F.QPU_TIMELINE_JSON, data=json.dumps(run["jobs"], default=str), dtype=F.STR)
        if cal is not None:
            f.create_dataset(F.QPU_MITIGATION_QUBITS, data=np.asarray(cal.qubits, dtype=np.int64))
            f.create_dataset(F.QPU_MITIGATION_MATRICES, data=cal.matrices)

    prov = {
        **job_provenance(ctx, 1, ctx.threads),
        "workflow_id": "",
        "started": F.now_iso(),
        "finished": F.now_iso(),
        "wall_time_s": time.time() - started,
        "command": f"{type(p).__name__} ({p.target}, {info['access']})",
        "seeds": [p.seed],
        "sweep_json": p.model_dump_json(),
    }
    tag = ctx.slurm_job_id or ctx.process_id[:16] or time.strftime("%Y%m%dT%H%M%S")
    path = Path(ctx.workdir) / f"{p.study}-{p.target}-{kind_of(info)}-{tag}.h5"
    return F.write_file(path, p.study, tasks, prov, extend=extend)
