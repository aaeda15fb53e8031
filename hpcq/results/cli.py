"""`hpcq results ...`: index result files into the catalog, list, rank, export, validate.

The one module of results commands (`hpcq results rerun` runs the simulation: it is the worker's,
hpcq/worker/rerun.py, added to this group by hpcq/cli.py). Only stdlib, click, rich, pandas and
the catalog are imported at module level: `hpcq results ls` starts fast and imports no Qiskit.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from hpcq.cliopts import echo_json, json_option
from hpcq.config import ConfigError
from hpcq.results import records
from hpcq.results.catalog import (
    Catalog,
    CatalogError,
    add_problem_params,
    default_db,
    problem_param_names,
    with_problem_params,
)
from hpcq.results.rank import RankError, compare_columns, make_spec, runs_for
from hpcq.results.rank import rank as rank_runs

# short defaults that fit 80 columns, most telling first (show() drops from the end): the problem's
# scanned parameters are added after "problem", "noise" is the noise model with its own parameters
# ("depolarizing(p=0.001)"), and a default column with one value in every row is left out and said
# in the title; --columns picks others, --json / --csv print every column
LS_COLUMNS = ["task_id", "step", "problem", "ansatz", "optimizer", "noise", "abs_error"]
RANK_COLUMNS = ["position"]  # then the --by metrics and the problem's scanned parameters
RANK_TAIL = ["noise", "optimizer", "ansatz", "problem", "score", "task_id"]  # ansatz: shown when it varies
# string columns cut no shorter than this (columns after them are dropped instead): 26 keeps a
# real noise label whole ("thermal(t1=5e-05,t2=7e-05)"); "depola…" would tell no runs apart
MIN_WIDTH = {"noise": 26}


def results_folder(results: str | None) -> Path | None:
    """--results, else the default folder (hpcq.results.records.default_results_dir: the
    ``results_dir`` setting, else the latest fetched study's folder)."""
    if results:
        return Path(results)
    try:
        return records.default_results_dir()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _no_catalog() -> str:
    sub = records.latest()
    why = (
        f"the latest study, {sub.name}, is not fetched: `hpcq fetch {sub.name}`"
        if sub
        else "nothing submitted from this machine"
    )
    return (
        "say which catalog: --results DIR (the folder of result files; its "
        "catalog is DIR/.hpcq-catalog.sqlite), --db FILE, or set "
        f"results_dir in config.yaml or HPCQ_RESULTS_DIR (default: the latest fetched study; {why})"
    )


def open_catalog(db: str | None, results: str | None) -> Catalog:
    """The catalog to read: with a results folder (--results, else the default one unless --db is
    given) its catalog (or --db), (re)indexed first (incremental); with --db alone that file as
    it is, read-only."""
    folder = results_folder(results) if results or not db else None
    if folder is None:
        if not db:
            raise click.UsageError(_no_catalog())
        return _open(lambda: Catalog(db, readonly=True))
    return _open(lambda: _indexed(Path(db) if db else default_db(folder), folder))


def _indexed(db: Path, folder: Path) -> Catalog:
    if not folder.is_dir():
        raise CatalogError(f"--results {folder}: no such folder; give the folder that holds the .h5 result files")
    cat = Catalog(db)
    stats = cat.index(folder)
    for p, err in stats.errors.items():
        click.echo(f"warning: skipped {p}: {err}", err=True)
    return cat


def _open(make: Callable[[], Catalog]) -> Catalog:
    try:
        return make()
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None


def db_options(f):
    f = click.option(
        "--db", type=click.Path(dir_okay=False), help="catalog file (default: DIR/.hpcq-catalog.sqlite of --results)"
    )(f)
    f = click.option(
        "--results",
        "-r",
        type=click.Path(file_okay=False),
        help="folder of result files; indexed (incrementally) before use",
    )(f)
    return f


def show(df, columns: list[str], title: str, energies: Iterable[str] = ()) -> None:
    """A rich table as wide as the terminal: cells are cut with an ellipsis, never split over lines.
    ``energies``: more energy columns than ENERGY_COLUMNS (rank --step compare's evaluations)."""
    cols = [c for c in columns if c in df.columns]
    more_e = tuple(energies)
    cells = [[_fmt(row[c], c, more_e) for c in cols] for _, row in df[cols].iterrows()]
    width = shutil.get_terminal_size().columns
    heads = [energy_header(c, df, more_e) for c in cols]
    natural = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(heads)]
    # headers stay whole; numbers are never cut ("2.96…" would read as 2.96, not 2.963e-05)
    floors = [
        n if df[c].dtype.kind in "fiu" else min(n, max(len(h), 4, MIN_WIDTH.get(c, 0)))
        for n, c, h in zip(natural, cols, heads, strict=True)
    ]
    more = False
    while len(cols) > 1 and sum(floors) + 3 * len(cols) + 1 > width:  # too many: drop the last
        cols, natural, floors, heads, more = cols[:-1], natural[:-1], floors[:-1], heads[:-1], True
    if more:
        title = f"{title} (more columns: --columns, --json)"
    if len(energy_units(df)) > 1 and any(c.removeprefix("vqe_") in ENERGY_COLUMNS for c in cols):
        title = f"{title}; energies in Ha (chemistry), J (spin models)"
    widths = fit_widths(natural, floors, width - 3 * len(cols) - 1)  # rich's borders and padding
    table = Table(title=title)
    for c, w, h in zip(cols, widths, heads, strict=True):
        table.add_column(
            h, justify="right" if df[c].dtype.kind in "fiu" else "left", no_wrap=True, overflow="ellipsis", width=w
        )
    for r in cells:
        table.add_row(*r[: len(cols)])
    Console(file=sys.stdout, width=width).print(table)


