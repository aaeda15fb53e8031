"""A dashboard served from a thread on a free 127.0.0.1 port, and Debian's chromium."""

import os
import socket
import threading
from pathlib import Path

import pytest

from hpcq.results.catalog import Catalog, default_db
from hpcq.testing import need
from hpcq.testing.synthetic import make_study

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
GRID_READY = """() => { try { return dash_ag_grid.getApi('runs-grid').getDisplayedRowCount() > 0; }
                       catch (e) { return false; } }"""
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ui_results(tmp_path_factory):
    """5 workflows: 10 vqe runs, 30 noise runs, indexed."""
    d = tmp_path_factory.mktemp("ui-results")
    make_study(d, n_workflows=5, noise_per_vqe=3, vqe_per_workflow=2)
    Catalog(default_db(d)).index(d)
    return d


@pytest.fixture(scope="session")
def ui_server(ui_results):
    """Base URL of a running dashboard (werkzeug server in a thread; shut down at the end)."""
    from werkzeug.serving import make_server

    from hpcq.ui.app import create_app

    app = create_app(str(default_db(ui_results)))
    srv = make_server("127.0.0.1", free_port(), app.server, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    t.join(10)


@pytest.fixture(scope="session")
def browser():
    need(os.path.exists(CHROMIUM), f"{CHROMIUM} not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover
        need(False, "playwright not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, ui_server, request):
    """A fresh page on the dashboard; a screenshot of it is saved after the test."""
    ctx = browser.new_context(viewport={"width": 1500, "height": 1400})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(ui_server + "/")
    pg.wait_for_function(GRID_READY,
                         timeout=30000)
    pg.errors = errors
    yield pg
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    ctx.close()
