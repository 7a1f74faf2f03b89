"""The Prometheus text reader (kbench/calibrate/promtext.py): a real etcd 3.4.23 dump, the format's
corners, PromQL's bucket interpolation, and windows from consecutive dumps."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.calibrate.dists import lognormal_from_histogram, lognormal_from_mean_p99
from kbench.calibrate.promtext import difference, parse, pooled, quantile, windows
from kbench.dist import Dist
from kbench.errors import KbenchError

ETCD = Path(__file__).parent.parent / "fixtures" / "metrics" / "etcd-3.4.23.prom"


def test_real_etcd_dump():
    s = parse(ETCD.read_text(), source=ETCD.name)
    fsync = s.histogram("etcd_disk_wal_fsync_duration_seconds")
    assert fsync.count == 4514 and fsync.buckets[math.inf] == 4514
    assert sorted(b for b in fsync.buckets if b != math.inf) == pytest.approx([0.001 * 2**i for i in range(14)])
    assert 0 < fsync.mean < 0.01
    assert s.total("etcd_server_proposals_committed_total") == 4518
    assert s.total("etcd_server_has_leader") == 1
    assert s.total("grpc_server_handled_total", grpc_service="etcdserverpb.KV", grpc_method="Put") > 0
    put = s.histogram("grpc_server_handling_seconds", grpc_method="Put")
    assert put.count > 0 and put.mean > fsync.mean * 0.5  # the server's handling includes the fsync
    assert s.types["etcd_disk_wal_fsync_duration_seconds"] == "histogram"


@pytest.mark.parametrize("line, name, labels, value", [
    ('a 1', "a", {}, 1.0),
    ('a{} 2.5', "a", {}, 2.5),
    ('a{x="y"} +Inf', "a", {"x": "y"}, math.inf),
    ('a{x="y",} -Inf', "a", {"x": "y"}, -math.inf),
    ('a{ x = "1" , y="2"} 3 1700000000000', "a", {"x": "1", "y": "2"}, 3.0),
    ('a{x="q\\"z\\\\w\\nv"} 4', "a", {"x": 'q"z\\w\nv'}, 4.0),
    ('a{x="{,}"} 5 # {trace_id="1"} 0.5', "a", {"x": "{,}"}, 5.0),
    ('a_total{le="0.5"} 1e3', "a_total", {"le": "0.5"}, 1000.0),
])
def test_sample_lines(line, name, labels, value):
    s = parse(line + "\n# EOF\n")
    assert s.samples == {name: [(labels, value)]}


def test_nan_value():
    assert math.isnan(parse("a NaN").total("a"))


@pytest.mark.parametrize("bad", ['a{x=1} 2', '{x="1"} 2', 'a{x="1" 2', 'a', 'a{x="1"}'])
def test_bad_lines_name_the_line(bad):
    with pytest.raises(KbenchError) as info:
        parse("ok 1\n" + bad, source="f.prom")
    assert info.value.where == "line 2" and info.value.source == "f.prom"


@pytest.mark.parametrize("buckets, q, expected", [
    # cumulative buckets; rank = q x total, linear inside the bucket that reaches it (first from 0)
    ({1.0: 10, 2.0: 20, math.inf: 20}, 0.5, 1.0),      # rank 10: the top of the first bucket
    ({1.0: 10, 2.0: 20, math.inf: 20}, 0.75, 1.5),     # rank 15: half way into (1, 2]
    ({1.0: 10, 2.0: 20, math.inf: 20}, 0.25, 0.5),     # rank 5: half way into (0, 1]
    ({1.0: 0, 2.0: 0, math.inf: 4}, 0.5, 2.0),         # in +Inf: the largest finite bound
    ({1.0: 0, math.inf: 0}, 0.5, math.nan),            # no observations
])
def test_quantile_table(buckets, q, expected):
    got = quantile(q, buckets)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def test_windows_subtract_counters_and_keep_gauges():
    a = parse("# TYPE c counter\nc 10\n# TYPE g gauge\ng 5\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
              "h_bucket{le=\"+Inf\"} 3\nh_sum 4\nh_count 3\n", source="a")
    b = parse("# TYPE c counter\nc 25\n# TYPE g gauge\ng 7\n# TYPE h histogram\nh_bucket{le=\"1\"} 5\n"
              "h_bucket{le=\"+Inf\"} 9\nh_sum 10\nh_count 9\n", source="b")
    d = difference(b, a)
    assert d.total("c") == 15 and d.total("g") == 7
    h = d.histogram("h")
    assert (h.count, h.sum, h.buckets) == (6, 6, {1.0: 3, math.inf: 6})
    assert [w.total("c") for w in windows([a, b, b])] == [15, 0]
    assert pooled([a]) is a and pooled([a, b, b]).total("c") == 15


@settings(max_examples=50, deadline=None)
@given(median=st.floats(1e-5, 1e-1), ratio=st.floats(1.05, 30.0))
def test_lognormal_from_mean_p99_inverts_the_lognormal(median, ratio):
    d = Dist.lognormal(median, median * ratio)
    back = lognormal_from_mean_p99(d.expected(), d.p99)
    if back.kind == "lognormal":  # the smaller sigma root exists below sigma = z(0.99)
        assert back.median == pytest.approx(median, rel=1e-6) and back.p99 == pytest.approx(median * ratio, rel=1e-6)
    else:
        assert back.value == pytest.approx(d.expected())


def test_lognormal_from_histogram_recovers_the_shape():
    import numpy as np

    d = Dist.lognormal(0.5e-3, 4e-3)
    v = d.sample(np.random.default_rng(3), 50_000)
    bounds = [0.001 * 2**i for i in range(14)]  # etcd's coarse fsync buckets
    buckets = {b: float((v <= b).sum()) for b in bounds} | {math.inf: float(len(v))}
    back = lognormal_from_histogram(float(v.mean()), buckets)
    assert back.expected() == pytest.approx(d.expected(), rel=0.02)
    assert back.p99 == pytest.approx(d.p99, rel=0.10)
