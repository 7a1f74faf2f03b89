"""The apiserver's and etcd's physics in a run summary (issue 16): egress and ingress, watch
fan-out, memory, CPU split, consistent-read waits, etcd ranges and keys, APF limits. Shared by the
sync experiment's summary and the lifecycle run's (``kbench sync|run -o json``)."""

from __future__ import annotations

from typing import Any

from kbench.metrics.collect import LogHistogram

NOT_MODELLED = (
    "per-watcher send cost I17 is an upper bound (client-side decoding in the benchmark)",
)
"""Mechanisms of the apiserver and etcd left out (``ignored`` in every summary, and a warning)."""

_GZIP_OFF = ("response compression: off (apiserver.gzip.enabled false); kube-apiserver gzips GET and LIST "
             "responses over 128 KiB for clients that accept it (I24, I29)")
_GZIP_ONE_RATIO = ("response compression: one ratio and CPU cost per byte for every kind of object (upstream's "
                   "depend on the content, I30); the clients' decompression CPU is not modelled")

_NOT_READY_LEGACY = ("ResilientWatchCacheInitialization=false: a restarted watch cache serves reads at "
                     "once (upstream before 1.31 made them wait for its initialization, or sent those with "
                     "resourceVersion \"\" or \"0\" to etcd)")


def not_modelled(gates, api=None) -> list[str]:
    """:data:`NOT_MODELLED`, what the feature gates ``gates`` leave out (a mapping, may be None), response
    compression turned off, or its one ratio when ``api`` compressed a response, and the watches of
    resources upstream keeps no watch cache for that a cache of ``api`` served."""
    out = list(NOT_MODELLED)
    gz = getattr(getattr(api, "cfg", None), "gzip", None)
    if gz is not None:
        if not gz.enabled and (gates is None or gates.get("APIResponseCompression", True)):
            out.append(_GZIP_OFF)
        elif gz.enabled and api.gzip_saved_bytes > 0:  # the run compressed something
            out.append(_GZIP_ONE_RATIO)
    if gates is not None and not gates.get("ResilientWatchCacheInitialization", True):
        out.append(_NOT_READY_LEGACY)
    wc = getattr(getattr(api, "cfg", None), "watch_cache", None)
    if wc is not None and wc.enabled:
        names = [r for r in wc.disabled_resources
                 if r in api.caches and (api.caches[r].deliveries or api.caches[r].watcher_total())]
        if names:
            out.append(f"watches of {', '.join(names)} are served from a watch cache here; kube-apiserver keeps "
                       "none for them (DefaultWatchCacheSizes) and opens an etcd watch per WATCH request, whose "
                       "fan-out in etcd is not modelled (their GETs and LISTs do go to etcd)")
    return out



def quantile(h: LogHistogram, p: float) -> float | None:
    """The ``p`` quantile of ``h`` rounded to the microsecond (None when empty)."""
    v = h.quantile(p)
    return None if v != v else round(v, 6)


def latency(h: LogHistogram | None) -> dict[str, Any]:
    """p50, p99, mean, max and count of an exact latency histogram (seconds)."""
    if h is None or h.count == 0:
        return {"p50": None, "p99": None, "mean": None, "max": None, "count": 0}
    return {"p50": quantile(h, 0.5), "p99": quantile(h, 0.99), "mean": round(h.mean, 6), "max": round(h.max, 6),
            "count": h.count}


