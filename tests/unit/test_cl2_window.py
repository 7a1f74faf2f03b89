"""CL2's API-responsiveness rows read the latencies gathered at its "Collecting measurements" step."""

from __future__ import annotations

from kbench.config.scenario import MetricsConfig
from kbench.metrics.cl2 import p99_by
from kbench.metrics.collect import RequestStats


def _stats():
    stats = RequestStats(MetricsConfig().latency_buckets_s)
    key_ok = ("patch", "pods/status", "kubelet", "system")
    key_late = ("update", "namespaces/finalize", "controller-manager", "workload-high")
    for _ in range(200):
        stats.record(key_ok, sli_s=0.02, e2e_s=0.02, wait_s=0.0, nbytes=100)
    return stats, key_ok, key_late


def test_the_gathered_cells_leave_out_what_came_after_the_gather_step():
    stats, key_ok, key_late = _stats()
    gathered = stats.sli_snapshot()
    for _ in range(100):  # the namespace cleanup, after CL2 gathered its measurements
        stats.record(key_late, sli_s=1.7, e2e_s=1.7, wait_s=0.0, nbytes=100)
    whole, which = p99_by(stats, ("update", "patch"))
    assert which == "namespaces/finalize update" and whole > 1.0
    at_gather, which = p99_by(stats, ("update", "patch"), gathered)
    assert which == "pods/status patch" and at_gather < 0.05  # the bucket of 20 ms
    assert gathered == {key_ok: stats.sli_snapshot()[key_ok]}  # a copy: later records did not change it


def test_a_snapshot_is_a_copy():
    stats, key_ok, _ = _stats()
    snap = stats.sli_snapshot()
    stats.record(key_ok, sli_s=0.02, e2e_s=0.02, wait_s=0.0, nbytes=100)
    assert sum(snap[key_ok]) == 200 and sum(stats.sli_snapshot()[key_ok]) == 201
