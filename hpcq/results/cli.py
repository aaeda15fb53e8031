"""`hpcq results ...`: index result files into the catalog, list, rank and export runs."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hpcq.results.catalog import Catalog, CatalogError, default_db
from hpcq.results.rank import RankError, make_spec, rank as rank_runs, runs_for

LS_COLUMNS = ["task_id", "step", "problem", "ansatz", "reps", "optimizer", "noise_model",
              "abs_error", "jsd", "fidelity", "wall_time_s"]
LAZY = {"validate": "hpcq.results.h5cli:validate"}  # owned by the HDF5 format module


class ResultsGroup(click.Group):
    """Adds commands of sibling modules when they are installed (imported lazily)."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY))

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is None and name in LAZY:
            module, _, attr = LAZY[name].partition(":")
            try:
                cmd = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                why = str(exc)  # ``exc`` is unbound once the except block ends

                @click.command(name=name, help=f"(unavailable: {why})")
                def _missing():
                    raise click.ClickException(f"`hpcq results {name}` is unavailable: {why}")
                cmd = _missing
        return cmd


def resolve_db(db: str | None, results: str | None) -> Path:
    """--db wins; else --results DIR (or $HPCQ_RESULTS_DIR) -> DIR/.hpcq-catalog.sqlite."""
    if db:
        return Path(db)
    results = results or os.environ.get("HPCQ_RESULTS_DIR")
    if results:
        return default_db(results)
    raise click.UsageError("say which catalog: --results DIR (the folder of result files; its "
                           "catalog is DIR/.hpcq-catalog.sqlite), --db FILE, or set "
                           "HPCQ_RESULTS_DIR")


def open_catalog(db: str | None, results: str | None) -> Catalog:
    """The catalog to read; with --results the folder is (re)indexed first (incremental)."""
    path = resolve_db(db, results)
    results = results or (None if db else os.environ.get("HPCQ_RESULTS_DIR"))
    try:
        if results:
            if not Path(results).is_dir():
                raise CatalogError(f"--results {results}: no such folder; give the folder that "
                                   "holds the .h5 result files")
            cat = Catalog(path)
            stats = cat.index(results)
            for p, err in stats.errors.items():
                click.echo(f"warning: skipped {p}: {err}", err=True)
            return cat
        return Catalog(path, readonly=True)
    except CatalogError as exc:
        raise click.ClickException(str(exc))


def db_options(f):
    f = click.option("--db", type=click.Path(dir_okay=False),
                     help="catalog file (default: DIR/.hpcq-catalog.sqlite of --results)")(f)
    f = click.option("--results", "-r", type=click.Path(file_okay=False),
                     help="folder of result files; indexed (incrementally) before use")(f)
    return f


def show(df, columns: list[str], title: str) -> None:
    cols = [c for c in columns if c in df.columns]
    table = Table(title=title)
    for c in cols:
        table.add_column(c, justify="right" if df[c].dtype.kind in "fiu" else "left",
                         overflow="fold")
    for _, row in df[cols].iterrows():
        table.add_row(*[_fmt(row[c]) for c in cols])
    Console().print(table)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


@click.group(cls=ResultsGroup)
def results():
    """Catalog, rank and export result files (HDF5 -> SQLite catalog)."""


@results.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--db", type=click.Path(dir_okay=False),
              help="catalog file (default: DIRECTORY/.hpcq-catalog.sqlite)")
def index(directory, db):
    """Index the result files under DIRECTORY (only new/changed files are read)."""
    try:
        cat = Catalog(db or default_db(directory))
        stats = cat.index(directory)
    except CatalogError as exc:
        raise click.ClickException(str(exc))
    for p, err in stats.errors.items():
        click.echo(f"warning: skipped {p}: {err}", err=True)
    click.echo(f"{cat.db_path}: {stats.summary()}")


