"""Failover time between two sites: how long after site a dies (executor SIGKILLed, its Slurm
stopped) the step it was running starts at site b, for given maxexectimes.

It runs the failover case of tests/executor/test_failover.py (two lab Slurm clusters, the real
colonies server, moto's S3, the trimmed water study; see that module) once per round and
maxexectime, collecting the JSON line the test appends to HPCQ_FAILOVER_FIGURES. Each round also
re-checks the test's invariants (0 lost, 0 completed/closed/registered twice), so a figure comes
only from a correct failover. About 2 minutes per round on the shared 2-core VM.

    .venv/bin/python bench/bench_failover.py [--maxexectime 30 40] [--rounds 1]   (root: lab Slurm)

Writes bench/results/failover.json and prints it (docs/performance.md, docs/reliability.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASE = "tests/executor/test_failover.py::test_site_a_killed_mid_study_site_b_finishes_nothing_lost_or_twice"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--maxexectime", type=int, nargs="+", default=[30, 40], help="seconds (>= 30: the walltime)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "failover.json"))
    a = ap.parse_args()
    if any(m < 30 for m in a.maxexectime):
        ap.error("--maxexectime: each must be >= 30 (the steps' walltime)")
    runs = []
    for m in a.maxexectime:
        for r in range(a.rounds):
            with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as fig:
                env = {**os.environ, "HPCQ_FAILOVER_FIGURES": fig.name, "HPCQ_FAILOVER_MAXEXECTIME": str(m)}
                env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
                t0 = time.perf_counter()
                rc = subprocess.call([sys.executable, "-m", "pytest", CASE, "-q", "-x", "-p", "no:cacheprovider"],
                                     cwd=REPO, env=env)  # fmt: skip
                lines = [json.loads(x) for x in Path(fig.name).read_text().splitlines() if x.strip()]
            if rc != 0 or not lines:
                print(f"maxexectime {m} round {r}: the failover case failed (rc {rc}); no figure", file=sys.stderr)
                return 1
            runs.append({**lines[-1], "round": r, "case_wall_s": round(time.perf_counter() - t0, 1)})
            print(f"maxexectime {m} s, round {r}: failover {lines[-1]['failover_s']} s", flush=True)
    result = {
        "machine": f"{platform.node()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": runs,
        "over_maxexectime_s": [round(x["failover_s"] - x["maxexectime_s"], 1) for x in runs],
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
