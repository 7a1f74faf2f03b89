"""Helpers shared by the figure modules: escaping, the common layout, captions, CDFs, log-axis choice."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

MAX_POINTS = 400
"""Points per CDF trace (quantiles on a grid): keeps the page small whatever the pod count."""


_GRID = {"gridcolor": "#e5eaf2", "zerolinecolor": "#d0d7e2", "linecolor": "#888", "automargin": True}
TEMPLATE = go.layout.Template(layout={
    "plot_bgcolor": "white", "paper_bgcolor": "white", "font": {"size": 12},
    "colorway": ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880",
                 "#FF97FF", "#FECB52"],
    "xaxis": _GRID, "yaxis": _GRID})
"""A small light template: plotly's named templates cost about 0.3 s and 6 KB per figure."""


class MissingData(Exception):
    """The folder lacks what a figure needs; the message says what (shown instead of the figure)."""


def esc(text: Any) -> str:
    """``text`` as plotly-safe text: ``<``, ``>`` and ``&`` become entities plotly shows literally."""
    return html.escape(str(text), quote=False)


def finish(fig: go.Figure, title: str, caption: str, x: str | None = None, y: str | None = None,
           height: int = 420) -> go.Figure:
    """Set title, axis titles, caption (``layout.meta``) and the common layout."""
    fig.update_layout(title={"text": title}, height=height, template=TEMPLATE,
                      margin={"l": 70, "r": 30, "t": 60, "b": 60}, meta={"caption": caption},
                      legend={"orientation": "v"})
    if x is not None:
        fig.update_xaxes(title_text=x)
    if y is not None:
        fig.update_yaxes(title_text=y)
    return fig


def caption_of(fig: go.Figure) -> str:
    """The caption stored by :func:`finish` ('' when none)."""
    meta = fig.layout.meta
    return str(meta.get("caption", "")) if isinstance(meta, dict) else ""


def wide_span(values: Any, decades: float = 2.0) -> bool:
    """True when the positive ``values`` span at least ``decades`` orders of magnitude (use a log axis)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0 or (v <= 0).any():
        return False
    return bool(np.log10(v.max() / v.min()) >= decades)


def cdf_xy(values: Any, points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Empirical CDF of ``values`` (NaN dropped) sampled at ``points`` quantiles: (x, fraction)."""
    v = np.asarray(values, dtype=float)
    v = np.sort(v[np.isfinite(v)])
    if v.size == 0:
        return v, v
    if v.size <= points:
        return v, np.arange(1, v.size + 1) / v.size
    q = np.linspace(0.0, 1.0, points)
    return np.quantile(v, q), q


def series_of(series: pd.DataFrame | None, metric: str) -> pd.DataFrame:
    """The rows of one metric of a long-format ``series`` table (empty when absent)."""
    if series is None or len(series) == 0:
        return pd.DataFrame(columns=["time_s", "metric", "labels", "value"])
    return series[series["metric"] == metric]


def per_label(series: pd.DataFrame | None, metric: str, label_key: str) -> dict[str, pd.DataFrame]:
    """One frame per value of label ``label_key`` of ``metric``, sorted by time."""
    df = series_of(series, metric)
    out = {}
    for lab, g in df.groupby("labels", sort=True):
        name = dict(p.split("=", 1) for p in str(lab).split(",") if "=" in p).get(label_key, str(lab))
        out[name] = g.sort_values("time_s")
    return out


def lines(groups: dict[str, pd.DataFrame], transform=None, drop_zero: bool = True) -> go.Figure:
    """One line per group (value against time), optionally transformed; all-zero lines dropped."""
    fig = go.Figure()
    for name, g in groups.items():
        x, y = g["time_s"].to_numpy(), g["value"].to_numpy()
        if transform is not None:
            x, y = transform(x, y)
        if drop_zero and not np.any(y):
            continue
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=esc(name)))
    return fig


def rate(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-second rate of a cumulative counter sampled at times ``x``."""
    dt = np.diff(x)
    return x[1:], np.where(dt > 0, np.diff(y) / np.where(dt > 0, dt, 1), 0.0)
