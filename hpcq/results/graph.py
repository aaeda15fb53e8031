"""The workflow graph of a study, rebuilt from the runs' provenance (networkx).

Why: a noise study is a tree problem -> ansatz -> VQE (one per optimizer and its
hyper-parameters) -> noise runs; seeing it as a graph, with ranks drawn on it, shows which
branch the good runs come from. Nodes are keyed so that the same runs always give the same
node ids:

  problem  ``problem:<study>/<problem>/<problem_params>``
  ansatz   ``ansatz:<study>/<problem>/<problem_params>/<ansatz>/reps=<reps>``
  vqe      ``task:<task_id>``   (step "vqe")
  noise    ``task:<task_id>``   (step "noise"; edge from ``task:<parent_task_id>``; a noise run
                                 whose parent is not catalogued hangs off its ansatz node)
"""

from __future__ import annotations

import json
import math
from typing import Any

import networkx as nx
import pandas as pd

NODE_TYPES = ("problem", "ansatz", "vqe", "noise")
COLOURS = {"problem": "#6c5ce7", "ansatz": "#0984e3", "vqe": "#00b894", "noise": "#e17055"}
NODE_METRICS = ("energy", "exact_energy", "abs_error", "rel_error", "chemical_accuracy", "jsd",
                "fidelity", "delta_entropy", "entropy_ratio", "iterations", "wall_time_s")
MIN_SIZE, MAX_SIZE, BASE_SIZE = 18.0, 70.0, 30.0


def _clean(v: Any) -> Any:
    """JSON-safe scalar (NaN/NA -> None)."""
    if v is None or v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def noise_label(model: str, params: Any) -> str:
    """'depolarizing(p=0.01)' from a noise_params JSON: only the values that tell runs apart."""
    try:
        d = json.loads(params) if isinstance(params, str) and params else (params or {})
    except ValueError:
        d = {}
    keys = {"depolarizing": ("p", "p2"), "bit_flip": ("p", "p2"), "readout": ("p",),
            "thermal": ("t1", "t2"), "fake_backend": ("backend",)}.get(model, ())
    inner = ",".join(f"{k}={d[k]:g}" if isinstance(d.get(k), float) else f"{k}={d[k]}"
                     for k in keys if d.get(k) is not None)
    return f"{model}({inner})" if inner else str(model)


def _params_label(text: Any) -> str:
    try:
        d = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        return str(text)
    return ", ".join(f"{k}={v}" for k, v in d.items())


def build_graph(runs: pd.DataFrame) -> nx.DiGraph:
    """The DAG of all runs (vqe and noise rows of ``Catalog.runs()``)."""
    g = nx.DiGraph()
    task_nodes = {f"task:{t}" for t in runs["task_id"]}
    for r in runs.to_dict("records"):
        problem = f"problem:{r['study']}/{r['problem']}/{r['problem_params']}"
        ansatz = f"{problem.replace('problem:', 'ansatz:', 1)}/{r['ansatz']}/reps={r['reps']}"
        if problem not in g:
            g.add_node(problem, type="problem", label=f"{r['problem']} ({r['n_qubits']}q)",
                       study=r["study"], problem=r["problem"],
                       params=_params_label(r["problem_params"]))
        if ansatz not in g:
            g.add_node(ansatz, type="ansatz", label=f"{r['ansatz']} r{r['reps']}",
                       ansatz=r["ansatz"], reps=_clean(r["reps"]))
            g.add_edge(problem, ansatz)
        node = f"task:{r['task_id']}"
        step = r["step"] if r["step"] in ("vqe", "noise") else "vqe"
        metrics = {m: _clean(r.get(m)) for m in NODE_METRICS if m in r}
        if step == "vqe":
            label = f"{r['optimizer']}"
            parent = ansatz
        else:
            label = noise_label(r["noise_model"], r["noise_params"])
            p = f"task:{r['parent_task_id']}"
            parent = p if p in task_nodes else ansatz
        g.add_node(node, type=step, label=label, task_id=r["task_id"], file=r["file"],
                   optimizer=r["optimizer"], optimizer_params=_params_label(r["optimizer_params"]),
                   noise_model=r["noise_model"], noise_params=_params_label(r["noise_params"]),
                   metrics=metrics, orphan=parent == ansatz and step == "noise")
        g.add_edge(parent, node)
    return g


