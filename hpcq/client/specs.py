"""The one builder of process specs: a FuncSpec-shaped dict for every process the client submits.

Why one place: a study's DAG (hpcq.client.dag), a primitive call or session (hpcq.primitives) and
the cancel control process all submit processes, and each must follow the same rule for how long
ColonyOS lets a process run before it re-queues it: ColonyOS' clock starts at assign, before the
Slurm job has left the queue, so ``maxexectime = walltime + queue allowance``. The executor checks
that rule (hpcq.executor.resources). Specs are plain dicts (pycolonies' FuncSpec shape, turned into
one by hpcq.client.api) so they can be tested without a server.
"""

from __future__ import annotations

from typing import Any

from hpcq.functions import encode_kwargs

# Seconds of Slurm queue time allowed on top of the walltime before ColonyOS re-queues a process
# (the default of a study's queue_allowance and of the primitives' queue_allowance_s).
QUEUE_ALLOWANCE_S = 3600


def maxexectime(walltime: int, queue_allowance: int = QUEUE_ALLOWANCE_S) -> int:
    """How long ColonyOS lets a process with this Slurm walltime run after assign."""
    return int(walltime) + int(queue_allowance)


def check_label(label: str) -> str:
    """A spec label / node-name prefix: letters, digits, '-', '_', '.' (it names files and jobs)."""
    if not all(c.isalnum() or c in "-_." for c in label):
        raise ValueError(f"{label!r}: use letters, digits, '-', '_', '.'")
    return label


def spec_for(
    funcname: str,
    params: dict[str, Any],
    conditions: dict[str, Any],
    label: str,
    *,
    nodename: str,
    queue_allowance: int = QUEUE_ALLOWANCE_S,
    maxexectime_s: int | None = None,
    priority: int = 0,
    maxwaittime: int = -1,
    maxretries: int = 0,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A FuncSpec-shaped dict for one process of ``funcname`` with ``params`` (JSON kwargs).

    ``conditions``: ColonyOS conditions (colonyname, executortype, dependencies, and the Slurm job
    size: nodes, processespernode, cpu, mem, walltime, gpu). ``maxexectime_s``: given, it wins
    (the cancel control process); else walltime + ``queue_allowance``."""
    if maxexectime_s is None:
        if "walltime" not in conditions:
            raise ValueError(f"{nodename}: conditions have no walltime; give maxexectime_s")
        maxexectime_s = maxexectime(conditions["walltime"], queue_allowance)
    spec: dict[str, Any] = {
        "nodename": nodename,
        "funcname": funcname,
        "args": [],
        "kwargs": encode_kwargs(params),
        "priority": priority,
        "maxwaittime": maxwaittime,
        "maxexectime": maxexectime_s,
        "maxretries": maxretries,
        "label": label,
        "conditions": {"dependencies": [], **conditions},
    }
    if env:
        spec["env"] = dict(env)
    return spec
