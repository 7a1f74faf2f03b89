"""Figures of the List vs List-Watch experiment: cost, egress, memory and staleness per strategy
against the swept axis, with the crossover where watching stops paying (issue 16).

Input: the runs' summaries (``kbench sync -o json``), and the experiment's crossovers
(:func:`kbench.experiment.syncsweep.crossovers`). The x axis is the swept axis (``clients`` when
nothing was swept); with a single value per strategy the figures are bars. Conventions as in
:mod:`kbench.report.figures`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kbench.report.base import MissingData, esc, finish, wide_span

_COLORS = {"poll": "#EF553B", "list-watch": "#636efa", "watch-list": "#00cc96"}
_OTHER = ("#ab63fa", "#FFA15A", "#19d3f3")
AXIS_LABEL = {"clients": "clients (count)", "objects": "objects (count)", "changes_per_s": "changes (1/s)",
              "object_bytes": "object size (bytes)", "poll_period_s": "poll period (s)"}


def _get(d: dict, *keys: str) -> Any:
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def axis_of(summaries: list[dict[str, Any]]) -> str:
    """The swept axis the runs vary along (``clients`` when none)."""
    for s in summaries:
        for k in s.get("swept") or {}:
            return k
    return "clients"


def sync_frame(summaries: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per run: strategy, x (the swept axis) and the figures' values (MB, cores, s)."""
    axis = axis_of(summaries)
    rows = []
    for s in summaries:
        api = s.get("apiserver") or {}
        st = s.get("staleness_s") or {}
        virt = s.get("virtual_s") or np.nan
        kinds = api.get("egress_bytes_by_kind") or {}
        x = (s.get("swept") or {}).get(axis, s.get(axis))
        rows.append({"strategy": str(s.get("strategy")), "x": x,
                     "cpu_cores": api.get("cpu_cores", (api.get("cpu_s") or np.nan) / virt),
                     "gzip_cores": (_get(api, "cpu_s_by_kind", "gzip") or 0.0) / virt,
                     "etcd_cores": _get(s, "etcd", "cpu_cores"),
                     "mb_per_s": (api.get("egress_bytes_per_s") or api.get("bytes_per_s") or np.nan) / 1e6,
                     "watch_mb_per_s": (kinds.get("watch") or 0.0) / 1e6,
                     "mem_mb": (api.get("memory_peak_bytes") or np.nan) / 1e6,
                     "transient_mb": (api.get("memory_transient_peak_bytes") or np.nan) / 1e6,
                     "p50": st.get("p50"), "p99": st.get("p99"), "max": st.get("max")})
    df = pd.DataFrame(rows)
    if df.empty or df["x"].isna().all():
        raise MissingData("no sync summaries")
    return df.sort_values(["strategy", "x"])


def _colors(strategies) -> dict[str, str]:
    rest = iter(_OTHER)
    return {st: _COLORS.get(st) or next(rest, "#444") for st in strategies}


def _crossing_lines(fig: go.Figure, crossover: list[dict] | None, costs: tuple[str, ...], y0: float, y1: float,
                    axis: str, **where) -> None:
    """Vertical dashed lines where a watching strategy's cost crosses polling's (legend-labelled traces:
    shape annotations misplace on log axes)."""
    for c in crossover or []:
        if c.get("cost") in costs and c.get("axis") == axis and c.get("x") is not None:
            x = float(c["x"])
            fig.add_trace(go.Scatter(x=[x, x], y=[y0, y1], mode="lines", hoverinfo="name",
                                     name=f"crossover {esc(c['strategy'])} vs poll ({esc(c['cost'])}) at {x:.3g}",
                                     line={"dash": "dash", "color": "#7f7f7f", "width": 1.5}), **where)


def _by_strategy(fig: go.Figure, df: pd.DataFrame, ycol: str, single: bool, suffix: str = "", dash: str = "solid",
                 show: bool = True, pattern: str = "", **where) -> None:
    colors = _colors(sorted(df["strategy"].unique()))
    for strategy, g in df.groupby("strategy", sort=True):
        name = esc(strategy) + suffix
        if single:
            fig.add_trace(go.Bar(x=[name], y=g[ycol], name=name, legendgroup=name, marker_color=colors[strategy],
                                 marker_pattern_shape=pattern, showlegend=show), **where)
        else:
            fig.add_trace(go.Scatter(x=g["x"], y=g[ycol], mode="lines+markers", name=name, legendgroup=name,
                                     line={"color": colors[strategy], "dash": dash}, showlegend=show), **where)


