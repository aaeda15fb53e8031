"""`hpcq submit|sweep|status|logs|fetch|cancel|config`: the laptop commands."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hpcq.client.study import MODES, Mode
from hpcq.cliopts import echo_json, json_option, seconds_option, verbosity_option
from hpcq.colonyos import ProcessState
from hpcq.config import ConfigError, Settings, config_dir, env_file_path

console = Console()
NO_ERROR_TEXT = "(no error of its own: ColonyOS failed it because another step of the workflow failed)"


def _fail(exc: Exception) -> None:
    raise click.ClickException(str(exc))


def _client():
    from hpcq.client.api import Client

    try:
        return Client()
    except ConfigError as exc:
        _fail(exc)


def _submission(name: str | None):
    from hpcq.results import records

    try:
        sub = records.load(name) if name else records.latest()
    except (FileNotFoundError, ValueError) as exc:
        _fail(exc)
    if sub is None:
        _fail(click.ClickException("nothing submitted from this machine yet; run `hpcq submit STUDY.yaml`"))
    return sub


def _submit(study_file: str, mode: Mode | None, watch: bool, timeout: float | None) -> None:
    from hpcq.client.api import ClientError
    from hpcq.client.study import StudyError, load_study

    try:
        study = load_study(study_file)
        if mode:
            study.mode = mode
        client = _client()
        sub = client.submit(study)
    except (StudyError, ClientError, ValueError) as exc:
        _fail(exc)
    console.print(
        f"submitted study [bold]{sub.name}[/bold] ({sub.kind}): {len(sub.processids)} process(es)"
        + (f", workflow {sub.processgraphid[:12]}…" if sub.processgraphid else "")
    )
    if study.qpu is not None:  # shots cost money on a real QPU: where their count is stated
        console.print(
            f"qpu steps on {study.qpu.target} ({', '.join(study.qpu.access)}), {study.qpu.shots} shots per circuit: "
            f"`hpcq problems show {study_file}` states each step's shot budget"
        )
    if watch:
        snap = client.watch(sub, timeout=timeout, console=console)
        console.print(snap.line())
        if snap.counts["failed"]:
            sys.exit(1)
    else:
        console.print(f"follow it with: hpcq status {sub.name} --watch")


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default=None,
    help="Override the study's mode: workflow (DAG), sweep (one process per task), single (one job).",
)
@click.option("--watch/--no-watch", default=True, show_default=True, help="Show live progress until done.")
@seconds_option("timeout", None, "Stop watching after this long", legacy=("--timeout",))
@verbosity_option()
def submit(study_file, mode, watch, timeout_s):
    """Validate STUDY_FILE (YAML/TOML) and submit it to the colony."""
    _submit(study_file, mode, watch, timeout_s)


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False))
@click.option("--watch/--no-watch", default=True, show_default=True, help="Show live progress until done.")
@seconds_option("timeout", None, "Stop watching after this long", legacy=("--timeout",))
@verbosity_option()
def sweep(study_file, watch, timeout_s):
    """Submit STUDY_FILE as a flat sweep: one process per task (the executor packs them into job arrays)."""
    _submit(study_file, "sweep", watch, timeout_s)


@click.command()
@click.argument("name", required=False)
@click.option("--watch", is_flag=True, help="Keep showing progress until every process is finished.")
@json_option
def status(name, watch, as_json):
    """Progress of a submitted study (default: the latest): done / failed / running / waiting, ETA."""
    sub = _submission(name)
    client = _client()
    tracker = client.tracker(sub)
    snap = client.watch_tracker(tracker, console=console) if watch else tracker.poll()
    executors = _executor_sites(client)
    by_site = tracker.by_site(executors)
    if as_json:
        procs = []
        for pid in sub.processids:
            site, ex = tracker.site_of(pid, executors)
            node, state = sub.nodenames.get(pid, ""), tracker.states.get(pid, "waiting")
            procs.append({"processid": pid, "node": node, "state": state, "site": site, "executor": ex})
        click.echo(
            json.dumps(
                {
                    "name": sub.name,
                    "counts": snap.counts,
                    "total": snap.total,
                    "failed": [{"processid": p, "node": n, "errors": e} for p, n, e in snap.failed],
                    "sites": by_site,
                    "processes": procs,
                }
            )
        )
        return
    console.print(f"[bold]{sub.name}[/bold]: {snap.line()}")
    if any(site not in ("-", "(no site)") for site in by_site):
        t = Table("site", "done", "failed", "running", "waiting", title="by site (of the executor that took each step)")
        for site, c in sorted(by_site.items()):
            t.add_row(site, *(str(c[k]) for k in ("done", "failed", "running", "waiting")))
        console.print(t)
    if snap.failed:
        t = Table("step", "process", "error", title="failed steps")
        # steps with their own error first; ColonyOS fails the rest of a graph without one
        for pid, node, errors in sorted(snap.failed, key=lambda f: not f[2]):
            t.add_row(node or "-", pid[:12], "; ".join(errors) or NO_ERROR_TEXT)
        console.print(t)


def _executor_sites(client) -> dict[str, tuple[str, str]]:
    """executor id -> (site, name); empty if the server cannot list them (status still works)."""
    from hpcq.client.sites import executor_sites

    try:
        return executor_sites(client.colonies, client.colony, client.key)
    except Exception:  # noqa: BLE001 - pycolonies raises one type for everything
        return {}


@click.command()
@json_option
@click.option("--type", "executortype", default=None, help="Only executors of this type (default: all).")
@click.option(
    "--alive-s",
    type=click.FloatRange(1, 86400),
    default=None,
    help="An executor heard from within this many seconds is alive [default: 330].",
)
def sites(as_json, executortype, alive_s):
    """The colony's sites: each executor's location, what the site offers (from the executors'
    capabilities) and whether an executor of it is alive (docs/sites.md)."""
    from hpcq.client.sites import NO_SITE, colony_sites
    from hpcq.colonyos.sites import ALIVE_S

    client = _client()
    try:
        found = colony_sites(client.colonies, client.colony, client.key, executortype, alive_s or ALIVE_S)
    except Exception as exc:  # noqa: BLE001
        _fail(click.ClickException(f"listing the executors of colony {client.colony!r} failed: {exc}"))
    if as_json:
        echo_json({"colony": client.colony, "sites": [s.as_json() for s in found]})
        return
    t = Table("site", "alive", "offers", "executors", title=f"sites of colony {client.colony}")
    for s in found:
        cap = s.capacity
        names = ", ".join(f"{e.name}{'' if e.alive else ' (silent)'}" for e in s.executors)
        alive = "[green]yes[/green]" if s.alive else "[red]no[/red]"
        t.add_row(s.name if s.name != NO_SITE else "(no site)", alive, cap.describe() if cap else "-", names)
    console.print(t)


@click.command()
@click.argument("target", required=False)
@click.option("--node", help="Workflow step (nodename) whose logs to show.")
@click.option("--count", default=200, show_default=True, help="Lines per request (server max 500).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the process ends.")
def logs(target, node, count, follow):
    """Logs of a process: TARGET is a process id or a study name (with --node, or its only process)."""
    client = _client()
    pid = target
    if not target or len(target) != 64:
        sub = _submission(target)
        if node:
            matches = [p for p, n in sub.nodenames.items() if n == node]
            if not matches:
                _fail(
                    click.ClickException(
                        f"--node {node!r}: no such step in {sub.name}; steps: "
                        + ", ".join(sorted(sub.nodenames.values()))
                    )
                )
            pid = matches[0]
        elif len(sub.processids) == 1:
            pid = sub.processids[0]
        else:
            _fail(
                click.ClickException(
                    f"{sub.name} has {len(sub.processids)} processes; pick one with --node "
                    "(see `hpcq status`) or give a process id"
                )
            )
    since = 0
    while True:
        for entry in client.logs(pid, count, since):
            since = max(since, int(entry.get("timestamp", 0)))
            click.echo(entry.get("message", "").rstrip("\n"))
        if not follow:
            return
        p = client.colonies.get_process(pid, client.key)
        if ProcessState(p.state).final:
            return
        time.sleep(1)


@click.command()
@click.argument("name", required=False)
@click.option(
    "--dest",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to put the HDF5 files (default: ./results/NAME).",
)
@click.option("--index/--no-index", default=True, show_default=True, help="Index them into the results catalog.")
def fetch(name, dest, index):
    """Fetch a study's HDF5 result files (S3 download or shared-filesystem copy) and index them."""
    from hpcq.client.api import ClientError
    from hpcq.results import records

    sub = _submission(name)
    dest = Path(dest or records.fetch_dir(sub.name))
    try:
        files = _client().fetch(sub, dest)
    except ClientError as exc:
        _fail(exc)
    console.print(f"fetched {len(files)} result file(s) into {dest}")
    if files and sub.results_dir != str(dest):
        sub.results_dir = str(dest)  # where `hpcq results ls/rank` look by default
        records.save(sub)
    if index and files:
        from hpcq.results.catalog import Catalog, default_db

        stats = Catalog(default_db(dest)).index(dest)
        console.print(f"catalog {default_db(dest)}: {stats.summary()}")
        console.print(f"browse: hpcq ui --results {dest}")