def fit_widths(natural: list[int], floors: list[int], budget: int) -> list[int]:
    """Column widths summing to at most ``budget`` (none under its floor): the widest columns are
    cut first (rich alone lets no_wrap columns run past the terminal)."""
    cap = max(natural, default=0)
    while cap > 1 and sum(max(f, min(w, cap)) for w, f in zip(natural, floors, strict=True)) > budget:
        cap -= 1
    return [max(f, min(w, cap)) for w, f in zip(natural, floors, strict=True)]


# energy columns: shown to 1e-6 (µHa for chemistry) and headed with their unit (energy_header)
ENERGY_COLUMNS = ("energy", "exact_energy", "hf_energy", "pyscf_energy", "ideal_energy", "signed_error", "abs_error")
CHEMISTRY_KINDS = ("h2", "molecule", "fcidump", "pauli")


def energy_units(df) -> list[str]:
    """The energy units of a table's rows: Ha for chemistry problems, J (the units of the spin
    Hamiltonian's coupling) for spin models."""
    kinds = set(df["problem"].dropna()) if "problem" in df.columns else set()
    return [u for u, has in (("Ha", kinds & set(CHEMISTRY_KINDS)), ("J", kinds - set(CHEMISTRY_KINDS))) if has]


def energy_header(column: str, df, energies: tuple[str, ...] = ()) -> str:
    """``energy (Ha)`` when every row is chemistry, ``energy (J)`` when every row is a spin model;
    with both, the header stays bare and the title says the units (show)."""
    units = energy_units(df)
    is_energy = column.removeprefix("vqe_") in ENERGY_COLUMNS or column in energies
    return f"{column} ({units[0]})" if is_energy and len(units) == 1 else column


def _fmt(v, column: str = "", energies: tuple[str, ...] = ()) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, float) and (column.removeprefix("vqe_") in ENERGY_COLUMNS or column in energies):
        return f"{v:.6f}"  # µHa: chemical accuracy is 1.6 mHa, so 4 significant figures hide it
    if isinstance(v, float):
        return f"{v:.4g}"  # the table is for reading; --json/--csv keep every digit
    return str(v)


