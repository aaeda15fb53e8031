"""Quantum-aware admission: does a job's simulation fit the allocation it asks for? Impossible
requests are refused before queueing, with the numbers (needed vs available) and what would fit.

The bytes come from THE memory model, ``hpcq.sim.memory`` (docs/simulation.md "Sizing"); this
module only compares them with the profile's nodes, GPUs and the memory the job asks for.
"""

from __future__ import annotations

import math
from typing import Any

from hpcq.executor.profiles import ConditionsError, JobResources, Profile
from hpcq.sim import memory
from hpcq.sim.memory import fmt_bytes


def node_bytes(profile: Profile) -> float:
    return profile.mem_per_node_gb * memory.GiB


def max_ranks_per_node(mem_per_rank_bytes: int, profile: Profile) -> int:
    """How many such ranks fit in one of the profile's nodes (0 = not even one)."""
    return int(node_bytes(profile) // max(1, mem_per_rank_bytes))


def check_fits(mem_per_rank_bytes: int, res: JobResources, profile: Profile, what: str = "", hint: str = "") -> None:
    """Refuse a job whose ranks cannot hold their simulations: on a node of the profile, or in the
    memory the job asked for. The ConditionsError carries the numbers and the fix (``hint``: what
    would fit, from ``memory.advice``)."""
    need = int(mem_per_rank_bytes)
    label = f"{what} needs" if what else "the simulation needs"
    tail = f"; would fit: {hint}" if hint else ""
    node = node_bytes(profile)
    total = res.tasks_per_node * need
    if need > node:
        raise ConditionsError(
            "processespernode",
            f"{label} {fmt_bytes(need)} per rank, more than the "
            f"{fmt_bytes(node)} of a whole node of profile {profile.name}; use fewer qubits, "
            f"precision: single, more ranks sharing one state (parallel: statevector) or a profile with bigger "
            f"nodes{tail}",
        )
    if total > node:
        fit = max_ranks_per_node(need, profile)
        raise ConditionsError(
            "processespernode",
            f"{label} {fmt_bytes(need)} per rank; {res.tasks_per_node} "
            f"ranks/node x {fmt_bytes(need)} = {fmt_bytes(total)} > {fmt_bytes(node)} of profile "
            f"{profile.name}'s nodes; use at most {fit} ranks per node (more nodes){tail}",
        )
    asked = res.mem_gb * memory.GiB
    if profile.send_mem and total > asked:
        mib = math.ceil(total / memory.MiB)
        raise ConditionsError(
            "mem",
            f"{label} {fmt_bytes(need)} per rank; {res.tasks_per_node} ranks/node x "
            f"{fmt_bytes(need)} = {fmt_bytes(total)} > the {fmt_bytes(asked)} per node the job asks "
            f"for; set conditions.mem to at least {mib}Mi{tail}",
        )


def gpus_per_rank(res: JobResources, profile: Profile, device: str) -> int:
    """GPUs each rank drives: 0 on CPU; a GPU request on a profile without GPUs is refused."""
    if device == "CPU" or (device == "auto" and profile.aer != "gpu"):
        return 0
    if profile.gpus_per_node == 0 or res.gpus_per_node == 0:
        if device == "GPU":
            raise ConditionsError(
                "gpu.count",
                f"device: GPU but profile {profile.name} has no GPUs (or the job asks "
                "for none); use a GPU profile and conditions.gpu.count, or device: auto or device: CPU",
            )
        return 0
    if device == "GPU" and profile.aer != "gpu":
        raise ConditionsError(
            "gpu.count",
            f"device: GPU but profile {profile.name} runs aer: {profile.aer}; "
            "set aer: gpu in the profile (qiskit-aer-gpu installed) or use device: CPU",
        )
    return max(1, res.gpus_per_node // res.tasks_per_node)


def check_params_fit(params: Any, res: JobResources, profile: Profile) -> None:
    """Size validated function parameters against the allocation. Parameters that describe their
    simulations (``footprints(ranks=, gpus_per_rank=)``, e.g. SweepParams) are sized by the memory
    model, per rank and per GPU, one state over all ranks (``parallel: statevector``) or not;
    others are not sized."""
    if not hasattr(params, "footprints"):
        return
    distributed = bool(getattr(params, "distribute", False))
    if distributed and profile.aer != "mpi":
        raise ConditionsError(
            "aer",
            f"parallel: statevector runs one statevector over all ranks and needs an "
            f"MPI-built Aer, but profile {profile.name} has aer: {profile.aer}; build one with "
            "scripts/build-aer-mpi.sh and set aer: mpi in the profile, or set parallel: tasks",
        )
    ranks = res.ranks if distributed else 1
    gpr = gpus_per_rank(res, profile, str(getattr(params, "device", "auto")))
    try:
        fps = params.footprints(ranks=ranks, gpus_per_rank=gpr)
    except memory.SizingError as exc:
        raise ConditionsError("processespernode", str(exc)) from None
    fp = max(fps, key=lambda f: (f.rank_bytes, f.gpu_bytes))
    gpu_mem = profile.gpu_mem_gb * memory.GiB
    hint = memory.advice(
        fp.n_qubits,
        fp.method,
        fp.precision,
        node_bytes(profile) / res.tasks_per_node,
        gpus_per_rank=gpr,
        gpu_mem_bytes=gpu_mem,
    )
    spread = distributed_hint(fp.n_qubits, fp.method, fp.precision, profile)
    if spread and (spread_ranks := int(spread.split(" over ")[1].split()[0])) != ranks:
        hint += f"; {spread}" if spread_ranks > 1 else ""
    what = fp.label + (f" with its exact reference ({fmt_bytes(fp.reference_bytes)})" if fp.reference_bytes else "")
    check_fits(fp.rank_bytes, res, profile, what=what, hint=hint)
    if gpr and gpu_mem and fp.gpu_bytes > gpu_mem:
        raise ConditionsError(
            "gpu.count",
            f"{fp.label} needs {fmt_bytes(fp.gpu_bytes)} per GPU > the "
            f"{fmt_bytes(gpu_mem)} of a {profile.gpu_model or 'GPU'} of profile {profile.name}; "
            f"would fit: {hint}",
        )


def distributed_hint(n: int, method: str, precision: str, profile: Profile) -> str:
    """The smallest power-of-two rank layout over the profile's nodes that holds one n-qubit
    statevector ('' if none or not a statevector)."""
    if method != "statevector":
        return ""
    p = 1
    while p <= profile.max_nodes * profile.cores_per_node:
        per_node = math.ceil(p / profile.max_nodes)
        try:
            need = memory.footprint(n, "statevector", precision, ranks=p).rank_bytes
        except memory.SizingError:
            return ""
        if need * per_node <= node_bytes(profile):
            if p == 1:
                return f"{n} qubits over 1 rank"
            how = "parallel: statevector" + ("" if profile.aer == "mpi" else " on a profile with aer: mpi")
            return (
                f"{n} qubits over {p} ranks ({math.ceil(p / per_node)} nodes x {per_node} per node, "
                f"{fmt_bytes(need)} each; {how})"
            )
        p *= 2
    return ""
