"""`hpcq executor ...`: start the login-node daemon, run the selftest, show the journal."""

from __future__ import annotations

import logging
import shutil
import sys
import time
from pathlib import Path

import click

from hpcq.config import ConfigError, Settings, config_dir


def _default_state_dir() -> Path:
    return config_dir() / "executor"


@click.group()
def executor():
    """The hpcq executor: ColonyOS processes become Slurm jobs (runs on the HPC login node)."""


@executor.command()
@click.option("--env-file", type=click.Path(path_type=Path), help="COLONIES_* env file (default: the hpcq config dir).")
@click.option("--state-dir", type=click.Path(path_type=Path), help="Journal + executor key (default: <config dir>/executor).")
@click.option("--jobs-dir", type=click.Path(path_type=Path), help="submitit job folders; must be on a filesystem the nodes share (default: <state-dir>/jobs).")
@click.option("--results-dir", type=click.Path(path_type=Path), help="Per-process work directories, shared (default: results_dir setting or <state-dir>/results).")
@click.option("--type", "executor_type", default="hpcq", show_default=True, help="ColonyOS executortype to serve.")
@click.option("--name", default=None, help="Executor name (default: COLONIES_EXECUTOR_NAME or hpcq-<host>).")
@click.option("--profile", default=None, help="Site profile (default: the default_profile setting).")
@click.option("--backend", type=click.Choice(["auto", "slurm", "local"]), default="auto", show_default=True,
              help="auto = slurm when sbatch is on PATH, else submitit's local executor.")
@click.option("--assign-timeout", default=10, show_default=True, type=click.IntRange(1, 300), help="Long-poll seconds.")
@click.option("--batch-max", default=100, show_default=True, type=click.IntRange(1, 10000), help="Max processes per Slurm job array.")
@click.option("--batch-wait", default=2.0, show_default=True, type=click.FloatRange(0, 600), help="Max seconds a batch waits to fill.")
@click.option("--pack", "per_element", default=1, show_default=True, type=click.IntRange(1, 10000),
              help="Processes run one after another in one array element.")
@click.option("--poll", default=0.05, show_default=True, type=click.FloatRange(0.01, 60), help="Outcome-file poll interval (s).")
@click.option("--query-every", default=2.0, show_default=True, type=click.FloatRange(0.1, 600), help="sacct interval (s).")
@click.option("--wait-server", default=300.0, show_default=True, type=click.FloatRange(0, 86400),
              help="At start, keep retrying an unreachable ColonyOS server this long (s).")
@click.option("--log-level", default="INFO", show_default=True)
def start(env_file, state_dir, jobs_dir, results_dir, executor_type, name, profile, backend, assign_timeout,
          batch_max, batch_wait, per_element, poll, query_every, wait_server, log_level):
    """Serve processes until SIGTERM (running jobs survive restarts: the journal adopts them)."""
    from hpcq.executor.daemon import Executor, ExecutorConfig
    from hpcq.executor.packing import PackingConfig
    from hpcq.executor.watcher import WatchConfig

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.load(env_file)
        if backend == "auto":
            backend = "slurm" if shutil.which("sbatch") else "local"
        cfg = ExecutorConfig(
            state_dir=state_dir or _default_state_dir(), jobs_dir=jobs_dir,
            results_dir=results_dir or (Path(settings.results_dir) if settings.results_dir else None),
            executor_type=executor_type, name=name, profile=profile or settings.default_profile, backend=backend,
            assign_timeout_s=assign_timeout, wait_server_s=wait_server,
            packing=PackingConfig(max_batch=batch_max, max_wait_s=batch_wait, per_element=per_element),
            watch=WatchConfig(poll_s=poll, query_s=query_every))
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
@click.option("--timeout", default=180, show_default=True, type=click.IntRange(1, 86400), help="Seconds to wait.")
def selftest(env_file, executor_type, message, timeout):
    """Submit hpcq_echo through the configured colony and wait for SUCCESS."""
    from pycolonies import func_spec

    from hpcq.functions import encode_kwargs

    try:
        s = Settings.load(env_file)
        s.require("colony_name", "prvkey")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    client = s.client()
    spec = func_spec("hpcq_echo", [], s.colony_name, executor_type, kwargs=encode_kwargs({"message": message}),
                     maxexectime=-1, maxretries=0, maxwaittime=-1)
    spec.conditions.walltime = 60
    t0 = time.monotonic()
    try:
        p = client.submit_func_spec(spec, s.prvkey)
    except Exception as exc:  # noqa: BLE001
        raise click.ClickException(f"submitting to {s.host}:{s.port} failed: {exc}") from None
    click.echo(f"submitted process {p.processid}; waiting up to {timeout} s for an executor of type {executor_type}")
    while time.monotonic() - t0 < timeout:
        p = client.get_process(p.processid, s.prvkey)
        if p.state in (2, 3):
            break
        time.sleep(0.5)
    took = time.monotonic() - t0
    if p.state == 2:
        click.echo(f"SUCCESS in {took:.1f} s: output={p.output}")
        return
    if p.state == 3:
        raise click.ClickException(f"FAILED after {took:.1f} s: {p.errors}")
    raise click.ClickException(f"no result after {timeout} s (state {p.state}): is `hpcq executor start` running "
                               f"with --type {executor_type} for colony {s.colony_name}?")


@executor.command()
@click.option("--state-dir", type=click.Path(path_type=Path))
def journal(state_dir):
    """Show the executor journal's counts (processes by state, batches)."""
    from hpcq.executor.journal import Journal

    path = Path(state_dir or _default_state_dir()) / "journal.sqlite"
    if not path.exists():
        raise click.ClickException(f"no journal at {path}")
    click.echo(Journal(path).counts())
