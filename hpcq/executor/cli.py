"""`hpcq executor ...`: start the login-node daemon, run the selftest, show the journal."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import click

from hpcq.cliopts import echo_json, json_option, seconds_option, verbosity_option
from hpcq.colonyos import ProcessState, connect
from hpcq.config import ConfigError, ExecutorSettings, Settings, config_dir


def _default_state_dir() -> Path:
    return config_dir() / "executor"


@click.group()
def executor():
    """The hpcq executor: ColonyOS processes become Slurm jobs (runs on the HPC login node)."""


def _d(name: str):
    """The built-in default of an executor setting (shown in --help; config/env may change it)."""
    return ExecutorSettings.model_fields[name].default


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
@click.option("--type", "executor_type", default=None, help=f"ColonyOS executortype to serve [default: {_d('type')}].")
@click.option("--name", default=None, help="Executor name (default: COLONIES_EXECUTOR_NAME or hpcq-<host>).")
@click.option("--profile", default=None, help="Site profile (default: the default_profile setting).")
@click.option(
    "--backend",
    type=click.Choice(["auto", "slurm", "local"]),
    default=None,
    help="auto = slurm when sbatch is on PATH, else submitit's local executor [default: auto].",
)
@seconds_option(
    "assign-timeout",
    None,
    f"Long-poll [default: {_d('assign_timeout_s')}]",
    min_s=1,
    max_s=300,
    legacy=("--assign-timeout",),
)
@click.option(
    "--batch-max",
    default=None,
    type=click.IntRange(1, 10000),
    help=f"Max processes per Slurm job array [default: {_d('batch_max')}].",
)
@seconds_option(
    "batch-wait",
    None,
    f"Max time a batch waits to fill [default: {_d('batch_wait_s')}]",
    max_s=600,
    legacy=("--batch-wait",),
)
@click.option(
    "--pack",
    default=None,
    type=click.IntRange(1, 10000),
    help=f"Processes run one after another in one array element [default: {_d('pack')}].",
)
@seconds_option(
    "poll", None, f"Outcome-file poll interval [default: {_d('poll_s')}]", min_s=0.01, max_s=60, legacy=("--poll",)
)
@seconds_option(
    "query-every",
    None,
    f"squeue/sacct interval [default: {_d('query_every_s')}]",
    min_s=0.1,
    max_s=600,
    legacy=("--query-every",),
)
@seconds_option(
    "wait-server",
    None,
    f"At start, keep retrying an unreachable server this long [default: {_d('wait_server_s')}]",
    legacy=("--wait-server",),
)
@verbosity_option(logging.INFO)
def start(
    env_file,
    state_dir,
    jobs_dir,
    results_dir,
    executor_type,
    name,
    profile,
    backend,
    assign_timeout_s,
    batch_max,
    batch_wait_s,
    pack,
    poll_s,
    query_every_s,
    wait_server_s,
):
    """Serve processes until SIGTERM (running jobs survive restarts: the journal adopts them).

    Every tuning option may also come from config.yaml (``executor:``) or HPCQ_EXECUTOR_<NAME>
    (docs/configuration.md: argument > environment > config.yaml > env file > default)."""
    from hpcq.executor.daemon import Executor, ExecutorConfig
    from hpcq.executor.packing import PackingConfig
    from hpcq.executor.watcher import WatchConfig

    args = {
        "type": executor_type,
        "backend": backend,
        "assign_timeout_s": assign_timeout_s,
        "batch_max": batch_max,
        "batch_wait_s": batch_wait_s,
        "pack": pack,
        "poll_s": poll_s,
        "query_every_s": query_every_s,
        "wait_server_s": wait_server_s,
    }
    try:
        settings = Settings.load(
            env_file, overrides={"default_profile": profile, **{f"executor.{k}": v for k, v in args.items()}}
        )
        e = settings.executor
        chosen = e.backend
        if chosen == "auto":
            chosen = "slurm" if shutil.which("sbatch") else "local"
        cfg = ExecutorConfig(
            state_dir=state_dir or _default_state_dir(),
            jobs_dir=jobs_dir,
            results_dir=results_dir or (Path(settings.results_dir) if settings.results_dir else None),
            executor_type=e.type,
            name=name,
            profile=settings.default_profile,
            backend=chosen,
            assign_timeout_s=e.assign_timeout_s,
            wait_server_s=e.wait_server_s,
            packing=PackingConfig(max_batch=e.batch_max, max_wait_s=e.batch_wait_s, per_element=e.pack),
            watch=WatchConfig(poll_s=e.poll_s, query_s=e.query_every_s),
        )
        ex = Executor(cfg, settings)
        ex.install_signal_handlers()
        ex.setup()
    except (ConfigError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    ex.run()


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
