"""What the dashboard shows, computed once for the table, the graph, the plots and the JSON API.

Why one module: the table, the graph, the plots and /api/v1 must show the same runs with the same
ranks, so all of them go through :func:`ranked_view` (and the plots through :func:`scope`).
Everything comes from the catalog (runs and their ``series``); no result file is opened here.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from typing import Any

import networkx as nx
import pandas as pd

from hpcq.results.catalog import Catalog, join_parents, params_dict, with_problem_params
from hpcq.results.graph import NAME_KEYS, aggregate, build_graph, elements, own_params
from hpcq.results.rank import compare_columns, make_spec, numeric_columns, rank, runs_for

# the columns a user reads first, in order (those present are shown)
FIRST_COLUMNS = [
    "position",
    "noise_model",
    "noise_params",
    "optimizer",
    "energy",
    "abs_error_mha",
    "jsd",
    "delta_entropy",
]
# then the problem (with its scanned parameters, inserted after "problem"), then the full task id
NEXT_COLUMNS = ["score", "study", "problem", "ansatz", "reps", "fidelity", "chemical_accuracy", "task_id"]
# on demand (the column chooser)
MORE_COLUMNS = [
    "n_qubits",
    "exact_energy",
    "abs_error",
    "rel_error",
    "entropy_ideal",
    "entropy_noisy",
    "entropy_ratio",
    "shots",
    "wall_time_s",
    "vqe_task_id",
    "vqe_energy",
    "vqe_abs_error",
    "vqe_rel_error",
    "vqe_chemical_accuracy",
    "vqe_iterations",
    "vqe_evaluations",
    "vqe_wall_time_s",
    "optimizer_params",
    "method",
    "seed",
    "slurm_job_id",
    "workflow_id",
    "file",
]
HEADERS = {
    "position": "rank",
    "abs_error_mha": "|ΔE| (mHa)",
    "delta_entropy": "ΔH (bits)",
    "jsd": "JSD",
    "energy": "energy (Ha)",
    "noise_params": "noise parameters",
    "noise_model": "noise model",
    "task_id": "task id",
}
DEFAULT_RANKING = ["abs_error:min"]
# above this many nodes the graph aggregates (noise runs per VQE run, then per ansatz, then pages
# by problem). Why 300: Cytoscape's drawing of ~500 nodes cost 3-4 s of the first page's CPU on the
# 2-core machine (bench/bench_ui.py), and a fitted drawing of more is unreadable anyway
GRAPH_NODE_LIMIT = 300
MAX_TRACES = 10  # convergence traces drawn at once (the best-ranked runs in scope)


@dataclass
class View:
    """Rows (noise runs of the chosen studies, ranked or not) and graph elements for one UI state."""

    rows: pd.DataFrame
    elements: list[dict[str, Any]]
    definition: dict[str, Any] | None
    total: int
    graph_note: str = ""  # how the graph was reduced ("" when every run is drawn)
    scan: list[str] | None = None  # scanned problem parameters (columns of rows)


_cache: dict[str, tuple[tuple, Any]] = {}
_cache_lock = threading.Lock()


@dataclass
class Loaded:
    runs: pd.DataFrame  # all runs, with scanned problem parameter columns
    noise: pd.DataFrame  # noise runs joined with vqe_ parents (+ abs_error_mha)
    graph: nx.DiGraph
    scan: list[str]


def fingerprint(cat: Catalog) -> tuple:
    """What changes whenever ``index`` adds, rewrites or removes a file: file count, sums of
    sizes and mtimes, last index time, run count (one cheap query)."""
    return tuple(
        cat.query(
            "SELECT (SELECT COUNT(*) FROM files), (SELECT SUM(size) FROM files), "
            "(SELECT SUM(mtime_ns % 4294967291) FROM files), (SELECT MAX(mtime_ns) FROM files), "
            "(SELECT MAX(indexed_at) FROM files), "
            "(SELECT COUNT(*) FROM runs)"
        )
        .iloc[0]
        .tolist()
    )


def load(cat: Catalog) -> Loaded:
    """Runs, noise view and graph of the catalog, rebuilt only when its :func:`fingerprint`
    changed. Why: building them for 40,000 runs takes seconds; every UI change needs them."""
    fp = fingerprint(cat)
    key = str(cat.db_path.resolve())
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] == fp:
            return hit[1]
        runs, scan = with_problem_params(cat.runs())
        noise = join_parents(runs)
        noise["abs_error_mha"] = noise["abs_error"] * 1e3
        loaded = Loaded(runs, noise, build_graph(runs), scan)
        _cache[key] = (fp, loaded)
        return loaded


def metric_options(noise: pd.DataFrame) -> list[str]:
    """Numeric columns of the noise view that have values (rankable metrics)."""
    skip = {
        "seed",
        "rank",
        "vqe_rank",
        "vqe_seed",
        "shots",
        "vqe_shots",
        "n_qubits",
        "vqe_n_qubits",
        "reps",
        "vqe_reps",
        "abs_error_mha",
    }
    return [c for c in numeric_columns(noise) if c not in skip and noise[c].notna().any()]


def ranked_view(
    cat: Catalog,
    by: list[str] | None = None,
    weights: str | None = None,
    mode: str = "weighted",
    top: int | None = None,
    studies: list[str] | None = None,
    node_limit: int = GRAPH_NODE_LIMIT,
    graph: bool = True,
) -> View:
    """Noise runs of ``studies`` (default all; joined with vqe_ parents), ranked by ``by`` if
    given, cut to the top ``top`` positions; and the workflow graph with the same ranks
    (``graph=False``: rows only, no elements; what the plots need)."""
    data = load(cat)
    noise, runs = data.noise, data.runs
    if studies:
        noise = noise[noise["study"].isin(studies)]
        runs = runs[runs["study"].isin(studies)]
    definition = None
    if by:
        spec = make_spec(by, weights, mode, "noise")
        noise = rank(noise, spec)
        definition = spec.definition()
        if top:
            noise = noise[noise["position"] <= top]
    els, note = [], ""
    if graph:
        g = data.graph
        if studies:
            g = g.subgraph([n for n, d in g.nodes(data=True) if d.get("study") in studies])
        els = elements(g, noise if by else None, top if by else None)
        n_nodes = sum(1 for e in els if "source" not in e["data"])
        if n_nodes > node_limit:
            els, note = aggregate(g, noise if by else None, top if by else None, node_limit)
    scan = [c for c in data.scan if c in noise.columns and noise[c].nunique() > 1]
    return View(
        noise.reset_index(drop=True),
        els,
        definition,
        total=int((runs["step"] == "noise").sum()),
        graph_note=note,
        scan=scan,
    )


COMPARE_KEYS = ("study", "task_id", "optimizer")  # what names a row of the comparison


def compare_rows(cat: Catalog, studies: list[str] | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """The hybrid workflow's comparison for ``studies`` (default all): simulator, noise-model, twin
    and QPU energies of the same parameters, one row per VQE run that has evaluations; the same
    table as ``hpcq results rank --step compare`` (hpcq.results.rank.compare_table). Its columns and
    rows; no rows when no study evaluated its optimum (docs/qpu.md)."""
    table = runs_for(cat, "compare")
    if studies and len(table):
        table = table[table["study"].isin(studies)]
    if table.empty:
        return [], []
    cols = [*COMPARE_KEYS, *compare_columns(table)]
    return cols, records(table, [c for c in cols if c in table.columns])


def records(df: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """JSON-safe rows (NaN/NA -> None, numpy -> Python)."""
    cols = [c for c in (columns or list(df.columns)) if c in df.columns]
    out = []
    for rec in df[cols].to_dict("records"):
        out.append({k: _clean(v) for k, v in rec.items()})
    return out


def table_columns(df: pd.DataFrame, scan: list[str] | None = None) -> tuple[list[str], list[str]]:
    """(every column of the table in order, the ones shown by default)."""
    shown = list(FIRST_COLUMNS)
    for c in NEXT_COLUMNS:
        shown.append(c)
        if c == "problem":
            shown += [s for s in (scan or []) if s not in shown]
    if "score" in df and df["score"].isna().all():
        shown.remove("score")
    if "study" in df and df["study"].nunique() <= 1:
        shown.remove("study")
    shown = [c for c in shown if c in df.columns or c == "position"]
    rest = [c for c in MORE_COLUMNS + ["score", "study"] if c in df.columns and c not in shown]
    return shown + rest, shown


def short_params(text: Any, first: tuple[str, ...] = ()) -> str:
    """'p1=0.001, p2=0.01' from a parameters JSON (names that repeat the model left out;
    ``first``: these parameters lead, e.g. a noise model's own before its gate times, so that a
    cut cell still shows what tells the runs apart)."""
    try:
        d = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return str(text)
    if not isinstance(d, dict):
        return str(d)
    parts = []
    for k in sorted(d, key=lambda k: first.index(k) if k in first else len(first)):
        v = d[k]
        if k in NAME_KEYS or v in (None, "", [], {}):
            continue
        parts.append(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(parts)


def table_records(df: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """Rows for the grid: like :func:`records`, parameters shortened, ids kept for row keys."""
    cols = list(dict.fromkeys(columns + ["task_id", "file", "vqe_task_id", "vqe_file"]))
    out = records(df, cols)
    for r in out:
        if r.get("noise_params") is not None:
            r["noise_params"] = short_params(r["noise_params"], tuple(own_params(params_dict(r["noise_params"]))))
        if r.get("optimizer_params") is not None:
            r["optimizer_params"] = short_params(r["optimizer_params"])
    return out


# --------------------------------------------------------------------------- plots' data


def row_key(task_id: Any, file: Any) -> str:
    """A grid row's id (``getRowId`` in hpcq/ui/app.py): ``task_id|file``."""
    return f"{task_id}|{file}"


