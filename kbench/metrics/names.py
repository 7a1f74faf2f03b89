"""The metric names a run summary can hold, so that ``compare`` and ``sweep`` check ``--metric``
before the first run (a typo used to fail only after a whole simulation).

A name is a dotted path into the summary (``kbench run -o json``): :data:`SUMMARY_METRICS` lists
each numeric path as a pattern where ``*`` is one path segment (a counter's name, an arrival
percentage). Which of them a run has depends on the scenario (``gpu.*`` only with GPUs, ``measured.*``
only with a measured phase), so a name that passes here may still be absent from a run; that is
reported after the first run. ``tests/unit/test_metric_names.py`` checks every numeric path of the golden
summaries against this list: a change that adds a summary figure adds it here too.
"""

from __future__ import annotations

import re

from kbench.errors import KbenchError, did_you_mean

_STARTUP = ("p50", "p90", "p99")
SUMMARY_METRICS: tuple[str, ...] = (
    "seed",
    *(f"pods.{k}" for k in ("created", "scheduled", "running", "succeeded", "failed", "pending", "deleted")),
    "pods.pending_reasons.*",
    *(f"pod_startup_s.{k}" for k in (*_STARTUP, "count")),
    *(f"pod_e2e_startup_s.{k}" for k in _STARTUP),
    *(f"scheduling.{k}" for k in ("attempts", "throughput_pods_per_s", "scheduled", "bind_conflicts", "preemptions",
                                  "unschedulable", "given_up", "pods_without_profile", "busy_s", "utilization", "batched_pods")),
    *(f"scheduling.attempts_per_pod.{k}" for k in ("mean", "p50", "p99", "max")),
    "scheduling.time_share.*",
    *(f"api.{k}" for k in ("requests", "rejected_429", "errors", "cpu_s")),
    *(f"api.latency_p99_s.{k}" for k in ("mutating", "read_single", "list")),
    "etcd.writes", "etcd.db_size_bytes",
    "counters.*",
    *(f"sim.{k}" for k in ("virtual_s", "wall_s", "events")),
    *(f"gpu.{k}" for k in ("gpus", "allocated_pct", "frag_amount_pct", "frag_rate_pct", "arrived_pct_final",
                           "fgd_events")),
    *(f"gpu.{k}_at_arrived.*" for k in ("unallocated_pct", "frag_amount_pct", "frag_rate_pct")),
    *(f"measured.{k}" for k in ("warmup_s", "pods", "scheduled", "throughput_pods_per_s")),
    *(f"measured.pod_startup_s.{k}" for k in _STARTUP),
    *(f"measured.pod_e2e_startup_s.{k}" for k in _STARTUP),
    # issue 16: the apiserver, APF, watch and etcd read/range figures
    *(f"etcd.{k}" for k in ("reads_per_s", "writes_per_s", "cpu_s", "cpu_cores", "range_requests_per_s",
                            "range_keys_per_s", "range_bytes_per_s", "index_keys_per_s", "current_rv_requests_per_s",
                            "write_bytes_per_s", "compactions", "compaction_keys", "compaction_cpu_s")),
    *(f"apiserver.{k}" for k in ("egress_bytes_per_s", "ingress_bytes_per_s", "watch_events_sent_per_s",
                                 "watch_events_dispatched_per_s", "terminated_watchers", "memory_peak_bytes",
                                 "memory_mean_bytes", "memory_peak_at_s", "memory_transient_peak_bytes", "oom_kills",
                                 "restarts", "cpu_cores", "gzip_saved_bytes_per_s")),
    *(f"apiserver.{k}.*" for k in ("egress_bytes_by_kind", "egress_bytes_by_client", "egress_bytes_by_resource",
                                   "memory_by_component_peak", "cpu_s_by_kind", "cache_read_wait_s")),
    *(f"apf.{k}.*" for k in ("current_cl_final", "nominal_cl", "borrowed_seats_max", "lent_seats_max",
                             "retry_after_s")),
    "watch.*", "watch.terminated_by_class.*", "retries",
    # issue 18: the write mix
    "writes_per_pod.*.*", "writes_by_component.*.*.*",
    *(f"events.{k}" for k in ("emitted", "created", "patched", "written", "aggregated", "expired", "per_s")),
    "events.dropped.*", "events.by_reason.*", "events.by_component.*",
    "gc.deleted.*", *(f"gc.{k}" for k in ("gets", "orphaned_dependents", "namespace_deletecollections")), "gc.podgc.*",
    "etcd_objects.*", "etcd_events.*",
    *(f"kube_proxy.{k}" for k in ("proxies", "syncs", "full_syncs", "services", "endpoints")),
    "kube_proxy.sync_s.*", "kube_proxy.network_programming_latency_s.*",
)
"""Numeric summary paths (``*``: any one segment)."""


def _regex(pattern: str) -> re.Pattern:
    return re.compile("^" + r"\.".join("[^.]+" if p == "*" else re.escape(p) for p in pattern.split(".")) + "$")


_PATTERNS = [(p, _regex(p)) for p in SUMMARY_METRICS]


def is_known(metric: str) -> bool:
    """Whether ``metric`` (normalised: dotted) matches a pattern of :data:`SUMMARY_METRICS`."""
    return any(rx.match(metric) for _, rx in _PATTERNS)


def check_metric(metric: str, where: str = "--metric") -> str:
    """``metric`` if a run summary can hold it.

    Args:
        metric: A dotted path (already normalised: ``gpu.unallocated_pct_at_arrived.100``).
        where: The option or field named in the error.

    Raises:
        KbenchError: Not a summary metric, with "did you mean" over the known names.
    """
    if is_known(metric):
        return metric
    shown = [p.replace("*", "100") if "_at_arrived" in p else p for p in SUMMARY_METRICS]
    raise KbenchError(f"unknown metric {metric!r}{did_you_mean(metric, shown)}: expected a numeric path of the run "
                      "summary (kbench run -o json), e.g. pod_startup_s.p99, scheduling.throughput_pods_per_s, "
                      "gpu.unallocated_pct_at_arrived.100", where=where)
