"""Statistics for comparing policies over seeds (STYLE habit 12: compare honestly).

Runs are paired by seed: with common random numbers every policy sees the same workload
realisation for a given seed, so the differences ``policy - baseline`` per seed are the unit of
analysis.

Choices, and why:

* **Median and its 95 % CI**: the bootstrap percentile interval of the median, resampled with a
  seeded :class:`numpy.random.Generator` (``rng_seed``), so the same data always give the same
  interval. The percentile bootstrap of a median is coarse for tiny samples but needs no
  distributional assumption; run times and latency percentiles are skewed.
* **Paired test**: the Wilcoxon signed-rank test by default (``scipy.stats.wilcoxon``, exact
  distribution for small n, no normality assumption); the paired t-test when asked.
* **Power**: the smallest two-sided p-value the exact Wilcoxon test can return with n pairs is
  ``2 / 2**n`` (all differences of the same sign): 0.0625 for 5 pairs, so 5 seeds can never be
  significant at 0.05. :func:`min_achievable_p` gives it; :func:`too_few_seeds_warning` words it.
  The default of 10 seeds gives a floor of 0.00195, low enough to survive a Holm correction
  across ten metrics (0.05 / 10 = 0.005) when a policy is consistently better.
* **Multiple metrics**: Holm's step-down correction (:func:`holm`) controls the family-wise error
  rate across metrics without assuming independence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_SEEDS = 10
"""Default number of seeds: the exact Wilcoxon floor 2/2**10 = 0.00195 < 0.05/10 (Holm over ten metrics)."""

ALPHA = 0.05
TESTS = ("wilcoxon", "t")
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval.

    Attributes:
        estimate: The point estimate (a median).
        low: The lower bound of the interval.
        high: The upper bound of the interval.
    """

    estimate: float
    low: float
    high: float


