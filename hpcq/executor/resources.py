"""Thin adapter from a ColonyOS process to a Slurm request, over the profiles/sizing contract.

The site profiles (hpcq.executor.profiles: load_profile, resolve_resources, submitit_params) and
quantum sizing (hpcq.executor.sizing.check_params_fit) own the mapping and its checks; this file calls
them and turns their errors into one PlanError whose message names the field and the fix. There
is no second mapping: a profile that cannot be found is a PlanError naming the profile, the places
searched and the fix.

It also applies hpcq's maxexectime rule: ColonyOS starts the exec clock at assign, so queue time
counts against maxexectime; a process whose walltime cannot fit in its maxexectime would be
failed (or handed to another executor) by the server while its Slurm job still runs, so it is
refused before anything is queued.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from hpcq.executor import profiles, sizing
from hpcq.executor.backends.base import JOB_PYTHON
from hpcq.functions import FunctionDef


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


@dataclass
class Prepared:
    """A process the executor accepted: its catalog entry, validated kwargs and Slurm plan."""

    process: Any  # pycolonies Process
    fd: FunctionDef
    params: dict[str, Any]
    plan: Plan
    inputs: list[Any] | None = None  # the process's inputs with other sites' files staged here (hpcq.executor.staging)
    inputs_from: list[dict[str, Any]] = field(default_factory=list)  # one transfer record per staged file


def plan_process(
    profile_name: str, conditions: dict[str, Any], params_obj: Any, mpi: bool, maxexectime: int, from_spec: bool = False
) -> Plan:
    """Map conditions + site profile to submitit parameters; refuse what cannot run.
    ``from_spec``: the profile name came from the process (spec.env), so it must be a plain
    profile name, never a path on the login node. ``params_obj``: the validated function
    parameters; those that know their simulations' footprints (``footprints()``) are sized,
    and those that drive a QPU (``qpu_target()``, hpcq.qpu.params) are checked against the
    profile's QPUs, whose entry then travels to the job (``detail["qpu"]``); a step on the twin
    (``qpu_access()`` "twin") asks Slurm for no QPU."""
    qpu = getattr(params_obj, "qpu_target", lambda: None)()
    try:
        prof = profiles.load_profile(profile_name, allow_path=not from_spec)
        res = profiles.resolve_resources(prof, conditions, qpu=qpu)
        # a step on the QPU's twin needs the profile's entry (its twin), not the device: no request lines
        twin = qpu and getattr(params_obj, "qpu_access", lambda: "profile")() == "twin"
        params = profiles.submitit_params(dataclasses.replace(res, qpu=None) if twin else res, prof)
        if qpu and prof.qpu(qpu).python:  # the QPU clients' venv (docs/qpu.md)
            params[JOB_PYTHON] = prof.qpu(qpu).python
        sizing.check_params_fit(params_obj, res, prof)  # THE memory model (hpcq.sim.memory) vs the allocation
    except ValueError as exc:  # ResourceError (ConditionsError, ProfileError) and sizing's value errors
        raise PlanError(str(exc)) from None
    detail: dict[str, Any] = {"resources": res}
    if qpu:
        detail["qpu"] = qpu_entry(prof, qpu)
    plan = Plan(params=params, walltime_s=res.walltime_s, ranks=res.ranks, detail=detail)
    check_rules(plan, conditions, mpi, maxexectime)
    return plan


def qpu_entry(prof: Any, name: str) -> dict[str, Any]:
    """The profile's QPU entry as the job gets it (``ctx.extra["qpu"]``); the primitives' local
    mode hands the same entry to its in-process run (hpcq.primitives.base)."""
    return {"name": name, "site": prof.site, **prof.qpu(name).model_dump(mode="json")}


def check_rules(plan: Plan, conditions: dict[str, Any], mpi: bool, maxexectime: int) -> None:
    """hpcq's own rules on top of the profile: MPI only for MPI functions; maxexectime must cover walltime."""
    if plan.ranks > 1 and not mpi:
        raise PlanError(
            f"this function is not MPI-enabled but the conditions ask for {plan.ranks} ranks: "
            "set conditions.nodes=1 and conditions.processespernode=1"
        )
    requested = int(conditions.get("walltime") or 0) or plan.walltime_s
    if maxexectime == 0:
        raise PlanError(
            "maxexectime=0 makes ColonyOS expire the process at once: set maxexectime to "
            "walltime + a queue allowance (hpcq's client does), or -1 for no limit"
        )
    if maxexectime > 0 and requested > maxexectime:
        raise PlanError(
            f"conditions.walltime={requested} s cannot fit in maxexectime={maxexectime} s "
            "(ColonyOS counts Slurm queue time too): set maxexectime >= walltime + queue allowance"
        )
