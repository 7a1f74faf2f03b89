"""Run figures of the apiserver's physics over time (issue 16): egress by kind, the heap by
component, APF limits lent and borrowed, watchers and their terminations.

Inputs are a run's ``series`` table (long format: ``time_s``, ``metric``, ``labels``, ``value``);
cumulative counters are differenced into per-second rates. Old run folders without these series get
:class:`~kbench.report.base.MissingData` (the page says so). Conventions as in
:mod:`kbench.report.figures`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kbench.report.base import MissingData, esc, finish, per_label, rate_of, series_of


def egress_over_time(series: pd.DataFrame | None) -> go.Figure:
    """apiserver egress per second, stacked by kind (responses, watch events, initial events...)."""
    groups = per_label(series, "apiserver_egress_bytes_total", "kind")
    if not groups:
        raise MissingData("no egress series (apiserver_egress_bytes_total) in this folder")
    fig = go.Figure()
    for kind, g in groups.items():
        x, y = rate_of(g["time_s"].to_numpy(), g["value"].to_numpy())
        if np.any(y):
            fig.add_trace(go.Scatter(x=x, y=y / 1e6, mode="lines", stackgroup="egress", name=esc(kind)))
    if not fig.data:
        raise MissingData("the apiserver sent no bytes in this run")
    return finish(fig, "apiserver egress by kind",
                  "Every byte the apiserver sent, where it flows: LIST/GET/write responses, watch events to every "
                  "watcher, WatchList initial events, bookmarks. A watch event counts once per watcher.",
                  "virtual time (s)", "egress (MB/s)")


def memory_over_time(series: pd.DataFrame | None, limit_bytes: float = 0.0) -> go.Figure:
    """apiserver heap by component over time (stacked), with the out-of-memory limit when set."""
    groups = per_label(series, "apiserver_memory_bytes", "component")
    groups.pop("total", None)
    if not groups:
        raise MissingData("no memory series (apiserver_memory_bytes) in this folder")
    fig = go.Figure()
    for comp in ("base", "watch_cache", "watchers", "list_transient", "watchlist_streams"):
        g = groups.get(comp)
        if g is not None and np.any(g["value"].to_numpy()):
            fig.add_trace(go.Scatter(x=g["time_s"], y=g["value"] / 1e6, mode="lines", stackgroup="mem",
                                     name=esc(comp)))
    if limit_bytes > 0:
        t = pd.concat(groups.values())["time_s"]
        fig.add_trace(go.Scatter(x=[float(t.min()), float(t.max())], y=[limit_bytes / 1e6] * 2, mode="lines",
                                 name="memory limit", line={"dash": "dot", "color": "#d62728"}))
    return finish(fig, "apiserver memory by component",
                  "The heap as a ledger: base, the watch cache (objects and history), open watches, LIST responses "
                  "being built (from etcd about 5x what etcd returned, I10) and WatchList streams (about 2 MB "
                  "each). Spikes are LIST storms; sampled once a second.", "virtual time (s)", "memory (MB)")


def apf_limits_over_time(series: pd.DataFrame | None) -> go.Figure:
    """Seats each APF level borrowed (positive) or lent (negative) over time, and its 429s."""
    cur = per_label(series, "apf_current_cl", "level")
    nom = per_label(series, "apf_nominal_cl", "level")
    if not cur or not nom:
        raise MissingData("no APF limit series (apf_current_cl) in this folder")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for level, g in cur.items():
        n = nom.get(level)
        if n is None or level == "exempt":
            continue
        diff = g["value"].to_numpy() - n.set_index("time_s").reindex(g["time_s"])["value"].to_numpy()
        fig.add_trace(go.Scatter(x=g["time_s"], y=diff, mode="lines", line={"shape": "hv"}, name=esc(level)),
                      secondary_y=False)
    rej = per_label(series, "apf_rejected_total", "level")
    for level, g in rej.items():
        x, y = rate_of(g["time_s"].to_numpy(), g["value"].to_numpy())
        if np.any(y):
            fig.add_trace(go.Scatter(x=x, y=y, mode="markers", marker={"size": 4}, name=f"{esc(level)} 429/s"),
                          secondary_y=True)
    fig.update_yaxes(title_text="429 responses (1/s)", secondary_y=True)
    return finish(fig, "APF borrowing: current minus nominal seats per level",
                  "Every 10 s APF moves seats from idle levels to busy ones (A10, A27): above zero a level borrows, "
                  "below zero it lends; a flood cannot push another level below min(nominal, its demand).",
                  "virtual time (s)", "seats borrowed (+) or lent (-)")


def watchers_over_time(series: pd.DataFrame | None) -> go.Figure:
    """Open watchers and watchers terminated for falling behind (cumulative)."""
    w = series_of(series, "watchers")
    t = series_of(series, "watch_terminated_total")
    if w.empty:
        raise MissingData("no watcher series in this folder")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    w = w.sort_values("time_s")
    fig.add_trace(go.Scatter(x=w["time_s"], y=w["value"], mode="lines", name="open watchers"), secondary_y=False)
    if not t.empty:
        t = t.sort_values("time_s")
        fig.add_trace(go.Scatter(x=t["time_s"], y=t["value"], mode="lines", line={"dash": "dash"},
                                 name="terminated (cumulative)"), secondary_y=True)
    fig.update_yaxes(title_text="terminated watchers (count)", secondary_y=True)
    return finish(fig, "Watchers and slow-watcher terminations",
                  "A watcher whose buffer stays full longer than the dispatcher's time budget is terminated (A22) "
                  "and re-watches from its last revision (or relists on 410).", "virtual time (s)",
                  "open watchers (count)")


__all__ = ["apf_limits_over_time", "egress_over_time", "memory_over_time", "watchers_over_time"]
