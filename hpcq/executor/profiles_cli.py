"""`hpcq profiles list|show|check`: inspect and validate site profiles (hpcq.executor.profiles)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.table import Table

from hpcq.executor import profiles as P


def _origin(prof: P.Profile) -> str:
    return "shipped" if Path(prof.path).parent == P.SHIPPED_DIR else "user"


def _hours(s: int) -> str:
    return f"{s / 3600:g} h"


@click.group("profiles")
def profiles():
    """Site profiles: partition, account, modules, node sizes, limits (slurm_templates/README.md)."""


@profiles.command("list")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def list_cmd(as_json: bool):
    """All profiles: shipped ones and yours in $HPCQ_CONFIG_DIR/profiles (yours win on a name clash)."""
    try:
        profs = P.list_profiles()
    except P.ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([p.model_dump() for p in profs], indent=2))
        return
    t = Table(title="hpcq site profiles (`hpcq profiles show NAME` for details)")
    for col in ("name", "partition", "qos", "cores", "GPUs", "mem GB", "max wall", "max nodes", "verify", "from"):
        t.add_column(col, no_wrap=col == "name")
    for p in profs:
        gpus = f"{p.gpus_per_node} {p.gpu_vendor}" if p.gpus_per_node else "0"
        t.add_row(
            p.name,
            p.partition or "-",
            p.qos or "-",
            str(p.cores_per_node),
            gpus,
            f"{p.mem_per_node_gb:g}",
            _hours(p.max_walltime_s),
            str(p.max_nodes),
            f"{len(p.verify)} keys" if p.verify else "-",
            _origin(p),
        )
    console = Console()
    Console(width=max(console.width, 130)).print(t)


@profiles.command("show")
@click.argument("name")
@click.option(
    "--conditions",
    "conditions_json",
    default=None,
    metavar="JSON",
    help='also resolve ColonyOS conditions, e.g. \'{"nodes": 2, "processespernode": 4, '
    '"cpu": "2000m", "walltime": 600}\', and print the submitit parameters',
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="override a key for this view, e.g. --set account=project_465000123",
)
def show_cmd(name: str, conditions_json: str | None, sets: tuple[str, ...]):
    """One profile (NAME or a YAML file path) as YAML, with the keys you must verify."""
    overrides = {}
    for s in sets:
        key, eq, value = s.partition("=")
        if not eq:
            raise click.BadParameter(f"{s!r}: write KEY=VALUE", param_hint="--set")
        field = P.Profile.model_fields.get(key)
        keep_text = field is not None and field.annotation in (str, str | None)
        overrides[key] = value if keep_text else yaml.safe_load(value)
    try:
        prof = P.load_profile(name, overrides or None)
    except P.ProfileError as exc:
        raise click.ClickException(str(exc)) from None
    data = prof.model_dump()
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    if prof.verify:
        click.echo(f"# verify before use: {', '.join(prof.verify)}")
    if conditions_json is not None:
        try:
            cond = json.loads(conditions_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--conditions") from None
        if not isinstance(cond, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--conditions")
        try:
            res = P.resolve_resources(prof, cond)
        except P.ResourceError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("# submitit parameters:")
        click.echo(json.dumps(P.submitit_params(res, prof), indent=2))


@profiles.command("check")
@click.argument("targets", nargs=-1)
def check_cmd(targets: tuple[str, ...]):
    """Validate profiles (names or YAML files; default: all). Exit status 1 if any is invalid."""
    names = list(targets) or sorted(P.profile_files())
    bad = 0
    for t in names:
        try:
            prof = P.load_profile(t)
        except P.ProfileError as exc:
            bad += 1
            click.echo(f"FAIL {t}: {exc}")
            continue
        todo = []
        if prof.account_required and not prof.account:
            todo.append("set account")
        if prof.qos_required and not prof.qos:
            todo.append("set qos")
        if prof.verify:
            todo.append("verify " + ", ".join(prof.verify))
        click.echo(f"ok   {prof.name} ({prof.path})" + (f": {'; '.join(todo)}" if todo else ""))
    if bad:
        click.echo(f"{bad} of {len(names)} profile(s) invalid", err=True)
        sys.exit(1)
