"""``primitive_run`` on a QPU (options ``target`` / ``access``; docs/primitives.md "On a QPU"): the
PUBs run on the QPU the job was granted, or on its twin, through hpcq.qpu, as ONE task (rank 0),
instead of on Aer.

- Estimator: per PUB, the circuit is transpiled to the device (hpcq.qpu.transpile: statevector
  check, native check, MOVE routing), every Pauli of the PUB's observables measured in qubit-wise
  commuting groups at each parameter set, with the bit-order check, in one QPU job; then (mitigation
  ``readout``) the calibration job (hpcq.qpu.run.run_groups). Each observable's value and standard
  error come from its groups' counts, readout-mitigated (``evs``) and raw (metadata ``evs_raw``).
  Shots per circuit: ``ceil(1 / precision^2)`` for precision > 0, else the options' ``shots``.
- Sampler: per PUB the bit-order circuit and the transpiled circuit at each parameter set in one
  QPU job; counts (raw: a sampler returns what the device read) become bit arrays per classical
  register (grouped by outcome: the device's shot order is not kept).

The result's metadata ``qpu`` holds the provenance a hardware run needs (backend, calibration-set
id, shots, QPU and queue time, job ids, mitigation); the runs (transpiled circuits, counts,
checks) go to the HDF5 file on request (hpcq.primitives.h5).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from hpcq.functions import JobContext
from hpcq.primitives.params import PrimitiveQpu, PrimitiveRunParams
from hpcq.qpu import QpuError


def _sets(pub: Any) -> np.ndarray:
    """Every parameter set of the PUB as rows (C order of its parameter shape)."""
    c = pub.circuit
    n = int(np.prod(pub.parameter_values.shape, dtype=int))
    if not c.num_parameters:
        return np.zeros((n, 0))
    return np.asarray(pub.parameter_values.as_array(c.parameters), dtype=float).reshape(-1, c.num_parameters)


def _estimate(q: PrimitiveQpu, backend: Any, info: dict[str, Any], pub: Any, i: int) -> tuple[dict, dict]:
    from qiskit.quantum_info import SparsePauliOp

    from hpcq.primitives.wire import estimator_pub_json
    from hpcq.qpu.mitigation import estimate_group, measured_groups
    from hpcq.qpu.run import run_groups

    c = pub.circuit
    if c.num_clbits:
        raise QpuError(f"pubs[{i}]: an estimator circuit has no measurements ({c.num_clbits} clbits): remove them")
    shots = math.ceil(1 / pub.precision**2) if pub.precision > 0 else q.shots
    p = q.model_copy(update={"shots": shots})
    sets = _sets(pub)
    paulis = sorted({label for obs in pub.observables.ravel() for label in obs})
    groups = measured_groups(SparsePauliOp(paulis, np.ones(len(paulis))))
    group_of = {label: g for g, (_, labels, _) in enumerate(groups) for label in labels}
    run, cal = run_groups(p, backend, info, c, groups, sets)
    run["calibration"] = cal
    where = {(r["group"], r["set"]): k for k, r in enumerate(run["roles"]) if r["role"] == "group"}

    shape = pub.parameter_values.shape
    param_indices = np.fromiter(np.ndindex(shape), dtype=object).reshape(shape)
    bc_param, bc_obs = np.broadcast_arrays(param_indices, pub.observables)
    flat = {tup: k for k, tup in enumerate(param_indices.ravel())}
    evs, var, raw, var_raw = (np.zeros(bc_param.shape) for _ in range(4))
    for index in np.ndindex(*bc_param.shape):
        k = flat[bc_param[index]]
        obs = bc_obs[index]
        for g in sorted({group_of[label] for label in obs}):
            labels = [label for label in obs if group_of[label] == g]
            j = where[(g, k)]
            coeffs = np.asarray([obs[label] for label in labels], dtype=float)
            e = estimate_group(run["counts"][j], labels, coeffs, c.num_qubits, run["roles"][j]["measured_on"], cal)
            raw[index] += e["raw"]
            var_raw[index] += e["raw_var"]
            evs[index] += e.get("mitigated", e["raw"])
            var[index] += e.get("mitigated_var", e["raw_var"])
    meta = {
        "target_precision": pub.precision,
        "shots": shots,
        "circuit_metadata": c.metadata,
        "evs_raw": raw.ravel().tolist(),
        "stds_raw": np.sqrt(var_raw).ravel().tolist(),
        "mitigation": q.mitigation if cal is not None else "none",
        "qpu_circuits": len(run["isas"]),
    }
    return estimator_pub_json(evs, np.sqrt(var), _json_safe(meta)), run


def _registers(circuit: Any, counts: dict[str, int], shots: int) -> dict[str, np.ndarray]:
    """Per classical register its packed bit array (shots, bytes) from one circuit's counts (the key
    'c1 c0' lists the registers last first, as Qiskit's counts do)."""
    from qiskit.primitives.containers import BitArray

    names = [r.name for r in circuit.cregs][::-1]
    per: dict[str, dict[str, int]] = {n: {} for n in names}
    for key, n in counts.items():
        parts = key.split(" ") if " " in key else _split(key, [r.size for r in circuit.cregs][::-1])
        for name, bits in zip(names, parts, strict=True):
            per[name][bits] = per[name].get(bits, 0) + n
    out = {}
    for reg in circuit.cregs:
        ba = BitArray.from_counts(per[reg.name], num_bits=reg.size)
        if ba.num_shots != shots:
            raise QpuError(f"the device returned {ba.num_shots} shots, {shots} were asked for")
        out[reg.name] = ba.array
    return out


