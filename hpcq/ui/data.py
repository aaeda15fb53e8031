"""What the dashboard shows, computed once for both views and the JSON API.

Why one module: the table, the graph and /api/v1 must show the same runs with the same ranks,
so all three call :func:`ranked_view`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd

from hpcq.results.catalog import Catalog, join_parents
from hpcq.results.graph import build_graph, elements
from hpcq.results.rank import make_spec, numeric_columns, rank

# table columns, in order (those present are shown); then position/score when ranked
TABLE_COLUMNS = [
    "task_id", "study", "problem", "n_qubits", "ansatz", "reps", "optimizer", "noise_model",
    "noise_params", "abs_error", "rel_error", "energy", "exact_energy", "chemical_accuracy",
    "jsd", "fidelity", "entropy_ideal", "entropy_noisy", "delta_entropy", "entropy_ratio",
    "shots", "wall_time_s", "vqe_task_id", "vqe_energy", "vqe_abs_error", "vqe_rel_error",
    "vqe_chemical_accuracy", "vqe_iterations", "vqe_evaluations", "vqe_wall_time_s",
    "optimizer_params", "seed", "slurm_job_id", "workflow_id", "file",
]
RANK_COLUMNS = ["position", "score"]
GRAPH_MAX_NODES = 2000  # a browser draws a few thousand nodes at most; beyond, ask for top k


@dataclass
class View:
    """Rows (noise runs, ranked or not) and graph elements for one UI state."""

    rows: pd.DataFrame
    elements: list[dict[str, Any]]
    definition: dict[str, Any] | None
    total: int
    graph_note: str = ""  # why the graph is not drawn ("" when it is)


_cache: dict[str, tuple[tuple, pd.DataFrame, pd.DataFrame, Any]] = {}
_cache_lock = threading.Lock()


def load(cat: Catalog) -> tuple[pd.DataFrame, pd.DataFrame, Any]:
    """(runs, noise view, graph) of the catalog, rebuilt only when the catalog changed.

    Why: building them for 40,000 runs takes seconds; every UI change needs them. The
    fingerprint (file count, sums of sizes and mtimes, last index time, run count) changes
    whenever ``index`` adds, rewrites or removes a file."""
    fp = tuple(cat.query(
        "SELECT (SELECT COUNT(*) FROM files), (SELECT SUM(size) FROM files), "
        "(SELECT SUM(mtime_ns % 4294967291) FROM files), (SELECT MAX(mtime_ns) FROM files), "
        "(SELECT MAX(indexed_at) FROM files), "
        "(SELECT COUNT(*) FROM runs)").iloc[0].tolist())
    key = str(cat.db_path.resolve())
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] == fp:
            return hit[1], hit[2], hit[3]
        runs = cat.runs()
        noise, g = join_parents(runs), build_graph(runs)
        _cache[key] = (fp, runs, noise, g)
        return runs, noise, g


def metric_options(noise: pd.DataFrame) -> list[str]:
    """Numeric columns of the noise view that have values (rankable metrics)."""
    skip = {"seed", "rank", "vqe_rank", "vqe_seed", "shots", "vqe_shots", "n_qubits",
            "vqe_n_qubits", "reps", "vqe_reps"}
    return [c for c in numeric_columns(noise) if c not in skip and noise[c].notna().any()]


def ranked_view(cat: Catalog, by: list[str] | None = None, weights: str | None = None,
                mode: str = "weighted", top: int | None = None,
                max_nodes: int = GRAPH_MAX_NODES) -> View:
    """Noise runs (joined with vqe_ parents), ranked by ``by`` if given, cut to the top
    ``top`` positions; and the workflow graph of all runs with the same ranks."""
    runs, noise, g = load(cat)
    definition = None
    if by:
        spec = make_spec(by, weights, mode, "noise")
        noise = rank(noise, spec)
        definition = spec.definition()
        if top:
            noise = noise[noise["position"] <= top]
    ranked = noise if by else None
    els = elements(g, ranked, top if by else None)
    n_nodes = sum(1 for e in els if "source" not in e["data"])
    note = ""
    if n_nodes > max_nodes:
        note = (f"The graph has {n_nodes} nodes, more than {max_nodes} can be drawn: rank by a "
                "metric and set top k to draw the best runs and their ancestors.")
        els = []
    return View(noise.reset_index(drop=True), els, definition,
                total=int((runs["step"] == "noise").sum()), graph_note=note)


def records(df: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN/NA -> None, numpy -> Python)."""
    cols = [c for c in (columns or list(df.columns)) if c in df.columns]
    out = []
    for rec in df[cols].to_dict("records"):
        out.append({k: _clean(v) for k, v in rec.items()})
    return out


def table_columns(df: pd.DataFrame, ranked: bool) -> list[str]:
    cols = [c for c in TABLE_COLUMNS if c in df.columns]
    return (RANK_COLUMNS + cols) if ranked else cols


def _clean(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v
