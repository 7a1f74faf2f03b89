"""The Prometheus exposition (kbench/metrics/prometheus.py): exact small traces of the format, the
upstream names, labels and cumulative buckets, and what is left out."""

from __future__ import annotations

import math

import pytest

from kbench.cluster.controlplane import ControlPlane
from kbench.config import Scenario
from kbench.metrics.buckets import APISERVER_REQUEST_DURATION, Histograms, quantile_upper_bound
from kbench.metrics.prometheus import (
    Family,
    apiserver_families,
    histogram,
    parse,
    render,
    request_labels,
)


def test_histogram_buckets_are_cumulative_with_le_and_inf():
    fam = histogram("x_seconds", "help", ("verb",), [0.1, 1.0], {("GET",): ([2, 3, 1], 4.5, 6)})
    text = render([fam])
    assert text.splitlines() == [
        "# HELP x_seconds help", "# TYPE x_seconds histogram",
        'x_seconds_bucket{verb="GET",le="0.1"} 2', 'x_seconds_bucket{verb="GET",le="1"} 5',
        'x_seconds_bucket{verb="GET",le="+Inf"} 6', 'x_seconds_sum{verb="GET"} 4.5', 'x_seconds_count{verb="GET"} 6']


def test_label_values_are_escaped_and_read_back():
    fam = Family("y_total", "counter", "a \\ help", [("", {"name": 'a"b\\c\nd'}, 3.0)])
    text = render([fam])
    assert 'y_total{name="a\\"b\\\\c\\nd"} 3' in text and "# HELP y_total a \\\\ help" in text
    assert parse(text)["y_total"] == [({"name": 'a"b\\c\nd'}, 3.0)]


def test_a_value_on_a_bound_is_counted_in_that_bucket():
    """Prometheus' le is "less than or equal": 1.0 s falls in le="1", not le="1.25"."""
    h = Histograms([0.5, 1.0, 1.25])
    h.observe(("a",), 1.0)
    h.observe(("a",), 1.0000001)
    assert h.cells[("a",)][0] == [0, 1, 1, 0]


@pytest.mark.parametrize(("verb", "resource", "expect"), [
    ("get", "pods", {"verb": "GET", "scope": "resource", "group": "", "resource": "pods", "subresource": ""}),
    ("list", "pods", {"verb": "LIST", "scope": "cluster"}),
    ("watch", "leases", {"verb": "WATCH", "group": "coordination.k8s.io", "scope": "cluster"}),
    ("create", "serviceaccounts/token", {"verb": "POST", "resource": "serviceaccounts", "subresource": "token",
                                         "scope": "resource"}),
    ("update", "nodes/status", {"verb": "PUT", "resource": "nodes", "subresource": "status"}),
    ("patch", "deployments", {"verb": "PATCH", "group": "apps", "version": "v1"}),
    ("get", "pods/log", {"verb": "CONNECT", "subresource": "log"}),
    ("update", "widgets", {"group": "kbench.io", "version": "v1"}),
])
def test_request_labels_follow_upstream(verb, resource, expect):
    labels = request_labels(verb, resource)
    assert {k: labels[k] for k in expect} == expect
    assert labels["component"] == "apiserver" and labels["dry_run"] == ""


def _plane():
    plane = ControlPlane.build(Scenario(name="t"))
    stats = plane.stats
    # 4 creates of pods: SLI 0.01, 0.06, 0.3, 2.0 s; each waited 0.5 s in APF (end-to-end 0.5 s more)
    for sli in (0.01, 0.06, 0.3, 2.0):
        stats.record(("create", "pods", "c", "workload-low"), sli_s=sli, e2e_s=sli + 0.5, wait_s=0.5, nbytes=100)
    stats.record(("watch", "pods", "c", "workload-low"), sli_s=0.001, e2e_s=0.001, wait_s=0.0, nbytes=0)
    stats.record_rejected(("create", "pods", "c", "workload-low"), 3, flow_schema="service-accounts",
                          reason="queue-full")
    stats.record_rejected(("get", "pods", "c", "catch-all"), 1, flow_schema="catch-all", reason="reject")
    stats.record_error(("update", "pods", "c", "workload-low"), 2)
    return plane


