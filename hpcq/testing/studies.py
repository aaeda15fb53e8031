"""Studies shared by tests and benches (one place for each): the water workflow trimmed to fit a
test budget on 2 cores."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml


def trimmed_water(name: str, executor_type: str | None = None, walltime: int = 300) -> dict[str, Any]:
    """The shipped water study (hpcq/client/studies/water.yaml) with one ansatz (UCCSD), one
    optimizer (COBYLA, 25 iterations) and two noise models (none, depolarizing): 6 DAG steps."""
    data = yaml.safe_load((files("hpcq.client") / "studies" / "water.yaml").read_text())
    data["name"] = name
    if executor_type:
        data["executor"] = {"type": executor_type}
    data["resources"].update(walltime=walltime)
    data["sweep"].update(
        ansatze=[{"kind": "uccsd", "reps": 1}],
        optimizers=[{"kind": "cobyla", "maxiter": 25}],
        noise=[{"kind": "none"}, {"kind": "depolarizing", "p": 0.001, "p2": 0.01}],
    )
    return data
