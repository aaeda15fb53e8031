"""ColonyOS conditions -> one Slurm request (``JobResources``), checked against a site profile.

``resolve_resources`` refuses anything the profile's nodes cannot hold *before* anything is
queued, with a ``ConditionsError`` naming the condition and the fix (or a ``ProfileError`` when
the profile itself lacks an account or QOS the site requires). Only validated numbers and profile
values reach the result, so nothing from a process spec reaches a shell.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from hpcq import units
from hpcq.executor.profiles.render import job_setup_lines
from hpcq.executor.profiles.schema import ConditionsError, Profile, ProfileError, user_dir

MIB = units.MiB


@dataclass
class JobResources:
    """What one Slurm job asks for (validated numbers + profile values only)."""

    nodes: int
    tasks_per_node: int
    cpus_per_task: int
    mem_gb: float  # per node
    gpus_per_node: int
    walltime_s: int
    partition: str | None
    account: str | None
    qos: str | None
    setup: list[str] = field(default_factory=list)
    srun_args: list[str] = field(default_factory=list)
    profile: str = ""
    qpu: str | None = None  # a QPU of the profile the job drives (profile.qpus; docs/qpu.md)

    @property
    def ranks(self) -> int:
        return self.nodes * self.tasks_per_node

    @property
    def mem_per_rank_bytes(self) -> int:
        return int(self.mem_gb * 1024 * MIB) // self.tasks_per_node


@dataclass
class _Request:
    """The conditions as checked numbers (before they are compared with a profile)."""

    nodes: int
    ppn: int  # ranks per node
    cpt: int  # cores per rank
    mem_bytes: int  # per node, 0 = default
    walltime: int  # seconds, 0 = default
    gpus: int  # per node
    gpu_mem: int  # bytes per GPU
    gpu_name: str


def _int(conditions: dict, key: str, label: str | None = None) -> int:
    v = conditions.get(key)
    label = label or key
    if v is None or v == "":
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer() or isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
            v = int(v)
        else:
            raise ConditionsError(label, f"{v!r} is not a whole number")
    if v < 0:
        raise ConditionsError(label, f"{v} is negative; use a positive number or 0 for the default")
    return v


def parse_millicores(v: Any, label: str = "cpu") -> int:
    """'4000m' -> 4000 (millicores; ColonyOS stores cpu this way). ''/None/0 -> 0."""
    try:
        return units.millicores(v)
    except units.QuantityError as exc:
        why = "is negative" if exc.negative else "is not millicores; write e.g. '4000m' for 4 cores per rank"
        raise ConditionsError(label, f"{v!r} {why}") from None


def parse_mem_bytes(v: Any, label: str = "mem") -> int:
    """'2048Mi' / '2Gi' / '512Ki' / '1Ti' -> bytes (ColonyOS returns Mi). ''/None/0 -> 0."""
    try:
        return units.mem_bytes(v)
    except units.QuantityError as exc:
        why = (
            "is negative"
            if exc.negative
            else "has no valid unit; write e.g. '2048Mi' or '4Gi' (Ki, Mi, Gi, Ti; case matters)"
        )
        raise ConditionsError(label, f"{v!r} {why}") from None


def _ranks_per_node(c: dict) -> tuple[int, int]:
    """(nodes, ranks per node) from nodes, processespernode and processes."""
    nodes = _int(c, "nodes") or 1
    ppn = _int(c, "processespernode")
    procs = _int(c, "processes")
    if ppn == 0 and procs:
        if procs % nodes:
            raise ConditionsError(
                "processes",
                f"{procs} processes do not divide evenly over {nodes} nodes; set conditions.processespernode instead",
            )
        ppn = procs // nodes
    ppn = ppn or 1
    if procs and procs != nodes * ppn:
        raise ConditionsError(
            "processes",
            f"{procs} != nodes {nodes} x processespernode {ppn}; drop conditions.processes or make them agree",
        )
    return nodes, ppn


def read_conditions(conditions: dict | None) -> _Request:
    """Parse a conditions dict (as the server returns it) into numbers; refuse malformed values."""
    c = dict(conditions or {})
    nodes, ppn = _ranks_per_node(c)
    millicores = parse_millicores(c.get("cpu"))
    gpu = c.get("gpu") or {}
    if not isinstance(gpu, dict):
        raise ConditionsError("gpu", f"{gpu!r} must be a mapping like {{count: 1}}")
    return _Request(
        nodes=nodes,
        ppn=ppn,
        cpt=max(1, math.ceil(millicores / 1000)) if millicores else 1,
        mem_bytes=parse_mem_bytes(c.get("mem")),
        walltime=_int(c, "walltime"),
        gpus=_int(gpu, "count", "gpu.count"),
        gpu_mem=parse_mem_bytes(gpu.get("mem"), "gpu.mem"),
        gpu_name=str(gpu.get("name") or ""),
    )


def _check_nodes(r: _Request, p: Profile) -> None:
    where = f"profile {p.name}"
    if r.nodes > p.max_nodes:
        raise ConditionsError(
            "nodes", f"{r.nodes} nodes exceed the {where} max of {p.max_nodes}; use fewer nodes or pick another profile"
        )
    if r.ppn > p.cores_per_node:
        raise ConditionsError(
            "processespernode",
            f"{r.ppn} ranks per node exceed the {p.cores_per_node} cores "
            f"per node of {where}; use fewer ranks per node or more nodes",
        )
    if r.ppn * r.cpt > p.cores_per_node:
        raise ConditionsError(
            "cpu",
            f"{r.ppn} ranks/node x {r.cpt} cores = {r.ppn * r.cpt} cores > "
            f"{p.cores_per_node} cores per node of {where}; lower conditions.cpu or "
            "conditions.processespernode",
        )
    if r.mem_bytes > p.mem_per_node_gb * 1024 * MIB:
        raise ConditionsError(
            "mem",
            f"{r.mem_bytes / 1024**3:.1f} GiB per node > {p.mem_per_node_gb:g} GiB "
            f"per node of {where}; ask for less or pick another profile",
        )


def _gpus_per_node(r: _Request, p: Profile) -> int:
    """The GPUs per node the job asks for (1 when only gpu.mem or gpu.name is given)."""
    if not (r.gpus or r.gpu_mem or r.gpu_name):
        return r.gpus
    where = f"profile {p.name}"
    if not p.has_gpus:
        raise ConditionsError(
            "gpu.count" if r.gpus else "gpu",
            f"{where} has no GPUs (CPU-only nodes); "
            "drop conditions.gpu or pick a GPU profile (see `hpcq profiles list`)",
        )
    if r.gpus > p.gpus_per_node:
        raise ConditionsError("gpu.count", f"{r.gpus} GPUs per node > {p.gpus_per_node} on {where}")
    if r.gpu_mem and p.gpu_mem_gb and r.gpu_mem > p.gpu_mem_gb * 1024 * MIB:
        raise ConditionsError("gpu.mem", f"{r.gpu_mem / 1024**3:.1f} GiB > {p.gpu_mem_gb:g} GiB per GPU on {where}")
    if r.gpu_name and p.gpu_model and r.gpu_name.lower() not in p.gpu_model.lower():
        raise ConditionsError("gpu.name", f"{r.gpu_name!r} does not match the {p.gpu_model} GPUs of {where}")
    return r.gpus or 1


def _check_site(r: _Request, p: Profile) -> None:
    """The walltime limit, and an account/QOS the site requires but the profile lacks."""
    where = f"profile {p.name}"
    if r.walltime > p.max_walltime_s:
        raise ConditionsError(
            "walltime",
            f"{r.walltime} s exceeds the {where} max of {p.max_walltime_s} s; lower it or pick another profile",
        )
    for key, required in (("account", p.account_required), ("qos", p.qos_required)):
        if required and not getattr(p, key):
            what = "a Slurm account (project)" if key == "account" else "a Slurm QOS"
            raise ProfileError(
                key,
                f"{where} needs {what} but has none; copy {p.path or 'the profile'} to "
                f"{user_dir()}/{p.name}.yaml and set {key}" + (f" ({p.notes[key]})" if key in p.notes else ""),
            )


def _mem_gb(r: _Request, p: Profile) -> float:
    """Memory per node in GB: the request rounded up to whole MiB, or by default the ranks' share
    of the node (the whole node on exclusive partitions); at least 1 MiB."""
    if r.mem_bytes == 0:
        share = 1.0 if p.exclusive else min(1.0, r.ppn * r.cpt / p.cores_per_node)
        mem_gb = math.floor(p.mem_per_node_gb * share * 1024) / 1024
    else:
        mem_gb = math.ceil(r.mem_bytes / MIB) / 1024
    return max(mem_gb, 1 / 1024)


def _check_qpu(r: _Request, p: Profile, qpu: str | None) -> None:
    """A QPU step: the site must have that QPU, and the step runs as one task (rank 0 owns the QPU)."""
    if qpu is None:
        return
    p.qpu(qpu)
    if r.nodes * r.ppn > 1:
        raise ConditionsError(
            "processespernode",
            f"a QPU step runs as one task (one rank drives QPU {qpu!r}) but the conditions ask for "
            f"{r.nodes * r.ppn} ranks; set conditions.nodes=1 and conditions.processespernode=1",
        )


def resolve_resources(profile: Profile, conditions: dict | None, qpu: str | None = None) -> JobResources:
    """Map a ColonyOS FunctionSpec.conditions dict (as the server returns it) onto the profile.

    Units: nodes, processespernode (ranks per node), cpu = millicores *per rank* ('4000m'),
    mem = per node ('2048Mi'), walltime = seconds, gpu.count = GPUs per node. Absent/0 means
    default: 1 node, 1 rank/node, 1 core/rank, mem = the ranks' share of the node (whole node on
    exclusive partitions), walltime = profile default. ``qpu``: the QPU (of ``profile.qpus``) the
    job drives; a site without it is refused here, before anything is queued."""
    p = profile
    r = read_conditions(conditions)
    _check_qpu(r, p, qpu)
    _check_nodes(r, p)
    gpus = _gpus_per_node(r, p)
    _check_site(r, p)
    res = JobResources(
        nodes=r.nodes,
        tasks_per_node=r.ppn,
        cpus_per_task=r.cpt,
        mem_gb=_mem_gb(r, p),
        gpus_per_node=gpus,
        walltime_s=r.walltime or p.default_walltime_s,
        partition=p.partition,
        account=p.account,
        qos=p.qos,
        profile=p.name,
        qpu=qpu,
    )
    res.setup = job_setup_lines(p, res)
    # --kill-on-bad-exit: one rank dying (e.g. MPI_Init failing) ends the whole step at once
    # instead of leaving the other ranks blocked in MPI until the time limit
    res.srun_args = ["--kill-on-bad-exit=1"] + list(p.srun_args) + ([f"--mpi={p.mpi}"] if p.mpi else [])
    return res
