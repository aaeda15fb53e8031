"""Where a study's steps may run: the ``placement:`` section of a study, and its translation into
ColonyOS conditions at submit time (docs/sites.md)::

    placement:
      integrals: [lumi-c]                   # only these sites (in this order of preference)
      vqe: {needs: {gpus: 1, mem: 64Gi}}    # any site that offers this, per node
      noise: any                            # anywhere it fits (the same as no rule)
      fallback: [leonardo-dcgp]             # used when no site of a rule is alive (or fits)

ColonyOS assigns a process only to an executor whose ``locationname`` equals the process's
``conditions.locationname`` (or any executor when that is empty), and, when
``conditions.executornames`` is set, only to an executor named there; it does not look at
capabilities (colonies v1.9.12 ``FindCandidates``). So hpcq decides on the laptop which sites may
take each step, from the sites the colony has now (hpcq.client.sites):

1. the candidates: the rule's sites, then the fallback sites (a ``needs`` rule or no rule: every site);
2. each candidate is checked with the executor's own checks (hpcq.executor.profiles.resolve_resources
   and the memory model, hpcq.executor.sizing) against the site's registered capacity, and against
   the rule's ``needs``; a step that fits no candidate is refused before anything is submitted,
   naming each site and what it lacks;
3. the chosen sites: those of the rule that fit and are alive, else the fallback's that fit and
   are alive, else those that fit (the step then waits for its site); a rule with ``stay: true``
   (one site) never uses the fallback;
4. one chosen site -> ``conditions.locationname`` (any executor of that site, also one started
   later); several -> ``conditions.executornames`` = the executors of those sites (a condition
   names one location only; executornames is colonies' "any of these"); a step without a rule
   that fits every site gets neither.

Failover (docs/reliability.md): ColonyOS re-queues a dead site's processes, and any executor the
conditions allow may take them. So a step moves only among the sites its conditions name: several
(executornames), or any (no condition). One site (``locationname``) never moves: that is what
``{sites: [a], stay: true}`` says explicitly, for data that must stay at a site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hpcq import functions, units
from hpcq.client.sites import NO_SITE, Site
from hpcq.colonyos.sites import Capacity, check_site_name
from hpcq.sim.memory import fmt_bytes

# the step kinds a rule may name, by the function a process runs
STEP_KINDS: dict[str, str] = {
    "study_integrals": "integrals",
    "study_hamiltonian": "hamiltonian",
    "study_ansatz": "ansatz",
    "study_vqe": "vqe",
    "study_noise": "noise",
    "study_aggregate": "aggregate",
    "study_qpu": "qpu",
    functions.VQE_SWEEP: "sweep",  # mode sweep (one process per task) and single (one job)
}
WORKFLOW_KINDS = ("integrals", "hamiltonian", "ansatz", "vqe", "noise", "aggregate", "qpu")
ANY = "any"


def _site_names(names: list[str]) -> list[str]:
    for name in names:
        check_site_name(name, "")
    return names


class PlacementError(ValueError):
    """A step no site can take; str() names the step, each site and what it lacks."""


class Needs(BaseModel):
    """What a site must offer, per node (and nodes, QPUs per site)."""

    model_config = ConfigDict(extra="forbid")
    gpus: int = Field(0, ge=0, le=64, description="GPUs per node")
    cores: int = Field(0, ge=0, le=100000, description="cores per node")
    mem: str = Field("", description="memory per node, e.g. 64Gi")
    nodes: int = Field(0, ge=0, le=1000000, description="nodes one job may use")
    qpus: int = Field(0, ge=0, le=1000, description="quantum processors")

    @field_validator("mem")
    @classmethod
    def _mem(cls, v: str) -> str:
        if v and not units.is_mem_request(v):
            raise ValueError(f"{v!r} is not a memory size; write e.g. 64Gi or 512Mi (units Mi, Gi, Ti)")
        return v

    def lacks(self, cap: Capacity) -> list[str]:
        """What ``cap`` falls short of, with both numbers ('' = nothing)."""
        short = []
        for key, want, have in (
            ("gpus", self.gpus, cap.gpus),
            ("cores", self.cores, cap.cores),
            ("nodes", self.nodes, cap.nodes),
            ("qpus", self.qpus, cap.qpus),
        ):
            if want > have:
                short.append(f"needs.{key}: {want} wanted, the site has {have}")
        if self.mem and units.mem_bytes(self.mem) > cap.mem_bytes:
            short.append(f"needs.mem: {self.mem} per node wanted, the site has {fmt_bytes(cap.mem_bytes)}")
        return short


class Rule(BaseModel):
    """One step kind's rule: a list of sites, needs, both (sites that also meet the needs), or
    ``any``. YAML shorthands: ``[a, b]`` = {sites: [a, b]}; ``any`` = {}."""

    model_config = ConfigDict(extra="forbid")
    sites: list[str] = Field(default_factory=list)
    needs: Needs | None = None
    stay: bool = Field(False, description="pinned to its one site: never the fallback, never moved on failover")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if data == ANY or data is None:
            return {}
        if isinstance(data, list):
            return {"sites": data}
        if isinstance(data, str):
            raise ValueError(f"{data!r}: write a list of sites ([{data}]), {{needs: {{...}}}} or any")
        return data

    @field_validator("sites")
    @classmethod
    def _sites(cls, v: list[str]) -> list[str]:
        return _site_names(v)

    @model_validator(mode="after")
    def _stay(self) -> Rule:
        if self.stay and len(self.sites) != 1:
            raise ValueError(
                f"stay: true pins a step to one site, but sites has {len(self.sites)} "
                f"({', '.join(self.sites) or 'none'}); write {{sites: [SITE], stay: true}}, or drop stay "
                "to let the step move among several sites"
            )
        return self

    @property
    def is_any(self) -> bool:
        return not self.sites and self.needs is None


class Placement(BaseModel):
    """The ``placement:`` section: a rule per step kind and an optional fallback list of sites."""

    model_config = ConfigDict(extra="forbid")
    integrals: Rule | None = None
    hamiltonian: Rule | None = None
    ansatz: Rule | None = None
    vqe: Rule | None = None
    noise: Rule | None = None
    aggregate: Rule | None = None
    qpu: Rule | None = Field(None, description="the hybrid workflow's QPU steps (study qpu:)")
    sweep: Rule | None = Field(None, description="the processes of mode sweep and single")
    fallback: list[str] = Field(default_factory=list, description="sites used when no site of a rule is alive")

    @model_validator(mode="before")
    @classmethod
    def _kinds(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("placement must map step kinds to rules, e.g. {integrals: [site-a], vqe: any}")
        known = (*WORKFLOW_KINDS, "sweep", "fallback")
        unknown = sorted(str(k) for k in data if k not in known)
        if unknown:
            raise ValueError(
                f"unknown step kind(s) {', '.join(unknown)}; rules are per step kind: {', '.join(known[:-1])} "
                "(and fallback: [sites])"
            )
        return {k: (ANY if v is None and k != "fallback" else v) for k, v in data.items()}

    @field_validator("fallback")
    @classmethod
    def _fallback(cls, v: list[str]) -> list[str]:
        return _site_names(v)

    def rule(self, kind: str) -> Rule | None:
        return getattr(self, kind, None) if kind in (*WORKFLOW_KINDS, "sweep") else None

    def named_kinds(self) -> list[str]:
        return [k for k in (*WORKFLOW_KINDS, "sweep") if getattr(self, k) is not None]


def check_mode(placement: Placement, mode: str) -> None:
    """A rule for a kind the study's mode does not produce is a mistake: say which."""
    kinds = ("sweep",) if mode in ("sweep", "single") else WORKFLOW_KINDS
    wrong = [k for k in placement.named_kinds() if k not in kinds]
    if wrong:
        raise ValueError(
            f"placement.{wrong[0]}: mode {mode} has no {wrong[0]} steps (its steps: {', '.join(kinds)}); "
            f"name those, or change the mode"
        )


