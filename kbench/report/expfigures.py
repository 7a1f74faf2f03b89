"""Figures of experiments: comparisons and sweeps (pure functions → plotly figures); the sync
experiment's are in :mod:`kbench.report.syncfigures`.

Inputs are what the folders hold: ``comparison.json`` (a dict), a sweep's ``cells.parquet`` (one row
per cell: ``param.<name>`` columns, ``policy``, ``seed``, ``status`` and one column per metric named
by its dotted path), the sync runs' summaries. Conventions as in :mod:`kbench.report.figures`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from kbench.report.base import MissingData, cdf_xy, esc, finish, wide_span

_UNITS = (("pods_per_s", "pods/s"), ("per_s", "1/s"), ("pct", "%"), ("_bytes", "bytes"), ("_s", "s"))
"""(substring, unit), first match wins; ``_bytes`` and ``_s`` must end the name."""


_COLORS = ("#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880")


def unit_of(metric: str) -> str:
    """The unit of a dotted summary path, guessed from its name (``pod_startup_s.p99`` → ``s``)."""
    for part in reversed(metric.split(".")):
        for key, unit in _UNITS:
            if (part.endswith(key) if key.startswith("_") else key in part):
                return unit
    return "value"


def _axis(metric: str) -> str:
    return f"{esc(metric)} ({unit_of(metric)})"


# ------------------------------------------------------------------------------------ comparison


def comparison_metric(comparison: dict[str, Any], metric: str) -> go.Figure:
    """Per-policy median with its interval (error bar; a bootstrap CI, or min–max under 5 seeds, as
    ``comparison.json`` says) and every seed's value, for one metric."""
    from kbench.report.markdown import interval_name

    per = (comparison.get("metrics") or {}).get(metric)
    if not per:
        raise MissingData(f"metric {metric!r} is not in comparison.json")
    order = (comparison.get("ranking") or {}).get(metric) or list(per)
    fig = go.Figure()
    names = [esc(p) for p in order]
    med = [per[p].get("median") for p in order]
    lo = [per[p].get("ci_low") for p in order]
    hi = [per[p].get("ci_high") for p in order]

    def gap(a, b):
        return None if a is None or b is None else max(a - b, 0.0)

    fig.add_trace(go.Scatter(
        x=names, y=med, mode="markers", marker={"size": 12, "symbol": "diamond"}, name=esc(f"median [{interval_name(comparison)}]"),
        error_y={"type": "data", "symmetric": False, "array": [gap(h, m) for h, m in zip(hi, med, strict=True)],
                 "arrayminus": [gap(m, low) for m, low in zip(med, lo, strict=True)]}))
    xs, ys = [], []
    for p, n in zip(order, names, strict=True):
        vals = [v for v in per[p].get("values") or [] if v is not None]
        xs += [n] * len(vals)
        ys += vals
    if ys:
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", marker={"size": 6, "opacity": 0.5},
                                 name="one seed"))
    direction = (comparison.get("directions") or {}).get(metric, "lower")
    if wide_span([v for v in ys if v]):
        fig.update_yaxes(type="log")
    return finish(fig, f"{esc(metric)} per policy ({direction} is better)",
                  "Policies are ranked best first; overlapping intervals alone do not decide it, the paired "
                  "test in the significance table does.", "policy (best first)", _axis(metric))


def policy_startup_cdf(pods: pd.DataFrame) -> go.Figure:
    """CDF of the SLO pod startup per policy, pooled over seeds (a comparison's run folders)."""
    if pods is None or pods.empty or "policy" not in pods:
        raise MissingData("no pods tables in the comparison's run folders")
    fig = go.Figure()
    for policy, g in pods.groupby("policy", sort=True):
        x, y = cdf_xy(g["running_observed_s"] - g["created_s"] - g.get("image_pull_s", 0.0))
        if x.size:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=esc(policy)))
    if not fig.data:
        raise MissingData("no pod reached Running in the comparison's runs")
    fig.add_hline(y=0.99, line_dash="dot", line_color="grey")
    return finish(fig, "Pod startup per policy, all seeds pooled (CDF)",
                  "Curves that part at the top differ in the tail, where the p99 SLO lives.",
                  "pod startup excluding image pulls (s)", "fraction of pods (0–1)")


# ----------------------------------------------------------------------------------------- sweep


def _num_or_none(values: pd.Series) -> np.ndarray | None:
    try:
        return values.astype(float).to_numpy()
    except (TypeError, ValueError):
        return None


def sweep_metric(cells: pd.DataFrame, metric: str, param: str) -> go.Figure:
    """``metric`` against grid parameter ``param``: median over seeds with a band (a bootstrap 95 % CI,
    or min–max with fewer than 5 seeds, as the caption says), one line per policy (and per value of the
    other grid parameters)."""
    from kbench.experiment.stats import spread, spread_label

    pcol = f"param.{param}"
    if cells is None or cells.empty or metric not in cells or pcol not in cells:
        raise MissingData(f"no {metric!r} against {param!r} in cells.parquet")
    df = cells
    if "status" in df:
        df = df[df["status"].astype(str).isin(("complete", "ok", "done"))]
    df = df[pd.notna(df[metric])]
    if df.empty:
        raise MissingData(f"no completed cell has a value for {metric!r}")
    others = [c for c in df.columns if c.startswith("param.") and c != pcol and df[c].nunique() > 1]
    keys = (["policy"] if "policy" in df else []) + others
    numeric = _num_or_none(df[pcol]) is not None
    fig = go.Figure()
    all_y = []
    sizes: set[int] = set()
    for n_lines, (key, g) in enumerate(df.groupby(keys, sort=True) if keys else [((), df)]):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(esc(k if c == "policy" else f"{c[len('param.'):]}={k}")
                          for c, k in zip(keys, key, strict=True)) or esc(metric)
        xs, med, lo, hi = [], [], [], []
        for xv, gx in g.groupby(pcol, sort=True):
            ci = spread(gx[metric].astype(float).to_numpy())
            sizes.add(len(gx))
            xs.append(float(xv) if numeric else esc(xv))
            med.append(ci.estimate)
            lo.append(ci.low)
            hi.append(ci.high)
        all_y += lo + hi + med
        color = _COLORS[n_lines % len(_COLORS)]
        fig.add_trace(go.Scatter(x=xs, y=med, mode="lines+markers", name=label, legendgroup=label,
                                 line={"color": color}))
        if any(h != low for h, low in zip(hi, lo, strict=True)):
            fig.add_trace(go.Scatter(x=xs + xs[::-1], y=hi + lo[::-1], fill="toself", mode="lines",
                                     line={"width": 0, "color": color}, fillcolor=color, opacity=0.2,
                                     legendgroup=label, showlegend=False, name=f"{label} interval",
                                     hoverinfo="skip"))
    if numeric and wide_span(df[pcol].astype(float)):
        fig.update_xaxes(type="log")
    if wide_span(all_y):
        fig.update_yaxes(type="log")
    bands = "; ".join(spread_label(n) for n in sorted(sizes))
    return finish(fig, f"{esc(metric)} against {esc(param)}",
                  f"Lines are medians over seeds and bands their interval ({bands}); look for the parameter "
                  "value where a line bends, the knee where the system stops scaling.",
                  esc(param), _axis(metric))


__all__ = ["MissingData", "comparison_metric", "policy_startup_cdf", "sweep_metric", "unit_of"]
