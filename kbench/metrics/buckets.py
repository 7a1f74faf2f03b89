"""Histogram bucket bounds of the upstream Kubernetes metrics kbench exports (seconds).

Plain constants and one small recorder (:class:`Histograms`), with no kbench imports, so that model
components (the scheduler, etcd) can record on the bounds of the components they model without
importing the metrics package's collectors.
Sources (repository, file, commit) are in docs/VALIDATION.md, "Prometheus metric names".
"""

from __future__ import annotations

from bisect import bisect_left


def exponential(start: float, factor: float, count: int) -> tuple[float, ...]:
    """``count`` bounds ``start, start x factor, ...``, as Prometheus' ``ExponentialBuckets``."""
    return tuple(start * factor**i for i in range(count))


APISERVER_REQUEST_DURATION = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0,
                              8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
"""``apiserver_request_duration_seconds`` and ``etcd_request_duration_seconds`` (the same list upstream)."""
APISERVER_REQUEST_SLI_DURATION = APISERVER_REQUEST_DURATION[2:]
"""``apiserver_request_sli_duration_seconds``: the list above from 0.05 s."""
SCHEDULING_ATTEMPT_DURATION = exponential(0.001, 2.0, 15)
"""``scheduler_scheduling_attempt_duration_seconds``: 1 ms x 2^i, i < 15."""
POD_SCHEDULING_SLI_DURATION = exponential(0.01, 2.0, 20)
"""``scheduler_pod_scheduling_sli_duration_seconds``: 10 ms x 2^i, i < 20."""
POD_START_DURATION = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0, 300.0,
                      360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0)
"""``kubelet_pod_start_sli_duration_seconds`` and ``kubelet_pod_start_total_duration_seconds``."""


class Histograms:
    """Observations on fixed bucket bounds, per label tuple: bucket counts, sum and count.

    ``bucket[i]`` counts values in ``(bounds[i-1], bounds[i]]`` (a value equal to a bound falls in
    that bound's bucket, as Prometheus' ``le`` means); the last bucket is ``(bounds[-1], +Inf)``.
    Memory is one small list per label tuple, whatever the number of observations.

    Args:
        bounds: Ascending upper bounds (seconds for the latency metrics).
    """

    __slots__ = ("bounds", "cells")

    def __init__(self, bounds):
        self.bounds = list(bounds)
        self.cells: dict[tuple, list] = {}

    def observe(self, labels: tuple, value: float, count: int = 1) -> None:
        """Record ``count`` observations of ``value`` under ``labels``."""
        cell = self.cells.get(labels)
        if cell is None:
            cell = self.cells[labels] = [[0] * (len(self.bounds) + 1), 0.0, 0]
        cell[0][bisect_left(self.bounds, value)] += count
        cell[1] += value * count
        cell[2] += count


def le_columns(columns, prefix: str) -> tuple[list[str], list[float]]:
    """The cumulative ``<prefix>_le_<bound>`` columns of a table and their bounds, in bound order.

    Args:
        columns: Column names (of ``requests.parquet``).
        prefix: ``sli`` or ``e2e``.

    Returns:
        (column names, bounds in seconds; ``inf`` for the +Inf bucket).
    """
    head = f"{prefix}_le_"
    found = sorted(((float(c[len(head):]), c) for c in columns if c.startswith(head)), key=lambda t: t[0])
    return [c for _, c in found], [b for b, _ in found]


def quantile_upper_bound(cumulative, bounds, q: float) -> float:
    """The smallest bound whose cumulative count reaches ``q`` of the total (the last count).

    As ``RequestStats.quantile``: the upper bound of the bucket holding the ``q`` quantile
    (``nan`` when the histogram is empty).

    Args:
        cumulative: Cumulative counts per bound (ascending; the last is the total).
        bounds: The bounds, same length (the last may be ``inf``).
        q: The quantile, 0..1.
    """
    total = cumulative[-1] if len(cumulative) else 0
    if not total:
        return float("nan")
    target = q * total
    for c, b in zip(cumulative, bounds, strict=True):
        if c >= target:
            return float(b)
    return float(bounds[-1])