def with_columns(
    df, default: list[str], columns: str | None, params_after: str = "problem"
) -> tuple[Any, list[str], str]:
    """``df`` with the problem parameter columns and ``noise``, the columns to show, and a note:
    ``--columns``, or ``default`` with the parameters after ``params_after`` less the columns
    that have one value in every row (the note says them: "all rows: problem=h2"). Unknown names
    are a usage error."""
    df, params = with_problem_params(df)
    if "noise_model" in df.columns:
        from hpcq.results.graph import noise_label

        pairs = zip(df["noise_model"], df["noise_params"], strict=True)
        labels = [noise_label(m, p) if isinstance(m, str) else None for m, p in pairs]
        df = df.assign(noise=labels)
    if columns:
        cols = [c.strip() for c in columns.split(",") if c.strip()]
        df = add_problem_params(df, cols)  # any problem parameter, as docs/catalog.md says
        unknown = [c for c in cols if c not in df.columns]
        if unknown:
            raise click.BadParameter(
                f"unknown column(s) {', '.join(unknown)}; known: {', '.join(df.columns)}; problem parameters: "
                f"{', '.join(problem_param_names(df)) or 'none'}",
                param_hint="--columns",
            )
        return df, cols, ""
    at = default.index(params_after) + 1 if params_after in default else len(default)
    cols = [c for c in default[:at] + [p for p in params if p not in default] + default[at:] if c in df.columns]
    same = [c for c in cols if len(df) > 1 and c != "position" and df[c].nunique(dropna=False) == 1]
    note = "; all rows: " + ", ".join(f"{c}={_fmt(df[c].iloc[0])}" for c in same) if same else ""
    return df, [c for c in cols if c not in same], note


def emit(df, as_json: bool, as_csv: bool) -> bool:
    """Print every column of ``df`` as JSON or CSV when asked; True if it did."""
    if as_json:
        echo_json(json.loads(df.to_json(orient="records", date_format="iso")))
    elif as_csv:
        click.echo(df.to_csv(index=False), nl=False)
    return as_json or as_csv


def csv_option(f):
    return click.option("--csv", "as_csv", is_flag=True, help="Print every column as CSV.")(f)


@click.group()
def results():
    """Catalog, rank, export, validate and re-run result files (HDF5 -> SQLite catalog)."""


@results.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--db", type=click.Path(dir_okay=False), help="catalog file (default: DIRECTORY/.hpcq-catalog.sqlite)")
def index(directory, db):
    """Index the result files under DIRECTORY (only new/changed files are read)."""
    try:
        cat = Catalog(db or default_db(directory))
        stats = cat.index(directory)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    for p, err in stats.errors.items():
        click.echo(f"warning: skipped {p}: {err}", err=True)
    click.echo(f"{cat.db_path}: {stats.summary()}")


@results.command("ls")
@db_options
@click.option("--step", type=click.Choice(["vqe", "noise", "qpu"]), help="only runs of this step")
@click.option("--study", help="only runs of this study")
@click.option(
    "--columns",
    "-c",
    help="comma-separated columns to show (default: a short set with the problem's parameters; --json/--csv print all)",
)
@click.option("--limit", "-n", type=int, default=50, show_default=True, help="rows to show (0: all)")
@click.option("--files", "show_files", is_flag=True, help="list indexed files instead of runs")
@click.option("--rankings", "show_rankings", is_flag=True, help="list saved rankings")
@click.option("--failed", "show_failed", is_flag=True, help="list the tasks that failed inside their sweep")
@json_option
@csv_option
def ls_(results, db, step, study, columns, limit, show_files, show_rankings, show_failed, as_json, as_csv):
    """List catalogued runs (or files, saved rankings, failed tasks)."""
    cat = open_catalog(db, results)
    failed = cat.failed_tasks(study=study)
    if show_failed:
        if not emit(failed, as_json, as_csv):
            show(failed, ["task_id", "study", "error", "file"], f"{len(failed)} failed tasks")
        return
    if show_rankings:
        df = cat.rankings()
        if not emit(df, as_json, as_csv):
            show(df, ["name", "n", "created", "definition"], "saved rankings")
        return
    if show_files:
        df = cat.files()
        head = df.head(limit) if limit else df
        if not emit(head, as_json, as_csv):
            show(head, ["path", "study", "n_tasks", "created"], f"{len(df)} files")
        return
    df, cols, note = with_columns(cat.runs(step=step, study=study), LS_COLUMNS, columns)
    head = df.head(limit) if limit else df
    if not emit(head, as_json, as_csv):
        show(head, cols, f"{len(df)} runs{note}")
        if len(failed):  # nothing lost silently: a sweep's failed tasks are not runs (docs/catalog.md)
            click.echo(f"{len(failed)} task(s) failed inside their sweep: hpcq results ls --failed", err=True)


