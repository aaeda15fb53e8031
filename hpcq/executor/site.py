"""A site profile seen as a ColonyOS site, both ways (docs/sites.md).

- :func:`site_capacity`: what an executor registers as its capabilities, derived from its profile
  (the one place that maps profile keys to hardware: nodes, cores, memory per node, GPUs, QPUs);
- :func:`capacity_profile`: the inverse, a stand-in profile built from a site's registered
  capacity, so that the laptop checks a step against a site with the executor's own checks
  (hpcq.executor.profiles.resolve_resources and hpcq.executor.sizing.check_params_fit).
"""

from __future__ import annotations

from hpcq.colonyos.sites import Capacity, check_site_name
from hpcq.executor.profiles import Profile
from hpcq.sim.memory import GiB

QPUS_PER_SITE = 0  # no profile describes a quantum processor yet
# a capacity says nothing of the site's time limit: the executor checks walltime against its profile
ANY_WALLTIME_S = 365 * 86400


def site_name(profile: Profile, site: str | None = None) -> str:
    """The executor's site: ``site`` if given, else the profile's name (lumi-c, leonardo-booster, local)."""
    return check_site_name(site or profile.name, "--site")


def site_capacity(profile: Profile) -> Capacity:
    """The hardware a site profile describes, as the executor registers it."""
    return Capacity(
        partition=profile.name,
        nodes=profile.max_nodes,
        cores=profile.cores_per_node,
        mem_bytes=int(profile.mem_per_node_gb * GiB),
        gpus=profile.gpus_per_node,
        gpu_model=profile.gpu_model,
        gpu_mem_bytes=int(profile.gpu_mem_gb * GiB),
        qpus=QPUS_PER_SITE,
        aer=profile.aer,
    )


def capacity_profile(site: str, cap: Capacity) -> Profile:
    """A profile with the site's registered capacity (no account, no time limit of its own)."""
    return Profile(
        name=site.lower(),
        source=f"capabilities registered by site {site}",
        cores_per_node=max(1, cap.cores),
        mem_per_node_gb=max(cap.mem_bytes, 1) / GiB,
        gpus_per_node=cap.gpus,
        gpu_vendor="nvidia" if cap.gpus else "none",  # vendor is not registered; only used to render flags
        gpu_model=cap.gpu_model,
        gpu_mem_gb=cap.gpu_mem_bytes / GiB,
        max_nodes=max(1, cap.nodes),
        max_walltime_s=ANY_WALLTIME_S,
        aer=cap.aer if cap.aer in ("pypi", "mpi", "gpu") else "pypi",
    )
