"""The sites of a colony, read from its executors (getexecutorsmsg): each executor's
``locationname`` is its site, its ``capabilities`` what the site offers (hpcq.colonyos.sites), its
``lastheardfromtime`` whether it is alive. Used by `hpcq sites`, by placement at submit time
(hpcq.client.placement) and by `hpcq status` (the site of each process's executor). docs/sites.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hpcq.colonyos.sites import ALIVE_S, Capacity, heard_age_s, is_alive

NO_SITE = ""  # executors registered without a locationname (not placeable by site)


@dataclass
class SiteExecutor:
    name: str
    executorid: str
    executortype: str
    alive: bool
    heard_s: float | None  # seconds since it last asked for work; None = never
    capacity: Capacity | None


@dataclass
class Site:
    name: str
    executors: list[SiteExecutor] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return any(e.alive for e in self.executors)

    @property
    def capacity(self) -> Capacity | None:
        """What the site offers: its first alive executor's capabilities (else any executor's)."""
        caps = [e.capacity for e in sorted(self.executors, key=lambda e: not e.alive) if e.capacity]
        return caps[0] if caps else None

    def executor_names(self) -> list[str]:
        return sorted(e.name for e in self.executors)

    def as_json(self) -> dict[str, Any]:
        cap = self.capacity
        return {
            "site": self.name,
            "alive": self.alive,
            "capacity": None if cap is None else {**cap.__dict__, "summary": cap.describe()},
            "executors": [
                {
                    "name": e.name,
                    "executorid": e.executorid,
                    "executortype": e.executortype,
                    "alive": e.alive,
                    "heard_s": None if e.heard_s is None else round(e.heard_s, 1),
                }
                for e in self.executors
            ],
        }


def sites_of(executors: list[dict[str, Any]], executortype: str | None = None, alive_s: float = ALIVE_S) -> list[Site]:
    """Group executor documents (as getexecutorsmsg returns them) by site, sorted by name; those
    without a locationname form the site ``NO_SITE``. ``executortype``: only executors of that type."""
    by_name: dict[str, Site] = {}
    for ex in executors or []:
        if executortype and ex.get("executortype") != executortype:
            continue
        site = str(ex.get("locationname") or NO_SITE)
        by_name.setdefault(site.lower(), Site(site)).executors.append(
            SiteExecutor(
                name=str(ex.get("executorname", "")),
                executorid=str(ex.get("executorid", "")),
                executortype=str(ex.get("executortype", "")),
                alive=is_alive(ex, alive_s),
                heard_s=heard_age_s(ex),
                capacity=Capacity.from_capabilities(ex.get("capabilities")),
            )
        )
    return [by_name[k] for k in sorted(by_name)]


def colony_sites(
    colonies: Any, colony: str, prvkey: str, executortype: str | None = None, alive_s: float = ALIVE_S
) -> list[Site]:
    """The colony's sites, asked of the server now (pycolonies ``list_executors``)."""
    return sites_of(list(colonies.list_executors(colony, prvkey) or []), executortype, alive_s)


def executor_sites(colonies: Any, colony: str, prvkey: str) -> dict[str, tuple[str, str]]:
    """executor id -> (site, executor name), for naming where each process ran."""
    out = {}
    for ex in colonies.list_executors(colony, prvkey) or []:
        out[str(ex.get("executorid", ""))] = (str(ex.get("locationname") or NO_SITE), str(ex.get("executorname", "")))
    return out