def _split(key: str, sizes: list[int]) -> list[str]:
    out, at = [], 0
    for s in sizes:
        out.append(key[at : at + s])
        at += s
    return out


def _sample(q: PrimitiveQpu, backend: Any, info: dict[str, Any], pub: Any, i: int) -> tuple[dict, dict]:
    from qiskit.transpiler.passes import RemoveBarriers

    from hpcq.primitives.wire import sampler_pub_json
    from hpcq.qpu.run import BIT_ORDER_QUBITS, _bit_order, _check_bit_order, _measured_on, _submit, _transpile

    logical = RemoveBarriers()(pub.circuit)  # a barrier would reach the device as a non-gate instruction
    if not logical.cregs:
        raise QpuError(f"pubs[{i}]: a sampler circuit needs measurements into a classical register (measure_all())")
    p = q.model_copy(update={"shots": pub.shots})
    sets = _sets(pub)
    bit_isa, bit_check = _transpile(_bit_order(BIT_ORDER_QUBITS), backend, p)
    isa, check = _transpile(logical, backend, p, values=sets if sets.shape[1] else None)
    isas = [bit_isa] + [isa.assign_parameters(theta) if sets.shape[1] else isa for theta in sets]
    roles: list[dict[str, Any]] = [{"role": "bit_order", "measured_on": _measured_on(bit_isa), "name": bit_isa.name}]
    roles += [{"role": "pub", "set": k, "name": isa.name} for k in range(len(sets))]
    counts, job = _submit(backend, isas, pub.shots, info)
    _check_bit_order(roles, counts)
    shape = pub.parameter_values.shape
    arrays: dict[str, np.ndarray] = {}
    for k, index in enumerate(np.ndindex(*shape)):
        for name, a in _registers(logical, counts[1 + k], pub.shots).items():
            arrays.setdefault(name, np.zeros(shape + a.shape, dtype=np.uint8))[index] = a
    run = {
        "isas": isas,
        "checks": [bit_check] + [check] * len(sets),
        "roles": roles,
        "counts": counts,
        "jobs": [job],
        "shots_total": pub.shots * len(isas),
    }
    meta = {"shots": pub.shots, "circuit_metadata": pub.circuit.metadata, "qpu_circuits": len(isas)}
    sizes = {r.name: r.size for r in logical.cregs}
    return sampler_pub_json({n: (a, sizes[n]) for n, a in arrays.items()}, shape, _json_safe(meta)), run


def _json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(meta, default=str))


def _total(runs: list[dict[str, Any]], key: str) -> float:
    values = [j[key] for r in runs for j in r["jobs"] if not math.isnan(j[key])]
    return float(sum(values)) if values else math.nan


def execute_on_qpu(params: PrimitiveRunParams, ctx: JobContext) -> tuple[dict[str, Any], list[dict], dict]:
    """Every PUB on the QPU of ``ctx.extra["qpu"]`` (or its twin); (result, the runs, the QPU entry)."""
    from hpcq.primitives.wire import decode_pub
    from hpcq.qpu.backend import open_backend
    from hpcq.qpu.run import _entry

    q = params.qpu
    assert q is not None
    t0 = time.perf_counter()
    entry = _entry(q, ctx)  # the profile's entry; shots and calibration_shots within max_shots
    limit = int(entry.get("max_shots") or 0)
    for i, pp in enumerate(params.pubs):
        shots = pp.shots if pp.shots is not None else (math.ceil(1 / pp.precision**2) if pp.precision else q.shots)
        if limit and shots > limit:
            raise QpuError(f"pubs[{i}]: {shots} shots exceed QPU {q.target!r}'s max_shots {limit} (site profile)")
    backend, info = open_backend(entry, q.access)
    pubs = [decode_pub(pp, params.primitive) for pp in params.pubs]
    one = _estimate if params.primitive == "estimator" else _sample
    done = [one(q, backend, info, pub, i) for i, pub in enumerate(pubs)]
    runs = [r for _, r in done]
    cal_shots = sum(r["shots_total"] for r in runs)
    provenance = {
        **{k: info.get(k, "") for k in ("qpu", "backend", "access", "label", "calibration_set_id")},
        "shots_total": cal_shots,
        "mitigation": q.mitigation if params.primitive == "estimator" else "none",
        "qpu_time_s": _total(runs, "qpu_time_s"),
        "queue_time_s": _total(runs, "queue_time_s"),
        "job_ids": [j["job_id"] for r in runs for j in r["jobs"]],
    }
    result = {
        "primitive": params.primitive,
        "pubs": [r for r, _ in done],
        "metadata": {
            "version": 2,
            "hpcq": {"ranks": 1, "slices": len(pubs), "wall_time_s": round(time.perf_counter() - t0, 6)},
            "qpu": _json_safe(provenance),
        },
    }
    return result, runs, entry
