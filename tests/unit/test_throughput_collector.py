"""SchedulingThroughput as upstream's throughputCollector computes it (kbench/workload/schedperf/collector.py):
synthetic bind times, exact samples."""

from __future__ import annotations

import simpy

from kbench.workload.schedperf.collector import ThroughputCollector, throughput_stats


class _Pod:
    def __init__(self, i, ns="ns", labels=None):
        self.key = f"{ns}/p{i}"

        class Spec:
            pass

        self.spec = Spec()
        self.spec.namespace, self.spec.labels = ns, labels or {}


def run(bind_times, until, namespaces=("ns",), stop_at=None):
    env = simpy.Environment()
    c = ThroughputCollector(env, list(namespaces))

    def binder():
        for i, t in enumerate(bind_times):
            yield env.timeout(t - env.now)
            c.observe(_Pod(i))

    env.process(binder())
    if stop_at is not None:
        env.run(until=stop_at)
        c.stop()
    env.run(until=until)
    return c


def test_first_interval_is_not_sampled_and_zero_intervals_are_merged():
    # 10 pods in (0, 1): the first tick (t=1) only remembers the count; 20 more in (1, 2) -> 20/s;
    # none in (2, 3) and (3, 4): skipped; 30 in (4, 5) -> 30 / (5 - 2) = 10/s recorded 3 times
    times = [0.05 * (i + 1) for i in range(10)] + [1 + 0.04 * (i + 1) for i in range(20)] \
        + [4 + 0.03 * (i + 1) for i in range(30)]
    c = run(times, 5.5)
    assert c.samples == [20.0, 10.0, 10.0, 10.0]


def test_partial_last_interval_is_not_sampled():
    times = [0.5, 1.5, 2.2, 2.6]
    c = run(times, 10, stop_at=2.9)  # stopped before the 3 s tick
    assert c.samples == [1.0]  # only (1, 2]: one pod


def test_nothing_scheduled_gives_no_sample_and_nulls():
    c = run([], 5)
    assert c.samples == [] and c.result()["average"] is None and c.result()["samples"] == 0


def test_other_namespaces_do_not_count():
    env = simpy.Environment()
    c = ThroughputCollector(env, ["a"])
    c.observe(_Pod(1, "b"))
    c.observe(_Pod(2, "a"))
    assert c.scheduled == 1 and c.measured == ["a/p2"]


def test_percentiles_index_ceil_len_times_x_over_100_minus_1():
    s = throughput_stats([float(x) for x in range(1, 11)])  # 1..10
    # average 5.5; p50 = s[ceil(10 * 0.5) - 1] = s[4] = 5; p90 = s[8] = 9; p95 = s[ceil(9.5) - 1] = s[9] = 10
    assert (s["average"], s["p50"], s["p90"], s["p95"], s["p99"]) == (5.5, 5.0, 9.0, 10.0, 10.0)
