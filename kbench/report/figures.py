"""Figures of one run: pure functions from a run's DataFrames to plotly figures (usable in notebooks).

Each function takes the tables of :func:`kbench.results.load` (``pods``, ``requests``, ``series``,
``fgd``) and returns a ``plotly.graph_objects.Figure`` with a title, axis titles with units, and a
one-sentence caption in ``fig.layout.meta["caption"]`` (the report prints it under the figure).
When the data a figure needs is absent, the function raises :class:`MissingData` with the reason;
nothing is made up. Every string taken from input (names of scenarios, policies, levels,
resources...) goes through :func:`esc`, so plotly shows it as text.

Times are virtual seconds; sizes are bytes (shown in MB). Figures of comparisons, sweeps and sync
experiments are in :mod:`kbench.report.expfigures` and re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from kbench.metrics.summary import SLO_API_LIST_S, SLO_API_MUTATING_S, SLO_POD_STARTUP_S
from kbench.report.base import (
    MissingData,
    cdf_xy,
    esc,
    finish,
    lines_of,
    need,
    per_label,
    series_of,
    wide_span,
)

MILESTONES = (("scheduled", "scheduled_s"), ("bound", "bound_s"), ("kubelet saw it", "kubelet_seen_s"),
              ("sandbox ready", "sandbox_ready_s"), ("image pulled", "image_pulled_s"),
              ("containers started", "started_s"), ("Running observed", "running_observed_s"))
SEGMENTS = (("queue wait", "created_s", "first_attempt_s"), ("scheduling", "first_attempt_s", "scheduled_s"),
            ("bind", "scheduled_s", "bound_s"), ("watch delivery", "bound_s", "kubelet_seen_s"),
            ("sandbox", "kubelet_seen_s", "sandbox_ready_s"), ("image pull", "sandbox_ready_s", "image_pulled_s"),
            ("start", "image_pulled_s", "started_s"), ("status", "started_s", "running_observed_s"))
"""Where pod startup time goes: (label, from column, to column) of the ``pods`` table."""


def slo_line(fig: go.Figure, x: float, y0: Any, y1: Any, name: str, color: str) -> None:
    """A vertical SLO line drawn as a legend-labelled trace (shape annotations misplace on log axes)."""
    fig.add_trace(go.Scatter(x=[x, x], y=[y0, y1], mode="lines", name=name, hoverinfo="name",
                             line={"dash": "dot", "color": color, "width": 2}))


# ---------------------------------------------------------------------------------- pod startup


def startup_cdf(pods: pd.DataFrame) -> go.Figure:
    """CDF of the time from creation to each lifecycle milestone, plus the SLO startup (F1)."""
    pods = need(pods, ("created_s", "running_observed_s"), "pod timeline (pods table)")
    fig = go.Figure()
    created = pods["created_s"].to_numpy()
    all_x = []
    for label, col in MILESTONES:
        if col not in pods:
            continue
        x, y = cdf_xy(pods[col].to_numpy() - created)
        if x.size:
            all_x.append(x)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=label))
    slo = pods["running_observed_s"].to_numpy() - created - pods.get("image_pull_s", 0.0)
    x, y = cdf_xy(slo)
    if x.size == 0:
        raise MissingData("no pod reached Running")
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="startup for the SLO (excl. image pulls)",
                             line={"dash": "dash", "color": "black"}))
    slo_line(fig, SLO_POD_STARTUP_S, 0.0, 1.0, f"SLO: p99 ≤ {SLO_POD_STARTUP_S:g} s", "red")
    fig.add_hline(y=0.99, line_dash="dot", line_color="grey")
    pos = np.concatenate(all_x + [x])
    pos = pos[pos > 0]
    if pos.size and wide_span(pos):
        fig.update_xaxes(type="log")
    return finish(fig, "Pod startup: time from creation to each milestone (CDF)",
                  "Read where each curve crosses the dotted 0.99 line: a long flat tail on one milestone "
                  "shows which phase holds back the slowest pods.",
                  "seconds since the pod was created (s)", "fraction of pods (0–1)")


def startup_breakdown(pods: pd.DataFrame) -> go.Figure:
    """Mean time per lifecycle segment for pods grouped by their end-to-end startup percentile."""
    cols = tuple(dict.fromkeys(c for _, a, b in SEGMENTS for c in (a, b)))
    pods = need(pods, cols, "pod timeline (pods table)")
    done = pods[np.isfinite(pods["running_observed_s"]) & np.isfinite(pods["created_s"])]
    if done.empty:
        raise MissingData("no pod reached Running")
    ts = done[list(cols)].ffill(axis=1)  # a phase a pod skipped takes no time
    e2e = (done["running_observed_s"] - done["created_s"]).to_numpy()
    p50, p90, p99 = np.quantile(e2e, [0.5, 0.9, 0.99])
    groups = [("all pods", np.ones(e2e.size, bool)), ("fastest half (≤ p50)", e2e <= p50),
              ("p50–p90", (e2e > p50) & (e2e <= p90)), ("p90–p99", (e2e > p90) & (e2e <= p99)),
              ("slowest 1 % (> p99)", e2e > p99)]
    groups = [(g, m) for g, m in groups if m.any()]
    fig = go.Figure()
    for label, a, b in SEGMENTS:
        seg = (ts[b] - ts[a]).clip(lower=0).to_numpy()
        fig.add_trace(go.Bar(y=[g for g, _ in groups], x=[float(seg[m].mean()) for _, m in groups],
                             name=label, orientation="h"))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(autorange="reversed")
    return finish(fig, "Where pod startup time went (mean per segment)",
                  "Compare the slowest pods with the fastest: the segment that grows most is the bottleneck "
                  "(image pull and queue wait are the usual suspects).",
                  "mean time (s)", "pods, by end-to-end startup")


def watch_delay(pods: pd.DataFrame) -> go.Figure:
    """CDF of watch-delivered steps of the pod lifecycle (the fan-out delay of the pod watch)."""
    pods = need(pods, ("bound_s", "kubelet_seen_s"), "pod timeline (pods table)")
    fig = go.Figure()
    x, y = cdf_xy(pods["kubelet_seen_s"] - pods["bound_s"])
    if x.size == 0:
        raise MissingData("no bound pod was seen by a kubelet")
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="binding committed → kubelet's watch delivered it"))
    if "started_s" in pods and "running_observed_s" in pods:
        x2, y2 = cdf_xy(pods["running_observed_s"] - pods["started_s"])
        if x2.size:
            fig.add_trace(go.Scatter(x=x2, y=y2, mode="lines",
                                     name="containers started → Running observed (status write + watch)"))
            x = np.concatenate([x, x2])
    if wide_span(x[x > 0]):
        fig.update_xaxes(type="log")
    return finish(fig, "Watch fan-out delay of the pod watch (CDF)",
                  "A step in these curves means watch events queued behind others: fan-out to many "
                  "watchers delays delivery.", "delay (s)", "fraction of pods (0–1)")


# ------------------------------------------------------------------------------------ scheduler


def scheduler_throughput(pods: pd.DataFrame, series: pd.DataFrame | None = None, bins: int = 200) -> go.Figure:
    """Pods bound per second and pods waiting for a node over time."""
    pods = need(pods, ("created_s", "bound_s"), "pod timeline (pods table)")
    created = pods["created_s"].to_numpy()
    bound = pods["bound_s"].to_numpy()
    times = np.concatenate([created[np.isfinite(created)], bound[np.isfinite(bound)]])
    if times.size == 0:
        raise MissingData("no pod was created")
    end = float(times.max())
    step = max(end / bins, 1.0)
    edges = np.arange(0.0, end + step, step)
    counts, _ = np.histogram(bound[np.isfinite(bound)], edges)
    grid = edges[1:]
    waiting = (np.searchsorted(np.sort(created[np.isfinite(created)]), grid, side="right")
               - np.searchsorted(np.sort(bound[np.isfinite(bound)]), grid, side="right"))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=edges[:-1], y=counts / step, mode="lines", line_shape="hv",
                             name="pods bound per second"), secondary_y=False)
    fig.add_trace(go.Scatter(x=grid, y=waiting, mode="lines", name="pods waiting for a node (created, not bound)"),
                  secondary_y=True)
    pend = series_of(series, "pods_pending")
    if not pend.empty:
        fig.add_trace(go.Scatter(x=pend["time_s"], y=pend["value"], mode="lines", line={"dash": "dot"},
                                 name="pods Pending (not yet running)"), secondary_y=True)
    fig.update_yaxes(title_text="throughput (pods/s)", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text="pods (count)", secondary_y=True, rangemode="tozero", showgrid=False)
    return finish(fig, "Scheduler throughput and pending pods over time",
                  "Throughput should rise to meet each burst; a waiting count that keeps growing means "
                  "pods arrive faster than the scheduler binds them.", "virtual time (s)")


# ------------------------------------------------------------------------------------------ API


def api_latency(requests: pd.DataFrame) -> go.Figure:
    """p50/p90/p99 request latency (SLI, excluding APF queue wait) per verb and resource, with SLO lines."""
    from kbench.metrics.buckets import le_columns, quantile_upper_bound

    requests = need(requests, ("verb", "resource", "count"), "API request statistics (requests table)")
    bcols, bounds = le_columns(requests.columns, "sli")
    if not bcols:
        raise MissingData("the requests table has no latency histogram")
    finite_max = max(b for b in bounds if np.isfinite(b))
    bounds = [b if np.isfinite(b) else finite_max * 2 for b in bounds]
    req = requests[(requests["verb"] != "watch") & (requests["count"] > 0)]
    if req.empty:
        raise MissingData("no completed non-watch request")
    agg = req.groupby(["verb", "resource"], sort=True)[bcols].sum()
    labels = [esc(f"{v} {r}") for v, r in agg.index]
    fig = go.Figure()
    for q, symbol in ((0.5, "circle"), (0.9, "diamond"), (0.99, "x")):
        xs = [quantile_upper_bound(row, bounds, q) for row in agg.to_numpy()]
        fig.add_trace(go.Scatter(x=xs, y=labels, mode="markers", marker={"symbol": symbol, "size": 9},
                                 name=f"p{round(q * 100)}"))
    slo_line(fig, SLO_API_MUTATING_S, labels[0], labels[-1], f"SLO {SLO_API_MUTATING_S:g} s (mutating, get)", "red")
    slo_line(fig, SLO_API_LIST_S, labels[0], labels[-1], f"SLO {SLO_API_LIST_S:g} s (list)", "darkred")
    fig.update_xaxes(type="log")
    return finish(fig, "API request latency per verb and resource",
                  "Percentiles are histogram bucket upper bounds (WATCH excluded); any marker right of its SLO "
                  "line breaks the apiserver SLO.", "latency excluding APF queue wait (s, log)", "verb, resource",
                  height=max(380, 22 * len(labels) + 140))


# ----------------------------------------------------------------------------------------- etcd


def etcd(series: pd.DataFrame) -> go.Figure:
    """etcd mean write latency per interval (when recorded) and database size over time."""
    size = series_of(series, "etcd_db_size_bytes").sort_values("time_s")
    writes = series_of(series, "etcd_writes_total").sort_values("time_s")
    lat = series_of(series, "etcd_write_latency_sum_s").sort_values("time_s")
    if size.empty and writes.empty:
        raise MissingData("no etcd series in this folder")
    has_lat = not writes.empty and len(writes) == len(lat)
    fig = make_subplots(rows=2 if has_lat else 1, cols=1, shared_xaxes=True, vertical_spacing=0.12)
    if has_lat:
        x = writes["time_s"].to_numpy()[1:]
        dn = np.diff(writes["value"].to_numpy())
        dl = np.diff(lat["value"].to_numpy())
        mean_ms = np.where(dn > 0, 1000.0 * dl / np.where(dn > 0, dn, 1), np.nan)
        fig.add_trace(go.Scatter(x=x, y=mean_ms, mode="lines", name="mean write latency"), row=1, col=1)
        fig.update_yaxes(title_text="write latency (ms)", row=1, col=1)
    row = 2 if has_lat else 1
    if not size.empty:
        fig.add_trace(go.Scatter(x=size["time_s"], y=size["value"] / 1e6, mode="lines", name="database size"),
                      row=row, col=1)
        fig.update_yaxes(title_text="DB size (MB)", row=row, col=1)
    fig.update_xaxes(title_text="virtual time (s)", row=row, col=1)
    note = "" if has_lat else " (This folder has no write-latency series, so only the size is shown.)"
    return finish(fig, "etcd write latency and database size",
                  "Latency rising with the write rate shows etcd as the bottleneck; the size grows with history "
                  "until compaction and must stay under the quota." + note, height=520 if has_lat else 380)


# ------------------------------------------------------------------------------- node allocation


def cluster_allocation(series: pd.DataFrame) -> go.Figure:
    """Fraction of allocatable CPU, memory and GPU requested, over time."""
    groups = per_label(series, "allocated_fraction", "resource")
    if not groups:
        raise MissingData("no allocation series (allocated_fraction) in this folder")
    fig = lines_of(groups, transform=lambda x, y: (x, 100.0 * y))
    return finish(fig, "Cluster allocation over time",
                  "How full the cluster is by requests; a resource near 100 % is what makes new pods "
                  "unschedulable.", "virtual time (s)", "requested / allocatable (%)")


def node_allocation(pods: pd.DataFrame, times: int = 120, max_rows: int = 150) -> go.Figure:
    """Heatmap of pods bound per node over time, nodes sorted by their mean count."""
    pods = need(pods, ("node", "bound_s"), "pod placement (pods table)")
    placed = pods[(pods["node"].astype(str) != "") & np.isfinite(pods["bound_s"])]
    if placed.empty:
        raise MissingData("no pod was bound to a node")
    ends = np.full(len(placed), np.inf)
    for col in ("finished_s", "deleted_s"):
        if col in placed:
            v = placed[col].to_numpy()
            ends = np.where(np.isfinite(v), np.minimum(ends, v), ends)
    start = placed["bound_s"].to_numpy()
    horizon = float(np.nanmax(np.concatenate([start, ends[np.isfinite(ends)]])))
    grid = np.linspace(0.0, horizon, times)
    codes, names = pd.factorize(placed["node"].astype(str), sort=True)
    alive = (start[:, None] <= grid[None, :]) & (grid[None, :] < ends[:, None])
    counts = np.zeros((len(names), times))
    np.add.at(counts, codes, alive)
    order = np.argsort(-counts.mean(axis=1), kind="stable")
    counts = counts[order]
    if counts.shape[0] > max_rows:  # average adjacent nodes of the sorted order
        groups = np.array_split(np.arange(counts.shape[0]), max_rows)
        counts = np.stack([counts[g].mean(axis=0) for g in groups])
        ylab = "node rank, grouped (busiest first)"
    else:
        ylab = "node rank (busiest first)"
    fig = go.Figure(go.Heatmap(z=counts, x=grid, y=np.arange(counts.shape[0]), colorscale="Viridis",
                               colorbar={"title": {"text": "pods"}}))
    fig.update_yaxes(autorange="reversed")
    return finish(fig, f"Pods per node over time ({len(names)} nodes)",
                  "An even colour down each column means balanced spreading; a bright top band over dark rows "
                  "means the policy packs pods onto few nodes.", "virtual time (s)", ylab)


def gpu_fragmentation(fgd: pd.DataFrame | None = None, summary: dict | None = None) -> go.Figure:
    """GPU allocation and fragmentation against arrived workload (FGD.md §1.3)."""
    fig = go.Figure()
    if fgd is not None and len(fgd) and {"arrived_milli", "allocated_milli", "idle_milli"} <= set(fgd.columns):
        cap = (fgd["allocated_milli"] + fgd["idle_milli"]).to_numpy()
        cap = np.where(cap > 0, cap, np.nan)
        step = max(1, len(fgd) // 2000)
        x = (100.0 * fgd["arrived_milli"].to_numpy() / cap)[::step]
        fig.add_trace(go.Scatter(x=x, y=(100.0 * fgd["allocated_milli"].to_numpy() / cap)[::step],
                                 mode="lines", name="GPU allocated"))
        if "frag_milli" in fgd and fgd["frag_milli"].notna().any():
            fig.add_trace(go.Scatter(x=x, y=(100.0 * fgd["frag_milli"].to_numpy() / cap)[::step],
                                     mode="lines", name="fragmented GPU (of capacity)"))
    else:
        gpu = (summary or {}).get("gpu") or {}
        curve = gpu.get("unallocated_pct_at_arrived")
        if not curve:
            raise MissingData("no GPUs in this run" if not gpu else "no GPU allocation curve in this run")
        xs = sorted(curve, key=float)
        fig.add_trace(go.Scatter(x=[float(k) for k in xs], y=[100.0 - float(curve[k]) for k in xs],
                                 mode="lines", name="GPU allocated"))
        frag = gpu.get("frag_amount_pct_at_arrived") or {}
        if frag:
            ks = sorted(frag, key=float)
            fig.add_trace(go.Scatter(x=[float(k) for k in ks], y=[float(frag[k]) for k in ks], mode="lines",
                                     name="fragmented GPU (of capacity)"))
    return finish(fig, "GPU allocation and fragmentation against arrived workload",
                  "The earlier allocation flattens below 100 % while work keeps arriving, the more GPU capacity "
                  "fragmentation wastes.", "arrived GPU requests (% of capacity)", "% of GPU capacity")


from kbench.report.apffigures import apf_queues, apf_rejections, apf_seats  # noqa: E402  (re-exported)
from kbench.report.apifigures import (  # noqa: E402  (re-exported: one import place for notebooks)
    apf_limits_over_time,
    egress_over_time,
    memory_over_time,
    watchers_over_time,
)
from kbench.report.expfigures import (  # noqa: E402  (re-exported: one import place for notebooks)
    comparison_metric,
    policy_startup_cdf,
    sweep_metric,
    unit_of,
)
from kbench.report.syncfigures import (  # noqa: E402
    staleness_cdf,
    sync_cost,
    sync_egress,
    sync_memory,
    sync_staleness,
)

__all__ = ["MissingData", "api_latency", "apf_limits_over_time", "apf_queues", "apf_rejections", "apf_seats",
           "cluster_allocation", "comparison_metric", "egress_over_time", "etcd", "gpu_fragmentation",
           "memory_over_time", "node_allocation", "policy_startup_cdf", "scheduler_throughput",
           "staleness_cdf", "startup_breakdown", "startup_cdf", "sweep_metric", "sync_cost", "sync_egress",
           "sync_memory", "sync_staleness", "unit_of", "watch_delay", "watchers_over_time"]
