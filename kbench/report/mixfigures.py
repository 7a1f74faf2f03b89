"""The report's "Write mix" figures and tables (issue 18): writes per pod by resource and verb,
writes by component, Events per second, objects in etcd by resource, the GC's deletions, kube-proxy.

Plain functions, summary or DataFrames in, plotly figures or table rows out (as
:mod:`kbench.report.figures`); each raises :class:`~kbench.report.base.MissingData` when the folder
lacks the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from kbench.report.base import MissingData, esc, finish
from kbench.report.base import lines_of as _lines
from kbench.report.base import per_label as _per_label
from kbench.report.base import rate_of as _rate
from kbench.report.base import series_of as _series


def write_rows(summary: dict) -> list[list]:
    """``[resource, verb, writes per pod]`` rows of ``writes_per_pod``, largest first."""
    wpp = summary.get("writes_per_pod") or {}
    rows = [[r, v, n] for r, verbs in wpp.items() for v, n in verbs.items()]
    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))


def writes_by_component(summary: dict) -> go.Figure:
    """A stacked bar per component: its completed writes by resource and verb."""
    comp = summary.get("writes_by_component") or {}
    if not comp:
        raise MissingData("no write mix in this summary (a run before issue 18)")
    kinds = sorted({k for per in comp.values() for k in per})
    names = sorted(comp, key=lambda c: -sum(comp[c].values()))
    fig = go.Figure()
    for kind in kinds:
        fig.add_trace(go.Bar(x=[esc(c) for c in names], y=[comp[c].get(kind, 0) for c in names], name=esc(kind)))
    fig.update_layout(barmode="stack")
    return finish(fig, "API writes by component", "Completed writes (200) per component, stacked by resource "
                  "and verb as the clients name them (pods/status, pods/binding, events...).",
                  "component (client)", "writes (requests)", height=460)


def _rate_figure(series: pd.DataFrame | None, counter: str, name: str, missing: str) -> go.Figure:
    """One line: the per-second rate of the cumulative ``counter`` (MissingData ``missing`` if flat)."""
    s = _series(series, counter).sort_values("time_s")
    if s.empty or not s["value"].any():
        raise MissingData(missing)
    x, y = _rate(s["time_s"].to_numpy(), s["value"].to_numpy())
    return go.Figure(go.Scatter(x=x, y=y, mode="lines", name=name))


def events_rate(series: pd.DataFrame | None) -> go.Figure:
    """Event writes per virtual second over time."""
    fig = _rate_figure(series, "events_written_total", "Event writes/s", "no Event writes in this folder")
    return finish(fig, "Events written per second", "CREATEs and PATCHes of Events that completed; after the "
                  "correlation (aggregation, de-duplication, spam filter) of client-go.", "virtual time (s)",
                  "Event writes (1/s)")


def etcd_objects(series: pd.DataFrame | None) -> go.Figure:
    """Live objects in etcd by resource over time."""
    groups = _per_label(series, "etcd_objects", "resource")
    if not groups:
        raise MissingData("no etcd_objects series in this folder")
    fig = _lines(groups)
    if not fig.data:
        raise MissingData("no object of the sampled resources")
    return finish(fig, "Objects in etcd by resource", "Live keys per resource (Events live for the TTL, "
                  "terminated pods until PodGC or their owner's deletion).", "virtual time (s)", "objects (keys)")


def gc_deletions(series: pd.DataFrame | None) -> go.Figure:
    """The garbage collector's deletions per second over time."""
    fig = _rate_figure(series, "gc_deleted_total", "deletions/s", "the garbage collector deleted nothing in this run")
    return finish(fig, "Garbage collector deletions", "Successful DELETEs of dependents whose owner is gone or "
                  "deleting in the foreground (cascading deletion).", "virtual time (s)", "deletions (1/s)")


def kube_proxy_rows(summary: dict) -> list[list]:
    """``[figure, value]`` rows of the ``kube_proxy`` block."""
    kp = summary.get("kube_proxy")
    if not kp:
        return []
    npl = kp.get("network_programming_latency_s") or {}
    sync = kp.get("sync_s") or {}
    return [["mode", kp.get("mode")], ["syncs / full syncs", f"{kp.get('syncs')} / {kp.get('full_syncs')}"],
            ["Services / endpoints (last sync)", f"{kp.get('services')} / {kp.get('endpoints')}"],
            ["sync p50 / p99 s", f"{_n(sync.get('p50'))} / {_n(sync.get('p99'))}"],
            ["network programming latency p50 / p90 / p99 s",
             f"{_n(npl.get('p50'))} / {_n(npl.get('p90'))} / {_n(npl.get('p99'))}"]]


def _n(v) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3g}"
