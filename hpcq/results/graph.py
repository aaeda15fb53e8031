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
  qpu      ``task:<task_id>``   (step "qpu": a QPU or twin evaluation, docs/qpu.md; like noise, label
                                 ``twin:vlq`` / ``qpu:vlq``)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import networkx as nx
import pandas as pd

from hpcq.results.catalog import params_dict, problem_params, scanned_params

NODE_TYPES = ("problem", "integrals", "hamiltonian", "ansatz", "vqe", "noise", "qpu", "aggregate")
COLOURS = {
    "problem": "#6c5ce7",
    "integrals": "#a29bfe",
    "hamiltonian": "#fd79a8",
    "ansatz": "#0984e3",
    "vqe": "#00b894",
    "noise": "#e17055",
    "qpu": "#e84393",
    "aggregate": "#636e72",
}
# border colours of the sites that ran a node's step (docs/sites.md), in the order of the site names
SITE_PALETTE = ("#d35400", "#2980b9", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#f39c12", "#2c3e50")
PRE_STEPS = ("integrals", "hamiltonian")  # workflow steps before the VQE (chemistry problems)
CHAR_PX, LINE_PX, LABEL_GAP = 7.8, 16.0, 8.0  # at font-size 12: a character, a line; a gap
NODE_METRICS = (
    "energy",
    "exact_energy",
    "abs_error",
    "rel_error",
    "chemical_accuracy",
    "jsd",
    "fidelity",
    "delta_entropy",
    "entropy_ratio",
    "iterations",
    "wall_time_s",
)
MIN_SIZE, MAX_SIZE, BASE_SIZE = 10.0, 36.0, 16.0  # small: labels, not discs, need the room


def _clean(v: Any) -> Any:
    """JSON-safe scalar (NaN/NA -> None)."""
    if v is None or v is pd.NA:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


NAME_KEYS = ("kind", "model", "name")  # keys of a parameters JSON that repeat the model's name
GATE_TIME = "gate_time"  # prefix of the gate times every noise model shares: settings, not a strength
# what a node carries that describes it, in the order a node's info panel (hpcq.ui) lists them
NODE_FIELDS: tuple[str, ...] = ("type", "task_id", "position", "study", "problem", "params", "ansatz", "reps")
NODE_FIELDS += ("optimizer", "optimizer_params", "noise_model", "noise_params", "n_runs", "file")
NODE_FIELDS += ("site", "executor", "inputs_bytes", "inputs_s")


def site_colours(sites: Iterable[Any]) -> dict[str, str]:
    """A colour per site name (sorted, so the same sites always get the same colours)."""
    names = sorted({str(s) for s in sites if s not in (None, "") and not pd.isna(s)})
    return {s: SITE_PALETTE[i % len(SITE_PALETTE)] for i, s in enumerate(names)}


def _where(r: dict[str, Any]) -> dict[str, Any]:
    """Where a task ran and what it fetched from other sites (provenance; docs/sites.md)."""
    return {
        "site": _clean(r.get("site")) or "",
        "executor": _clean(r.get("executor")) or "",
        "inputs_bytes": int(_clean(r.get("inputs_bytes")) or 0),
        "inputs_s": float(_clean(r.get("inputs_s")) or 0.0),
    }


def transfer_label(n_bytes: int, seconds: float) -> str:
    """'1.2 MB, 0.03 s': an edge's label when the child fetched its parent's files from another site."""
    size = f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 100_000 else f"{n_bytes / 1e3:.1f} kB"
    return f"{size}, {seconds:.2f} s"


def own_params(names: Iterable[str]) -> list[str]:
    """A noise model's own parameters among the ``names`` of its set noise_params, strength first:
    what tells its runs apart (graph labels, the CLI's noise column, the table's parameter cells)
    and the dashboard's strength axis. Every name but those repeating the model's (NAME_KEYS) and
    the gate times all models share, in the stored order: the writer stores
    hpcq.sim.spec.NoiseSpec, whose fields are p, p2, t1, t2, backend. The file is the one place
    this is written down: reading results needs no simulation package."""
    return [k for k in names if k not in NAME_KEYS and not k.startswith(GATE_TIME)]


QPU_MODELS = ("twin:", "qpu:")  # noise_model of a step-qpu task (hpcq.qpu: "<twin|qpu>:<target>")


def noise_label(model: str, params: Any) -> str:
    """'depolarizing(p=0.01)' from a noise_params JSON (or dict): only the values that tell runs apart.
    A QPU or twin evaluation ('twin:vlq', 'qpu:vlq', step qpu) is its model alone: its params hold
    the backend's long label, which tells no runs apart."""
    if str(model).startswith(QPU_MODELS):
        return str(model)
    d = params if isinstance(params, dict) else params_dict(params)
    keys = own_params(k for k, v in d.items() if v is not None)
    inner = ",".join(f"{k}={d[k]:g}" if isinstance(d[k], float) else f"{k}={d[k]}" for k in keys)
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
    scan = scanned_params(runs)  # what tells the problems of a scan apart (bond_length=0.9)
    for r in runs.to_dict("records"):
        problem, ansatz = _add_tree(g, r, scan)
        node = f"task:{r['task_id']}"
        step = r["step"] if r["step"] in ("vqe", "noise", "qpu") + PRE_STEPS else "vqe"
        metrics = {m: _clean(r.get(m)) for m in NODE_METRICS if m in r}
        p = f"task:{r['parent_task_id']}"
        where = _where(r)
        edge = {"transfer": transfer_label(where["inputs_bytes"], where["inputs_s"])} if where["inputs_bytes"] else {}
        if step in PRE_STEPS:
            g.add_node(
                node,
                type=step,
                label=step,
                task_id=r["task_id"],
                file=r["file"],
                metrics=metrics,
                study=r["study"],
                **where,
            )
            g.add_edge(p if r.get("parent_task_id") and p in task_nodes else problem, node, **edge)
            continue
        if step == "vqe":
            label, parent = f"{r['optimizer']}", ansatz
        elif step == "qpu":  # a QPU or twin evaluation: "twin:vlq"
            label, parent = str(r["noise_model"]), (p if p in task_nodes else ansatz)
        else:
            label = noise_label(r["noise_model"], r["noise_params"])
            parent = p if p in task_nodes else ansatz
        g.add_node(
            node,
            type=step,
            label=label,
            task_id=r["task_id"],
            file=r["file"],
            optimizer=r["optimizer"],
            optimizer_params=_params_label(r["optimizer_params"]),
            noise_model=r["noise_model"],
            noise_params=_params_label(r["noise_params"]),
            metrics=metrics,
            orphan=parent == ansatz and step in ("noise", "qpu"),
            study=r["study"],
            **where,
        )
        g.add_edge(parent, node, **edge)
    return g


def _add_tree(g: nx.DiGraph, r: dict[str, Any], scan: list[str]) -> tuple[str, str]:
    """The problem and ansatz nodes of run ``r`` (added once): their ids."""
    problem = f"problem:{r['study']}/{r['problem']}/{r['problem_params']}"
    ansatz = f"{problem.replace('problem:', 'ansatz:', 1)}/{r['ansatz']}/reps={r['reps']}"
    if problem not in g:
        pp = problem_params(r["problem_params"])
        point = " ".join(
            f"{k}={pp[k]:g}" if isinstance(pp.get(k), float) else f"{k}={pp.get(k)}" for k in scan if k in pp
        )
        g.add_node(
            problem,
            type="problem",
            label=f"{r['problem']} {point} ({r['n_qubits']}q)" if point else f"{r['problem']} ({r['n_qubits']}q)",
            study=r["study"],
            problem=r["problem"],
            params=_params_label(r["problem_params"]),
        )
    if ansatz not in g:
        g.add_node(
            ansatz,
            type="ansatz",
            label=f"{r['ansatz']} r{r['reps']}",
            ansatz=r["ansatz"],
            reps=_clean(r["reps"]),
            study=r["study"],
        )
        g.add_edge(problem, ansatz)
    return problem, ansatz


def node_sizes(positions: dict[str, int]) -> dict[str, float]:
    """Size by rank: position 1 is largest, the last position smallest (linear)."""
    if not positions:
        return {}
    worst = max(positions.values())
    span = max(worst - 1, 1)
    return {n: MAX_SIZE - (MAX_SIZE - MIN_SIZE) * (p - 1) / span for n, p in positions.items()}


def _positions(ranked: pd.DataFrame | None) -> dict[str, int]:
    if ranked is None or not len(ranked):
        return {}
    return {f"task:{t}": int(p) for t, p in zip(ranked["task_id"], ranked["position"], strict=True)}


def elements(
    g: nx.DiGraph,
    ranked: pd.DataFrame | None = None,
    top: int | None = None,
) -> list[dict[str, Any]]:
    """Cytoscape elements; with ``ranked`` (rows with task_id and position) ranked task nodes
    are sized by rank and labelled ``#position``; ``top`` keeps the runs placed in the top
    ``top`` positions and their ancestors."""
    return _draw(g, _positions(ranked), _keep(g, _positions(ranked), top))


def _keep(g: nx.DiGraph, positions: dict[str, int], top: int | None) -> set[str]:
    keep = set(g.nodes)
    if top and positions:
        best = {n for n, p in positions.items() if p <= top and n in g}
        keep = set(best)
        for n in best:
            keep |= nx.ancestors(g, n)
    return keep


def _draw(g: nx.DiGraph, positions: dict[str, int], keep: set[str]) -> list[dict[str, Any]]:
    sizes = node_sizes(positions)
    display = {}
    for n in keep:
        pos = positions.get(n)
        display[n] = f"#{pos} {g.nodes[n]['label']}" if pos is not None else g.nodes[n]["label"]
    # each node's interval is as wide as its label, so labels of one level never overlap;
    # leaves (the crowded level) get vertical labels: as wide as a line of text
    sub = g.subgraph(keep)
    leaf = {n for n in keep if sub.out_degree(n) == 0}
    widths = {
        n: max(LINE_PX if n in leaf else CHAR_PX * len(display[n]), sizes.get(n, BASE_SIZE)) + LABEL_GAP for n in keep
    }
    xy = tree_positions(sub, widths=widths)
    colours = site_colours(g.nodes[n].get("site") for n in keep)
    out: list[dict[str, Any]] = []
    for n, d in g.nodes(data=True):
        if n not in keep:
            continue
        data = {"id": n, **{k: v for k, v in d.items()}}
        if d.get("site") in colours:
            data["site_colour"] = colours[d["site"]]
        pos = positions.get(n)
        data["position"] = pos
        data["size"] = sizes.get(n, BASE_SIZE)
        data["display"] = display[n]
        if n in leaf:  # the rotated label hangs below the node
            data["label_dy"] = data["size"] / 2 + 4 + CHAR_PX * len(display[n]) / 2
        out.append(
            {
                "data": data,
                "classes": d["type"] + (" ranked" if pos else "") + (" leaf" if n in leaf else ""),
                "position": {"x": xy[n][0], "y": xy[n][1]},
            }
        )
    for a, b, e in g.edges(data=True):
        if a in keep and b in keep:
            edge = {"id": f"{a}->{b}", "source": a, "target": b}
            if e.get("transfer"):
                edge["label"] = e["transfer"]
            out.append({"data": edge})
    return out


def site_legend_items(els: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(site, colour) of the sites among drawn elements: the dashboard's site legend."""
    seen = {e["data"]["site"]: e["data"]["site_colour"] for e in els if e["data"].get("site_colour")}
    return sorted(seen.items())


def aggregate(
    g: nx.DiGraph,
    ranked: pd.DataFrame | None,
    top: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str]:
    """Elements of a graph too big to draw run by run, and a note saying what was done.

    Step 1: the noise runs of each VQE run become one node ("12 noise runs, best #3", sized by
    that best rank; its ``parent`` is the VQE node). Step 2, if still above ``limit`` nodes: the
    VQE runs of each ansatz too. Step 3: only the first problems are drawn (a page)."""
    positions = _positions(ranked)
    keep = _keep(g, positions, top)
    h = g.subgraph(keep).copy()
    n_runs = sum(1 for _, d in h.nodes(data=True) if d["type"] in ("vqe", "noise", "qpu"))
    steps = []
    levels = (("VQE run", "vqe", ("noise", "qpu")), ("ansatz", "ansatz", ("vqe", "noise", "qpu")))
    for level, parent_type, kinds in levels:
        if h.number_of_nodes() <= limit:
            break
        steps.append(f"runs aggregated per {level}")
        for p in [n for n, d in h.nodes(data=True) if d["type"] == parent_type]:
            _fold(h, p, kinds, positions, g.nodes[p].get("study"))
    drawn = _page(h, limit, steps)
    els = _draw(drawn, {n: p for n, p in positions.items() if n in drawn}, set(drawn.nodes))
    note = (
        f"{n_runs} runs ({g.subgraph(keep).number_of_nodes()} nodes) are too many to draw one "
        f"by one: {'; '.join(steps)}. Click an aggregate node to plot its runs; rank and set "
        "top k to draw single runs."
    )
    return els, note


def _count(h: nx.DiGraph, members: list[str], kind: str) -> int:
    """Runs of ``kind`` among ``members``, counting those an aggregate node stands for."""
    nodes = [h.nodes[m] for m in members]
    return sum(d.get(f"n_{kind}", 0) if d["type"] == "aggregate" else d["type"] == kind for d in nodes)


def _fold(h: nx.DiGraph, p: str, kinds: tuple[str, ...], positions: dict[str, int], study: Any) -> None:
    """Replace the runs of ``kinds`` under node ``p`` (and earlier aggregates, else they would be
    left as orphan roots) by one aggregate node, placed at their best rank."""
    members = [m for m in nx.descendants(h, p) if h.nodes[m]["type"] in kinds + ("aggregate",)]
    if not members:
        return
    best = min((positions[m] for m in members if m in positions), default=None)
    n_noise, n_vqe, n_qpu = _count(h, members, "noise"), _count(h, members, "vqe"), _count(h, members, "qpu")
    agg = f"agg:{p}"
    h.remove_nodes_from(members)
    h.add_node(
        agg,
        type="aggregate",
        label=(f"{n_vqe} VQE, " if n_vqe else "") + f"{n_noise} noise runs" + (f", {n_qpu} QPU" if n_qpu else ""),
        parent=p,
        n_runs=n_vqe + n_noise + n_qpu,
        n_noise=n_noise,
        n_vqe=n_vqe,
        n_qpu=n_qpu,
        study=study,
        metrics={},
    )
    h.add_edge(p, agg)
    if best is not None:
        positions[agg] = best


def _page(h: nx.DiGraph, limit: int, steps: list[str]) -> nx.DiGraph:
    """``h``, or its first problems' subtrees as far as ``limit`` nodes allow (said in ``steps``)."""
    if h.number_of_nodes() <= limit:
        return h
    roots = sorted(n for n in h if h.in_degree(n) == 0)
    page: set[str] = set()
    for i, r in enumerate(roots):
        sub = nx.descendants(h, r) | {r}
        if page and len(page) + len(sub) > limit:
            steps.append(f"problems 1-{i} of {len(roots)} drawn (filter the study or set top k for the rest)")
            break
        page |= sub
    return h.subgraph(page)


def tree_positions(
    g: nx.DiGraph, dx: float = 80.0, dy: float = 120.0, widths: dict[str, float] | None = None
) -> dict[str, tuple[float, float]]:
    """A tidy top-down tree layout: each node gets an interval as wide as its label (``widths``,
    default ``dx``) or as its children's intervals together, and sits centred over it; so a
    noise run sits under its VQE run and no two labels of one level overlap."""
    pos: dict[str, tuple[float, float]] = {}
    w: dict[str, float] = {}
    kids: dict[str, list[str]] = {}
    seen: set[str] = set()

    def measure(n: str) -> float:
        seen.add(n)
        kids[n] = [k for k in sorted(g.successors(n)) if k not in seen]
        for k in kids[n]:
            seen.add(k)
        own = (widths or {}).get(n, dx)
        w[n] = max(own, sum(measure(k) for k in kids[n]))
        return w[n]

    def place(n: str, left: float, depth: int) -> None:
        pos[n] = (left + w[n] / 2, depth * dy)
        start = left + (w[n] - sum(w[k] for k in kids[n])) / 2
        for k in kids[n]:
            place(k, start, depth + 1)
            start += w[k]

    left = 0.0
    for root in sorted(n for n in g if g.in_degree(n) == 0):
        measure(root)
        place(root, left, 0)
        left += w[root] + dx / 2  # a gap between problems
    # keep the drawing roughly 2:1 however many leaves there are (readable when fitted)
    depth = max((y for _, y in pos.values()), default=0.0) / dy
    scale = max(1.0, left / 2 / max(depth * dy, 1.0))
    return {n: (x, y * scale) for n, (x, y) in pos.items()}


def stylesheet() -> list[dict[str, Any]]:
    """Cytoscape style: colour by node type, size and label from the data."""
    style = [
        {
            "selector": "node",
            "style": {
                "label": "data(display)",
                "width": "data(size)",
                "height": "data(size)",
                "font-size": 12,
                "text-valign": "bottom",
                "text-margin-y": 3,
                "min-zoomed-font-size": 5,  # unreadably small labels are hidden until zoomed in
                "background-color": "#b2bec3",
                "border-width": 1,
                "border-color": "#2d3436",
            },
        },
        {
            "selector": "edge",
            "style": {
                "width": 1.5,
                "line-color": "#b2bec3",
                "target-arrow-color": "#b2bec3",
                "target-arrow-shape": "triangle",
                "curve-style": "bezier",
            },
        },
        # the site that ran a step: a thick border in the site's colour (legend: site_legend_items)
        {"selector": "node[site_colour]", "style": {"border-width": 4, "border-color": "data(site_colour)"}},
        # a transfer between sites: bytes and seconds on the edge into the step that fetched them
        {
            "selector": "edge[label]",
            "style": {"label": "data(label)", "font-size": 10, "text-rotation": "autorotate", "color": "#2d3436"},
        },
        {"selector": ":selected", "style": {"border-width": 4, "border-color": "#fdcb6e"}},
        {"selector": ".ranked", "style": {"font-weight": "bold"}},
        {"selector": ".aggregate", "style": {"shape": "round-rectangle"}},
        {
            "selector": ".leaf",
            "style": {
                "text-rotation": "90deg",
                "text-valign": "center",
                "text-halign": "center",
                "text-margin-y": "data(label_dy)",
            },
        },
    ]
    style += [{"selector": f".{t}", "style": {"background-color": c}} for t, c in COLOURS.items()]
    return style
