"""Figures of curves: GPU unallocated against arrived workload per policy (a comparison's runs, the
FGD paper's Fig. 7/9 view) and a fault timeline (what a fault did to the control plane over time).

Pure functions from loaded data to plotly figures; conventions as in :mod:`kbench.report.figures`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from kbench.faults.measure import FAULT_HEADERS, fault_rows  # noqa: F401  (re-exported: one import place)
from kbench.report.base import MissingData, esc, finish

_COLORS = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880")

CROP_FROM_PCT = 75.0
"""Arrived % where the GPU curves' x axis starts when arrivals pass 100 % (FGD.md §1.3: the paper
crops to [75, 120]; the full curve stays in the figure's data, zoom out to see it)."""

FAULT_COUNTERS = (
    ("informer_relists_total", "informer relists"),
    ("api_rejected_429_total", "429 responses"),
    ("api_errors_total", "failed requests (5xx)"),
    ("pod_evictions_total", "pods evicted"),
    ("nodes_not_ready_total", "nodes marked NotReady"),
)
"""(series metric, legend name) of the cumulative counters the fault injector records."""


def policy_gpu_curves(runs: list[dict[str, Any]]) -> go.Figure:
    """Unallocated GPU % against arrived GPU % per policy: the median over seeds and the min–max band.

    Args:
        runs: The comparison's runs, each ``{"manifest": dict, "summary": dict}``; the curve is the
            summary's ``gpu.unallocated_pct_at_arrived`` (arrived % of capacity → unallocated %).
    """
    per: dict[str, list[dict[float, float]]] = {}
    for run in runs:
        s = run.get("summary") or {}
        curve = (s.get("gpu") or {}).get("unallocated_pct_at_arrived")
        if curve:
            policy = str(s.get("policy") or (run.get("manifest") or {}).get("policy"))
            per.setdefault(policy, []).append({float(k): float(v) for k, v in curve.items() if v is not None})
    if not per:
        raise MissingData("the comparison's runs have no GPU allocation curve (no GPUs)")
    fig = go.Figure()
    top = 0.0
    for i, (policy, curves) in enumerate(sorted(per.items())):
        xs = sorted(set().union(*curves))
        m = np.array([[c.get(x, np.nan) for x in xs] for c in curves])
        color = _COLORS[i % len(_COLORS)]
        if len(curves) > 1:
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=list(np.nanmax(m, 0)) + list(np.nanmin(m, 0)[::-1]),
                                     fill="toself", fillcolor=color, opacity=0.15, line={"width": 0},
                                     hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=xs, y=np.nanmedian(m, 0), mode="lines", line={"color": color},
                                 name=f"{esc(policy)} (median of {len(curves)})"))
        tail = np.asarray(xs) >= CROP_FROM_PCT
        if tail.any():
            top = max(top, float(np.nanmax(m[:, tail])))
    xmax = max(x for curves in per.values() for c in curves for x in c)
    if xmax > 100 and top > 0:  # as the paper's figure: below ~75 % arrived every policy coincides
        fig.update_xaxes(range=[CROP_FROM_PCT, xmax])
        fig.update_yaxes(range=[0, top * 1.05])
    return finish(fig, "Unallocated GPUs against arrived workload, per policy",
                  "Lower is better: at a given arrived share of GPU capacity, a policy whose curve stays lower "
                  "leaves fewer GPUs idle (bands: min–max over the seeds, whose number is in the legend).",
                  "arrived GPU requests (% of capacity)", "unallocated GPUs (% of capacity)")


def fault_timeline(series: pd.DataFrame | None, summary: dict[str, Any] | None = None) -> go.Figure:
    """The fault injector's cumulative counters over virtual time, with each fault's window shaded.

    Args:
        series: The run's ``series`` table (columns ``time_s``, ``metric``, ``value``).
        summary: The run summary; its ``faults`` section gives the fault windows, when present.
    """
    if series is None or not len(series) or "metric" not in series:
        raise MissingData("no time series in this run")
    if not (series["metric"] == "fault_active").any():
        raise MissingData("no fault timeline in this scenario")
    fig = go.Figure()
    for metric, name in FAULT_COUNTERS:
        df = series[series["metric"] == metric].sort_values("time_s")
        if len(df) and df["value"].max() > 0:
            fig.add_trace(go.Scatter(x=df["time_s"], y=df["value"], mode="lines", name=name))
    active = series[series["metric"] == "fault_active"].sort_values("time_s")
    on = active[active["value"] > 0]["time_s"].to_numpy()
    if len(on):
        fig.add_vrect(x0=float(on.min()), x1=float(on.max()), fillcolor="#d62728", opacity=0.08, line_width=0,
                      annotation_text="fault active", annotation_position="top left")
    for f in (summary or {}).get("faults") or []:
        at = f.get("at_s") if isinstance(f, dict) else None
        if at is not None:
            fig.add_vline(x=float(at), line_dash="dot", line_color="#d62728")
    return finish(fig, "Fault timeline: relists, 429s, errors and evictions",
                  "A fault shows as a step in the counters; recovery is where they flatten again (the shaded span "
                  "is when a fault was active).", "virtual time (s)", "cumulative count")
