"""`hpcq rerun FILE` (also `hpcq results rerun`): re-run a result file's tasks from their stored
spec and report whether they reproduce bit for bit.

A worker command, not a results one: it runs the simulation (hpcq.sim.vqe), so it lives above the
results package, which knows nothing of Qiskit; hpcq/cli.py registers it under `hpcq results`.

A QPU result (tasks of step "qpu", docs/qpu.md) is replayed on its twin instead (the twin its
file's /qpu group names, with the stored shots and mitigation; hpcq.functions.QPU_REPLAY, loaded
by name like the catalog's functions: the worker layer sits below hpcq.qpu). Shots are random and
a QPU is not its twin, so the verdict is agreement within 4 standard errors, not bit identity; the
replay needs the extra qpu-iqm-qrmi (the twin is an IQM fake backend).
Only click, rich and the format module are imported at module level; Qiskit Aer when it runs.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from hpcq.results.h5format import QPU_STEP, TASKS, task_ids, validate


def task_steps(path: str) -> dict[str, str]:
    import h5py

    with h5py.File(path, "r") as f:
        return {tid: str(g.attrs.get("step", "")) for tid, g in f[TASKS].items()} if TASKS in f else {}


COLUMNS = ("task_id", "noise_model", "stored_energy", "rerun_energy", "abs_diff", "bit_identical")
TWIN_SIGMAS = 4.0  # a QPU task's twin replay agrees when |stored - replay| <= 4 combined standard errors


def _replay(path: str, tid: str) -> dict[str, Any]:
    """A QPU task replayed on its twin (hpcq.qpu.hybrid.replay_on_twin)."""
    from hpcq.functions import QPU_REPLAY, load_target

    try:
        r = load_target(QPU_REPLAY)(path, tid)
    except RuntimeError as exc:  # hpcq.qpu.QpuError: names what is missing (the extra, the twin) and the fix
        raise click.ClickException(f"{tid}: cannot replay on its twin: {exc}") from None
    return {
        "task_id": tid,
        "stored_energy": r["stored_energy"],
        "rerun_energy": r["energy"],
        "abs_diff": abs(r["stored_energy"] - r["energy"]),
        "bit_identical": r["sigmas"] <= TWIN_SIGMAS,
        "noise_model": f"replayed on {r['label']}",
        "replay": r,
    }


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
    steps = task_steps(path)
    for tid in ids:
        if steps.get(tid) == QPU_STEP:
            rows.append(_replay(path, tid))
            continue
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
    twins = [r for r in rows if "replay" in r]
    sims = [r for r in rows if "replay" not in r]
    for r in twins:
        x = r["replay"]
        click.echo(
            f"{r['task_id']} ({x['stored_access']}): replayed on its twin: "
            f"{x['energy']:.6f} +- {x['energy_std']:.6f} "
            f"vs stored {x['stored_energy']:.6f} +- {x['stored_std']:.6f}: {x['sigmas']:.2f} sigma "
            f"({'agrees' if r['bit_identical'] else 'DISAGREES'} within {TWIN_SIGMAS:g}; "
            "shots are random: not bit for bit)"
        )
    if sims:
        click.echo(f"{sum(r['bit_identical'] for r in sims)}/{len(sims)} tasks reproduced bit for bit")
    if n_bad:
        raise click.exceptions.Exit(1)
