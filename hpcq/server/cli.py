"""`hpcq server start|init|status`."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from hpcq.config import ConfigError, config_dir, env_file_path


def default_data_dir() -> Path:
    return config_dir() / "server"


def _default_port() -> int:
    return int(os.environ.get("COLONIES_SERVER_PORT") or 50080)


@click.group()
def server():
    """The embedded Colonies-compatible server (speaks colonies v1.9.7's protocol)."""


@server.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Database, server key and server.json (default $HPCQ_CONFIG_DIR/server).",
)
@click.option("--host", default=None, help="Bind address (default $COLONIES_SERVER_HOST or 127.0.0.1).")
@click.option(
    "--port", type=int, default=None, help="Port (default $COLONIES_SERVER_PORT or 50080; 0 picks a free one)."
)
@click.option(
    "--stale-executor-s",
    type=float,
    default=600.0,
    show_default=True,
    help="Remove executors not heard from (assign) for this long.",
)
@click.option(
    "--cleanup-interval-s", type=float, default=60.0, show_default=True, help="How often to look for stale executors."
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
@click.option("-v", "--verbose", is_flag=True, help="Log every request line.")
def start(data_dir, host, port, stale_executor_s, cleanup_interval_s, no_reregister, tls_cert, tls_key, verbose):
    """Serve POST /api and GET /health until SIGTERM/SIGINT."""
    from hpcq.server.httpd import ServerConfig, serve

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    env_reregister = os.environ.get("COLONIES_ALLOW_EXECUTOR_REREGISTER", "true").lower() == "true"
    cfg = ServerConfig(
        data_dir=data_dir or default_data_dir(),
        host=host or os.environ.get("COLONIES_SERVER_HOST") or "127.0.0.1",
        port=_default_port() if port is None else port,
        stale_executor_s=stale_executor_s,
        cleanup_interval_s=cleanup_interval_s,
        allow_reregister=env_reregister and not no_reregister,
        tls_cert=tls_cert,
        tls_key=tls_key,
    )
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together: give both (or neither for plain HTTP)")
    try:
        serve(cfg)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {cfg.host}:{cfg.port}: {exc}. Fix: pick another --port or stop the server using it"
        ) from None


@server.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Server data dir (default $HPCQ_CONFIG_DIR/server).",
)
@click.option("--colony", default="dev", show_default=True, help="Colony name to create.")
@click.option(
    "--env-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the COLONIES_* variables (default $HPCQ_CONFIG_DIR/colonies.env).",
)
@click.option("--host", default=None, help="Server host written to the env file.")
@click.option("--port", type=int, default=None, help="Server port written to the env file.")
@click.option("--executor-name", default=None, help="Suggested COLONIES_EXECUTOR_NAME.")
@click.option(
    "--tls",
    is_flag=True,
    help="Also make a self-signed certificate (tls.crt, tls.key) in the data dir and write COLONIES_SERVER_TLS=true.",
)
def init(data_dir, colony, env_file, host, port, executor_name, tls):
    """Create a colony and a user key directly in the data dir, and write the env file (0600).

    Works whether or not the server is running."""
    from hpcq.server.admin import InitError, init_and_write

    data_dir = data_dir or default_data_dir()
    env_file = env_file or env_file_path()
    try:
        values = init_and_write(
            data_dir, env_file, colony=colony, host=host, port=port, executor_name=executor_name, tls=tls
        )
    except (InitError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"colony {colony!r} created in {data_dir}")
    click.echo(
        f"wrote {env_file} (mode 0600): server {values['COLONIES_SERVER_HOST']}:"
        f"{values['COLONIES_SERVER_PORT']}, executor name {values['COLONIES_EXECUTOR_NAME']}"
    )
    click.echo(f"use it with: set -a; . {env_file}; set +a")
    if tls:
        from hpcq.server.admin import make_self_signed

        cert, key = make_self_signed(data_dir, sorted({values["COLONIES_SERVER_HOST"], "127.0.0.1", "localhost"}))
        click.echo(
            f"self-signed TLS pair: {cert} and {key} (0600). Start with: hpcq server start "
            f"--tls-cert {cert} --tls-key {key}"
        )
        click.echo(
            f"clients trust it with: export REQUESTS_CA_BUNDLE={cert} WEBSOCKET_CLIENT_CA_BUNDLE={cert} "
            "(copy the .crt, never the .key, to the laptop and the login node)"
        )


@server.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Server data dir (default $HPCQ_CONFIG_DIR/server).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(data_dir, as_json):
    """Is the server up (GET /health), where, and how much is stored."""
    import sqlite3

    import requests

    from hpcq.server.httpd import DB_NAME, INFO_NAME

    data_dir = data_dir or default_data_dir()
    out: dict = {"data_dir": str(data_dir), "running": False}
    info_path = data_dir / INFO_NAME
    if info_path.exists():
        info = json.loads(info_path.read_text())
        out.update(host=info["host"], port=info["port"], pid=info["pid"], serverid=info["serverid"])
        try:
            r = requests.get(f"http://{info['host']}:{info['port']}/health", timeout=3)
            out["running"] = r.status_code == 200
        except requests.RequestException as exc:
            out["error"] = str(exc)
    db = data_dir / DB_NAME
    if db.exists():
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            for table in ("colonies", "executors", "users", "processes", "graphs"):
                out[table] = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        finally:
            con.close()
    if as_json:
        click.echo(json.dumps(out))
    else:
        for k, v in out.items():
            click.echo(f"{k:10} {v}")
    if not out["running"]:
        sys.exit(1)
