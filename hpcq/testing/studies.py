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


def trimmed_lih_curve(name: str = "lih-curve") -> dict[str, Any]:
    """The shipped LiH dissociation curve (hpcq/client/studies/lih-curve.yaml: one problem entry,
    five bond lengths) with a few COBYLA iterations of a one-layer RealAmplitudes: seconds to run."""
    data = yaml.safe_load((files("hpcq.client") / "studies" / "lih-curve.yaml").read_text())
    data["name"] = name
    data["sweep"].update(
        ansatze=[{"kind": "real_amplitudes", "reps": 1}],
        optimizers=[{"kind": "cobyla", "maxiter": 4}],
    )
    return data


def run_in_process(study, workdir) -> list[str]:
    """Run a loaded study's sweep in this process (hpcq.worker.entry.run_sweep, one rank); the
    result files written under ``workdir``."""
    from hpcq.functions import JobContext
    from hpcq.worker.entry import run_sweep

    ctx = JobContext(process_id=f"p-{study.name}", workdir=str(workdir), threads=1, slurm_job_id="1")
    return [str(p) for p in run_sweep(study.sweep, ctx).files]
