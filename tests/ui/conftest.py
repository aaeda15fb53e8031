"""A dashboard served from a thread on a free 127.0.0.1 port, and Debian's chromium.

Two studies (hpcq.testing.screenshots.make_demo_results): a 4-workflow noise study (8 VQE, 24 noise
runs) and a 6-point H2 bond scan (12 VQE, 36 noise runs; the newer, so the page opens on it)."""

import os
from pathlib import Path

import pytest

from hpcq.testing import need
from hpcq.testing.screenshots import CHROMIUM, CHROMIUM_ARGS, WAIT_MS, make_demo_results, serve, wait_ready

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def ui_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("ui-results")
    make_demo_results(d)
    return d


@pytest.fixture(scope="session")
def ui_db(ui_results):
    from hpcq.results.catalog import default_db

    return default_db(ui_results)


@pytest.fixture(scope="session")
def ui_server(ui_db):
    with serve(ui_db) as url:
        yield url


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


@pytest.fixture(scope="module")
def page(browser, ui_server):
    """One page on the dashboard for the module's checks (they run in order, each leaving the
    page as the next expects); a screenshot is saved at the end."""
    ctx = browser.new_context(viewport={"width": 1500, "height": 1400}, accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(WAIT_MS)  # clicks and fills on a loaded machine
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(ui_server + "/")
    wait_ready(pg)
    pg.errors = errors
    yield pg
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    ctx.close()
