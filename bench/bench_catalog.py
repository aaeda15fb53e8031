"""Benchmark: index N synthetic result files into the catalog, then rank from the catalog.

    .venv/bin/python bench/bench_catalog.py [--files 10000] [--dir /tmp/hpcq-bench-catalog]

Writes bench/results/catalog.json and prints it. Measured side by side in one run:
  * first index with 1 reader process and with the default number of reader processes
    (separate databases, same files);
  * re-index with nothing changed (incremental: stat only), and after touching 1% of files
    (same content: checksum compared, rows kept);
  * ranking from the catalog: load the runs + rank (+ save the ranks), for the 10,000 VQE runs
    (--files 10000) and for the 30,000 noise runs joined with their parents; target <= 2 s.
Files are generated once per --dir (shards written in parallel) and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hpcq.results.catalog import Catalog  # noqa: E402
from hpcq.results.rank import make_spec, rank, runs_for  # noqa: E402
from hpcq.testing.synthetic import make_study  # noqa: E402

SHARD_WORKFLOWS = 250  # 500 files per shard


def _shard(args: tuple[str, int, int]) -> int:
    out, i, n = args
    return len(
        make_study(
            Path(out) / f"shard{i:03d}",
            n_workflows=n,
            study=f"bench-{i:03d}",
            seed=i,
            noise_per_vqe=3,
            vqe_per_workflow=2,
            payload="full",
        )
    )


def generate(out: Path, n_files: int, workers: int) -> tuple[int, float]:
    """n_files result files (half vqe, half noise); reused when already there."""
    existing = sum(1 for _ in out.rglob("*.h5")) if out.exists() else 0
    if existing == n_files:
        return existing, 0.0
    if existing:
        raise SystemExit(f"{out} holds {existing} files, not {n_files}: remove it or pick --dir")
    n_wf = n_files // 2
    jobs, i = [], 0
    while n_wf > 0:
        k = min(SHARD_WORKFLOWS, n_wf)
        jobs.append((str(out), i, k))
        n_wf -= k
        i += 1
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        total = sum(pool.map(_shard, jobs))
    return total, time.perf_counter() - t


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def rank_figures(cat: Catalog, step: str, by: list[str], weights: str | None) -> dict:
    runs, t_load = timed(lambda: runs_for(cat, step))
    spec = make_spec(by, weights, "weighted", step)
    ranked, t_rank = timed(lambda: rank(runs, spec))
    _, t_save = timed(lambda: cat.save_ranking(f"bench-{step}", spec.definition(), ranked))
    lex = make_spec(by, None, "lexicographic", step)
    _, t_lex = timed(lambda: rank(runs, lex))
    return {
        "runs": len(runs),
        "by": by,
        "load_s": round(t_load, 3),
        "rank_weighted_s": round(t_rank, 4),
        "rank_lexicographic_s": round(t_lex, 4),
        "save_s": round(t_save, 3),
        "total_s": round(t_load + t_rank + t_save, 3),
        "target_s": 2.0,
        "within_target": (t_load + t_rank + t_save) <= 2.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--dir", default="/tmp/hpcq-bench-catalog")
    ap.add_argument("--workers", type=int, default=min(8, len(os.sched_getaffinity(0))))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "catalog.json"))
    args = ap.parse_args()
    if args.files < 2 or args.files % 2:
        ap.error("--files must be an even number >= 2 (each workflow writes a vqe and a noise file)")

    data = Path(args.dir) / f"files{args.files}"
    n, t_gen = generate(data, args.files, args.workers)
    size = sum(p.stat().st_size for p in data.rglob("*.h5"))
    res: dict = {
        "files": n,
        "bytes": size,
        "generate_s": round(t_gen, 1),
        "cpus": len(os.sched_getaffinity(0)),
        "workers": args.workers,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "index": {},
    }

    for w in (1, args.workers) if args.workers > 1 else (1,):
        db = Path(args.dir) / f"catalog-w{w}.sqlite"
        db.unlink(missing_ok=True)
        cat = Catalog(db)
        stats, t = timed(lambda cat=cat, w=w: cat.index(data, workers=w))
        assert stats.added == n and not stats.errors, stats.summary()
        res["index"][f"workers_{w}"] = {"seconds": round(t, 2), "files_per_s": round(n / t, 1), "runs": stats.runs}
    first = res["index"][f"workers_{1}"]["seconds"]
    best = res["index"][f"workers_{args.workers}"]["seconds"]
    res["index"]["parallel_speedup"] = round(first / best, 2)

    stats, t = timed(lambda: cat.index(data))
    assert stats.unchanged == n, stats.summary()
    res["reindex_unchanged_s"] = round(t, 3)
    touched = sorted(data.rglob("*.h5"))[::100]
    for p in touched:
        os.utime(p)
    stats, t = timed(lambda: cat.index(data))
    assert stats.touched == len(touched), stats.summary()
    res["reindex_1pct_touched_s"] = round(t, 3)
    res["catalog_bytes"] = cat.db_path.stat().st_size

    res["rank_vqe"] = rank_figures(cat, "vqe", ["abs_error:min", "wall_time_s:min"], "0.8,0.2")
    res["rank_noise"] = rank_figures(cat, "noise", ["abs_error:min", "jsd:min"], "0.7,0.3")

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