def scope(cat: Catalog, view_rows: pd.DataFrame, shown: list[str] | None, node: dict[str, Any] | None) -> pd.DataFrame:
    """The noise runs the plots show: the table's rows as filtered in the grid (``shown``: the
    row keys (:func:`row_key`) the grid's filter lets through; None = all), narrowed to the
    selected graph node's subtree."""
    rows = view_rows
    if shown is not None:
        keys = set(shown)
        rows = rows[[row_key(t, f) in keys for t, f in zip(rows["task_id"], rows["file"], strict=True)]]
    if node and node.get("id"):
        g = load(cat).graph
        nid = node.get("parent") if node.get("type") == "aggregate" else node["id"]
        if nid in g:
            under = nx.descendants(g, nid) | {nid}
            if node.get("type") == "noise":
                under = {nid}
            ids = {n.removeprefix("task:") for n in under if n.startswith("task:")}
            rows = rows[rows["task_id"].isin(ids)]
    return rows


def series_for(cat: Catalog, task_ids: list[str]) -> dict[str, dict[str, Any]]:
    """task_id -> its stored trace/distributions (first file wins for duplicate ids)."""
    out: dict[str, dict[str, Any]] = {}
    for (_, tid), rec in sorted(cat.series(task_ids).items()):
        out.setdefault(tid, rec)
    return out


