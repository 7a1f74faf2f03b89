"""Bounded memory (issue 10 item 5), fast check: the model's internal buffers of a run 10x longer in
virtual time with the same pods do not grow, except the time series (one row per grid step and
gauge, by design) and each watch cache's ChangeLog (one entry per commit: known growth, see
docs/FAULTS.md)."""

from __future__ import annotations

from kbench.config import scenario_from_dict
from kbench.experiment.runner import run

BASE = {"name": "mem", "seed": 2, "cluster": {"nodes": [{"count": 5, "cpu_cores": 4, "memory_bytes": "8Gi"}]},
        "etcd": {"compaction_interval_s": "1m"},
        "workload": {"deployments": [{"name": "web", "replicas": 30,
                                      "template": {"cpu_cores": "100m", "memory_bytes": "64Mi"}}]}}


def _sizes(duration_s: float) -> dict:
    res = run(scenario_from_dict({**BASE, "duration_s": duration_s}))
    w = res.world
    caches = w.api.caches.values()
    return {"request_cells": len(w.plane.stats._cells),
            "histogram_buckets": {len(c.sli_buckets) for c in w.plane.stats._cells.values()},
            "pod_rows": w.timeline.n,
            "watch_history": max(len(c.history) for c in caches),
            "history_max": w.scenario.apiserver.watch_cache.history_events_max,
            "etcd_history_bytes": w.plane.etcd.history_bytes,
            "series_rows": len(res.frames["series"]),
            "gauges": res.frames["series"]["metric"].nunique()}


def test_buffers_do_not_grow_with_virtual_time():
    short, long = _sizes(120.0), _sizes(1200.0)
    assert long["pod_rows"] == short["pod_rows"] == 30
    assert long["request_cells"] <= short["request_cells"] + 2  # cells are per (verb, resource, client, level)
    assert long["histogram_buckets"] == short["histogram_buckets"]  # fixed-size histograms
    assert long["watch_history"] <= long["history_max"]
    # etcd history is compacted every minute: what is left is at most a minute of writes
    assert long["etcd_history_bytes"] <= 2 * max(short["etcd_history_bytes"], 1) + 64 * 1024
    # the series grid grows linearly with virtual time, nothing else about it does
    assert long["gauges"] == short["gauges"]
    assert 9 * short["series_rows"] <= long["series_rows"] <= 11 * short["series_rows"]
