"""What remote mode and a Session share: the process spec of one primitive call (through the
client's one spec builder, hpcq.client.specs), its submission, and how often ColonyOS is polled.

Why its own module: the primitives (hpcq.primitives.base) and the Session both submit calls, and
the primitives accept a Session as their mode; with the submission here, base imports session and
session imports neither, so the two form no import cycle.
"""

from __future__ import annotations

import uuid
from typing import Any

from hpcq.client.specs import spec_for
from hpcq.functions import PRIMITIVE_RUN, SPEC_PROFILE_KEY
from hpcq.retry import Backoff

# ColonyOS is polled at 10 ms, growing to 0.5 s between polls (a result, a session's start or end)
POLL = Backoff(base_s=0.01, cap_s=0.5, factor=1.5, jitter=0.1)


def call_spec(
    client, funcname: str, params: dict[str, Any], options, walltime: int | None = None, executor: str = ""
) -> dict[str, Any]:
    """The spec of one hpcq primitive process (hpcq.client.api.Client.submit_specs); ``walltime``
    overrides the options' (a call in a session is bounded by the session's allocation);
    ``executor`` pins it to that executor (a session's calls go to the executor running its job)."""
    conditions = {"colonyname": client.colony, "executortype": options.executor_type, **options.resources.conditions()}
    if walltime is not None:
        conditions["walltime"] = walltime
    if executor:
        conditions["executornames"] = [executor]
    return spec_for(
        funcname,
        params,
        conditions,
        options.label,
        nodename=f"{options.label}-{uuid.uuid4().hex[:8]}",
        queue_allowance=options.queue_allowance_s,
        maxretries=0,  # a primitive call runs once: no duplicate results
        env={SPEC_PROFILE_KEY: options.profile} if options.profile else None,
    )


def submit_call(
    client,
    params: dict[str, Any],
    options,
    funcname: str = PRIMITIVE_RUN,
    walltime: int | None = None,
    executor: str = "",
):
    """Submit one primitive process; returns its hpcq.results.records.Submission."""
    spec = call_spec(client, funcname, params, options, walltime, executor)
    return client.submit_specs(
        f"{options.label}-{uuid.uuid4().hex[:8]}",
        [spec],
        workflow=False,
        executortype=options.executor_type,
        kind="primitive",
        save=False,
    )