def noise_strength(rows: pd.DataFrame) -> pd.Series:
    """Per noise run, the value of its model's varying numeric parameter (the strength axis),
    named by that parameter: 'depolarizing p2'. Among equally varying parameters (and for a
    model run at one setting) the model's own strength parameter wins (``own_params``: p, then
    p2; t1 for thermal), never a shared setting such as a gate time."""
    strength = pd.Series(math.nan, index=rows.index, dtype=float)
    names = pd.Series("", index=rows.index, dtype=object)
    for model, grp in rows.groupby("noise_model"):
        parsed = grp["noise_params"].map(lambda t: _numeric(t))
        keys: dict[str, set] = {}
        for d in parsed:
            for k, v in d.items():
                keys.setdefault(k, set()).add(v)
        if not keys:
            continue
        own = own_params(keys)
        order = list(keys)
        key = max(keys, key=lambda k: (len(keys[k]), k in own, -own.index(k) if k in own else 0, -order.index(k)))
        strength[grp.index] = parsed.map(lambda d, key=key: d.get(key, math.nan))
        names[grp.index] = f"{model} {key}"
    return pd.DataFrame({"strength": strength, "strength_name": names})


def _numeric(text: Any) -> dict[str, float]:
    try:
        d = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return {}
    if not isinstance(d, dict):
        return {}
    return {k: float(v) for k, v in d.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _clean(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v
