"""The environment a site's SPANK plugin exports to a job that was granted a QPU, read and
diagnosed before any vendor client runs (docs/qpu.md). QRMI's plugin (``--qpu=NAME``) exports
QRMI_JOB_QPU_RESOURCES / QRMI_JOB_QPU_TYPES (legacy SLURM_JOB_QPU_*) and, per resource,
``<name>_QRMI_IQM_ISA_ENDPOINT`` (+ ``_TOKEN``) for an IQM Server. A job run without the plugin, a
plugin that granted nothing (spank-plugins#72, #133) or a resource missing from the site's
qrmi_config.json each get their own message with the fix."""

from __future__ import annotations

import os
from collections.abc import Mapping

from hpcq.qpu import QpuError

RESOURCES, TYPES = "QRMI_JOB_QPU_RESOURCES", "QRMI_JOB_QPU_TYPES"
LEGACY = {RESOURCES: "SLURM_JOB_QPU_RESOURCES", TYPES: "SLURM_JOB_QPU_TYPES"}
IQM_ENDPOINT = "QRMI_IQM_ISA_ENDPOINT"


def _list(env: Mapping[str, str], name: str) -> list[str] | None:
    value = env.get(name, env.get(LEGACY[name]))
    if value is None:
        return None
    sep = env.get("QRMI_LIST_DELIMITER", ",")
    return [v.strip() for v in value.split(sep)] if value.strip() else []


def check_qrmi_env(resource: str, resource_type: str = "iqm-server", env: Mapping[str, str] | None = None) -> None:
    """Raise QpuError naming the missing or empty variable and the fix, unless the job holds
    ``resource`` of ``resource_type`` with its endpoint."""
    env = os.environ if env is None else env
    names, types = _list(env, RESOURCES), _list(env, TYPES)
    if names is None or types is None:
        missing = RESOURCES if names is None else TYPES
        raise QpuError(
            f"{missing} is not set: this job was not granted QPU {resource!r} by QRMI's SPANK plugin. Submit "
            f"with --qpu={resource} (profile qpus.<name>.request: [spank-qpu]) on a site whose plugstack.conf "
            f"loads the plugin, or export {RESOURCES}={resource}, {TYPES}={resource_type} and "
            f"{resource}_{IQM_ENDPOINT} yourself (docs/qpu.md)"
        )
    if not names:
        raise QpuError(
            f"{RESOURCES} is empty: the plugin ran but granted no QPU (spank-plugins#133); check that the job "
            f"asked for --qpu={resource} and that the site's qrmi_config.json defines {resource!r}"
        )
    if len(names) != len(types):
        raise QpuError(f"{RESOURCES} {names} and {TYPES} {types} differ in length: the plugin's export is broken")
    if resource not in names:
        raise QpuError(
            f"the job holds QPU(s) {names}, not {resource!r}: fix qpus.<name>.resource in the site profile "
            "to the name in the site's qrmi_config.json"
        )
    got = types[names.index(resource)]
    if got != resource_type:
        raise QpuError(f"QPU {resource!r} is of type {got!r}, the profile says {resource_type!r}: fix resource_type")
    if resource_type == "iqm-server" and not env.get(f"{resource}_{IQM_ENDPOINT}"):
        raise QpuError(
            f"{resource}_{IQM_ENDPOINT} is not set or empty: the site's qrmi_config.json gives QPU "
            f"{resource!r} no IQM Server endpoint; ask the site admin (docs/qpu.md, what a site provides)"
        )
