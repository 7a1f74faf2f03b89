"""Synthetic arrivals and value distributions: statistics against theory, exact shapes, seeding,
and errors naming the field."""

import numpy as np
import pandas as pd
import pytest

from kbench.config.workload import ArrivalSpec
from kbench.errors import ConfigError
from kbench.workload.synth import DEFAULT_DIURNAL_PROFILE, arrival_times, parse_dist, trace_gaps


def rng(seed=0):
    return np.random.default_rng(seed)


class FakeTrace:
    def __init__(self, **cols):
        self.pods = pd.DataFrame(cols)


def loader(path, fmt):
    assert path == "t.csv"
    return FakeTrace(arrival_s=[0.0, 1.0, 1.0, 4.0, np.nan], duration_s=[5.0, 7.0, np.nan, 9.0, 1.0])


# --------------------------------------------------------------------------------- arrivals

def test_constant_arrivals_are_evenly_spaced():
    t = arrival_times(ArrivalSpec(kind="constant", rate_per_s=4), 5, rng())
    assert t.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_poisson_rate_and_exponential_gaps():
    """20,000 arrivals at 5/s: mean gap 0.2 s (standard error 0.2/sqrt(n) = 0.0014), CV 1."""
    t = arrival_times(ArrivalSpec(kind="poisson", rate_per_s=5), 20_000, rng(1))
    gaps = np.diff(np.r_[0.0, t])
    assert gaps.mean() == pytest.approx(0.2, abs=5 * 0.2 / np.sqrt(20_000))
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.03)
    # counts in 1 s windows are Poisson(5): variance = mean
    counts = np.bincount(t.astype(int))[:-1]
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.1)


def test_bursts():
    t = arrival_times(ArrivalSpec(kind="bursts", burst_size=3, burst_every_s=10, rate_per_s=2), 7, rng())
    assert t.tolist() == [0.0, 0.5, 1.0, 10.0, 10.5, 11.0, 20.0]
    t0 = arrival_times(ArrivalSpec(kind="bursts", burst_size=2, burst_every_s=5, rate_per_s=0), 4, rng())
    assert t0.tolist() == [0.0, 0.0, 5.0, 5.0]


