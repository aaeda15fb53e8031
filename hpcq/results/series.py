"""The arrays the dashboard plots, read from result files once at index time.

Why a separate reader: ``read_summary`` reads attributes only (fast); the plots also need each
task's VQE energy trace and its output distributions. They are small once cut (see
:data:`MAX_OUTCOMES`), so the catalog stores them in its ``series`` table and the dashboard never
opens a result file. This module imports only h5py/numpy (it runs in the catalog's reader pool).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hpcq.results.h5format import DISTRIBUTIONS as DIST_GROUP
from hpcq.results.h5format import TASKS, TRACE_ENERGY, read_counts

MAX_OUTCOMES = 64  # outcomes kept per distribution: the most probable ones (ideal or noisy)
MAX_TRACE = 2000  # trace points kept (evenly thinned beyond)


def _cut(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Keep the MAX_OUTCOMES outcomes with the largest probability in any of ``arrays``."""
    if not arrays:
        return {}
    n = max(a.shape[0] for a in arrays.values())
    arrays = {k: a for k, a in arrays.items() if a.ndim == 1 and a.shape[0] == n}
    if not arrays:
        return {}
    peak = np.max(np.stack([a / max(float(a.sum()), 1e-300) for a in arrays.values()]), axis=0)
    keep = np.sort(np.argsort(-peak, kind="stable")[:MAX_OUTCOMES])
    out: dict[str, Any] = {"n_outcomes": int(n), "outcomes": keep.tolist()}
    for k, a in arrays.items():
        out[k] = a[keep].tolist()
    return out


def _cut_counts(counts: dict[str, Any]) -> dict[str, Any]:
    """Sampled counts (format v2) in the same shape as a cut distribution: outcome indices (the
    bitstrings as integers) over 2^n_bits, frequencies per set, the MAX_OUTCOMES most frequent."""
    keys = sorted(set(counts["ideal"]) | set(counts["noisy"]))
    freq = {
        k: np.array([counts[k].get(b, 0) for b in keys], dtype=float) / max(1, int(counts["shots"]))
        for k in ("ideal", "noisy")
    }
    if not keys:
        return {}
    peak = np.maximum(freq["ideal"], freq["noisy"])
    keep = np.sort(np.argsort(-peak, kind="stable")[:MAX_OUTCOMES])
    out: dict[str, Any] = {"n_outcomes": 2 ** int(counts["n_bits"]), "outcomes": [int(keys[i], 2) for i in keep]}
    out.update({k: v[keep].tolist() for k, v in freq.items()})
    return out


def read_series(path: str | Path) -> dict[str, dict[str, Any]]:
    """task_id -> {"trace": [...], "dist": {"n_outcomes", "outcomes", "ideal", "noisy", ...}}.

    Datasets a task does not have are left out (synthetic attribute-only files have none). Any
    further dataset in the task's distributions group (sampled counts) is kept under its name."""
    out: dict[str, dict[str, Any]] = {}
    with h5py.File(path, "r") as f:
        tasks = f.get(TASKS)
        for tid in sorted(tasks) if tasks is not None else []:
            g = tasks[tid]
            rec: dict[str, Any] = {}
            if TRACE_ENERGY in g:
                trace = np.asarray(g[TRACE_ENERGY][()], dtype=float).ravel()
                if trace.size > MAX_TRACE:
                    trace = trace[np.linspace(0, trace.size - 1, MAX_TRACE).astype(int)]
                if trace.size:
                    rec["trace"] = [None if not np.isfinite(x) else float(x) for x in trace]
            if DIST_GROUP in g and isinstance(g[DIST_GROUP], h5py.Group):
                arrays = {
                    k: np.asarray(d[()], dtype=float)
                    for k, d in g[DIST_GROUP].items()
                    if isinstance(d, h5py.Dataset) and d.dtype.kind in "fiu"
                }
                dist = _cut(arrays)
                if dist:
                    rec["dist"] = dist
            elif (counts := read_counts(g)) is not None:  # sampled: frequencies of the most frequent
                dist = _cut_counts(counts)
                if dist:
                    rec["dist"] = dist
            if rec:
                out[tid] = rec
    return out


def read_for_index(path: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(h5format.read_summary, read_series) of one file: what the catalog stores."""
    from hpcq.results.h5format import read_summary

    return read_summary(path), read_series(path)
