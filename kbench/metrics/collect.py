"""Columnar, bounded metric collectors (DESIGN.md decision 7).

* :class:`RequestStats`: API requests aggregated per (verb, resource, client, level) with exact
  counts, latency sums and fixed-bucket histograms (SLI latency excluding APF queue wait, G4, and
  end-to-end latency), bytes and 429s (by flow schema and reason too). Memory does not grow with
  the number of requests. Each latency is binned twice: on the scenario's
  ``metrics.latency_buckets_s`` (the summary's percentiles, ``requests.parquet``) and on the
  upstream apiserver's bounds (:data:`kbench.metrics.buckets.APISERVER_REQUEST_DURATION`, for the
  Prometheus export), so neither grid has to approximate the other.
* :class:`LogHistogram`: a streaming histogram on log-spaced bins with exact count, sum and max,
  for distributions with millions of values (watch staleness across thousands of watchers).
* :class:`SeriesSampler`: samples registered gauges on a fixed virtual-time grid.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import simpy

from kbench.metrics.buckets import APISERVER_REQUEST_DURATION

RequestKey = tuple[str, str, str, str]  # verb, resource, client, level


@dataclass(slots=True)
class _RequestCell:
    count: int = 0
    rejected_429: int = 0
    errors: int = 0
    bytes: int = 0
    sli_sum_s: float = 0.0
    e2e_sum_s: float = 0.0
    wait_sum_s: float = 0.0
    sli_buckets: list[int] = field(default_factory=list)
    e2e_buckets: list[int] = field(default_factory=list)
    up_sli: list[int] = field(default_factory=list)  # on APISERVER_REQUEST_DURATION (+Inf last)
    up_e2e: list[int] = field(default_factory=list)
    rejected_by: dict[tuple[str, str], int] | None = None  # (flow schema, reason) -> 429s


class RequestStats:
    """Per-(verb, resource, client, level) request aggregates with fixed histograms.

    Args:
        buckets_s: Histogram upper bounds, seconds (ascending); a final +Inf bucket is added.
    """

    UPSTREAM_BUCKETS_S = list(APISERVER_REQUEST_DURATION)
    """The upstream apiserver's latency bounds, seconds (a final +Inf bucket is added)."""
    EXACT_VERBS = ("list", "watch")
    """Verbs whose SLI latency is also kept in a :class:`LogHistogram` (exact quantiles)."""

    def __init__(self, buckets_s: list[float]):
        self.buckets_s = list(buckets_s)
        self._cells: dict[RequestKey, _RequestCell] = {}
        # One bisect on the union of both grids finds a value's bucket on each: the number of a grid's
        # bounds below the value is the number of that grid's bounds among the union bounds below it.
        union = sorted(set(self.buckets_s) | set(self.UPSTREAM_BUCKETS_S))
        own, up = set(self.buckets_s), set(self.UPSTREAM_BUCKETS_S)
        self._union = union
        self._to_own = [sum(1 for b in union[:i] if b in own) for i in range(len(union) + 1)]
        self._to_up = [sum(1 for b in union[:i] if b in up) for i in range(len(union) + 1)]
        self.exact: dict[tuple[str, str], LogHistogram] = {}  # (verb, resource) -> SLI latency, seconds

    def _cell(self, key: RequestKey) -> _RequestCell:
        cell = self._cells.get(key)
        if cell is None:
            nb = len(self.buckets_s) + 1
            nu = len(self.UPSTREAM_BUCKETS_S) + 1
            cell = _RequestCell(sli_buckets=[0] * nb, e2e_buckets=[0] * nb, up_sli=[0] * nu, up_e2e=[0] * nu)
            self._cells[key] = cell
        return cell

    def sli_snapshot(self) -> dict[RequestKey, list[int]]:
        """A copy of every cell's SLI latency bucket counts (``buckets_s`` grid) as they are now."""
        return {key: list(cell.sli_buckets) for key, cell in self._cells.items() if cell.count}

    def record(self, key: RequestKey, *, sli_s: float, e2e_s: float, wait_s: float, nbytes: int,
               count: int = 1) -> None:
        """Record ``count`` completed requests with these latencies (seconds) and size (bytes each)."""
        cell = self._cell(key)
        cell.count += count
        cell.bytes += nbytes * count
        cell.sli_sum_s += sli_s * count
        cell.e2e_sum_s += e2e_s * count
        cell.wait_sum_s += wait_s * count
        union, own, up = self._union, self._to_own, self._to_up
        i = bisect.bisect_left(union, sli_s)
        cell.sli_buckets[own[i]] += count
        cell.up_sli[up[i]] += count
        i = bisect.bisect_left(union, e2e_s)
        cell.e2e_buckets[own[i]] += count
        cell.up_e2e[up[i]] += count
        if key[0] in self.EXACT_VERBS:
            h = self.exact.get(key[:2])
            if h is None:
                h = self.exact[key[:2]] = LogHistogram()
            h.add1(sli_s, count)

    def record_rejected(self, key: RequestKey, count: int = 1, *, flow_schema: str = "", reason: str = "") -> None:
        """Record ``count`` 429s (by APF, with the request's flow schema and the rejection reason)."""
        cell = self._cell(key)
        cell.rejected_429 += count
        if cell.rejected_by is None:
            cell.rejected_by = {}
        by = (flow_schema, reason)
        cell.rejected_by[by] = cell.rejected_by.get(by, 0) + count

    def cells(self) -> list[tuple[RequestKey, _RequestCell]]:
        """Every (key, cell), sorted by key (read-only by convention; for exporters)."""
        return sorted(self._cells.items())

    def record_error(self, key: RequestKey, count: int = 1) -> None:
        """Record ``count`` requests that failed for another reason (timeout, storage error, restart)."""
        self._cell(key).errors += count

    def total(self, attr: str, **match: str) -> float:
        """Sum of ``attr`` over cells whose key fields equal ``match`` (verb, resource, client, level)."""
        names = ("verb", "resource", "client", "level")
        out = 0
        for key, cell in self._cells.items():
            if all(key[names.index(k)] == v for k, v in match.items()):
                out += getattr(cell, attr)
        return out

    def quantile(self, q: float, *, kind: str = "sli", verbs: tuple[str, ...] | None = None,
                 scope_single: bool | None = None) -> float:
        """Approximate quantile (upper bucket bound) of latency over matching cells, seconds."""
        agg = np.zeros(len(self.buckets_s) + 1, dtype=np.int64)
        for key, cell in self._cells.items():
            if verbs is not None and key[0] not in verbs:
                continue
            agg += np.asarray(cell.sli_buckets if kind == "sli" else cell.e2e_buckets)
        n = int(agg.sum())
        if n == 0:
            return float("nan")
        idx = int(np.searchsorted(np.cumsum(agg), q * n))
        bounds = self.buckets_s + [float("inf")]
        return bounds[min(idx, len(bounds) - 1)]

    def to_frame(self) -> pd.DataFrame:
        """One row per cell: counts, sums and cumulative histograms as columns.

        ``sli_le_<b>`` / ``e2e_le_<b>``: requests whose SLI / end-to-end latency was at most ``b``
        seconds (cumulative, as Prometheus' ``le``; ``sli_le_inf`` equals ``count``), on the
        scenario's ``metrics.latency_buckets_s``. Results schema 1 stored ``sli_le_*`` per bucket;
        :func:`kbench.results.load` converts such folders.
        """
        rows = []
        bounds = self.buckets_s + [float("inf")]
        for (verb, resource, client, level), c in sorted(self._cells.items()):
            row = {"verb": verb, "resource": resource, "client": client, "level": level,
                   "count": c.count, "rejected_429": c.rejected_429, "errors": c.errors,
                   "bytes": c.bytes, "sli_sum_s": c.sli_sum_s, "e2e_sum_s": c.e2e_sum_s,
                   "apf_wait_sum_s": c.wait_sum_s}
            for name, counts in (("sli", c.sli_buckets), ("e2e", c.e2e_buckets)):
                for b, cum in zip(bounds, np.cumsum(counts).tolist(), strict=True):
                    row[f"{name}_le_{b:g}"] = cum
            rows.append(row)
        return pd.DataFrame(rows)


