"""The summary of one sync-experiment run: the object ``kbench sync -o json`` prints.

Its keys are a contract (CLI.md): fields are added, never renamed or removed. Rates are averaged
over the whole virtual duration, start-up included. ``apiserver.bytes_per_s`` is the apiserver's
total egress (responses, watch events, initial events, bookmarks), the same as
``apiserver.egress_bytes_per_s``.
"""

from __future__ import annotations

from typing import Any

from kbench.metrics.apiserver import apf_block, apiserver_block, etcd_block, latency, not_modelled, quantile
from kbench.metrics.collect import LogHistogram


def summarize_sync(plane, scenario, strategy: str, wall_s: float, staleness: LogHistogram, istats,
                   polls: int) -> dict[str, Any]:
    """The run's summary (see the module docstring)."""
    cfg = scenario.sync
    virtual_s = scenario.duration_s
    st = plane.stats
    api = plane.api

    def rate(verb: str) -> float:
        return st.total("count", verb=verb, resource=cfg.resource) / virtual_s

    block = apiserver_block(plane, virtual_s)
    logical = polls if strategy == "poll" else istats.lists
    return {
        "strategy": strategy,
        "clients": cfg.clients,
        "objects": cfg.objects,
        "virtual_s": virtual_s,
        "wall_s": round(wall_s, 3),
        "kubernetes_version": scenario.kubernetes_version,
        "feature_gates": dict(scenario.gates),
        "swept": {},
        "lists_logical_per_s": logical / virtual_s,
        "apiserver": {
            "requests_per_s": {"list": rate("list"), "watch": rate("watch"), "get": rate("get"),
                               "update": rate("update")},
            "bytes_per_s": block["egress_bytes_per_s"],
            "cpu_s": api.cpu_s,
            "rejected_429": int(st.total("rejected_429")),
            "errors": int(st.total("errors")),
            "inflight_mean": api.inflight_mean(virtual_s),
            **block,
        },
        "latency_s": {verb: latency(st.exact.get((verb, cfg.resource))) for verb in ("list", "watch")},
        "etcd": etcd_block(plane, virtual_s),
        "apf": apf_block(plane),
        "watch": {"terminated": block["terminated_watchers"], "rewatches": istats.rewatches,
                  "relists_after_410": istats.relists_after_410, "short_watches": istats.short_watches,
                  "watch_lists": istats.watch_lists,
                  "bookmarks_sent": sum(c.bookmarks_sent for c in api.caches.values()),
                  "terminated_by_class": dict(sorted(api.terminated_watchers.items()))},
        "retries": int(sum(plane.retries.values())),
        "staleness_s": {"mean": None if staleness.count == 0 else round(staleness.mean, 6),
                        "p50": quantile(staleness, 0.5), "p99": quantile(staleness, 0.99),
                        "max": round(staleness.max, 6) if staleness.count else None,
                        "samples": staleness.count, "cdf": staleness.cdf()},
        "relists": istats.relists,
        "lists": st.total("count", verb="list", resource=cfg.resource),
        "watch_terminations_slow": sum(g.terminated_slow for c in api.caches.values() for g in c.passive),
        "apf_rejected": {lv: sum(v for k, v in c.items() if k.startswith("rejected"))
                         for lv, c in plane.fc.counters().items()},
        "ignored": not_modelled(dict(api.gates) if hasattr(api, "gates") else None, api),
    }