@dataclass
class _Step:
    spec: dict[str, Any]
    kind: str
    rule: Rule | None


def step_kind(spec: dict[str, Any]) -> str:
    return STEP_KINDS.get(spec["funcname"], spec["funcname"])


def fit_problems(spec: dict[str, Any], site: str, cap: Capacity) -> list[str]:
    """Why the step cannot run on a site with capacity ``cap`` ([] = it fits): the executor's own
    checks (job size vs nodes, cores, memory, GPUs; the memory model vs the node), on a stand-in
    profile built from the capacity (hpcq.executor.site.capacity_profile)."""
    from hpcq.executor import sizing
    from hpcq.executor.profiles import ResourceError, resolve_resources
    from hpcq.executor.site import capacity_profile

    prof = capacity_profile(site, cap)
    try:
        res = resolve_resources(prof, spec["conditions"])
        fd = functions.get(spec["funcname"])
        model = fd.params_model()
        if model is not None:
            raw = functions.decode_kwargs(spec.get("kwargs"))
            sizing.check_params_fit(model.model_validate(raw), res, prof)
    except ResourceError as exc:
        text = str(exc).replace(f"profile {prof.name}", f"site {site}")
        return [text.replace("another profile", "another site").replace("a profile with", "a site with")]
    except ValueError as exc:  # sizing's own value errors
        return [str(exc)]
    return []