@results.command("rank")
@db_options
@click.option(
    "--by",
    "by",
    multiple=True,
    required=True,
    help="METRIC[:min|max], repeatable (e.g. --by abs_error:min --by jsd:min)",
)
@click.option("--weights", help="comma-separated weights, one per --by (weighted mode)")
@click.option("--mode", type=click.Choice(["weighted", "lexicographic"]), default="weighted", show_default=True)
@click.option(
    "--step",
    type=click.Choice(["noise", "vqe", "all", "compare"]),
    default="noise",
    show_default=True,
    help="rank noise runs (with vqe_* parent columns), vqe, all, or compare: per VQE run the simulator, "
    "noise-model, twin and QPU energies of its parameters side by side",
)
@click.option("--top", type=int, default=10, show_default=True, help="rows to show (0: all)")
@click.option("--save", "save", help="store the ranking under this name (tables rankings/ranks)")
@click.option(
    "--columns",
    "-c",
    help="comma-separated columns to show (default: a short set "
    "with the problem's parameters and the --by metrics; --json/--csv print all)",
)
@json_option
@csv_option
def rank_cmd(results, db, by, weights, mode, step, top, save, columns, as_json, as_csv):
    """Rank runs by one or several metrics (see docs/catalog.md for the definition)."""
    cat = open_catalog(db, results)
    if save and cat.readonly:
        cat = Catalog(cat.db_path)
    try:
        spec = make_spec(list(by), weights, mode, step)
        table = runs_for(cat, step)
        ranked = rank_runs(table, spec)
        if save:
            cat.save_ranking(save, spec.definition(), ranked)
    except (RankError, CatalogError) as exc:
        raise click.ClickException(str(exc)) from None
    metrics = [c.metric for c in spec.criteria]
    lead = list(dict.fromkeys(RANK_COLUMNS + [m for m in metrics if m not in RANK_TAIL]))
    energies = compare_columns(table) if step == "compare" else []
    lead = list(dict.fromkeys(lead + energies))  # compare: the evaluations of the same parameters, side by side
    ranked, cols, note = with_columns(ranked, lead + RANK_TAIL, columns, params_after=lead[-1])
    head = ranked.head(top) if top else ranked
    if not emit(head, as_json, as_csv):
        show(head, cols, f"{len(ranked)} {step} runs ranked ({mode}){note}", energies)
    if save:
        click.echo(f"saved ranking {save!r} ({len(ranked)} runs) in {cat.db_path}", err=True)


@results.command()
@db_options
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="file to write")
@click.option(
    "--view",
    type=click.Choice(["runs", "noise"]),
    default="runs",
    show_default=True,
    help="all runs, or noise runs joined with their vqe_* parents",
)
@click.option("--ranking", help="add position/score of this saved ranking")
def export(results, db, fmt, output, view, ranking):
    """Export catalogued runs as CSV or Parquet."""
    cat = open_catalog(db, results)
    df = cat.runs() if view == "runs" else cat.noise_runs()
    if ranking:
        try:
            definition, ranks = cat.ranking(ranking)
        except CatalogError as exc:
            raise click.ClickException(str(exc)) from None
        df = df.merge(ranks, on=["file", "task_id"], how="left").sort_values(
            ["position", "task_id"], na_position="last"
        )
    if fmt == "csv":
        df.to_csv(output, index=False)
    else:
        df.to_parquet(output, index=False)
    click.echo(f"wrote {len(df)} rows to {output}")


@results.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--quick", is_flag=True, help="skip checking each stored circuit (QPY) and noise model (JSON)")
def validate(files: tuple[str, ...], quick: bool) -> None:
    """Check HDF5 result files against the format (v2; v1 read): layout, shapes, checksum. Exit 1 on problems."""
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