def _clean(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[~np.isnan(x)]


def median_ci(values: Sequence[float], confidence: float = 0.95, *, rng_seed: int = 0,
              resamples: int = BOOTSTRAP_RESAMPLES) -> Interval:
    """The median and a bootstrap percentile confidence interval of the median.

    Args:
        values: The sample (NaNs are dropped).
        confidence: The confidence level, e.g. 0.95.
        rng_seed: Seed of the bootstrap's own Generator (results are reproducible).
        resamples: Number of bootstrap resamples.

    Returns:
        The median and the interval; all NaN for an empty sample, a zero-width interval for one value.
    """
    x = _clean(values)
    if x.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    med = float(np.median(x))
    if x.size == 1:
        return Interval(med, med, med)
    rng = np.random.default_rng(rng_seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    meds = np.median(x[idx], axis=1)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(meds, [tail, 1.0 - tail])
    return Interval(med, float(lo), float(hi))


def min_achievable_p(n: int) -> float:
    """The smallest two-sided p-value of the exact Wilcoxon signed-rank test with ``n`` pairs.

    Reached when all ``n`` differences have the same sign: ``2 * (1/2)**n``, capped at 1.

    Args:
        n: Number of (non-zero) pairs.

    Returns:
        The p-value floor; 1.0 when ``n`` is 0.
    """
    if n <= 0:
        return 1.0
    return min(1.0, 2.0 / 2.0**n)


def min_seeds_for(alpha: float = ALPHA, comparisons: int = 1) -> int:
    """The smallest number of pairs for which the Wilcoxon test can reach ``alpha / comparisons``.

    ``comparisons`` is the Holm worst case (the smallest p is compared with alpha / m).

    Args:
        alpha: The significance level.
        comparisons: Number of tests in the Holm family.

    Returns:
        The minimal seed count.
    """
    n = 1
    while min_achievable_p(n) > alpha / max(1, comparisons):
        n += 1
    return n


def paired_test(a: Sequence[float], b: Sequence[float], test: str = "wilcoxon") -> float:
    """The two-sided p-value of a paired test of ``a`` against ``b``.

    Args:
        a: Values under one policy, one per seed.
        b: Values under the baseline, same seeds in the same order.
        test: ``wilcoxon`` (signed-rank; exact for small n) or ``t`` (paired t-test).

    Returns:
        The p-value; 1.0 when every difference is zero (nothing to tell apart) or fewer than 2 pairs.

    Raises:
        ValueError: On an unknown test or unequal lengths.
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {', '.join(TESTS)}")
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired samples must have the same length")
    keep = ~(np.isnan(x) | np.isnan(y))
    d = x[keep] - y[keep]
    if d.size < 2 or np.all(d == 0):
        return 1.0
    if test == "t":
        if np.all(d == d[0]):  # zero variance, non-zero shift: t is infinite
            return 0.0
        return float(_sps().ttest_rel(x[keep], y[keep]).pvalue)
    return float(_sps().wilcoxon(x[keep], y[keep], alternative="two-sided").pvalue)


MIN_BOOTSTRAP_N = 5
"""Below this many values a bootstrap "95 % CI" of the median is only the sample's range (with 2-4
values almost every resample's median lies between the extremes), so :func:`spread` gives the range
and says so (kbench default)."""


def spread(values: Sequence[float], confidence: float = 0.95, *, rng_seed: int = 0) -> Interval:
    """The median with the interval :func:`spread_label` names: a bootstrap CI from
    :data:`MIN_BOOTSTRAP_N` values on, the min–max range below."""
    x = _clean(values)
    if 0 < x.size < MIN_BOOTSTRAP_N:
        return Interval(float(np.median(x)), float(x.min()), float(x.max()))
    return median_ci(x, confidence, rng_seed=rng_seed)


def spread_label(n: int, confidence: float = 0.95) -> str:
    """How :func:`spread` computed an interval of ``n`` values: ``bootstrap 95 % CI, n=10`` or
    ``min–max, n=3``."""
    if n < MIN_BOOTSTRAP_N:
        return f"min–max, n={n}"
    return f"bootstrap {confidence * 100:g} % CI, n={n}"


def paired_diff(a: Sequence[float], b: Sequence[float], confidence: float = 0.95, *,
                rng_seed: int = 0) -> Interval:
    """The median of the paired differences ``a - b`` with the interval of :func:`spread` (a bootstrap
    CI, or the range below :data:`MIN_BOOTSTRAP_N` pairs).

    Args:
        a: Values under one policy, one per seed.
        b: Values under the baseline, same seeds in the same order.
        confidence: The confidence level.
        rng_seed: Seed of the bootstrap Generator.

    Returns:
        The median difference and its interval.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired samples must have the same length")
    return spread(x - y, confidence, rng_seed=rng_seed)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (step-down, monotone, capped at 1).

    Reject hypothesis i at level alpha when its adjusted p-value is <= alpha.

    Args:
        p_values: Raw p-values (NaN stays NaN and is not counted).

    Returns:
        Adjusted p-values in the input order.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def verdict(significant: bool) -> str:
    """The words printed for a paired comparison."""
    return "significant" if significant else "not significant"


def too_few_seeds_warning(n: int, comparisons: int = 1, alpha: float = ALPHA, test: str = "wilcoxon") -> str | None:
    """A warning when ``n`` seeds cannot make any result significant, else None.

    Args:
        n: Number of seeds (pairs).
        comparisons: Number of tests in the Holm family (metrics).
        alpha: The significance level.
        test: The paired test; only the Wilcoxon test has a hard floor, the t-test needs n >= 2.

    Returns:
        The warning text or None.
    """
    if test == "t":
        return None if n >= 3 else f"{n} seeds: too few for a paired t-test; no result can be significant"
    floor = min_achievable_p(n)
    if floor <= alpha / max(1, comparisons):
        return None
    need = min_seeds_for(alpha, comparisons)
    holm_note = f" (Holm over {comparisons} metrics asks for p < {alpha / comparisons:.4g})" if comparisons > 1 else ""
    return (f"{n} seeds: the smallest possible Wilcoxon p-value is {floor:.4g}, so no result can be significant "
            f"at {alpha}{holm_note}; use at least {need} seeds")


def _sps():
    """scipy.stats, imported on first use (it costs ~1 s, and every CLI start imports this module)."""
    from scipy import stats as sps

    return sps
