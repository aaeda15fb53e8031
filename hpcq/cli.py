"""`hpcq` command line. Each subsystem owns its commands; they are imported lazily so that
`hpcq --help` is fast and a laptop without Qiskit can still run the client commands."""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of a click command or group
COMMANDS = {
    "server": "hpcq.server.cli:server",
    "executor": "hpcq.executor.cli:executor",
    "profiles": "hpcq.executor.profiles_cli:profiles",
    "results": "hpcq.results.cli:results",
    "rerun": "hpcq.worker.rerun:rerun",  # also `hpcq results rerun` (SUBCOMMANDS)
    "ui": "hpcq.ui.cli:ui",
    "submit": "hpcq.client.cli:submit",
    "run": "hpcq.client.run_local:run",  # the study on this machine: worker under mpiexec
    "sweep": "hpcq.client.cli:sweep",
    "status": "hpcq.client.cli:status",
    "sites": "hpcq.client.cli:sites",
    "logs": "hpcq.client.cli:logs",
    "fetch": "hpcq.client.cli:fetch",
    "cancel": "hpcq.client.cli:cancel",
    "config": "hpcq.client.cli:config",
    "demo": "hpcq.client.demo:demo",
    "problems": "hpcq.client.problems_cli:problems",
}

# commands added to a group from here, because the group's package may not import them: `hpcq
# results rerun` runs the simulation, and results sits below the worker (docs/architecture.md)
SUBCOMMANDS = {"results": {"rerun": "hpcq.worker.rerun:rerun"}}


def _load(target: str) -> click.Command:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        try:
            cmd = _load(target)
            for sub, sub_target in SUBCOMMANDS.get(name, {}).items():
                if isinstance(cmd, click.Group) and sub not in cmd.commands:
                    cmd.add_command(_load(sub_target), sub)
            return cmd
        except (ImportError, AttributeError) as exc:
            why = str(exc)  # `exc` itself is unbound once the except block ends
            if isinstance(exc, ImportError):
                why += (
                    "; install the extra of this machine's role (README.md, Install): pip install "
                    "'hpcq[client]' (laptop), 'hpcq[executor,worker]' (HPC login node) or 'hpcq[all]'"
                )

            @click.command(name=name, help=f"(unavailable: {why})")
            def _missing():
                raise click.ClickException(f"`hpcq {name}` is unavailable: {why}")

            return _missing


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hpcq")
def main():
    """hpcq: run hybrid quantum-classical workflows on HPC through ColonyOS and Slurm."""


if __name__ == "__main__":
    main()