class LogHistogram:
    """Streaming histogram of non-negative values on log-spaced bins.

    Exact count, sum and max; quantiles interpolated within a bin (relative error below the bin
    width, about 1.2 % with the defaults).

    Args:
        lo: Smallest resolved value; smaller values fall in the first bin.
        hi: Largest resolved value; larger values fall in the last bin.
        bins: Number of log-spaced bins between ``lo`` and ``hi``.
    """

    def __init__(self, lo: float = 1e-6, hi: float = 1e5, bins: int = 2200):
        self.edges = np.geomspace(lo, hi, bins + 1)
        self.counts = np.zeros(bins + 2, dtype=np.int64)
        self.count = 0
        self.sum = 0.0
        self.max = 0.0
        self._log_lo = np.log(lo)
        self._scale = bins / (np.log(hi) - np.log(lo))
        self._bins = bins

    def add(self, values: np.ndarray | float) -> None:
        """Add one value or an array of values."""
        v = np.atleast_1d(np.asarray(values, dtype=np.float64))
        if v.size == 0:
            return
        self.count += int(v.size)
        self.sum += float(v.sum())
        self.max = max(self.max, float(v.max()))
        with np.errstate(divide="ignore"):
            idx = np.floor((np.log(np.maximum(v, 1e-300)) - self._log_lo) * self._scale).astype(np.int64) + 1
        np.clip(idx, 0, self._bins + 1, out=idx)
        self.counts += np.bincount(idx, minlength=self._bins + 2)

    def add1(self, value: float, count: int = 1) -> None:
        """Add one value ``count`` times (a scalar fast path of :meth:`add`)."""
        self.count += count
        self.sum += value * count
        if value > self.max:
            self.max = value
        i = int(math.floor((math.log(value if value > 1e-300 else 1e-300) - self._log_lo) * self._scale)) + 1
        i = 0 if i < 0 else (self._bins + 1 if i > self._bins + 1 else i)
        self.counts[i] += count

    def cdf(self, points: int = 64) -> list[list[float]]:
        """``[[x, F(x)], ...]`` at ``points`` log-spaced x from the smallest resolved value seen to
        the largest (F: fraction of values <= x); empty when there are none."""
        if self.count == 0:
            return []
        nz = np.flatnonzero(self.counts)
        lo = float(self.edges[max(int(nz[0]) - 1, 0)])
        hi = max(self.max, lo * 1.0001)
        xs = np.geomspace(lo, hi, points)
        cum = np.cumsum(self.counts)
        with np.errstate(divide="ignore"):
            idx = np.floor((np.log(xs) - self._log_lo) * self._scale).astype(np.int64) + 1
        idx = np.clip(idx, 0, self._bins + 1)
        f = cum[idx] / self.count
        f[-1] = 1.0
        return [[round(float(x), 9), round(float(y), 6)] for x, y in zip(xs, f, strict=True)]

    @property
    def mean(self) -> float:
        """Exact mean (nan when empty)."""
        return self.sum / self.count if self.count else float("nan")

    def quantile(self, q: float) -> float:
        """Approximate ``q`` quantile (nan when empty)."""
        if self.count == 0:
            return float("nan")
        target = q * self.count
        cum = np.cumsum(self.counts)
        i = int(np.searchsorted(cum, target))
        if i == 0:
            return float(self.edges[0])
        if i > self._bins:
            return self.max
        before = cum[i - 1]
        frac = (target - before) / max(self.counts[i], 1)
        lo, hi = self.edges[i - 1], self.edges[i]
        return float(min(lo * (hi / lo) ** frac, self.max))


