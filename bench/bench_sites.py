"""Cross-site transfer overhead: the water workflow over two sites (no shared results directory,
files through ColonyOS file storage) side by side with the same study at one site.

Setup, all on this machine: a lab Slurm cluster, the embedded ColonyOS server, moto's S3 server
(hpcq.testing.s3), two executor subprocesses "site-a" and "site-b" with their own state, jobs and
results directories. The trimmed water study (tests/workflow/test_water_e2e.py's: UCCSD, COBYLA 25,
noiseless + one depolarizing model; 6 steps) is submitted twice per round: "two" with its steps
alternating between the sites (every parent->child edge crosses), "one" with every step at site-a.
Per step of "two": the bytes and seconds its executor spent fetching parent files
(inputs_staged_bytes / inputs_staged_s attributes) against the step's Slurm run time (run_time_s),
and the share staging / (staging + run). Per round: each study's wall time from submit to done.

    .venv/bin/python bench/bench_sites.py [--rounds 3]     (root: it starts a lab Slurm cluster)

Writes bench/results/sites.json and prints it. Goal (issue 22): transfer <= 5 % of a step's time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TYPE = "hpcq-bench-xs"


def _study(name: str):
    from hpcq.client.study import parse_study
    from hpcq.testing.studies import trimmed_water

    return parse_study(trimmed_water(name, TYPE, walltime=600), name)


def _specs(name: str, sites: list[str]):
    from hpcq.client.dag import build_specs

    specs = build_specs(_study(name))
    for i, spec in enumerate(specs):
        spec["conditions"]["executornames"] = [sites[i % len(sites)]]
    return specs


def _run(client, name: str, sites: list[str]) -> tuple[float, object]:
    t0 = time.perf_counter()
    sub = client.submit_specs(name, _specs(name, sites), workflow=True, executortype=TYPE)
    snap = client.watch(sub, timeout=1800)
    if snap.counts["done"] != len(sub.processids):
        raise RuntimeError(f"{name}: {snap.line()} {snap.failed}")
    return time.perf_counter() - t0, sub


def _steps(client, sub) -> list[dict]:
    rows = []
    for pid in sub.processids:
        p = client.colonies.get_process(pid, client.key)
        a = {x.key: x.value for x in (p.attributes or [])}
        staged_s = float(a.get("inputs_staged_s", 0.0))
        run_s = float(a.get("run_time_s", 0.0))
        rows.append(
            {
                "step": sub.nodenames.get(pid, pid)[:40],
                "staged_bytes": int(a.get("inputs_staged_bytes", 0)),
                "staged_s": staged_s,
                "run_s": run_s,
                "share": staged_s / (staged_s + run_s) if staged_s + run_s > 0 else 0.0,
            }
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "sites.json"))
    a = ap.parse_args()

    from hpcq.client.api import Client
    from hpcq.config import Settings
    from hpcq.executor.lab import local_cluster
    from hpcq.server.launch import init_colony, start_server
    from hpcq.testing.faults import ExecutorProc
    from hpcq.testing.s3 import s3_server

    tmp = Path(tempfile.mkdtemp(prefix="bench-sites-"))
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(local_cluster(tmp / "slurm", nodes=3, cpus=8, dbd=True, set_env=True))
        server = stack.enter_context(start_server(tmp / "server", port=0))
        env = init_colony(server, colony="bench")
        s3env = stack.enter_context(s3_server())
        os.environ.update({**env, **s3env, "HPCQ_CONFIG_DIR": str(tmp / "config")})
        executors = []
        for site in ("site-a", "site-b"):
            xenv = cluster.env(**env, **s3env)
            xenv.update(HPCQ_CONFIG_DIR=str(tmp / "config"), PYTHONUNBUFFERED="1")
            ex = ExecutorProc(env_file=None, env=xenv, state_dir=tmp / site / "state", name=site, executor_type=TYPE)
            executors.append(ex.start())
            stack.callback(ex.stop)
        client = Client(Settings.load())
        rounds = []
        for r in range(a.rounds):  # alternate so that drift hits both alike
            two_s, two = _run(client, f"xs-two-{r}", ["site-a", "site-b"])
            one_s, _ = _run(client, f"xs-one-{r}", ["site-a"])
            rounds.append({"two_sites_s": two_s, "one_site_s": one_s, "steps": _steps(client, two)})
            print(f"round {r}: two sites {two_s:.1f} s, one site {one_s:.1f} s", flush=True)
    staged = [s for rnd in rounds for s in rnd["steps"] if s["staged_bytes"]]
    result = {
        "machine": f"{platform.node()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rounds": rounds,
        "summary": {
            "staged_steps": len(staged),
            "bytes_per_staged_step_median": statistics.median(s["staged_bytes"] for s in staged) if staged else 0,
            "staged_s_median": statistics.median(s["staged_s"] for s in staged) if staged else 0.0,
            "staged_s_max": max((s["staged_s"] for s in staged), default=0.0),
            "share_median": statistics.median(s["share"] for s in staged) if staged else 0.0,
            "share_max": max((s["share"] for s in staged), default=0.0),
            "two_over_one_wall_median": statistics.median(r["two_sites_s"] / r["one_site_s"] for r in rounds),
        },
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