def node_sizes(positions: dict[str, int]) -> dict[str, float]:
    """Size by rank: position 1 is largest, the last position smallest (linear)."""
    if not positions:
        return {}
    worst = max(positions.values())
    span = max(worst - 1, 1)
    return {n: MAX_SIZE - (MAX_SIZE - MIN_SIZE) * (p - 1) / span for n, p in positions.items()}


def elements(g: nx.DiGraph, ranked: pd.DataFrame | None = None, top: int | None = None,
             ) -> list[dict[str, Any]]:
    """Cytoscape elements; with ``ranked`` (rows with task_id and position) ranked task nodes
    are sized by rank and labelled ``#position``; ``top`` keeps the runs placed in the top
    ``top`` positions and their ancestors."""
    positions: dict[str, int] = {}
    if ranked is not None and len(ranked):
        positions = {f"task:{t}": int(p) for t, p in zip(ranked["task_id"], ranked["position"])}
    keep = set(g.nodes)
    if top and positions:
        best = {n for n, p in positions.items() if p <= top and n in g}
        keep = set(best)
        for n in best:
            keep |= nx.ancestors(g, n)
    sizes = node_sizes(positions)
    xy = tree_positions(g.subgraph(keep))
    out: list[dict[str, Any]] = []
    for n, d in g.nodes(data=True):
        if n not in keep:
            continue
        data = {"id": n, **{k: v for k, v in d.items()}}
        pos = positions.get(n)
        data["position"] = pos
        data["size"] = sizes.get(n, BASE_SIZE)
        data["display"] = f"#{pos} {d['label']}" if pos is not None else d["label"]
        out.append({"data": data, "classes": d["type"] + (" ranked" if pos else ""),
                    "position": {"x": xy[n][0], "y": xy[n][1]}})
    for a, b in g.edges:
        if a in keep and b in keep:
            out.append({"data": {"id": f"{a}->{b}", "source": a, "target": b}})
    return out


def tree_positions(g: nx.DiGraph, dx: float = 80.0, dy: float = 120.0,
                   ) -> dict[str, tuple[float, float]]:
    """A tidy top-down tree layout: leaves side by side in id order, each parent centred over
    its children (so a noise run sits under its VQE run, unlike generic layouts)."""
    pos: dict[str, tuple[float, float]] = {}
    next_x = [0.0]

    def visit(n: str, depth: int) -> float:
        kids = sorted(k for k in g.successors(n) if k not in pos)
        if kids:
            xs = [visit(k, depth + 1) for k in kids]
            x = sum(xs) / len(xs)
        else:
            x = next_x[0]
            next_x[0] += dx
        pos[n] = (x, depth * dy)
        return x

    for root in sorted(n for n in g if g.in_degree(n) == 0):
        visit(root, 0)
        next_x[0] += dx / 2  # a gap between problems
    # keep the drawing roughly 2:1 however many leaves there are (readable when fitted)
    depth = max((y for _, y in pos.values()), default=0.0) / dy
    scale = max(1.0, next_x[0] / 2 / max(depth * dy, 1.0))
    return {n: (x, y * scale) for n, (x, y) in pos.items()}


def stylesheet() -> list[dict[str, Any]]:
    """Cytoscape style: colour by node type, size and label from the data."""
    style = [
        {"selector": "node", "style": {
            "label": "data(display)", "width": "data(size)", "height": "data(size)",
            "font-size": 10, "text-valign": "bottom", "text-margin-y": 3,
            "background-color": "#b2bec3", "border-width": 1, "border-color": "#2d3436"}},
        {"selector": "edge", "style": {
            "width": 1.5, "line-color": "#b2bec3", "target-arrow-color": "#b2bec3",
            "target-arrow-shape": "triangle", "curve-style": "bezier"}},
        {"selector": ":selected", "style": {"border-width": 4, "border-color": "#fdcb6e"}},
        {"selector": ".ranked", "style": {"font-weight": "bold"}},
    ]
    style += [{"selector": f".{t}", "style": {"background-color": c}} for t, c in COLOURS.items()]
    return style