def apiserver_block(plane, virtual_s: float) -> dict[str, Any]:
    """Egress, ingress, fan-out, memory, CPU split and terminations of the apiserver (the keys a
    lifecycle summary shares with the sync summary)."""
    api = plane.api
    for c in api.caches.values():
        c.flush_traffic()
    tr = api.traffic
    v = virtual_s
    mem = api.mem
    mem.refresh()
    caches = api.caches.values()
    fresh = [c.fresh for c in caches if c.fresh is not None]
    waits = LogHistogram()
    for f in fresh:
        waits.counts += f.wait_s.counts
        waits.count += f.wait_s.count
        waits.sum += f.wait_s.sum
        waits.max = max(waits.max, f.wait_s.max)
    gz = api.cpu_gzip_s
    other = api.cpu_s - api.cpu_watch_s - api.cpu_list_s - gz
    return {
        "egress_bytes_per_s": tr.egress_total / v,
        "ingress_bytes_per_s": tr.ingress_total / v,
        "egress_bytes_by_kind": {k: b / v for k, b in tr.by_kind.items()},
        "egress_bytes_by_client": {k: b / v for k, b in tr.sums(2).items()},
        "egress_bytes_by_resource": {k: b / v for k, b in tr.sums(1).items()},
        "watch_events_sent_per_s": sum(c.deliveries for c in caches) / v,
        "watch_events_dispatched_per_s": sum(c.events_dispatched for c in caches) / v,
        "terminated_watchers": int(sum(api.terminated_watchers.values())),
        "memory_peak_bytes": mem.peak,
        "memory_mean_bytes": mem.mean(v),
        "memory_peak_at_s": round(mem.peak_at_s, 6),
        "memory_by_component_peak": dict(mem.peak_by),
        "memory_transient_peak_bytes": mem.transient_peak,
        "oom_kills": api.oom_kills,
        "restarts": api.restarts,
        "cpu_cores": api.cpu_s / v,
        "cpu_s_by_kind": {"requests": other, "watch": api.cpu_watch_s, "list": api.cpu_list_s, "gzip": gz},
        "gzip_saved_bytes_per_s": api.gzip_saved_bytes / v,
        "cache_read_wait_s": {**{k: latency(waits)[k] for k in ("p50", "p99", "max", "count")},
                              "fallbacks": sum(f.fallbacks for f in fresh),
                              "progress_requests": sum(f.progress_requests for f in fresh)},
    }


def etcd_block(plane, virtual_s: float) -> dict[str, Any]:
    """etcd's work: CPU, range requests and keys, bytes read and written, compactions."""
    es = plane.etcd.snapshot()
    v = virtual_s
    return {"reads_per_s": es.reads / v, "writes_per_s": es.writes / v, "db_size_bytes": plane.etcd.db_size_bytes,
            "cpu_s": es.cpu_s, "cpu_cores": es.cpu_s / v, "range_requests_per_s": es.range_requests / v,
            "range_keys_per_s": es.range_keys / v, "range_bytes_per_s": es.range_bytes / v,
            "index_keys_per_s": es.index_keys / v, "current_rv_requests_per_s": es.current_rv_requests / v,
            "write_bytes_per_s": es.write_bytes / v, "compactions": es.compactions,
            "compaction_keys": es.compaction_keys, "compaction_cpu_s": es.compaction_cpu_s}


def apf_block(plane) -> dict[str, Any]:
    """Current, nominal, borrowed and lent seats per priority level, and their Retry-After."""
    fc = plane.fc
    if not fc.cfg.enabled:
        return {}
    levels = fc.levels()
    out: dict[str, Any] = {"current_cl_final": {}, "nominal_cl": {}, "borrowed_seats_max": {},
                           "lent_seats_max": {}, "retry_after_s": {}}
    for lv in levels:
        nominal = fc.nominal_cl(lv)
        lo, hi = fc.cl_range(lv)
        out["current_cl_final"][lv] = fc.current_cl(lv)
        out["nominal_cl"][lv] = nominal
        out["borrowed_seats_max"][lv] = max(hi - nominal, 0)
        out["lent_seats_max"][lv] = max(nominal - lo, 0)
        out["retry_after_s"][lv] = fc.retry_after(lv)
    return out


def watch_block(api, informer_stats: dict) -> dict[str, Any]:
    """Watch terminations, re-watches and relists of every informer population."""
    st = list(informer_stats.values())
    return {"terminated": int(sum(api.terminated_watchers.values())),
            "rewatches": sum(s.rewatches for s in st), "relists_after_410": sum(s.relists_after_410 for s in st),
            "short_watches": sum(s.short_watches for s in st), "watch_lists": sum(s.watch_lists for s in st),
            "bookmarks_sent": sum(c.bookmarks_sent for c in api.caches.values()),
            "terminated_by_class": dict(sorted(api.terminated_watchers.items()))}
