"""Distributions and YAML values for calibration files: lognormals from a mean and a p99, units."""

from __future__ import annotations

import math
from typing import Any

from kbench.config.calibration import format_duration
from kbench.dist import Z99, Dist


def lognormal_from_mean_p99(mean: float, p99: float) -> Dist:
    """The lognormal with this mean and 99th percentile (seconds), or a constant when none fits.

    With r = ln(p99 / mean) and z = z(0.99): sigma = z - sqrt(z^2 - 2r) (the smaller root of
    r = z sigma - sigma^2 / 2) and median = mean e^(-sigma^2 / 2). A p99 at or below the mean, or
    one too far above it (z^2 < 2r), gives a constant at the mean.
    """
    if not (mean > 0) or not (p99 > mean):
        return Dist.const(max(mean, 0.0) if mean == mean else 0.0)
    r = math.log(p99 / mean)
    disc = Z99 * Z99 - 2 * r
    if disc < 0:
        return Dist.const(mean)
    sigma = Z99 - math.sqrt(disc)
    median = mean * math.exp(-sigma * sigma / 2)
    return Dist.lognormal(median, median * math.exp(Z99 * sigma))


def lognormal_from_histogram(mean: float, buckets: dict[float, float]) -> Dist:
    """The lognormal with this mean (seconds, exact from ``_sum/_count``) whose shape best explains
    the cumulative ``buckets`` (upper bound -> count): a binned maximum-likelihood fit of sigma, with
    the median then set by the mean. Every bucket counts, not one interpolated quantile, so coarse
    bounds (etcd's fsync buckets double from 1 ms) still give a usable tail; a constant when the
    observations all fall in one bucket below the mean's (nothing to fit a shape to).
    """
    from scipy.optimize import minimize_scalar
    from scipy.stats import norm

    les = sorted(buckets)
    counts, prev = [], 0.0
    for le in les:
        counts.append(max(buckets[le] - prev, 0.0))
        prev = max(buckets[le], prev)
    if not (mean > 0) or sum(counts) <= 0 or sum(1 for c in counts if c > 0) < 2:
        return Dist.const(max(mean, 0.0) if mean == mean else 0.0)
    logs = [math.log(le) if 0 < le < math.inf else (math.inf if le == math.inf else -math.inf) for le in les]

    def nll(sigma: float) -> float:
        mu = math.log(mean) - sigma * sigma / 2
        cdf = [norm.cdf((x - mu) / sigma) if math.isfinite(x) else (1.0 if x > 0 else 0.0) for x in logs]
        total, below = 0.0, 0.0
        for c, f in zip(counts, cdf, strict=True):
            p = max(f - below, 1e-300)
            below = f
            total -= c * math.log(p)
        return total

    sigma = minimize_scalar(nll, bounds=(0.02, 3.0), method="bounded", options={"xatol": 1e-4}).x
    return lognormal_from_mean_sigma(mean, sigma)


def lognormal_from_mean_sigma(mean: float, sigma: float) -> Dist:
    """The lognormal with this mean (seconds) and shape ``sigma`` (a constant for sigma 0)."""
    if sigma <= 0:
        return Dist.const(mean)
    median = mean * math.exp(-sigma * sigma / 2)
    return Dist.lognormal(median, median * math.exp(Z99 * sigma))


def dist_yaml(d: Dist) -> Any:
    """A time distribution as a calibration file writes it (units written out)."""
    if d.kind == "constant":
        return format_duration(d.value)
    if d.kind == "lognormal":
        return {"kind": "lognormal", "median": format_duration(d.median), "p99": format_duration(d.p99)}
    if d.kind == "exponential":
        return {"kind": "exponential", "mean": format_duration(d.mean)}
    return {"kind": "uniform", "low": format_duration(d.low), "high": format_duration(d.high)}


def rel(x: float, digits: int = 3) -> float | None:
    """A relative error for the ``fits`` entries (None when unknown)."""
    if x is None or x != x or math.isinf(x):
        return None
    return round(abs(x), digits)