def _log_values(fig: go.Figure) -> None:
    """A logarithmic value axis, with bars drawn as dots: a bar on a log axis starts at an arbitrary
    floor, so the smaller strategy's bar looks like nothing."""
    fig.update_yaxes(type="log")
    # plotly lets fig.data take only its own traces (reordered or fewer): rebuild them in order
    traces = [go.Scatter(x=t.x, y=t.y, name=t.name, legendgroup=t.legendgroup, showlegend=t.showlegend,
                         xaxis=t.xaxis, yaxis=t.yaxis, mode="markers",
                         marker={"color": t.marker.color, "size": 12, "symbol": "diamond"})
              if t.type == "bar" else t.to_plotly_json() for t in fig.data]
    fig.data = ()
    fig.add_traces(traces)


def _x_title(df: pd.DataFrame, axis: str, single: bool) -> str:
    if single:
        return f"strategy ({AXIS_LABEL.get(axis, axis)}: {df['x'].iloc[0]:g})"
    return AXIS_LABEL.get(axis, axis)


def sync_cost(summaries: list[dict[str, Any]], crossover: list[dict] | None = None) -> go.Figure:
    """apiserver and etcd CPU against the swept axis, one line per strategy (bars when not swept)."""
    df = sync_frame(summaries)
    axis = axis_of(summaries)
    single = df["x"].nunique() == 1
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                        subplot_titles=("apiserver", "etcd"))
    for col, ycol, cost in ((1, "cpu_cores", "apiserver_cores"), (2, "etcd_cores", "etcd_cores")):
        _by_strategy(fig, df, ycol, single, show=col == 1, row=1, col=col)
        if col == 1:
            zipped = df[df["gzip_cores"] > 0]
            if not zipped.empty:  # response compression's share (I31)
                _by_strategy(fig, zipped, "gzip_cores", single, " (of which gzip)", dash="dot", pattern="/",
                             row=1, col=1)
        if not single:
            top = float(np.nanmax(df[ycol].to_numpy(dtype=float))) if df[ycol].notna().any() else 1.0
            _crossing_lines(fig, crossover, (cost,), 0.0, top or 1.0, axis, row=1, col=col)
    fig.update_yaxes(title_text="CPU (cores)", row=1, col=1)
    fig.update_yaxes(title_text="CPU (cores)", row=1, col=2)
    fig.update_xaxes(title_text=_x_title(df, axis, single))
    if not single and wide_span(df["x"], 1.0):
        fig.update_xaxes(type="log")
    return finish(fig, "Sync cost: apiserver and etcd CPU",
                  "Polling costs every stored object per period (scanned, encoded, and from etcd when reads are "
                  "not served by the cache; a response over 128 KiB is also gzipped for clients that accept it, "
                  "5 ns per byte, I31: the hatched or dotted '(of which gzip)' share); watching costs every change "
                  "times its watchers. Dashed lines mark where a watching strategy's cost crosses polling's.")


def sync_egress(summaries: list[dict[str, Any]], crossover: list[dict] | None = None) -> go.Figure:
    """apiserver egress against the swept axis: total per strategy, and its watch-event part."""
    df = sync_frame(summaries)
    axis = axis_of(summaries)
    single = df["x"].nunique() == 1
    fig = go.Figure()
    _by_strategy(fig, df, "mb_per_s", single, " (all egress)")
    watchers = df[df["watch_mb_per_s"] > 0]
    if not watchers.empty and not single:
        _by_strategy(fig, watchers, "watch_mb_per_s", single, " (watch events)", dash="dot")
    if not single:
        _crossing_lines(fig, crossover, ("egress_bytes_per_s",), 0.0, float(df["mb_per_s"].max()) or 1.0, axis)
        if wide_span(df["x"], 1.0):
            fig.update_xaxes(type="log")
    if wide_span(df["mb_per_s"][df["mb_per_s"] > 0]):
        _log_values(fig)
    return finish(fig, "Sync egress: every byte the apiserver sends",
                  "Polling sends objects x object size per period per client, divided by the gzip ratio (5, I30) "
                  "when a response is over 128 KiB and the client accepts gzip; watching sends changes/s x "
                  "watchers x event size, never compressed. Both grow with clients, so against clients the lines "
                  "are parallel: egress crosses along the change rate, near objects / (poll period x 5) changes "
                  "per second for gzipped lists (objects / poll period without compression).",
                  _x_title(df, axis, single), "egress (MB/s)")


