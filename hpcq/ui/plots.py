"""The dashboard's four plots (Plotly), each over the runs in scope (table filter + graph node).

Why these four: they are what a quantum chemist looks at after a study: did the VQE converge
to the exact energy (within chemical accuracy), how fast does the error grow with noise, what
does the noise do to the output distribution, and (for a scan) the energy curve.
Every figure carries ``layout.meta = {"points": N}``: the number of data points drawn, which the
tests and the "no data" annotation read.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from hpcq.sim.metrics import CHEMICAL_ACCURACY_HA
from hpcq.ui.data import MAX_TRACES, noise_strength

LAYOUT_MARGIN = dict(l=60, r=20, t=50, b=50)
LAYOUT = dict(height=360, legend=dict(font=dict(size=10)))
# px of the legend at its 10 px font: symbol + gaps, and a character (generous: "L_BFGS_B" is wide)
LEGEND_PAD, LEGEND_CHAR = 60, 6.4
TEMPLATE = "plotly_white"
MAX_OUTCOMES_SHOWN = 32


@functools.cache
def _template() -> dict[str, Any]:
    import plotly.io as pio

    return pio.templates[TEMPLATE].to_plotly_json()


def figure_json(fig: go.Figure) -> dict[str, Any]:
    """The figure as dcc.Graph takes it, with the shared template as a plain dict. Why: a template
    named in a go.Figure is deep-copied and validated for every figure (40 ms each, most of the
    first page's plotting time); the figures are built without one and get this cached copy."""
    out = fig.to_plotly_json()
    out["layout"]["template"] = _template()
    return out


def _margin(traces: list[Any]) -> dict[str, Any]:
    """Fixed margins, the right one wide enough for the legend (drawn when there are two traces
    or more). Why: Plotly's automatic margins measure the legend and draw the figure a second
    time, 0.2 s of the 1,000-run first page on the 2-core machine (bench/bench_ui.py)."""
    names = [str(t.name or "") for t in traces] if len(traces) > 1 else []
    right = LEGEND_PAD + round(LEGEND_CHAR * max(map(len, names))) if names else LAYOUT_MARGIN["r"]
    return dict(LAYOUT_MARGIN, r=right, autoexpand=False)


def _fig(title: str, traces: list[Any], points: int, empty: str, **layout) -> go.Figure:
    fig = go.Figure(traces, layout_template=None)  # the template comes with figure_json
    fig.update_layout(
        title=dict(text=title, font=dict(size=14)),
        meta={"points": points},
        margin=_margin(traces),
        **LAYOUT,
        **layout,
    )
    if not points:
        fig.add_annotation(text=empty, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def _label(r: pd.Series, *fields: str) -> str:
    return " ".join(str(r[f]) for f in fields if f in r and pd.notna(r[f]))


def convergence(rows: pd.DataFrame, vqe: pd.DataFrame, series: dict[str, dict]) -> go.Figure:
    """Energy per iteration of the VQE runs behind ``rows`` (best-ranked first, at most
    MAX_TRACES), the exact energy and the chemical-accuracy band. Runs of several problems are
    drawn as the error E - E_exact instead, so that they share one axis."""
    order = list(dict.fromkeys(rows["parent_task_id"].dropna()))
    runs = vqe.drop_duplicates("task_id").set_index("task_id")
    chosen = [t for t in order if t in runs.index and series.get(t, {}).get("trace")][:MAX_TRACES]
    exacts = {float(runs.loc[t, "exact_energy"]) for t in chosen if pd.notna(runs.loc[t, "exact_energy"])}
    relative = len(exacts) > 1
    traces, points = [], 0
    for t in chosen:
        y = series[t]["trace"]
        exact = runs.loc[t, "exact_energy"]
        if relative:
            y = [None if v is None else (v - exact) * 1e3 for v in y]
        points += len(y)
        traces.append(
            go.Scatter(
                x=list(range(1, len(y) + 1)),
                y=y,
                mode="lines",
                name=_label(runs.loc[t], "optimizer", "ansatz") + f" {t}",
            )
        )
    fig = _fig(
        f"VQE convergence ({len(chosen)} of {len(order)} runs in scope)",
        traces,
        points,
        "no VQE trace in scope",
        xaxis_title="iteration",
        yaxis_title="E − E_exact (mHa)" if relative else "energy (Ha)",
    )
    if chosen:
        base = 0.0 if relative else exacts.pop()
        width = CHEMICAL_ACCURACY_HA * (1e3 if relative else 1.0)
        fig.add_hrect(
            y0=base - width,
            y1=base + width,
            fillcolor="#55efc4",
            opacity=0.3,
            line_width=0,
            annotation_text="chemical accuracy (1.6 mHa)",
            annotation_position="top left",
        )
        fig.add_hline(
            y=base, line_dash="dash", line_color="#2d3436", annotation_text="exact", annotation_position="bottom right"
        )
    return fig


def noise_response(rows: pd.DataFrame, scan: list[str] | tuple[str, ...] = ()) -> go.Figure:
    """|ΔE| (mHa) vs noise strength (log axis), one line per noise model and optimizer, and per
    ansatz, problem and scanned coordinate where these vary (never averaged over them: only over
    seeds), for the models run at several strengths; the noiseless VQE runs' mean error as a
    reference line."""
    traces, points, fixed = [], 0, []
    if len(rows):
        rows = rows.join(noise_strength(rows))
        apart = [c for c in ("ansatz", "problem", *scan) if c in rows and rows[c].nunique() > 1]
        for key, grp in rows.dropna(subset=["strength"]).groupby(["strength_name", "optimizer", *apart]):
            name, opt, *more = key
            pts = grp.groupby("strength")["abs_error_mha"].mean().sort_index()
            single = rows.loc[rows["strength_name"] == name, "strength"].nunique() < 2
            if single:
                fixed.append(name.split()[0])
            points += len(pts)
            traces.append(
                go.Scatter(
                    x=list(pts.index),
                    y=list(pts.values),
                    mode="markers" if single else "lines+markers",
                    name=" · ".join([name, opt, *(_apart(c, v) for c, v in zip(apart, more, strict=True))]),
                )
            )
    title = "Energy error vs noise strength"
    if fixed:
        title += f"<br><sup>one strength only (points): {', '.join(sorted(set(fixed)))}</sup>"
    fig = _fig(
        title,
        traces,
        points,
        "no noise run in scope",
        xaxis_title="noise strength (the model's varying parameter)",
        xaxis_type="log",
        yaxis_title="|ΔE| (mHa)",
        yaxis_type="log",
    )
    if points:
        _log_hline(fig, CHEMICAL_ACCURACY_HA * 1e3, "chemical accuracy", "right", "top", dash="dot", color="#00b894")
        base = rows["vqe_abs_error"].dropna()
        if len(base) and base.mean() > 0:
            mean = float(base.mean()) * 1e3
            _log_hline(fig, mean, "noiseless VQE (mean)", "left", "bottom", dash="dash", color="#636e72")
    return fig


def _apart(column: str, value: Any) -> str:
    """A grouping value in a legend: the ansatz or problem as it is, a coordinate as 'r=1.6'."""
    if column in ("ansatz", "problem"):
        return str(value)
    return f"{column}={value:g}" if isinstance(value, float) else f"{column}={value}"


def _log_hline(fig: go.Figure, y: float, text: str, side: str, anchor: str, dash: str, color: str) -> None:
    """A labelled horizontal line on a log y axis. Why not add_hline's annotation_text: Plotly
    places annotations on a log axis at log10 units but plotly.py passes the data value, so the
    label of a line at 8 mHa went to 10^8 (and stretched the axis to it)."""
    fig.add_hline(y=y, line_dash=dash, line_color=color)
    fig.add_annotation(
        text=text,
        showarrow=False,
        xref="x domain",
        x=1 if side == "right" else 0,
        xanchor=side,
        yref="y",
        y=math.log10(y),
        yanchor=anchor,
    )


def distributions(run: pd.Series | None, series: dict[str, dict]) -> go.Figure:
    """Ideal vs noisy output distribution of one run (its most probable outcomes), and sampled
    counts (as frequencies) when the file stores them."""
    dist = series.get(run["task_id"], {}).get("dist") if run is not None else None
    traces, points, title = [], 0, "Output distribution"
    if dist:
        n = max(1, (int(dist["n_outcomes"]) - 1).bit_length())
        top = sorted(
            range(len(dist["outcomes"])),
            key=lambda i: (
                -max(
                    dist.get("ideal", [0] * len(dist["outcomes"]))[i], dist.get("noisy", [0] * len(dist["outcomes"]))[i]
                )
            ),
        )
        keep = sorted(top[:MAX_OUTCOMES_SHOWN])
        labels = [format(dist["outcomes"][i], f"0{n}b") for i in keep]
        for name, values in dist.items():
            if name in ("n_outcomes", "outcomes"):
                continue
            total = sum(values) if name not in ("ideal", "noisy") else 1.0
            y = [values[i] / total if total else 0.0 for i in keep]
            label = {"ideal": "ideal", "noisy": "noisy"}.get(name, f"sampled {name} (frequency)")
            traces.append(go.Bar(x=labels, y=y, name=label))
            points += len(y)
        title += f" of {run['task_id']} ({run.get('noise_model', '')}; {len(keep)} of {dist['n_outcomes']} outcomes)"
    return _fig(
        title,
        traces,
        points,
        "no stored distribution for this run",
        barmode="group",
        xaxis_title="outcome (bitstring)",
        yaxis_title="probability",
    )


def energy_curve(rows: pd.DataFrame, vqe: pd.DataFrame, scan: list[str]) -> go.Figure:
    """Energy vs the scanned coordinate (a bond length, an angle, a Z-matrix variable): exact with
    the chemical-accuracy band, HF (where the catalog has it), VQE per ansatz and optimizer, noisy
    per ansatz and noise model (means over seeds)."""
    traces, points = [], 0
    param = next((p for p in scan if p in rows and rows[p].nunique() > 1), None)
    if param is not None:
        parents = vqe[vqe["task_id"].isin(rows["parent_task_id"])]
        both = pd.concat([rows, parents])
        exact = both[[param, "exact_energy"]].dropna().groupby(param)["exact_energy"].mean().sort_index()
        traces += _accuracy_band(exact)
        traces.append(_line(exact, "exact", "lines", dict(color="#2d3436", dash="dash")))
        points += len(exact)
        if "hf_energy" in both and both["hf_energy"].notna().any():
            hf = both[[param, "hf_energy"]].dropna().groupby(param)["hf_energy"].mean().sort_index()
            traces.append(_line(hf, "HF", "lines", dict(color="#b2bec3", dash="dot")))
            points += len(hf)
        for (ans, opt), grp in parents.groupby(["ansatz", "optimizer"]):
            pts = grp.groupby(param)["energy"].mean().sort_index()
            traces.append(_line(pts, f"VQE {ans} · {opt}", "lines+markers"))
            points += len(pts)
        from hpcq.results.graph import noise_label

        labels = [noise_label(m, q) for m, q in zip(rows["noise_model"], rows["noise_params"], strict=True)]
        for (ans, noise), grp in rows.assign(_noise=labels).groupby(["ansatz", "_noise"]):
            pts = grp.groupby(param)["energy"].mean().sort_index()
            traces.append(_line(pts, f"noisy {noise} · {ans}", "markers"))
            points += len(pts)
    title = f"Energy curve over {param}" if param else "Energy curve"
    return _fig(
        title,
        traces,
        points,
        "this study scans no problem parameter",
        xaxis_title=param or "scanned parameter",
        yaxis_title="energy (Ha)",
    )


def _line(pts: pd.Series, name: str, mode: str, line: dict[str, Any] | None = None) -> go.Scatter:
    return go.Scatter(x=list(pts.index), y=list(pts.values), mode=mode, name=name, line=line)


def _accuracy_band(exact: pd.Series) -> list[go.Scatter]:
    """exact ± chemical accuracy as a filled band (two traces: the lower edge, then the upper)."""
    x = list(exact.index)
    low = go.Scatter(x=x, y=list(exact.values - CHEMICAL_ACCURACY_HA), mode="lines", line=dict(width=0))
    low.showlegend, low.hoverinfo = False, "skip"
    high = go.Scatter(
        x=x,
        y=list(exact.values + CHEMICAL_ACCURACY_HA),
        mode="lines",
        line=dict(width=0),
        fill="tonexty",
        fillcolor="rgba(85, 239, 196, 0.35)",
        name=f"chemical accuracy (±{CHEMICAL_ACCURACY_HA * 1e3:g} mHa)",
    )
    return [low, high]
