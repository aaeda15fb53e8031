"""`hpcq results validate FILE...` and `hpcq rerun FILE.h5 [--task ID]`."""

from __future__ import annotations

import sys

import click


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--quick", is_flag=True, help="skip loading each QPY circuit and noise model")
def validate(files: tuple[str, ...], quick: bool) -> None:
    """Check HDF5 result files against format v1 (layout, shapes, checksum). Exit 1 on problems."""
    from hpcq.results.h5format import validate as check

    bad = 0
    for path in files:
        problems = check(path, deep=not quick)
        if problems:
            bad += 1
            click.echo(f"INVALID {path}")
            for p in problems:
                click.echo(f"  - {p}")
        else:
            click.echo(f"OK      {path}")
    if bad:
        raise click.exceptions.Exit(1)


def rerun_file(path: str, task: str | None = None, threads: int = 1) -> list[dict]:
    """Re-run tasks from their stored spec; compare energies, final parameters and traces."""
    import numpy as np

    from hpcq.results.h5format import load_task, task_ids
    from hpcq.sim.aer_env import pin_threads

    pin_threads(threads)
    from hpcq.sim.runner import run_task

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
        rows.append({"task_id": tid, "stored_energy": old_e, "rerun_energy": new_e,
                     "abs_diff": abs(old_e - new_e), "bit_identical": old_e == new_e and same_params
                     and same_trace, "noise_model": rec.attrs["noise_model"]})
    return rows


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--task", "task", default=None, help="task id to re-run (default: every task)")
@click.option("--threads", type=int, default=1, show_default=True, help="Aer threads")
def rerun(file: str, task: str | None, threads: int) -> None:
    """Re-run tasks of FILE from their own provenance and report whether they match bit for bit."""
    from rich.console import Console
    from rich.table import Table

    from hpcq.results.h5format import validate as check

    problems = check(file)
    if problems:
        raise click.ClickException(f"{file} fails validation: " + "; ".join(problems[:5]))
    rows = rerun_file(file, task, threads)
    table = Table(title=f"rerun {file}")
    for col in ("task_id", "noise_model", "stored_energy", "rerun_energy", "abs_diff", "bit_identical"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["task_id"], r["noise_model"], repr(r["stored_energy"]), repr(r["rerun_energy"]),
                      f"{r['abs_diff']:.3g}", "yes" if r["bit_identical"] else "NO")
    Console(file=sys.stdout, width=160).print(table)
    n_bad = sum(not r["bit_identical"] for r in rows)
    click.echo(f"{len(rows) - n_bad}/{len(rows)} tasks reproduced bit for bit")
    if n_bad:
        raise click.exceptions.Exit(1)
