"""`hpcq rerun FILE` (also `hpcq results rerun`): re-run a result file's tasks from their stored
spec and report whether they reproduce bit for bit.

A worker command, not a results one: it runs the simulation (hpcq.sim.vqe), so it lives above the
results package, which knows nothing of Qiskit; hpcq/cli.py registers it under `hpcq results`.
Only click, rich and the format module are imported at module level; Qiskit Aer when it runs.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from hpcq.results.h5format import task_ids, validate

COLUMNS = ("task_id", "noise_model", "stored_energy", "rerun_energy", "abs_diff", "bit_identical")


def rerun_file(path: str, task: str | None = None, threads: int = 1) -> list[dict[str, Any]]:
    """Re-run tasks from their stored spec; compare energies, final parameters, traces and counts."""
    import numpy as np

    from hpcq.sim.aer_env import pin_threads
    from hpcq.worker.taskfile import load_task

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


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--task", "task", default=None, help="task id to re-run (default: every task)")
@click.option("--threads", type=int, default=1, show_default=True, help="Aer threads")
def rerun(file: str, task: str | None, threads: int) -> None:
    """Re-run tasks of FILE from their own provenance and report whether they match bit for bit.

    Also `hpcq results rerun`."""
    from hpcq.worker.taskfile import check_objects

    problems = validate(file) or check_objects(file)
    if problems:
        raise click.ClickException(f"{file} fails validation: " + "; ".join(problems[:5]))
    rows = rerun_file(file, task, threads)
    table = Table(title=f"rerun {file}")
    for col in COLUMNS:
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["task_id"],
            r["noise_model"],
            repr(r["stored_energy"]),
            repr(r["rerun_energy"]),
            f"{r['abs_diff']:.3g}",
            "yes" if r["bit_identical"] else "NO",
        )
    Console(file=sys.stdout, width=160).print(table)
    n_bad = sum(not r["bit_identical"] for r in rows)
    click.echo(f"{len(rows) - n_bad}/{len(rows)} tasks reproduced bit for bit")
    if n_bad:
        raise click.exceptions.Exit(1)