def _problems(step: _Step, site: Site) -> list[str]:
    cap = site.capacity
    if cap is None:  # registered no capabilities: nothing to check against; a needs rule cannot be met
        return (
            ["registered no capabilities (an executor older than hpcq's sites)"]
            if step.rule and step.rule.needs
            else []
        )
    return [
        *(step.rule.needs.lacks(cap) if step.rule and step.rule.needs else []),
        *fit_problems(step.spec, site.name, cap),
    ]


def _candidates(step: _Step, sites: dict[str, Site], fallback: list[str]) -> tuple[list[Site], list[Site]]:
    """(the rule's sites, the fallback sites); unknown site names are an error."""
    if step.rule is None or not step.rule.sites:
        return list(sites.values()), []
    missing = [n for n in [*step.rule.sites, *fallback] if n.lower() not in sites]
    if missing:
        known = ", ".join(s.name for s in sites.values()) or "none"
        raise PlacementError(
            f"placement.{step.kind}: site {missing[0]!r} is not in the colony (its sites: {known}); "
            f"start an executor with --site {missing[0]} (`hpcq sites` lists them) or fix the name"
        )
    primary = [sites[n.lower()] for n in step.rule.sites]
    if step.rule.stay:  # data that must stay at its site: no fallback, it waits for the site
        return primary, []
    return primary, [sites[n.lower()] for n in fallback if sites[n.lower()] not in primary]


def _choose(step: _Step, sites: dict[str, Site], fallback: list[str]) -> tuple[list[Site], list[str]]:
    """(the chosen sites, why each candidate was refused)."""
    primary, extra = _candidates(step, sites, fallback)
    refused: list[str] = []
    fit: dict[str, list[Site]] = {"primary": [], "extra": []}
    for group, candidates in (("primary", primary), ("extra", extra)):
        for site in candidates:
            why = _problems(step, site)
            if why:
                refused.append(f"{site.name}: {'; '.join(why)}")
            else:
                fit[group].append(site)
    for fitting in (fit["primary"], fit["extra"]):
        if any(s.alive for s in fitting):
            return [s for s in fitting if s.alive], refused
    return fit["primary"] or fit["extra"], refused


def _condition(step: _Step, chosen: list[Site], all_sites: dict[str, Site]) -> dict[str, Any]:
    if len(chosen) == 1:
        return {"locationname": chosen[0].name}
    if (step.rule is None or step.rule.is_any) and len(chosen) == len(all_sites):
        return {}  # fits everywhere: ColonyOS may give it to any executor, also one started later
    return {"executornames": sorted(n for s in chosen for n in s.executor_names())}


def place(specs: list[dict[str, Any]], placement: Placement, sites: list[Site]) -> list[dict[str, Any]]:
    """``specs`` with the conditions that keep each step on the sites it may use (see the module
    docstring); PlacementError listing every step that fits no site, with each site's numbers."""
    named = {s.name.lower(): s for s in sites if s.name != NO_SITE}
    if not named:
        raise PlacementError(
            "placement: the colony has no sites (no executor registered a location); start executors "
            "with `hpcq executor start --site NAME` (`hpcq sites` lists them) or remove placement"
        )
    errors, out = [], []
    for spec in specs:
        step = _Step(spec, step_kind(spec), placement.rule(step_kind(spec)))
        chosen, refused = _choose(step, named, placement.fallback)
        if not chosen:
            errors.append(f"{spec['nodename']} ({step.kind}) fits no site: " + " | ".join(refused))
            continue
        out.append({**spec, "conditions": {**spec["conditions"], **_condition(step, chosen, named)}})
    if errors:
        raise PlacementError(
            f"placement: {len(errors)} step(s) fit no site they may use, nothing was submitted: "
            + "; ".join(errors)
            + ". Fix: lower the study's resources, place the step on a bigger site, or start an "
            "executor on one (`hpcq sites` shows what each offers)"
        )
    return out
