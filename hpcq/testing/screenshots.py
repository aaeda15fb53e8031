"""Regenerate the screenshots of docs/dashboard.md: ``python -m hpcq.testing.screenshots [OUT_DIR]``.

Why a command: the pictures in the docs must show the dashboard as it is. It writes two
synthetic studies (a noise study and an H2 bond scan, hpcq.testing.synthetic), serves the
dashboard from a thread, drives Debian's chromium with Playwright and saves one small PNG per
view (default docs/img/). Also home of the helpers the browser tests and bench/bench_ui.py share
(serving, waiting). Why in hpcq.testing, not hpcq.ui: it is developer tooling built on the
synthetic studies; the dashboard itself never imports test code.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
GRID_READY = """() => { try { return dash_ag_grid.getApi('runs-grid').getDisplayedRowCount() > 0; }
                       catch (e) { return false; } }"""
# every plot drew its data points (layout.meta.points, see hpcq/ui/plots.py)
PLOTS_READY = """(ids) => ids.every(id => { const g = document.querySelector('#' + id + ' .js-plotly-plot');
    return g && g.layout && g.layout.meta && g.layout.meta.points > 0; })"""
CY = """(() => { const root = document.querySelector('#workflow-graph');
  const el = root._cyreg ? root : Array.from(root.querySelectorAll('*')).find(e => e._cyreg);
  return el._cyreg.cy; })()"""
SCAN = ("bond_length", [0.5, 0.6, 0.735, 0.9, 1.2, 1.6])
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SITES = ("lumi", "leonardo")  # the scan's VQE jobs ran at the first, its noise jobs at the second


def make_demo_results(out: Path) -> Path:
    """Two studies under ``out`` (a 4-workflow noise study; a 6-point H2 bond scan over two sites,
    the newer), indexed; returns the catalog path."""
    from hpcq.results.catalog import Catalog, default_db
    from hpcq.testing.synthetic import make_study

    make_study(out / "noise-study", n_workflows=4, study="noise-study")
    make_study(
        out / "h2-scan", n_workflows=len(SCAN[1]), study="h2-scan", problems=["h2"], scan=SCAN, seed=11, sites=SITES
    )
    Catalog(default_db(out)).index(out)
    return default_db(out)


@contextlib.contextmanager
def serve(db_path: str | Path) -> Iterator[str]:
    """The dashboard over ``db_path`` in a werkzeug thread on a free port; yields its URL."""
    from werkzeug.serving import make_server

    from hpcq.ui.app import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    srv = make_server("127.0.0.1", free_port(), create_app(str(db_path)).server, threaded=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        t.join(10)


WAIT_MS = 90_000  # generous (a loaded 2-core machine took 60 s for a first page) but bounded


def wait_ready(page, plots: tuple[str, ...] = (), timeout: float = WAIT_MS) -> None:
    """Until the grid has rows, the graph has nodes and (``plots``) those plots drew data."""
    page.wait_for_function(GRID_READY, timeout=timeout)
    page.wait_for_function(f"{CY}.nodes().length > 0", timeout=timeout)
    if plots:
        page.wait_for_function(PLOTS_READY, arg=list(plots), timeout=timeout)


def capture(out_dir: Path = DOCS_IMG) -> list[Path]:
    """Write the screenshots; returns their paths."""
    from playwright.sync_api import sync_playwright

    from hpcq.ui.app import PLOTS

    out_dir.mkdir(parents=True, exist_ok=True)
    shots: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp, serve(make_demo_results(Path(tmp))) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        wait_ready(page, PLOTS)
        page.wait_for_timeout(500)

        def shot(name: str, selector: str) -> None:
            path = out_dir / f"dashboard-{name}.png"
            page.locator(selector).screenshot(path=str(path), scale="css")
            shots.append(path)

        shot("table", "#table-view")
        shot("plots", "#plots")
        shot("graph", "#graph-view")
        # a two-metric weighted ranking, its definition shown
        page.fill("#rank-weights", "0.7,0.3")
        page.click("#rank-by")
        page.keyboard.type("jsd")
        page.get_by_role("option", name="jsd ↓ smaller is better", exact=True).click()
        page.keyboard.press("Escape")
        page.press("#rank-weights", "Enter")
        page.wait_for_function("document.querySelector('#runs-count').innerText.includes('jsd')")
        page.wait_for_timeout(800)
        shot("ranking", "#table-view")
        browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for path in capture(Path(argv[0]) if argv else DOCS_IMG):
        print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
