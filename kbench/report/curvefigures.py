"""Figures of curves: GPU unallocated against arrived workload per policy (a comparison's runs, the
FGD paper's Fig. 7/9 view), a fault timeline (what a fault did to the control plane over time), an
envelope search (the SLO against the varied dimension, with the boundary found) and a comparison's
paired differences per seed.

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


DIMENSION_UNITS = {"nodes": "nodes (count)", "pod-rate": "pod creation rate (pods/s)", "clients": "clients (count)"}


def envelope_curve(envelope: dict[str, Any]) -> go.Figure:
    """An envelope search (``envelope.json``): the SLO's value at each step against the varied dimension,
    every replication as a dot (filled: passed, open: failed), the step median as a line, the SLO
    threshold as a horizontal line and the boundary the search found as a shaded band."""
    steps = [s for s in envelope.get("steps") or [] if s.get("values")]
    if not steps:
        raise MissingData("the envelope search has no finished step")
    dim, slo = str(envelope.get("dimension")), str(envelope.get("slo"))
    steps = sorted(steps, key=lambda s: float(s["value"]))
    fig = go.Figure()
    xs_ok, ys_ok, xs_bad, ys_bad = [], [], [], []
    for s in steps:
        for v, ok in zip(s["values"], s.get("passes") or [True] * len(s["values"]), strict=False):
            if v is None:
                continue
            (xs_ok if ok else xs_bad).append(float(s["value"]))
            (ys_ok if ok else ys_bad).append(float(v))
    med = [float(np.median([v for v in s["values"] if v is not None])) if any(v is not None for v in s["values"])
           else None for s in steps]
    x = [float(s["value"]) for s in steps]
    fig.add_trace(go.Scatter(x=x, y=med, mode="lines", name="median of the replications", line={"color": "#636efa"}))
    fig.add_trace(go.Scatter(x=xs_ok, y=ys_ok, mode="markers", name="replication passed",
                             marker={"color": "#00cc96", "size": 9}))
    fig.add_trace(go.Scatter(x=xs_bad, y=ys_bad, mode="markers", name="replication failed",
                             marker={"color": "#EF553B", "size": 9, "symbol": "circle-open", "line": {"width": 2}}))
    thr = envelope.get("threshold")
    if thr is not None:
        fig.add_trace(go.Scatter(x=[min(x), max(x)], y=[float(thr)] * 2, mode="lines", name=f"SLO threshold {thr:g}",
                                 line={"dash": "dot", "color": "red"}))
    lp, ff = envelope.get("last_pass"), envelope.get("first_fail")
    status = envelope.get("status")
    if ff is not None:  # traces, not shapes: shapes misplace on log axes
        ys = [v for v in ys_ok + ys_bad + ([float(thr)] if thr is not None else []) if v is not None]
        y0, y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
        x0 = float(lp if lp is not None else ff)
        fig.add_trace(go.Scatter(x=[x0, float(ff), float(ff), x0, x0], y=[y0, y0, y1, y1, y0], fill="toself",
                                 mode="lines", line={"width": 0}, fillcolor="rgba(239,85,59,0.15)", hoverinfo="skip",
                                 name=f"boundary: between {x0:g} and {float(ff):g}"))
        fig.add_trace(go.Scatter(x=[float(ff)] * 2, y=[y0, y1], mode="lines", line={"dash": "dash", "color": "#EF553B"},
                                 name=f"first fail: {dim} = {float(ff):g}"))
    if len(x) > 1 and min(x) > 0 and max(x) / min(x) >= 10:
        fig.update_xaxes(type="log")
    verdict = {"breach": f"the SLO first fails between {dim} = {lp} and {ff}",
               "breach_at_min": f"the SLO fails already at the smallest {dim} tried ({ff})",
               "no_breach": f"no breach up to {dim} = {envelope.get('max')}"}.get(str(status), str(status))
    return finish(fig, f"{esc(slo)} against {esc(dim)}: {esc(verdict)}",
                  f"Each step ran {envelope.get('replications')} replication(s); {envelope.get('rule', '')}. The "
                  "shaded band is where the search narrowed the boundary down to.",
                  esc(DIMENSION_UNITS.get(dim, dim)), f"{esc(slo)} ({'s' if slo.endswith('_s') else 'count'})")


def comparison_paired(comparison: dict[str, Any], metric: str) -> go.Figure:
    """Per policy, each seed's difference from the baseline on the same seed (common random numbers),
    with the median difference, its interval and the paired test's verdict; the zero line is no effect."""
    per = (comparison.get("metrics") or {}).get(metric)
    base = comparison.get("baseline")
    if not per or base not in per:
        raise MissingData(f"metric {metric!r} or its baseline is not in comparison.json")
    from kbench.report.markdown import interval_name

    paired = (comparison.get("paired") or {}).get(metric) or {}
    others = [p for p in (comparison.get("ranking") or {}).get(metric) or list(per) if p != base]
    b = per[base].get("values") or []
    fig = go.Figure()
    names, diffs_x, diffs_y = [], [], []
    med, lo, hi, verdicts = [], [], [], []
    for p in others:
        v = per[p].get("values") or []
        d = [x - y for x, y in zip(v, b, strict=False) if x is not None and y is not None]
        pr = paired.get(p) or {}
        verdict = "significant" if pr.get("significant") else "not significant"
        name = f"{esc(p)}<br>({verdict})"  # the verdict under the policy's name
        names.append(name)
        diffs_x += [name] * len(d)
        diffs_y += d
        med.append(pr.get("diff_median"))
        lo.append(pr.get("ci_low"))
        hi.append(pr.get("ci_high"))
        verdicts.append(verdict)
    if not names:
        raise MissingData("the comparison has no policy besides the baseline")
    fig.add_trace(go.Scatter(x=diffs_x, y=diffs_y, mode="markers", name="one seed (policy − baseline)",
                             marker={"size": 7, "opacity": 0.55}))

    def gap(a, c):
        return None if a is None or c is None else max(a - c, 0.0)

    fig.add_trace(go.Scatter(
        x=names, y=med, mode="markers", text=verdicts, hoverinfo="x+y+text",
        marker={"size": 13, "symbol": "diamond", "color": "black"},
        name=esc(f"median difference [{interval_name(comparison)}]"),
        error_y={"type": "data", "symmetric": False, "array": [gap(h, m) for h, m in zip(hi, med, strict=True)],
                 "arrayminus": [gap(m, low) for m, low in zip(med, lo, strict=True)]}))
    fig.add_hline(y=0.0, line_dash="dot", line_color="grey")
    direction = (comparison.get("directions") or {}).get(metric, "lower")
    better = "below" if direction == "lower" else "above"
    return finish(fig, f"{esc(metric)}: paired difference from the baseline {esc(base)}",
                  f"Each dot is one seed's value under the policy minus the baseline's under the same seed; {better} "
                  "the dotted zero line is better. The verdict is the Holm-corrected paired test's.",
                  "policy", f"difference in {esc(metric)}")