def sync_memory(summaries: list[dict[str, Any]], limit_bytes: float = 0.0) -> go.Figure:
    """Peak apiserver memory and peak transient memory (LIST buffers, WatchList streams) per strategy."""
    df = sync_frame(summaries)
    if df["mem_mb"].isna().all():
        raise MissingData("the summaries have no memory figures (memory_peak_bytes)")
    axis = axis_of(summaries)
    single = df["x"].nunique() == 1
    fig = go.Figure()
    _by_strategy(fig, df, "mem_mb", single, " (peak)")
    _by_strategy(fig, df, "transient_mb", single, " (peak transient)", dash="dash")
    if limit_bytes > 0:
        fig.add_hline(y=limit_bytes / 1e6, line_dash="dot", line_color="#d62728", annotation_text="memory limit")
    if not single and wide_span(df["x"], 1.0):
        fig.update_xaxes(type="log")
    return finish(fig, "Sync memory: apiserver heap",
                  "LIST storms build whole responses in memory (5x what etcd returned, I10); a WatchList stream "
                  "holds about 2 MB however large the state it sends.", _x_title(df, axis, single), "memory (MB)")


def sync_staleness(summaries: list[dict[str, Any]]) -> go.Figure:
    """Cache staleness (commit → client has it) p50, p99 and max against the swept axis, per strategy."""
    df = sync_frame(summaries)
    if df[["p50", "p99", "max"]].isna().all().all():
        raise MissingData("no staleness samples in the sync summaries")
    axis = axis_of(summaries)
    single = df["x"].nunique() == 1
    colors = _colors(sorted(df["strategy"].unique()))
    fig = go.Figure()
    for strategy, g in df.groupby("strategy", sort=True):
        if single:
            fig.add_trace(go.Bar(x=["p50", "p99", "max"], y=g[["p50", "p99", "max"]].to_numpy()[0],
                                 name=esc(strategy), marker_color=colors[strategy]))
            continue
        for stat, dash in (("p50", "dot"), ("p99", "solid"), ("max", "dash")):
            fig.add_trace(go.Scatter(x=g["x"], y=g[stat], mode="lines+markers",
                                     line={"dash": dash, "color": colors[strategy]}, name=f"{esc(strategy)} {stat}"))
    vals = df[["p50", "p99", "max"]].to_numpy(dtype=float).ravel()
    if wide_span(vals[vals > 0]):
        _log_values(fig)
    if not single and wide_span(df["x"], 1.0):
        fig.update_xaxes(type="log")
    xlab = f"statistic over every (change, client) pair ({_x_title(df, axis, True)})" if single \
        else AXIS_LABEL.get(axis, axis)
    return finish(fig, "Staleness of client caches: polling vs watching",
                  "Polling leaves caches about half a period stale on average; watching should stay near the "
                  "delivery delay unless the apiserver is overloaded.", xlab, "staleness (s)")


def staleness_cdf(summaries: list[dict[str, Any]]) -> go.Figure:
    """CDF of staleness per strategy, at the largest value of the swept axis."""
    axis = axis_of(summaries)
    fig = go.Figure()
    colors = _colors(sorted({str(s.get("strategy")) for s in summaries}))
    best: dict[str, dict] = {}
    for s in summaries:
        x = (s.get("swept") or {}).get(axis, s.get(axis)) or 0
        prev = best.get(s.get("strategy"))
        if prev is None or x >= ((prev.get("swept") or {}).get(axis, prev.get(axis)) or 0):
            best[s.get("strategy")] = s
    for strategy, s in sorted(best.items()):
        cdf = _get(s, "staleness_s", "cdf") or []
        if cdf:
            xs, fs = zip(*cdf, strict=True)
            fig.add_trace(go.Scatter(x=list(xs), y=list(fs), mode="lines", name=esc(strategy),
                                     line={"color": colors.get(strategy)}))
    if not fig.data:
        raise MissingData("no staleness CDF in the summaries (staleness_s.cdf)")
    fig.update_xaxes(type="log")
    at = ", ".join(f"{esc(k)} {((v.get('swept') or {}).get(axis, v.get(axis)))}" for k, v in sorted(best.items()))
    return finish(fig, f"Staleness CDF per strategy ({AXIS_LABEL.get(axis, axis)} at the largest value)",
                  f"Fraction of (change, client) pairs a client had within x seconds of the commit ({at}). "
                  "Polling is spread over a whole period; watching sits at the delivery delay.",
                  "staleness (s)", "fraction of (change, client) pairs (0-1)")


__all__ = ["staleness_cdf", "sync_cost", "sync_egress", "sync_frame", "sync_memory", "sync_staleness"]
