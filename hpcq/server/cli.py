"""`hpcq server start|init|status`. Every value comes from the settings (``hpcq.config.Settings``,
section ``server:``; docs/configuration.md); an option given on the command line overrides it."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from hpcq.cliopts import echo_json, json_option, seconds_option, verbosity_option
from hpcq.config import ConfigError, ServerSettings, Settings, env_file_path


def _d(name: str):
    """The built-in default of a server setting (shown in --help; config/env may change it)."""
    return ServerSettings.model_fields[name].default


def load_settings(**server_options) -> Settings:
    """The settings with these ``server.*`` command-line values on top (None = not given)."""
    try:
        return Settings.load(overrides={f"server.{k}": v for k, v in server_options.items()})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def bind_settings(s: Settings) -> ServerSettings:
    """The server section with the bind address resolved: ``server.host``/``server.port`` when set,
    else the address clients use (``host``/``port``: COLONIES_SERVER_HOST/PORT)."""
    srv = s.server
    return srv.model_copy(update={"host": srv.host or s.host, "port": s.port if srv.port is None else srv.port})


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Database, server key and server.json [default: setting server.data_dir, $HPCQ_CONFIG_DIR/server].",
)


@click.group()
def server():
    """The embedded Colonies-compatible server (speaks colonies v1.9.7's protocol)."""


@server.command()
@data_dir_option
@click.option("--host", default=None, help="Bind address [default: setting server.host, else host: 127.0.0.1].")
@click.option(
    "--port", type=int, default=None, help="Port, 0 picks a free one [default: setting server.port, else port: 50080]."
)
@seconds_option(
    "stale-executor",
    None,
    f"Remove executors not heard from (assign) for this long [default: {_d('stale_executor_s')}]",
)
@seconds_option(
    "cleanup-interval", None, f"How often to look for stale executors [default: {_d('cleanup_interval_s')}]"
)
@click.option("--no-reregister", is_flag=True, help="Refuse addexecutor for an existing name (default: replace it).")
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="PEM certificate: serve HTTPS/WSS (make one with `hpcq server init --tls`).",
)
@click.option(
    "--tls-key", type=click.Path(exists=True, path_type=Path), default=None, help="PEM private key of --tls-cert."
)
@verbosity_option(logging.INFO)
def start(data_dir, host, port, stale_executor_s, cleanup_interval_s, no_reregister, tls_cert, tls_key):
    """Serve POST /api and GET /health until SIGTERM/SIGINT (-v: every request line and connection)."""
    from hpcq.server.httpd import serve

    cfg = bind_settings(
        load_settings(
            data_dir=data_dir,
            host=host,
            port=port,
            stale_executor_s=stale_executor_s,
            cleanup_interval_s=cleanup_interval_s,
            reregister=False if no_reregister else None,
            tls_cert=tls_cert,
            tls_key=tls_key,
        )
    )
    if bool(cfg.tls_cert) != bool(cfg.tls_key):
        raise click.UsageError(
            "--tls-cert and --tls-key (settings server.tls_cert, server.tls_key) go together: "
            "give both (or neither for plain HTTP)"
        )
    try:
        serve(cfg)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {cfg.host}:{cfg.port}: {exc}. Fix: pick another --port or stop the server using it"
        ) from None


@server.command()
@data_dir_option
@click.option("--colony", default="dev", show_default=True, help="Colony name to create.")
@click.option(
    "--env-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the COLONIES_* variables (default $HPCQ_CONFIG_DIR/colonies.env).",
)
@click.option(
    "--host", default=None, help="Server host written to the env file [default: a running server's, else host]."
)
@click.option("--port", type=int, default=None, help="Server port written to the env file [default: likewise].")
@click.option("--executor-name", default=None, help="Suggested COLONIES_EXECUTOR_NAME.")
@click.option(
    "--tls",
    is_flag=True,
    help="Also make a self-signed certificate (tls.crt, tls.key) in the data dir and write COLONIES_SERVER_TLS=true.",
)
def init(data_dir, env_file, **options):
    """Create a colony and a user key directly in the data dir, and write the env file (0600).

    Works whether or not the server is running."""
    from hpcq.server.admin import InitError, init_and_write

    settings = load_settings(data_dir=data_dir)
    data_dir = settings.server.data_dir
    env_file = env_file or env_file_path()
    try:
        values = init_and_write(data_dir, env_file, settings=settings, **options)  # colony, host, port, ...
    except (InitError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    colony, tls = options["colony"], options["tls"]
    click.echo(f"colony {colony!r} created in {data_dir}")
    click.echo(
        f"wrote {env_file} (mode 0600): server {values['COLONIES_SERVER_HOST']}:"
        f"{values['COLONIES_SERVER_PORT']}, executor name {values['COLONIES_EXECUTOR_NAME']}"
    )
    click.echo(f"use it with: set -a; . {env_file}; set +a")
    if tls:
        _init_tls(data_dir, values["COLONIES_SERVER_HOST"])


def _init_tls(data_dir: Path, host: str) -> None:
    """`init --tls`: the self-signed pair and how to use it."""
    from hpcq.server.admin import make_self_signed

    cert, key = make_self_signed(data_dir, sorted({host, "127.0.0.1", "localhost"}))
    click.echo(
        f"self-signed TLS pair: {cert} and {key} (0600). Start with: hpcq server start "
        f"--tls-cert {cert} --tls-key {key}"
    )
    click.echo(
        f"clients trust it with: export REQUESTS_CA_BUNDLE={cert} WEBSOCKET_CLIENT_CA_BUNDLE={cert} "
        "(copy the .crt, never the .key, to the laptop and the login node)"
    )


def _health(info: dict, cfg: ServerSettings) -> dict:
    """GET /health of the server that wrote ``info`` (server.json): {"running": bool[, "error"]}."""
    import requests

    base = str(info.get("url") or f"http://{info['host']}:{info['port']}/api").rsplit("/api", 1)[0]
    try:
        r = requests.get(f"{base}/health", timeout=3, verify=str(cfg.tls_cert) if cfg.tls_cert else True)
    except requests.RequestException as exc:
        return {"running": False, "error": str(exc)}
    return {"running": r.status_code == 200}


def _counts(db: Path) -> dict[str, int]:
    """How many colonies, executors, users, processes and graphs the database holds (read-only)."""
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        tables = ("colonies", "executors", "users", "processes", "graphs")
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    finally:
        con.close()


@server.command()
@data_dir_option
@json_option
def status(data_dir, as_json):
    """Is the server up (GET /health), where, and how much is stored."""
    from hpcq.server.context import DB_NAME, INFO_NAME

    cfg = load_settings(data_dir=data_dir).server
    out: dict = {"data_dir": str(cfg.data_dir), "running": False}
    info_path = cfg.data_dir / INFO_NAME
    if info_path.exists():
        info = json.loads(info_path.read_text())
        out.update(host=info["host"], port=info["port"], pid=info["pid"], serverid=info["serverid"])
        out.update(_health(info, cfg))
    if (cfg.data_dir / DB_NAME).exists():
        out.update(_counts(cfg.data_dir / DB_NAME))
    if as_json:
        echo_json(out)
    else:
        for k, v in out.items():
            click.echo(f"{k:10} {v}")
    if not out["running"]:
        sys.exit(1)