@results.command("ls")
@db_options
@click.option("--step", type=click.Choice(["vqe", "noise"]), help="only runs of this step")
@click.option("--study", help="only runs of this study")
@click.option("--columns", "-c", help="comma-separated columns to show")
@click.option("--limit", "-n", type=int, default=50, show_default=True, help="rows to show (0: all)")
@click.option("--files", "show_files", is_flag=True, help="list indexed files instead of runs")
@click.option("--rankings", "show_rankings", is_flag=True, help="list saved rankings")
def ls_(results, db, step, study, columns, limit, show_files, show_rankings):
    """List catalogued runs (or files, or saved rankings)."""
    cat = open_catalog(db, results)
    if show_rankings:
        show(cat.rankings(), ["name", "n", "created", "definition"], "saved rankings")
        return
    if show_files:
        df = cat.files()
        show(df.head(limit) if limit else df, ["path", "study", "n_tasks", "created"],
             f"{len(df)} files")
        return
    df = cat.runs(step=step, study=study)
    cols = columns.split(",") if columns else LS_COLUMNS
    unknown = [c for c in cols if c not in df.columns]
    if unknown:
        raise click.BadParameter(f"unknown column(s) {', '.join(unknown)}; known: "
                                 f"{', '.join(df.columns)}", param_hint="--columns")
    show(df.head(limit) if limit else df, cols, f"{len(df)} runs")


@results.command("rank")
@db_options
@click.option("--by", "by", multiple=True, required=True,
              help="METRIC[:min|max], repeatable (e.g. --by abs_error:min --by jsd:min)")
@click.option("--weights", help="comma-separated weights, one per --by (weighted mode)")
@click.option("--mode", type=click.Choice(["weighted", "lexicographic"]), default="weighted",
              show_default=True)
@click.option("--step", type=click.Choice(["noise", "vqe", "all"]), default="noise",
              show_default=True, help="rank noise runs (with vqe_* parent columns), vqe or all")
@click.option("--top", type=int, default=10, show_default=True, help="rows to show (0: all)")
@click.option("--save", "save", help="store the ranking under this name (tables rankings/ranks)")
@click.option("--json", "as_json", is_flag=True, help="print the top rows as JSON")
def rank_cmd(results, db, by, weights, mode, step, top, save, as_json):
    """Rank runs by one or several metrics (see docs/catalog.md for the definition)."""
    cat = open_catalog(db, results)
    if save and cat.readonly:
        cat = Catalog(cat.db_path)
    try:
        spec = make_spec(list(by), weights, mode, step)
        ranked = rank_runs(runs_for(cat, step), spec)
        if save:
            cat.save_ranking(save, spec.definition(), ranked)
    except (RankError, CatalogError) as exc:
        raise click.ClickException(str(exc))
    head = ranked.head(top) if top else ranked
    metrics = [c.metric for c in spec.criteria]
    cols = ["position", "score", "task_id", "problem", "ansatz", "optimizer", "noise_model"]
    cols += [m for m in metrics if m not in cols]
    if as_json:
        click.echo(head[[c for c in cols if c in head]].to_json(orient="records", indent=1))
    else:
        show(head, cols, f"{len(ranked)} {step} runs ranked ({mode})")
    if save:
        click.echo(f"saved ranking {save!r} ({len(ranked)} runs) in {cat.db_path}", err=True)


@results.command()
@db_options
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True,
              help="file to write")
@click.option("--view", type=click.Choice(["runs", "noise"]), default="runs", show_default=True,
              help="all runs, or noise runs joined with their vqe_* parents")
@click.option("--ranking", help="add position/score of this saved ranking")
def export(results, db, fmt, output, view, ranking):
    """Export catalogued runs as CSV or Parquet."""
    cat = open_catalog(db, results)
    df = cat.runs() if view == "runs" else cat.noise_runs()
    if ranking:
        try:
            definition, ranks = cat.ranking(ranking)
        except CatalogError as exc:
            raise click.ClickException(str(exc))
        df = df.merge(ranks, on=["file", "task_id"], how="left").sort_values(
            ["position", "task_id"], na_position="last")
    if fmt == "csv":
        df.to_csv(output, index=False)
    else:
        df.to_parquet(output, index=False)
    click.echo(f"wrote {len(df)} rows to {output}")
