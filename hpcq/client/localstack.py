"""Every service of a cluster run, on this machine: the embedded ColonyOS server, optionally a local
Slurm lab cluster, and an hpcq executor (a subprocess). ``hpcq demo`` and ``hpcq run`` (workflow
studies) both stand on it, so a study run here goes through the same server, executor, steps and
files as on a cluster; only the Slurm backend may be submitit's local executor."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

LOCAL_COLONY = "local"


@contextlib.contextmanager
def executor_proc(
    workdir: Path,
    env: dict[str, str],
    backend: str,
    *,
    name: str,
    executor_type: str = "hpcq",
    profile: str = "local",
) -> Iterator[subprocess.Popen]:
    """``hpcq executor start`` as a subprocess (own session, log in workdir/executor.log); SIGTERM
    on exit, SIGKILL after 20 s."""
    cmd = [sys.executable, "-m", "hpcq.executor", "start", "--profile", profile, "--backend", backend]
    cmd += ["--state-dir", str(workdir / "executor"), "--jobs-dir", str(workdir / "jobs")]
    cmd += ["--results-dir", str(workdir / "runs"), "--name", name, "--type", executor_type]
    with open(workdir / "executor.log", "ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def start_services(
    stack: contextlib.ExitStack,
    workdir: Path,
    backend: str,
    say: Callable[[str], None],
    *,
    colony: str = LOCAL_COLONY,
    executor_name: str = "local-executor",
    executor_type: str = "hpcq",
    profile: str = "local",
) -> None:
    """Start the server (its colony's keys go into this process's environment and
    workdir/config/colonies.env, 0600), the Slurm lab (backend ``slurm``) and the executor;
    ``stack`` stops them. ``workdir/config`` must exist and be HPCQ_CONFIG_DIR."""
    from hpcq.server.launch import init_colony, start_server

    say(f"[bold]1/6[/bold] starting the embedded ColonyOS server ({workdir / 'server'})")
    server = stack.enter_context(start_server(workdir / "server", port=0))
    os.environ.update(init_colony(server, colony=colony, env_file=workdir / "config" / "colonies.env"))
    keys = workdir / "config" / "colonies.env"
    say(f"      server on {server.host}:{server.port}, colony {colony!r}, keys in {keys} (0600)")
    env = dict(os.environ)
    if backend == "slurm":
        from hpcq.executor.lab import local_cluster

        say("[bold]2/6[/bold] starting a local Slurm cluster (2 virtual nodes, slurmdbd)")
        cluster = stack.enter_context(local_cluster(workdir / "slurm", nodes=2, cpus=4, dbd=True, set_env=True))
        env["SLURM_CONF"] = str(cluster.conf)
        say(f"      {cluster.up_output.strip().splitlines()[0] if cluster.up_output else 'up'}")
    else:
        say("[bold]2/6[/bold] no Slurm: jobs run through submitit's local executor")
    say(f"[bold]3/6[/bold] starting the hpcq executor (backend {backend}; log {workdir / 'executor.log'})")
    stack.enter_context(
        executor_proc(workdir, env, backend, name=executor_name, executor_type=executor_type, profile=profile)
    )
