"""`hpcq executor ...`: start the login-node daemon, run the selftest, show the journal."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import click

from hpcq.cliopts import echo_json, json_option, seconds_option, verbosity_option
from hpcq.colonyos import ProcessState, connect
from hpcq.config import ConfigError, ExecutorSettings, Settings, config_dir


def _default_state_dir() -> Path:
    return config_dir() / "executor"


@click.group()
def executor():
    """The hpcq executor: ColonyOS processes become Slurm jobs (runs on the HPC login node)."""


# the tuning options of `start`, in --help order: ExecutorSettings fields (config.yaml may set the others)
TUNING_OPTIONS = (
    "type",
    "backend",
    "assign_timeout_s",
    "batch_max",
    "batch_wait_s",
    "pack",
    "poll_s",
    "query_every_s",
    "wait_server_s",
    "slurm_down_pause_s",
)


def _bounds(name: str) -> tuple[Any, Any]:
    """The (ge, le) range of an ExecutorSettings field."""
    lo = hi = None
    for m in ExecutorSettings.model_fields[name].metadata:
        lo, hi = getattr(m, "ge", lo), getattr(m, "le", hi)
    return lo, hi


def _tuning_option(name: str) -> Callable[[Callable], Callable]:
    """``--<name>`` for one ExecutorSettings field, its help, default and range read from the model.
    The option's own default is None, so config.yaml and the environment still apply."""
    f = ExecutorSettings.model_fields[name]
    desc = f.description or name
    help_ = f"{desc[:1].upper()}{desc[1:]} [default: {f.default}]"
    lo, hi = _bounds(name)
    if name.endswith("_s"):
        base = name[: -len("_s")].replace("_", "-")
        return seconds_option(base, None, help_, min_s=lo or 0, max_s=hi or 86400, legacy=(f"--{base}",))
    kind: Any = click.Choice(get_args(f.annotation)) if get_args(f.annotation) else str
    if f.annotation is int:
        kind = click.IntRange(lo, hi)
    return click.option(f"--{name.replace('_', '-')}", name, default=None, type=kind, help=help_)


def _tuning_options(fn: Callable) -> Callable:
    for name in reversed(TUNING_OPTIONS):
        fn = _tuning_option(name)(fn)
    return fn


@executor.command()
@click.option("--env-file", type=click.Path(path_type=Path), help="COLONIES_* env file (default: the hpcq config dir).")
@click.option(
    "--state-dir", type=click.Path(path_type=Path), help="Journal + executor key (default: <config dir>/executor)."
)
@click.option(
    "--jobs-dir",
    type=click.Path(path_type=Path),
    help="submitit job folders; must be on a filesystem the nodes share (default: <state-dir>/jobs).",
)
@click.option(
    "--results-dir",
    type=click.Path(path_type=Path),
    help="Per-process work directories, shared (default: results_dir setting or <state-dir>/results).",
)
@click.option("--name", default=None, help="Executor name (default: COLONIES_EXECUTOR_NAME or hpcq-<host>).")
@click.option("--profile", default=None, help="Site profile (default: the default_profile setting).")
@click.option(
    "--replace",
    is_flag=True,
    help="Take --name over from a registration this state dir does not own (a lost executor.key) or re-register "
    "it with a new --type; only when no executor runs as that name (docs/executor.md, Registration).",
)
@click.option(
    "--site",
    default=None,
    help="The site this executor serves: its ColonyOS locationname, used by studies' placement "
    "(default: the profile's name; docs/sites.md).",
)
@_tuning_options
@verbosity_option(logging.INFO)
def start(env_file, state_dir, jobs_dir, results_dir, name, profile, replace, site, **tuning):
    """Serve processes until SIGTERM (running jobs survive restarts: the journal adopts them).

    Every tuning option may also come from config.yaml (``executor:``) or HPCQ_EXECUTOR_<NAME>
    (docs/configuration.md: argument > environment > config.yaml > env file > default)."""
    from hpcq.executor.daemon import Executor, Paths

    overrides = {"default_profile": profile, **{f"executor.{k}": v for k, v in tuning.items()}}
    try:
        settings = Settings.load(env_file, overrides=overrides)
        paths = Paths.under(state_dir or _default_state_dir(), jobs_dir, results_dir or settings.results_dir or None)
        ex = Executor(settings, paths, name=name, replace=replace, site=site)
        ex.install_signal_handlers()
        ex.setup()
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        ex.run()
    except ConfigError as exc:  # removed from the colony and not allowed to register again
        raise click.ClickException(str(exc)) from None


@executor.command()
@click.option("--env-file", type=click.Path(path_type=Path))
@click.option("--type", "executor_type", default="hpcq", show_default=True)
@click.option("--message", default="hpcq selftest", show_default=True)
@seconds_option("timeout", 180, "How long to wait for the result", min_s=1, legacy=("--timeout",))
@verbosity_option()
def selftest(env_file, executor_type, message, timeout_s):
    """Submit hpcq_echo through the configured colony and wait for SUCCESS."""
    from pycolonies import func_spec

    from hpcq.functions import encode_kwargs

    try:
        s = Settings.load(env_file)
        s.require("colony_name", "prvkey")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    client = connect(s)
    spec = func_spec(
        "hpcq_echo",
        [],
        s.colony_name,
        executor_type,
        kwargs=encode_kwargs({"message": message}),
        maxexectime=-1,
        maxretries=0,
        maxwaittime=-1,
    )
    spec.conditions.walltime = 60
    t0 = time.monotonic()
    try:
        p = client.submit_func_spec(spec, s.prvkey)
    except Exception as exc:  # noqa: BLE001
        raise click.ClickException(f"submitting to {s.host}:{s.port} failed: {exc}") from None
    click.echo(
        f"submitted process {p.processid}; waiting up to {timeout_s:g} s for an executor of type {executor_type}"
    )
    while time.monotonic() - t0 < timeout_s:
        p = client.get_process(p.processid, s.prvkey)
        if ProcessState(p.state).final:
            break
        time.sleep(0.5)
    took = time.monotonic() - t0
    if p.state == ProcessState.SUCCESS:
        click.echo(f"SUCCESS in {took:.1f} s: output={p.output}")
        return
    if ProcessState(p.state).final:
        raise click.ClickException(f"{ProcessState(p.state).name} after {took:.1f} s: {p.errors}")
    raise click.ClickException(
        f"no result after {timeout_s:g} s (state {ProcessState(p.state).label}): is "
        f"`hpcq executor start` running with --type {executor_type} for colony {s.colony_name}?"
    )


@executor.command()
@click.option("--state-dir", type=click.Path(path_type=Path))
@json_option
def journal(state_dir, as_json):
    """Show the executor journal's counts (processes by state, batches)."""
    from hpcq.executor.journal import Journal

    path = Path(state_dir or _default_state_dir()) / "journal.sqlite"
    if not path.exists():
        raise click.ClickException(f"no journal at {path}")
    counts = Journal(path).counts()
    if as_json:
        echo_json(counts)
        return
    click.echo(counts)
