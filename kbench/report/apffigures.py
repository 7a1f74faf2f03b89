"""APF figures of one run: seats in use, queue length and 429s per priority level over time.

Seats and queue length are drawn as the mean over each sampling interval of exact time integrals
(``apf_seat_seconds_total``, ``apf_queue_request_seconds_total``: seat-seconds and request-seconds
integrated by flow control itself), so requests shorter than the interval count in full; folders
written before those series existed fall back to the point samples, and say so. A panel whose
every value is zero is replaced by one line saying what was zero. Conventions as in
:mod:`kbench.report.figures` (which re-exports these).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from kbench.report.base import (
    AllZero,
    MissingData,
    esc,
    finish,
    lines_of,
    need,
    per_label,
    rate_of,
    series_of,
)


def _interval_means(groups: dict[str, pd.DataFrame]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per label, the mean over each sampling interval of a cumulative integral: (interval ends, mean)."""
    out = {}
    for name, g in groups.items():
        t, v = g["time_s"].to_numpy(), g["value"].to_numpy()
        dt = np.diff(t)
        out[name] = (t[1:], np.where(dt > 0, np.diff(v) / np.where(dt > 0, dt, 1), 0.0))
    return out


def _interval_label(series: pd.DataFrame | None) -> str:
    t = np.unique(series_of(series, "apf_seat_seconds_total")["time_s"].to_numpy())
    step = float(np.median(np.diff(t))) if t.size > 1 else 0.0
    return f"{step:g} s" if step else "interval"


def _means_figure(series: pd.DataFrame | None, metric: str, zero_what: str):
    """Lines of the per-interval means of a cumulative integral, one per level, or None when the folder
    lacks the integral. Returns (figure, interval label, idle levels left out)."""
    integral = per_label(series, metric, "level")
    if not integral:
        return None
    means = _interval_means(integral)
    busy = {k: v for k, v in means.items() if np.any(v[1] > 0)}
    if not busy:
        raise AllZero(zero_what)
    fig = go.Figure([go.Scatter(x=x, y=y, mode="lines", line_shape="hv", name=esc(k)) for k, (x, y) in busy.items()])
    return fig, _interval_label(series), sorted(set(means) - set(busy))


def _samples_figure(series: pd.DataFrame | None, metric: str, zero_what: str) -> go.Figure:
    """Point samples per level (folders written before the integrals existed)."""
    groups = per_label(series, metric, "level")
    if not groups:
        raise MissingData(f"no APF series ({metric}) in this folder")
    fig = lines_of(groups)
    if not fig.data:
        raise AllZero(zero_what)
    return fig


def apf_seats(series: pd.DataFrame) -> go.Figure:
    """Mean APF seats in use per priority level in each sampling interval, from the exact seat-seconds
    integral (``apf_seat_seconds_total``); folders without it fall back to point samples, said so."""
    made = _means_figure(series, "apf_seat_seconds_total", "no priority level held a seat during the run")
    if made is not None:
        fig, step, idle = made
        return finish(fig, f"APF seats in use per priority level (mean per {step})",
                      "Each step is the level's seat-seconds in the interval divided by its length, so short "
                      "requests count in full; a level pinned at its seat limit is saturated and its requests queue "
                      f"(next figure), then get 429s. Levels that never held a seat are left out: "
                      f"{', '.join(idle) or 'none'}.", "virtual time (s)", f"mean seats in use per {step} (count)")
    fig = _samples_figure(series, "apf_seats_in_use", "no priority level held a seat at any sample")
    return finish(fig, "APF seats in use per priority level (point samples)",
                  "This folder predates the seat-seconds series: these are samples once per interval, which miss "
                  "requests shorter than the interval. Levels that never used a seat are left out.",
                  "virtual time (s)", "seats in use at the sample (count)")


def apf_queues(series: pd.DataFrame) -> go.Figure:
    """Mean APF queue length per priority level in each interval (from the exact queue integral)."""
    made = _means_figure(series, "apf_queue_request_seconds_total",
                         "no request waited in an APF queue: every level dispatched at once")
    if made is not None:
        fig, step, _idle = made
        return finish(fig, f"APF queue length per priority level (mean per {step})",
                      "Request-seconds queued in each interval over its length; any sustained queue means that "
                      "level's seats are exhausted.", "virtual time (s)", f"mean queued requests per {step} (count)")
    fig = _samples_figure(series, "apf_queue_length", "no request was queued in APF at any sample")
    return finish(fig, "APF queue length per priority level (point samples)",
                  "Any sustained queue means that level's seats are exhausted.", "virtual time (s)",
                  "queued requests at the sample (count)")


def apf_rejections(series: pd.DataFrame | None, requests: pd.DataFrame | None = None) -> go.Figure:
    """429s per priority level: per second over time when the series exists, else totals per level."""
    groups = per_label(series, "apf_rejected_total", "level")
    if groups:
        if not any(np.any(g["value"].to_numpy() > 0) for g in groups.values()):
            raise AllZero("no request was rejected by APF (0 responses 429)")
        fig = lines_of(groups, transform=rate_of)
        return finish(fig, "429 responses per priority level over time",
                      "Rejections should be zero in a healthy run; bursts show which level overflowed and when. "
                      "Levels that rejected nothing are left out.", "virtual time (s)", "rejected requests (per s)")
    req = need(requests, ("level", "rejected_429"), "APF rejections (series or requests table)")
    tot = req.groupby("level", sort=True)["rejected_429"].sum()
    if not tot.any():
        raise AllZero("no request was rejected by APF (0 responses 429)")
    fig = go.Figure(go.Bar(x=[esc(v) for v in tot.index], y=tot.to_numpy(), name="429s"))
    return finish(fig, "429 responses per priority level (whole run)",
                  "This folder has no per-time rejection series, so these are totals over the run; any bar "
                  "above zero means that level overflowed.", "priority level", "rejected requests (count)")
