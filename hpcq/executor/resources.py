"""Thin adapter from a ColonyOS process to a Slurm request, over the profiles/sizing contract.

The site profiles (hpcq.executor.profiles: load_profile, resolve_resources, submitit_params) and
quantum sizing (hpcq.executor.sizing) belong to another module; this file only calls them and
turns their errors into one PlanError whose message names the field and the fix. When the
profiles module is not installed it falls back to a minimal built-in mapping (documented in
docs/executor.md) so the executor still runs.

It also applies hpcq's maxexectime rule: ColonyOS starts the exec clock at assign, so queue time
counts against maxexectime; a process whose walltime cannot fit in its maxexectime would be
failed (or handed to another executor) by the server while its Slurm job still runs, so it is
refused before anything is queued.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any


class PlanError(ValueError):
    """The process cannot run here; the message is sent as the process error."""


@dataclass
class Plan:
    params: dict[str, Any]  # submitit AutoExecutor parameters
    walltime_s: int
    ranks: int
    detail: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return json.dumps(self.params, sort_keys=True, default=str)


def _fallback(conditions: dict[str, Any]) -> Plan:
    nodes = int(conditions.get("nodes") or 1)
    ppn = int(conditions.get("processespernode") or 1)
    cpu = str(conditions.get("cpu") or "")
    cpus = 1
    if cpu:
        if not cpu.endswith("m") or not cpu[:-1].isdigit():
            raise PlanError(f"conditions.cpu={cpu!r}: use millicores like '2000m'")
        cpus = max(1, math.ceil(int(cpu[:-1]) / 1000))
    wall = int(conditions.get("walltime") or 3600)
    params: dict[str, Any] = {"nodes": nodes, "tasks_per_node": ppn, "cpus_per_task": cpus,
                              "timeout_min": max(1, math.ceil(wall / 60))}
    mem = str(conditions.get("mem") or "")
    if mem:
        units = {"Ki": 1 / 1024 ** 2, "Mi": 1 / 1024, "Gi": 1, "Ti": 1024}
        unit = mem[-2:]
        if unit not in units or not mem[:-2].isdigit():
            raise PlanError(f"conditions.mem={mem!r}: use Ki/Mi/Gi/Ti, e.g. '4Gi'")
        params["mem_gb"] = max(1, math.ceil(int(mem[:-2]) * units[unit]))
    return Plan(params=params, walltime_s=wall, ranks=nodes * ppn)


def plan_process(profile_name: str, conditions: dict[str, Any], params_obj: Any, mpi: bool,
                 maxexectime: int, from_spec: bool = False) -> Plan:
    """Map conditions + site profile to submitit parameters; refuse what cannot run.
    ``from_spec``: the profile name came from the process (spec.env), so it must be a plain
    profile name, never a path on the login node."""
    try:
        from hpcq.executor import profiles
    except ImportError:
        profiles = None  # type: ignore[assignment]
    if profiles is None or not _has_profiles(profiles):
        plan = _fallback(conditions)
    else:
        try:
            prof = profiles.load_profile(profile_name, allow_path=not from_spec)
            res = profiles.resolve_resources(prof, conditions)
            params = profiles.submitit_params(res, prof)
        except Exception as exc:  # ConditionsError, unknown profile, ...: the message names the field
            raise PlanError(str(exc)) from None
        wall = int(getattr(res, "walltime_s", 0) or getattr(res, "walltime", 0) or 0) \
            or int(params.get("timeout_min", 60)) * 60
        ranks = int(getattr(res, "ranks", 0) or (getattr(res, "nodes", 1) * getattr(res, "tasks_per_node", 1)))
        plan = Plan(params=dict(params), walltime_s=wall, ranks=ranks, detail={"resources": res})
        _check_size(profiles, prof, res, params_obj)
    check_rules(plan, conditions, mpi, maxexectime)
    return plan


def check_rules(plan: Plan, conditions: dict[str, Any], mpi: bool, maxexectime: int) -> None:
    """hpcq's own rules on top of the profile: MPI only for MPI functions; maxexectime must cover walltime."""
    if plan.ranks > 1 and not mpi:
        raise PlanError(f"this function is not MPI-enabled but the conditions ask for {plan.ranks} ranks: "
                        "set conditions.nodes=1 and conditions.processespernode=1")
    requested = int(conditions.get("walltime") or 0) or plan.walltime_s
    if maxexectime == 0:
        raise PlanError("maxexectime=0 makes ColonyOS expire the process at once: set maxexectime to "
                        "walltime + a queue allowance (hpcq's client does), or -1 for no limit")
    if maxexectime > 0 and requested > maxexectime:
        raise PlanError(f"conditions.walltime={requested} s cannot fit in maxexectime={maxexectime} s "
                        "(ColonyOS counts Slurm queue time too): set maxexectime >= walltime + queue allowance")


def _has_profiles(profiles_mod) -> bool:
    """False on an install without any profile file: then the built-in mapping is used."""
    try:
        return bool(profiles_mod._profile_files())
    except Exception:  # noqa: BLE001 - an older/newer profiles module: trust load_profile
        return True


def _check_size(profiles_mod, prof, res, params_obj) -> None:
    """Quantum sizing: refuse a simulation that cannot fit in the memory a rank gets, before
    anything is queued (params objects that know their footprint expose memory_per_rank_bytes())."""
    need_fn = getattr(params_obj, "memory_per_rank_bytes", None)
    if not callable(need_fn):
        return
    need = int(need_fn())
    try:
        from hpcq.executor import sizing
    except ImportError:
        sizing = None  # type: ignore[assignment]
    if sizing is not None and hasattr(sizing, "check_fits"):
        try:
            sizing.check_fits(need, res, prof)
        except (TypeError, AttributeError):
            pass  # different signature: fall through to the plain comparison below
        except Exception as exc:  # noqa: BLE001 - its message carries the numbers
            raise PlanError(str(exc)) from None
        else:
            return
    have = int(getattr(res, "mem_per_rank_bytes", 0) or 0)
    if have and need > have:
        gib = 1024 ** 3
        raise PlanError(f"the simulation needs {need / gib:.2f} GiB per rank but a rank gets {have / gib:.2f} GiB "
                        f"({res.mem_gb:g} GiB per node / {res.tasks_per_node} ranks per node on profile "
                        f"{getattr(prof, 'name', '?')}): raise conditions.mem, use fewer ranks per node, or fewer qubits")
