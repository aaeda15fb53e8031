"""Rank runs by one or several metrics.

Definitions (stored with every saved ranking, see :meth:`RankSpec.definition`):
  * direction per metric: ``min`` (smaller is better) or ``max``;
  * ``weighted``: each metric is min-max normalised over the ranked runs to [0, 1] with 0 the
    best value (a metric constant over all runs normalises to 0); ``score`` = sum of
    weight * normalised value, weights scaled to sum 1; lower score is better;
  * ``lexicographic``: compare the first metric, break ties with the next, and so on;
    ``score`` is empty;
  * ties share the smallest position ('min' method: 1, 2, 2, 4); tied runs are listed by
    task_id (then file), so the order is stable;
  * NaN last: in weighted mode a run missing any ranked metric has no score and is placed after
    every scored run; in lexicographic mode a missing value sorts after every present one at
    that level. All runs placed last for the same reason tie.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

MODES = ("weighted", "lexicographic")
DIRECTIONS = ("min", "max")
# names users reach for -> catalog columns
ALIASES = {
    "energy_error": "abs_error",
    "error": "abs_error",
    "relative_error": "rel_error",
    "time": "wall_time_s",
    "wall_time": "wall_time_s",
}


class RankError(ValueError):
    """Bad ranking input; the message names the option and the fix."""


@dataclass(frozen=True)
class Criterion:
    metric: str
    direction: Literal["min", "max"] = "min"


@dataclass
class RankSpec:
    criteria: list[Criterion]
    weights: list[float] | None = None
    mode: str = "weighted"
    step: str = "noise"  # which runs: "noise" (joined with vqe_ parents), "vqe" or "all"
    extra: dict[str, Any] = field(default_factory=dict)

    def definition(self) -> dict[str, Any]:
        """JSON-able definition saved in the ``rankings`` table."""
        return {
            "version": 1,
            "mode": self.mode,
            "step": self.step,
            "by": [{"metric": c.metric, "direction": c.direction} for c in self.criteria],
            "weights": self.norm_weights() if self.mode == "weighted" else None,
            "normalise": "minmax" if self.mode == "weighted" else None,
            "ties": "min, then task_id",
            "nan": "last",
            **self.extra,
        }

    def norm_weights(self) -> list[float]:
        w = self.weights or [1.0] * len(self.criteria)
        total = float(sum(w))
        return [x / total for x in w]


def resolve_metric(name: str) -> str:
    base = name[4:] if name.startswith("vqe_") else name
    base = ALIASES.get(base, base)
    return ("vqe_" + base) if name.startswith("vqe_") else base


def parse_by(text: str) -> Criterion:
    """``"energy_error:min"`` -> Criterion("abs_error", "min"); direction defaults to min."""
    metric, _, direction = text.partition(":")
    metric, direction = metric.strip(), (direction.strip() or "min").lower()
    if not metric:
        raise RankError(f"--by {text!r}: give METRIC[:min|max], e.g. --by abs_error:min")
    if direction not in DIRECTIONS:
        raise RankError(f"--by {text!r}: direction must be 'min' or 'max', e.g. --by {metric}:max")
    return Criterion(resolve_metric(metric), direction)  # type: ignore[arg-type]


def parse_weights(text: str | None) -> list[float] | None:
    """``"0.7,0.3"`` -> [0.7, 0.3]."""
    if text is None or not text.strip():
        return None
    try:
        w = [float(x) for x in text.split(",")]
    except ValueError:
        raise RankError(f"--weights {text!r}: give comma-separated numbers, e.g. --weights 0.7,0.3") from None
    if any(not np.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
        raise RankError(f"--weights {text!r}: weights must be >= 0, finite, with a positive sum")
    return w


def make_spec(
    by: list[str], weights: str | list[float] | None = None, mode: str = "weighted", step: str = "noise"
) -> RankSpec:
    """Validate CLI/API input into a RankSpec."""
    if not by:
        raise RankError("--by: give at least one metric, e.g. --by abs_error:min")
    if mode not in MODES:
        raise RankError(f"--mode {mode!r}: choose 'weighted' or 'lexicographic'")
    criteria = [parse_by(b) for b in by]
    w = parse_weights(weights) if isinstance(weights, str) or weights is None else list(weights)
    if w is not None:
        if mode != "weighted":
            raise RankError("--weights only applies to --mode weighted; drop it or use weighted")
        if len(w) != len(criteria):
            raise RankError(
                f"--weights has {len(w)} values but --by names {len(criteria)} metrics; give one weight per --by"
            )
    return RankSpec(criteria, w, mode, step)


def numeric_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])]


def rank(df: pd.DataFrame, spec: RankSpec) -> pd.DataFrame:
    """``df`` sorted best first, with ``position`` (1-based, ties share) and ``score`` added."""
    numeric = numeric_columns(df)
    keys: list[np.ndarray] = []
    values: dict[str, np.ndarray] = {}
    for c in spec.criteria:
        if c.metric not in df.columns:
            raise RankError(f"--by {c.metric}: no such metric; choose one of {', '.join(sorted(numeric))}")
        if c.metric not in numeric:
            raise RankError(f"--by {c.metric}: not a numeric column; choose one of {', '.join(sorted(numeric))}")
        v = pd.to_numeric(df[c.metric], errors="coerce").astype(float).to_numpy()
        values[c.metric] = v if c.direction == "min" else -v  # now smaller is better
    n = len(df)
    if spec.mode == "weighted":
        score = np.zeros(n)
        for c, w in zip(spec.criteria, spec.norm_weights(), strict=True):
            v = values[c.metric]
            lo, hi = np.nanmin(v, initial=np.inf), np.nanmax(v, initial=-np.inf)
            span = hi - lo
            score += w * ((v - lo) / span if span > 0 else np.where(np.isnan(v), np.nan, 0.0))
        keys = [np.isnan(score).astype(float), np.nan_to_num(score, nan=0.0)]
    else:
        score = np.full(n, np.nan)
        for c in spec.criteria:
            v = values[c.metric]
            keys += [np.isnan(v).astype(float), np.nan_to_num(v, nan=0.0)]
    tid = df["task_id"].astype(str).to_numpy() if "task_id" in df else np.arange(n).astype(str)
    fil = df["file"].astype(str).to_numpy() if "file" in df else np.zeros(n).astype(str)
    # np.lexsort sorts by the last key first
    order = np.lexsort([fil, tid] + keys[::-1])
    k = np.stack(keys, axis=1)[order] if keys else np.zeros((n, 1))
    new_group = np.ones(n, dtype=bool)
    if n > 1:
        new_group[1:] = (k[1:] != k[:-1]).any(axis=1)
    position = np.maximum.accumulate(np.where(new_group, np.arange(1, n + 1), 0))
    out = df.iloc[order].copy()
    out["position"] = position.astype(int)
    out["score"] = score[order]
    return out.reset_index(drop=True)


EVALUATION_STEPS = ("noise", "qpu")  # steps that evaluate their parent VQE's optimal parameters
REOPT_SUFFIX = "-reopt"  # a noise step's re-optimisation: not at the parent's parameters


def _qpu_std(catalog) -> dict[tuple[str, str], float]:
    """(study, task_id) -> energy_std of the qpu runs (a QPU attribute: the catalog's extra column)."""
    import json

    rows = catalog.query("SELECT study, task_id, extra FROM runs WHERE step = 'qpu'")
    out = {}
    for st, tid, extra in rows.itertuples(index=False):
        try:
            out[(st, tid)] = float(json.loads(extra or "{}").get("energy_std", np.nan))
        except (TypeError, ValueError):
            out[(st, tid)] = np.nan
    return out


def _noise_label(model: str, params: str) -> str:
    from hpcq.results.graph import noise_label  # networkx: the dashboard's extra

    return noise_label(model, params)


def compare_table(runs: pd.DataFrame, std: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """The hybrid workflow's comparison (``hpcq results rank --step compare``): one row per noiseless
    VQE run that has evaluations, its columns (``energy`` = ``simulator``: the noiseless energy) and
    one energy column per evaluation of the SAME parameters: each noise model (its label,
    ``depolarizing(p=0.01)``), the twin (``twin:<target>``) and the QPU (``qpu:<target>``), each QPU
    or twin energy with its standard error (``<label> std``) and its difference from the simulator
    (``<label> shift``). Re-optimised noise runs (``-reopt``) are at other parameters: left out."""
    std = std or {}
    kids = runs[runs["step"].isin(EVALUATION_STEPS) & ~runs["task_id"].astype(str).str.endswith(REOPT_SUFFIX)]
    vqe = runs[runs["step"] == "vqe"].drop_duplicates(["study", "task_id"])
    rows, labels = [], []
    for v in vqe.to_dict("records"):
        mine = kids[(kids["study"] == v["study"]) & (kids["parent_task_id"] == v["task_id"])]
        if mine.empty:
            continue
        row = dict(v, simulator=v["energy"])
        for k in mine.to_dict("records"):
            qpu = k["step"] == "qpu"
            label = str(k["noise_model"]) if qpu else _noise_label(k["noise_model"], k["noise_params"])
            labels += [label] if label not in labels else []
            row[label] = k["energy"]
            if qpu:
                row[f"{label} std"] = std.get((k["study"], k["task_id"]), np.nan)
            row[f"{label} shift"] = k["energy"] - v["energy"]
        rows.append(row)
    out = pd.DataFrame(rows, columns=[*vqe.columns, "simulator"]) if not rows else pd.DataFrame(rows)
    out.attrs["evaluations"] = labels
    return out


def compare_columns(table: pd.DataFrame) -> list[str]:
    """The comparison's energy columns in reading order: exact, simulator, then each evaluation
    (with its standard error; the ``shift`` columns: --columns, --json)."""
    cols = ["exact_energy", "simulator"]
    for label in table.attrs.get("evaluations", []):
        cols += [c for c in (label, f"{label} std") if c in table.columns]
    return cols


def runs_for(catalog, step: str) -> pd.DataFrame:
    """The runs a ranking with ``step`` ranks: noise runs joined with parents, vqe, all, or the
    comparison of every VQE run's evaluations (``compare``: compare_table)."""
    if step == "compare":
        return compare_table(catalog.runs(), _qpu_std(catalog))
    if step == "noise":
        return catalog.noise_runs()
    if step == "vqe":
        return catalog.runs(step="vqe")
    if step == "all":
        return catalog.runs()
    raise RankError(f"--step {step!r}: choose 'noise', 'vqe', 'all' or 'compare'")