def test_diurnal_follows_the_hourly_profile():
    """Over 20 simulated days the arrivals per hour of day are proportional to the profile
    (expected count per hour ~ 20 days x 3600 s x 0.5/s x rel, relative error ~ 1/sqrt(count))."""
    spec = ArrivalSpec(kind="diurnal", rate_per_s=0.5)
    t = arrival_times(spec, 864_000, rng(2))  # 20 days at 0.5/s on average
    days = t[-1] / 86_400
    assert days == pytest.approx(20, rel=0.01)  # the mean rate is rate_per_s
    whole = t[t < np.floor(days) * 86_400]  # complete days only
    per_hour = np.bincount(((whole % 86_400) // 3600).astype(int), minlength=24)
    profile = np.asarray(DEFAULT_DIURNAL_PROFILE)
    expected = per_hour.sum() * profile / profile.sum()
    assert np.allclose(per_hour, expected, rtol=0.04)  # the smallest hour has ~8,000: 1 % s.e.
    assert per_hour.argmax() in (12, 13) and per_hour.argmin() in (2, 3)


def test_diurnal_custom_profile_and_period():
    spec = ArrivalSpec(kind="diurnal", rate_per_s=10, profile=[1, 0, 3], period_s=30)
    t = arrival_times(spec, 30_000, rng(3))
    slot = ((t % 30) // 10).astype(int)
    share = np.bincount(slot, minlength=3) / len(t)
    assert share[1] == 0 and share[2] == pytest.approx(0.75, abs=0.01)


def test_empirical_gaps_from_a_list_and_from_a_trace():
    t = arrival_times(ArrivalSpec(kind="empirical", gaps_s=[1.0, 3.0]), 1000, rng(4))
    assert set(np.diff(np.r_[0.0, t]).round(9)) == {1.0, 3.0}
    assert trace_gaps("t.csv", loader=loader).tolist() == [1.0, 0.0, 3.0]  # sorted, NaN left out
    t2 = arrival_times(ArrivalSpec(kind="empirical", trace="t.csv", scale=0.5), 500, rng(5), loader=loader)
    assert set(np.diff(np.r_[0.0, t2]).round(9)) == {0.0, 0.5, 1.5}


def test_arrivals_are_seeded():
    spec = ArrivalSpec(kind="poisson", rate_per_s=3)
    assert np.array_equal(arrival_times(spec, 50, rng(9)), arrival_times(spec, 50, rng(9)))
    assert not np.array_equal(arrival_times(spec, 50, rng(9)), arrival_times(spec, 50, rng(10)))


# ---------------------------------------------------------------------------- distributions

def test_scalars_lists_and_units():
    assert parse_dist("500m", "x").sample(rng(), 2).tolist() == [0.5, 0.5]
    assert parse_dist("5m", "x_s", unit="s").sample(rng(), 1)[0] == 300.0
    assert parse_dist("nginx:1.25", "image", text=True).sample(rng(), 2).tolist() == ["nginx:1.25"] * 2
    choice = parse_dist(["1Gi", "2Gi"], "m").sample(rng(), 1000)
    assert set(choice) == {2.0**30, 2.0**31}


def test_lognormal_median_and_p99():
    d = parse_dist({"kind": "lognormal", "median": "10s", "p99": "1m"}, "d", unit="s")
    x = d.sample(rng(6), 200_000)
    assert np.median(x) == pytest.approx(10, rel=0.02)
    assert np.quantile(x, 0.99) == pytest.approx(60, rel=0.05)
    assert x.mean() == pytest.approx(d.mean(), rel=0.02)


def test_exponential_uniform_normal_choice_weights():
    assert parse_dist({"kind": "exponential", "mean": 4}, "d").sample(rng(7), 100_000).mean() == pytest.approx(4, rel=0.02)
    u = parse_dist({"kind": "uniform", "low": 1, "high": 3}, "d").sample(rng(7), 10_000)
    assert u.min() >= 1 and u.max() < 3
    n = parse_dist({"kind": "normal", "mean": 1, "std": 2}, "d").sample(rng(7), 10_000)
    assert n.min() == 0.0  # clipped at 0
    c = parse_dist({"kind": "choice", "values": [0, 1], "weights": [1, 3]}, "d").sample(rng(7), 40_000)
    assert c.mean() == pytest.approx(0.75, abs=0.01)


def test_empirical_durations_from_a_trace_column():
    d = parse_dist({"kind": "empirical", "trace": "t.csv", "column": "duration_s"}, "d", unit="s",
                   loader=loader)
    assert set(d.sample(rng(8), 1000)) == {5.0, 7.0, 9.0, 1.0}  # NaN left out
    assert d.mean() == pytest.approx(5.5)


@pytest.mark.parametrize(("raw", "where", "text"), [
    ({"kind": "gamma"}, "t.cpu.kind", "unknown distribution kind 'gamma'"),
    ({"kind": "lognormal", "median": 1}, "t.cpu", "needs p99"),
    ({"kind": "lognormal", "median": 2, "p99": 1}, "t.cpu", "p99 >= median"),
    ({"kind": "uniform", "low": 1, "hihg": 2}, "t.cpu.hihg", "did you mean 'high'"),
    ({"kind": "choice", "values": []}, "t.cpu.values", "non-empty"),
    ({"kind": "choice", "values": [1, 2], "weights": [1]}, "t.cpu.weights", "one weight"),
    ({"kind": "exponential", "mean": "abc"}, "t.cpu.mean", ""),
    ({"kind": "empirical", "trace": "t.csv", "column": "cpu"}, "t.cpu.column", "no column 'cpu'"),
])
def test_distribution_errors_name_the_field(raw, where, text):
    with pytest.raises(ConfigError) as err:
        parse_dist(raw, "t.cpu", loader=loader)
    assert err.value.where == where and text in err.value.message