def test_apiserver_families_exact():
    fams, ignored = apiserver_families(_plane())
    data = parse(render(fams))
    sli = {s[0]["le"]: s[1] for s in data["apiserver_request_sli_duration_seconds_bucket"] if s[0]["verb"] == "POST"}
    # SLI buckets start at 0.05: 0.01 folds into it; cumulative counts
    assert (sli["0.05"], sli["0.1"], sli["0.4"], sli["1.5"], sli["2"], sli["+Inf"]) == (1, 2, 3, 3, 4, 4)
    e2e = {s[0]["le"]: s[1] for s in data["apiserver_request_duration_seconds_bucket"]}
    assert "0.5" not in e2e  # not an upstream bound
    # end-to-end (APF wait included): 0.51, 0.56, 0.8, 2.5 s
    assert (e2e["0.4"], e2e["0.6"], e2e["0.8"], e2e["1"], e2e["2"], e2e["3"]) == (0, 2, 3, 3, 3, 4)
    assert [v for lab, v in data["apiserver_request_sli_duration_seconds_sum"]] == [pytest.approx(2.37)]
    totals = {(lab["verb"], lab["code"]): v for lab, v in data["apiserver_request_total"]}
    assert totals == {("POST", "201"): 4, ("POST", "429"): 3, ("WATCH", "200"): 1, ("GET", "429"): 1}
    rej = {(lab["priority_level"], lab["flow_schema"], lab["reason"]): v
           for lab, v in data["apiserver_flowcontrol_rejected_requests_total"]}
    assert rej == {("workload-low", "service-accounts", "queue-full"): 3, ("catch-all", "catch-all",
                                                                         "concurrency-limit"): 1}
    nominal = {lab["priority_level"]: v for lab, v in data["apiserver_flowcontrol_nominal_limit_seats"]}
    assert nominal["workload-low"] == 245 and nominal["catch-all"] == 13  # A11
    assert any("2 failed requests other than 429" in n for n in ignored)
    assert any("1 WATCH requests are left out" in n for n in ignored)
    assert "WATCH" not in {lab["verb"] for lab, _ in data["apiserver_request_duration_seconds_count"]}


def test_the_p99_read_back_from_the_buckets_brackets_the_true_value():
    """histogram_quantile over the exported cumulative buckets lands in the bucket holding the true p99."""
    plane = ControlPlane.build(Scenario(name="t"))
    values = [0.002 * 1.07**i for i in range(100)]  # 2 ms .. 1.6 s
    for v in values:
        plane.stats.record(("patch", "pods", "c", "l"), sli_s=v, e2e_s=v, wait_s=0.0, nbytes=1)
    fams, _ = apiserver_families(plane)
    rows = sorted(((float(lab["le"].replace("+Inf", "inf")), v) for lab, v in
                   parse(render(fams))["apiserver_request_duration_seconds_bucket"]), key=lambda t: t[0])
    bounds, cum = [b for b, _ in rows], [c for _, c in rows]
    true_p99 = sorted(values)[math.ceil(0.99 * len(values)) - 1]
    upper = quantile_upper_bound(cum, bounds, 0.99)
    lower = max([b for b in bounds if b < upper], default=0.0)
    assert lower < true_p99 <= upper
    assert list(bounds[:-1]) == list(APISERVER_REQUEST_DURATION)


def test_both_grids_bin_exactly_as_a_bisect_on_each():
    """RequestStats bins each latency once on the union of its grid and the upstream one; the counts per
    grid equal a direct search on that grid (bounds themselves included: le is inclusive)."""
    import numpy as np

    from kbench.metrics.collect import RequestStats

    own = [0.0005, 0.001, 0.004, 0.016, 0.064, 0.25, 1.0, 4.0, 15.0, 60.0]
    stats = RequestStats(own)
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.lognormal(-3.0, 2.0, 3000), own, APISERVER_REQUEST_DURATION, [0.0, 1e6]])
    for v in values:
        stats.record(("get", "pods", "c", "l"), sli_s=float(v), e2e_s=float(v) * 1.5, wait_s=0.0, nbytes=0)
    (_, cell), = stats.cells()
    for got, grid, vs in ((cell.sli_buckets, own, values), (cell.e2e_buckets, own, values * 1.5),
                          (cell.up_sli, APISERVER_REQUEST_DURATION, values),
                          (cell.up_e2e, APISERVER_REQUEST_DURATION, values * 1.5)):
        want = np.bincount(np.searchsorted(grid, vs, side="left"), minlength=len(grid) + 1)
        assert list(got) == want.tolist()