class SeriesSampler:
    """Samples gauges on a fixed virtual-time grid into columns (one SimPy process in all).

    Args:
        env: The environment.
        interval_s: Grid step, seconds.
    """

    def __init__(self, env: simpy.Environment, interval_s: float):
        self.env = env
        self.interval_s = interval_s
        self._gauges: list[tuple[str, dict[str, str], Callable[[], float]]] = []
        self._values: list[list[float]] = []
        self._times: list[float] = []

    def gauge(self, name: str, fn: Callable[[], float], **labels: str) -> None:
        """Register a gauge ``fn`` sampled every interval under ``name`` and ``labels``."""
        self._gauges.append((name, labels, fn))
        self._values.append([])

    def start(self) -> None:
        """Start sampling at t = now."""
        self.env.process(self._run())

    def _run(self):
        while True:
            self._times.append(self.env.now)
            for (_, _, fn), col in zip(self._gauges, self._values, strict=True):
                col.append(float(fn()))
            yield self.env.timeout(self.interval_s)

    def to_frame(self) -> pd.DataFrame:
        """Long format: time_s, metric, labels (as ``k=v,...``), value."""
        frames = []
        times = np.asarray(self._times)
        for (name, labels, _), col in zip(self._gauges, self._values, strict=True):
            n = len(col)
            frames.append(pd.DataFrame({
                "time_s": times[:n], "metric": name,
                "labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                "value": np.asarray(col, dtype=np.float64)}))
        if not frames:
            return pd.DataFrame(columns=["time_s", "metric", "labels", "value"])
        return pd.concat(frames, ignore_index=True)
