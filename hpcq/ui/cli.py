"""`hpcq ui`: serve the results dashboard."""

from __future__ import annotations

import click

from hpcq.results.catalog import CatalogError


@click.command()
@click.option(
    "--results",
    "-r",
    type=click.Path(file_okay=False),
    help="folder of result files; indexed (incrementally) before serving "
    "[default: the results_dir setting, else the latest fetched study]",
)
@click.option(
    "--db", type=click.Path(dir_okay=False), help="catalog file (default: DIR/.hpcq-catalog.sqlite of --results)"
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="address to listen on (keep 127.0.0.1 unless behind an ssh tunnel/proxy)",
)
@click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535))
@click.option("--debug", is_flag=True, help="Dash debug mode (reloader, dev tools)")
def ui(results, db, host, port, debug):
    """Serve the dashboard: metrics table, workflow graph, JSON API under /api/v1."""
    from hpcq.results.cli import open_catalog
    from hpcq.ui.app import create_app

    cat = open_catalog(db, results)
    try:
        app = create_app(str(cat.db_path))
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"warning: listening on {host}: the dashboard has no authentication; anyone "
            "who can reach this address can read the results",
            err=True,
        )
    click.echo(f"hpcq ui: http://{host}:{port}/  (catalog {cat.db_path}; API /api/v1/runs)")
    app.run(host=host, port=port, debug=debug)
