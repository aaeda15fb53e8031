"""Benchmark: how fast the dashboard's first page loads on a 1,000-run (and 10,000-run) catalog.

    nice -n 10 .venv/bin/python bench/bench_ui.py [--runs 1000 10000] [--repeat 3] [--dir /tmp/hpcq-bench-ui]
        [--compare-tree DIR]

Writes bench/results/ui.json and prints it. Issue 15 asks that a 1,000-run catalog loads in under
3 s. Measured per catalog size:
  * server: what the Dash app computes for its first page, cold (data cache cleared) and warm:
    create_app (it builds the first page: the table, the graph and the four figures for the
    default controls, kept until the catalog changes, hpcq/ui/app.py), then per page load the
    layout call and its JSON;
  * browser: `hpcq ui` started in a subprocess on a free port, the page loaded in Playwright with
    Debian's Chromium until the table shows rows, the graph has nodes and every plot drew data (the
    same conditions as tests/ui, hpcq.testing.screenshots.wait_ready); cold = the first load of a freshly
    started server, warm = a reload on the same server. Besides wall time: the CPU seconds Chromium
    and the server spent (on a loaded machine wall time mostly measures the other jobs; CPU seconds
    much less so) and the number of callback requests the page made before it was complete.
  * --compare-tree DIR: the browser figures also for another hpcq source tree (e.g. the previous
    commit: `git archive COMMIT hpcq | tar -x -C DIR`), interleaved repeat by repeat with the
    current one, so that both see the same load.
Each repeated --repeat times (median and max). A size is skipped when generating it would take
longer than --max-gen-s (estimated from the first size).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpcq.results.catalog import Catalog, default_db  # noqa: E402
from hpcq.testing.screenshots import CHROMIUM, CHROMIUM_ARGS, SCAN, free_port, wait_ready  # noqa: E402
from hpcq.testing.synthetic import make_study  # noqa: E402
from hpcq.ui import data as uidata  # noqa: E402
from hpcq.ui.app import PLOTS, create_app  # noqa: E402

RUNS_PER_WORKFLOW = 8  # make_study defaults: 2 VQE runs + 2 x 3 noise runs


def generate(out: Path, n_runs: int) -> tuple[Path, int, float]:
    """An H2 bond scan (as the demo's, so all four plots have data) of >= n_runs runs under out/
    (reused when there), indexed; (db, runs, seconds)."""
    n_wf = math.ceil(n_runs / RUNS_PER_WORKFLOW)
    t = time.perf_counter()
    if not (out / ".done").exists():
        out.mkdir(parents=True, exist_ok=True)
        make_study(out / "study", n_workflows=n_wf, study=f"bench-ui-{n_runs}", problems=["h2"], scan=SCAN, seed=11)
        Catalog(default_db(out)).index(out)
        (out / ".done").write_text("ok")
    db = default_db(out)
    n = int(Catalog(db, readonly=True).query("SELECT COUNT(*) AS n FROM runs")["n"].iloc[0])
    return db, n, time.perf_counter() - t


def first_page(db: Path) -> dict[str, float]:
    """What the server does for the first page: create_app (Dash's set-up and the first page's
    build: table, graph, four figures; hpcq/ui/app.py keeps that page until the catalog changes),
    then a page load's layout call (the kept page) and its JSON."""
    from dash._utils import to_json

    t0 = time.perf_counter()
    app = create_app(str(db))
    t1 = time.perf_counter()
    layout = app.layout()
    t2 = time.perf_counter()
    body = to_json(layout)
    t3 = time.perf_counter()
    return {
        "create_app_s": t1 - t0,
        "layout_s": t2 - t1,
        "json_s": t3 - t2,
        "per_load_s": t3 - t1,
        "layout_mb": len(body) / 1e6,
    }


def stats(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "max": round(max(values), 4)}


def server_figures(db: Path, repeat: int) -> dict:
    cold, warm = [], []
    for _ in range(repeat):
        uidata._cache.clear()  # cold: as the first request after `hpcq ui` starts
        cold.append(first_page(db))
        warm.append(first_page(db))
    out = {}
    for name, rs in (("cold", cold), ("warm", warm)):
        out[name] = {k: stats([r[k] for r in rs]) for k in rs[0]}
    return out


def start_ui(db: Path, tree: str | None = None) -> tuple[subprocess.Popen, str]:
    """`hpcq ui` on a free port; ``tree``: another hpcq source tree to serve from (--compare-tree)."""
    port = free_port()
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = os.pathsep.join([tree, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpcq.cli", "ui", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tree or None,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:  # a TCP connect, no HTTP request: Dash runs the layout (filling the data cache) on the first one
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"hpcq ui exited with {proc.returncode}") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("hpcq ui did not answer within 120 s")


def _cpu_s(pids: set[int]) -> float:
    """User + system CPU seconds of these processes (Linux /proc; the exited ones not counted)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _tree(root: int) -> set[int]:
    """``root`` and its descendants (from /proc's parent ids)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
    out, grew = {root}, True
    while grew:
        new = {p for p, pp in parents.items() if pp in out and p not in out}
        out |= new
        grew = bool(new)
    return out


def _chromium() -> set[int]:
    """This benchmark's Chromium processes (browser, renderers, GPU/utility)."""
    out = set()
    for pid in _tree(os.getpid()):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                out.add(pid)
        except OSError:
            pass
    return out


def page_load(browser, url: str, server_pid: int) -> dict[str, float]:
    """Seconds from navigation to: the table's rows and the graph's nodes, every plot's data
    (total); the CPU seconds Chromium and the server spent on it; the callbacks it waited for."""
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    callbacks = []
    page.on("request", lambda r: callbacks.append(r.url) if "_dash-update-component" in r.url else None)
    server = _tree(server_pid)
    cpu0_b, cpu0_s = _cpu_s(_chromium()), _cpu_s(server)
    t = time.perf_counter()
    page.goto(url)
    wait_ready(page)  # grid rows, then graph nodes
    t_grid_graph = time.perf_counter() - t
    wait_ready(page, PLOTS)
    dt = time.perf_counter() - t
    cpu_b, cpu_s = _cpu_s(_chromium()) - cpu0_b, _cpu_s(server) - cpu0_s
    page.close()
    return {
        "table_graph_s": t_grid_graph,
        "total_s": dt,
        "cpu_browser_s": cpu_b,
        "cpu_server_s": cpu_s,
        "callbacks": float(len(callbacks)),
    }


def browser_figures(db: Path, repeat: int, trees: dict[str, str | None]) -> dict:
    """Per source tree (``{"current": None, "compare": DIR}``), interleaved repeat by repeat so
    that both see the same machine load."""
    from playwright.sync_api import sync_playwright

    runs: dict[str, dict[str, list]] = {name: {"cold": [], "warm": []} for name in trees}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(repeat):
                for name, tree in trees.items():
                    proc, url = start_ui(db, tree)
                    try:
                        runs[name]["cold"].append(page_load(browser, url, proc.pid))
                        runs[name]["warm"].append(page_load(browser, url, proc.pid))
                    finally:
                        proc.terminate()
                        proc.wait(timeout=30)
        finally:
            browser.close()
    out: dict[str, dict] = {}
    for name, by_kind in runs.items():
        out[name] = {}
        for kind, rs in by_kind.items():
            out[name][kind] = {k: stats([r[k] for r in rs]) for k in rs[0]}
            out[name][kind]["all_total_s"] = [round(r["total_s"], 3) for r in rs]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/hpcq-bench-ui")
    ap.add_argument("--max-gen-s", type=float, default=60.0, help="skip a size whose generation would take longer")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ui.json"))
    ap.add_argument(
        "--compare-tree",
        metavar="DIR",
        help="also serve from this hpcq source tree (e.g. `git archive COMMIT hpcq | tar -x -C DIR`), "
        "interleaved with the current one: old vs new side by side",
    )
    args = ap.parse_args()
    trees: dict[str, str | None] = {"current": None}
    if args.compare_tree:
        trees["compare"] = str(Path(args.compare_tree).resolve())
    sizes, per_run_s = [], None
    load_start = os.getloadavg()
    for n in args.runs:
        out = Path(args.dir) / f"runs{n}"
        if per_run_s is not None and not (out / ".done").exists() and per_run_s * n > args.max_gen_s:
            sizes.append({"runs_requested": n, "skipped": f"generation estimated {per_run_s * n:.0f} s > --max-gen-s"})
            continue
        db, n_runs, gen_s = generate(out, n)
        if gen_s > 1:
            per_run_s = gen_s / n_runs
        entry = {
            "runs_requested": n,
            "runs": n_runs,
            "generate_and_index_s": round(gen_s, 2),
            "server": server_figures(db, args.repeat),
            "browser": browser_figures(db, args.repeat, trees),
        }
        entry["meets_3s_target"] = entry["browser"]["current"]["cold"]["total_s"]["max"] < 3.0
        sizes.append(entry)
        print(json.dumps(entry, indent=1), flush=True)
    result = {
        "benchmark": "bench/bench_ui.py",
        "target": "a 1,000-run catalog loads in under 3 s (issue 15)",
        "repeat": args.repeat,
        "compare_tree": args.compare_tree,
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_end": os.getloadavg()},
        "load_avg_start": load_start,
        "sizes": sizes,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
