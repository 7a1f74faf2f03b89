"""Statistics for `kbench compare`: known data, scipy as the oracle, Holm by hand."""

import numpy as np
import pytest
from scipy import stats as sps

from kbench.experiment import stats


def test_wilcoxon_p_matches_scipy_exact():
    """The paired Wilcoxon p-value is scipy's exact two-sided one."""
    a = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    b = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
    expected = sps.wilcoxon(a, b).pvalue
    assert stats.paired_test(a, b) == pytest.approx(expected)
    assert stats.paired_test(a, b) == pytest.approx(0.0390625)  # scipy docs example: exact p


def test_paired_t_matches_scipy():
    a = [5.1, 4.9, 5.6, 5.8, 6.0, 5.2]
    b = [4.8, 4.7, 5.0, 5.9, 5.1, 4.9]
    assert stats.paired_test(a, b, "t") == pytest.approx(sps.ttest_rel(a, b).pvalue)


def test_identical_samples_are_p_one_and_constant_shift_t_is_zero():
    x = [1.0, 2.0, 3.0]
    assert stats.paired_test(x, x) == 1.0
    assert stats.paired_test(x, x, "t") == 1.0
    assert stats.paired_test([2.0, 3.0, 4.0], x, "t") == 0.0


def test_unknown_test_and_unequal_lengths_raise():
    with pytest.raises(ValueError):
        stats.paired_test([1, 2], [1, 2], "mann-whitney")
    with pytest.raises(ValueError):
        stats.paired_test([1, 2, 3], [1, 2])


def test_min_achievable_p_and_the_five_seed_trap():
    """With 5 pairs all of one sign, the exact two-sided p is 2/32 = 0.0625 > 0.05."""
    assert stats.min_achievable_p(5) == 0.0625
    assert stats.min_achievable_p(10) == pytest.approx(0.001953125)
    assert stats.min_achievable_p(0) == 1.0
    five = np.arange(1.0, 6.0)
    assert stats.paired_test(five + 10, five) == pytest.approx(stats.min_achievable_p(5))
    assert stats.min_seeds_for(0.05) == 6          # 2/64 = 0.03125
    assert stats.min_seeds_for(0.05, 10) == 9      # 2/512 = 0.0039 <= 0.005
    assert stats.min_seeds_for(0.05, 10) <= stats.DEFAULT_SEEDS


def test_too_few_seeds_warning():
    assert "0.0625" in stats.too_few_seeds_warning(5)
    assert stats.too_few_seeds_warning(10, comparisons=10) is None
    w = stats.too_few_seeds_warning(8, comparisons=10)  # 2/256 = 0.0078 > 0.005
    assert w is not None and "Holm" in w and "9 seeds" in w
    assert stats.too_few_seeds_warning(3, test="t") is None
    assert stats.too_few_seeds_warning(2, test="t") is not None


def test_holm_hand_example():
    """p = (0.01, 0.04, 0.03, 0.005), m = 4, sorted 0.005, 0.01, 0.03, 0.04:
    0.005*4 = 0.02; 0.01*3 = 0.03; 0.03*2 = 0.06; max(0.06, 0.04*1) = 0.06."""
    adj = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert adj == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_nan():
    adj = stats.holm([0.5, float("nan"), 0.9])
    assert adj[0] == pytest.approx(1.0) and np.isnan(adj[1]) and adj[2] == pytest.approx(1.0)
    assert stats.holm([]).size == 0


def test_median_ci_contains_true_median_for_large_sample():
    rng = np.random.default_rng(7)
    x = rng.exponential(2.0, size=2000)  # true median 2 ln 2
    ci = stats.median_ci(x)
    assert ci.low <= 2 * np.log(2) <= ci.high
    assert ci.low <= ci.estimate <= ci.high
    assert ci.high - ci.low < 0.3


def test_median_ci_is_reproducible_and_handles_small_samples():
    x = [3.0, 1.0, 2.0, 5.0]
    assert stats.median_ci(x) == stats.median_ci(x)
    assert stats.median_ci([4.0]) == stats.Interval(4.0, 4.0, 4.0)
    assert np.isnan(stats.median_ci([]).estimate)
    assert stats.median_ci([1.0, float("nan"), 3.0]).estimate == 2.0


def test_paired_diff_is_the_median_of_differences():
    d = stats.paired_diff([5.0, 7.0, 9.0], [1.0, 2.0, 3.0])
    assert d.estimate == 5.0  # differences 4, 5, 6
    assert 4.0 <= d.low <= d.high <= 6.0


def test_verdict_words():
    assert stats.verdict(False) == "not significant"
    assert stats.verdict(True) == "significant"


def test_spread_is_the_range_below_five_values_and_says_so():
    from kbench.experiment.stats import MIN_BOOTSTRAP_N, spread, spread_label

    few = [3.0, 1.0, 2.0]
    iv = spread(few)
    assert (iv.estimate, iv.low, iv.high) == (2.0, 1.0, 3.0)
    assert spread_label(3) == "min–max, n=3" and spread_label(10) == "bootstrap 95 % CI, n=10"
    many = [float(x) for x in range(MIN_BOOTSTRAP_N * 4)]
    ci = spread(many)
    assert min(many) < ci.low < ci.estimate < ci.high < max(many)  # a real bootstrap interval, narrower
