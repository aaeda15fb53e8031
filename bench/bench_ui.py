"""Benchmark: how fast the dashboard's first page loads on a 1,000-run (and 10,000-run) catalog.

    nice -n 10 .venv/bin/python bench/bench_ui.py [--runs 1000 10000] [--repeat 3] [--dir /tmp/hpcq-bench-ui]

Writes bench/results/ui.json and prints it. Issue 15 asks that a 1,000-run catalog loads in under
3 s. Measured side by side in one run, per catalog size:
  * server: what the Dash app computes for its first page, cold (data cache cleared): the layout
    (study list, metric options: hpcq.ui.data.load), the table/graph callback (ranked_view with the
    default ranking, table_columns, table_records, graph elements) and the plots callback (scope,
    series_for, the four hpcq.ui.plots figures); and the same warm (cache filled);
  * browser: `hpcq ui` started in a subprocess on a free port, the page loaded in Playwright with
    Debian's Chromium until the table shows rows, the graph has nodes and every plot drew data (the
    same conditions as tests/ui, hpcq.ui.screenshots.wait_ready); cold = the first load of a freshly
    started server, warm = a reload on the same server.
Each repeated --repeat times (median and max). A size is skipped when generating it would take
longer than --max-gen-s (estimated from the first size).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpcq.results.catalog import Catalog, default_db  # noqa: E402
from hpcq.testing.synthetic import make_study  # noqa: E402
from hpcq.ui import data as uidata  # noqa: E402
from hpcq.ui import plots  # noqa: E402
from hpcq.ui.app import DEFAULT_RANKING, PLOTS  # noqa: E402
from hpcq.ui.screenshots import CHROMIUM, CHROMIUM_ARGS, SCAN, free_port, wait_ready  # noqa: E402

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
    """The computations behind the first page, as hpcq/ui/app.py runs them (default inputs)."""
    cat = Catalog(db, readonly=True)
    t0 = time.perf_counter()
    studies = [s for s in cat.study_times()["study"] if s is not None]  # as app._studies
    uidata.metric_options(uidata.load(cat).noise)
    t1 = time.perf_counter()
    study = studies[0] if studies else None
    view = uidata.ranked_view(cat, by=list(DEFAULT_RANKING), studies=[study] if study else None)
    columns, _shown = uidata.table_columns(view.rows, view.scan)
    uidata.table_records(view.rows, columns)
    t2 = time.perf_counter()
    rows = uidata.scope(cat, view.rows, None, None)
    vqe = uidata.load(cat).runs
    vqe = vqe[vqe["step"] == "vqe"]
    run = rows.iloc[0] if len(rows) else None
    ser = uidata.series_for(
        cat,
        list(rows["parent_task_id"].dropna().unique()[: plots.MAX_TRACES])
        + ([run["task_id"]] if run is not None else []),
    )
    plots.convergence(rows, vqe, ser)
    plots.noise_response(rows)
    plots.distributions(run, ser)
    plots.energy_curve(rows, vqe, view.scan or [])
    t3 = time.perf_counter()
    return {"layout_s": t1 - t0, "table_graph_s": t2 - t1, "plots_s": t3 - t2, "total_s": t3 - t0}


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


def start_ui(db: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    hpcq = str(Path(sys.executable).with_name("hpcq"))
    proc = subprocess.Popen(
        [hpcq, "ui", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:  # a TCP connect, no HTTP request: Dash runs the layout (filling the data cache) on the first one
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"hpcq ui exited with {proc.returncode}")
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("hpcq ui did not answer within 120 s")


def page_load(browser, url: str) -> dict[str, float]:
    """Seconds from navigation to: the table's rows, the graph's nodes, every plot's data (total)."""
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    t = time.perf_counter()
    page.goto(url)
    wait_ready(page)  # grid rows, then graph nodes
    t_grid_graph = time.perf_counter() - t
    wait_ready(page, PLOTS)
    dt = time.perf_counter() - t
    page.close()
    return {"table_graph_s": t_grid_graph, "total_s": dt}


def browser_figures(db: Path, repeat: int) -> dict:
    from playwright.sync_api import sync_playwright

    cold, warm = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(repeat):
                proc, url = start_ui(db)
                try:
                    cold.append(page_load(browser, url))
                    warm.append(page_load(browser, url))
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
        finally:
            browser.close()
    out = {}
    for name, rs in (("cold", cold), ("warm", warm)):
        out[name] = {k: stats([r[k] for r in rs]) for k in rs[0]}
        out[name]["all_total_s"] = [round(r["total_s"], 3) for r in rs]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default="/tmp/hpcq-bench-ui")
    ap.add_argument("--max-gen-s", type=float, default=60.0, help="skip a size whose generation would take longer")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ui.json"))
    args = ap.parse_args()
    sizes, per_run_s = [], None
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
            "browser": browser_figures(db, args.repeat),
        }
        entry["meets_3s_target"] = entry["browser"]["cold"]["total_s"]["max"] < 3.0
        sizes.append(entry)
        print(json.dumps(entry, indent=1), flush=True)
    result = {
        "benchmark": "bench/bench_ui.py",
        "target": "a 1,000-run catalog loads in under 3 s (issue 15)",
        "repeat": args.repeat,
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "sizes": sizes,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