@click.command()
@click.argument("name", required=False)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def cancel(name, yes):
    """Cancel a study: waiting processes are removed, running ones have their Slurm jobs cancelled."""
    sub = _submission(name)
    if not yes:
        click.confirm(f"cancel {len(sub.processids)} process(es) of {sub.name}?", abort=True)
    report = _client().cancel(sub)
    console.print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.items()))


@click.group()
def config():
    """Show where hpcq reads its settings from, and what they are (keys masked)."""


@config.command("show")
@json_option
def config_show(as_json):
    """Effective settings and where each came from (argument > environment > config.yaml > env file >
    default, docs/configuration.md); private keys are masked."""
    try:
        s = Settings.load()
    except ConfigError as exc:
        _fail(exc)
    rows = [{"setting": k, "value": v, "source": s.source(k)} for k, v in s.masked().items()]
    if as_json:
        echo_json({"config_dir": str(config_dir()), "env_file": str(env_file_path()), "settings": rows})
        return
    t = Table("setting", "value", "source")
    t.add_row("config dir", str(config_dir()), "")
    t.add_row("env file", f"{env_file_path()}{'' if env_file_path().exists() else ' (missing)'}", "")
    for r in rows:
        t.add_row(r["setting"], str(r["value"]), r["source"])
    console.print(t)


@config.command("path")
def config_path():
    """Print the configuration directory."""
    click.echo(config_dir())
