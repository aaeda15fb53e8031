"""The simulation half of `hpcq results rerun` (the command itself is in hpcq/results/cli.py).

Kept apart so that importing the results CLI never imports Qiskit Aer.
"""

from __future__ import annotations

import click


def rerun_file(path: str, task: str | None = None, threads: int = 1) -> list[dict]:
    """Re-run tasks from their stored spec; compare energies, final parameters and traces."""
    import numpy as np

    from hpcq.results.h5format import load_task, task_ids
    from hpcq.sim.aer_env import pin_threads

    pin_threads(threads)
    from hpcq.sim.vqe import run_task

    ids = task_ids(path)
    if task is not None:
        if task not in ids:
            raise click.ClickException(f"--task {task!r} is not in {path}; tasks: {', '.join(ids)}")
        ids = [task]
    rows = []
    for tid in ids:
        rec = load_task(path, tid)
        new = run_task(rec.spec, threads=threads)
        old_e, new_e = float(rec.metrics["energy"]), float(new.metrics["energy"])
        same_params = np.array_equal(rec.final_parameters, new.final_parameters)
        same_trace = np.array_equal(rec.trace_energy, new.trace_energy)
        # sampled counts (format v2) are seeded too: the re-run must measure the same outcomes
        same_counts = rec.counts is None or (
            new.counts is not None and all(rec.counts[k] == new.counts[k] for k in ("ideal", "noisy"))
        )
        rows.append(
            {
                "task_id": tid,
                "stored_energy": old_e,
                "rerun_energy": new_e,
                "abs_diff": abs(old_e - new_e),
                "bit_identical": old_e == new_e and same_params and same_trace and same_counts,
                "noise_model": rec.attrs["noise_model"],
            }
        )
    return rows
