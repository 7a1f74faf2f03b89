"""A run's metrics in the Prometheus text exposition format, under the upstream names and labels.

``kbench run --metrics FILE`` and ``kbench sync --metrics FILE`` write what a Prometheus scrape of
the simulated cluster's components would return *at the end of the run*: counters and histograms
cumulative over the whole run, gauges at the last instant. Names, label names and histogram bucket
bounds are the upstream components' (sources in docs/VALIDATION.md, "Prometheus metric names"), so
the same PromQL, dashboards and ClusterLoader2 thresholds read a simulated and a real cluster
alike; CLI.md's table lists every family and how kbench fills it.

How kbench's requests map to upstream labels:

* ``verb``: get → ``GET``, list → ``LIST``, watch → ``WATCH``, create → ``POST``, update → ``PUT``,
  patch → ``PATCH``, delete → ``DELETE``; a subresource of log, exec, portforward, attach or proxy
  is ``CONNECT`` (upstream ``CleanVerb``).
* ``scope``: ``resource`` for a named object or a create, ``cluster`` for a LIST or WATCH (no kbench
  client lists or watches inside one namespace), as upstream ``CleanScope``.
* ``group`` / ``version`` / ``kind`` from the resource (:data:`RESOURCES`); a resource kbench made up
  (``workload.generic``) is reported in group ``kbench.io``, version ``v1``.
* ``component="apiserver"``, ``dry_run=""`` (kbench sends no dry runs).

What is left out is listed in :attr:`Exposition.ignored` (and printed by the CLI): failed requests
other than 429 (kbench counts them without their HTTP code), WATCH latencies (upstream observes a
watch's whole lifetime when it ends; kbench times its establishment), scheduling attempts whose
bind failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kbench.metrics.buckets import (
    APISERVER_REQUEST_DURATION,
    APISERVER_REQUEST_SLI_DURATION,
    POD_SCHEDULING_SLI_DURATION,
    POD_START_DURATION,
    SCHEDULING_ATTEMPT_DURATION,
    Histograms,
)
from kbench.metrics.promtext import Family, histogram, parse, render  # noqa: F401  (parse re-exported)

RESOURCES: dict[str, tuple[str, str, str]] = {
    "pods": ("", "v1", "Pod"), "nodes": ("", "v1", "Node"), "namespaces": ("", "v1", "Namespace"),
    "services": ("", "v1", "Service"), "endpoints": ("", "v1", "Endpoints"),
    "configmaps": ("", "v1", "ConfigMap"), "secrets": ("", "v1", "Secret"),
    "serviceaccounts": ("", "v1", "ServiceAccount"), "events": ("", "v1", "Event"),
    "resourcequotas": ("", "v1", "ResourceQuota"), "persistentvolumeclaims": ("", "v1", "PersistentVolumeClaim"),
    "leases": ("coordination.k8s.io", "v1", "Lease"),
    "endpointslices": ("discovery.k8s.io", "v1", "EndpointSlice"),
    "deployments": ("apps", "v1", "Deployment"), "replicasets": ("apps", "v1", "ReplicaSet"),
    "daemonsets": ("apps", "v1", "DaemonSet"), "statefulsets": ("apps", "v1", "StatefulSet"),
    "jobs": ("batch", "v1", "Job"), "cronjobs": ("batch", "v1", "CronJob"),
}
"""Plural resource -> (API group, version, kind)."""
SYNTHETIC_GROUP = "kbench.io"
VERBS = {"get": "GET", "list": "LIST", "watch": "WATCH", "create": "POST", "update": "PUT", "patch": "PATCH",
         "delete": "DELETE"}
CONNECT_SUBRESOURCES = ("log", "exec", "portforward", "attach", "proxy")
APF_REASONS = {"queue-full": "queue-full", "time-out": "time-out", "reject": "concurrency-limit"}
"""kbench's rejection reasons -> upstream's ``reason`` label (a LimitResponse=Reject level that is
full rejects with ``concurrency-limit``)."""
API_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component")
SLI_LABELS = ("verb", "group", "version", "resource", "subresource", "scope", "component")


@dataclass
class Exposition:
    """The families of one run and what was left out of them (one line each)."""

    families: list[Family]
    ignored: list[str]

    def text(self) -> str:
        """The Prometheus text exposition (format 0.0.4)."""
        return render(self.families)


# ----------------------------------------------------------------------------------- helpers

def _merge(cells: dict[tuple, list], key: tuple, counts: Sequence[int], total: float, n: int) -> None:
    cell = cells.get(key)
    if cell is None:
        cells[key] = [list(counts), total, n]
    else:
        cell[0] = [a + b for a, b in zip(cell[0], counts, strict=True)]
        cell[1] += total
        cell[2] += n


def _observe(values: np.ndarray, bounds: Sequence[float]) -> tuple[list[int], float, int]:
    v = values[np.isfinite(values)]
    idx = np.searchsorted(np.asarray(bounds, dtype=float), v, side="left")  # v == bound -> that bucket (le)
    return np.bincount(idx, minlength=len(bounds) + 1).tolist(), float(v.sum()), int(v.size)


# ----------------------------------------------------------------------------- the apiserver

def resource_labels(resource: str) -> tuple[str, str, str, str, str]:
    """``nodes/status`` -> (group, version, kind, resource, subresource)."""
    res, _, sub = resource.partition("/")
    group, version, kind = RESOURCES.get(res, (SYNTHETIC_GROUP, "v1", res[:1].upper() + res[1:]))
    return group, version, kind, res, sub


def request_labels(verb: str, resource: str) -> dict[str, str]:
    """The upstream labels of a kbench request (module docstring)."""
    group, version, _kind, res, sub = resource_labels(resource)
    up = "CONNECT" if sub in CONNECT_SUBRESOURCES else VERBS.get(verb, verb.upper())
    scope = "cluster" if verb in ("list", "watch") else "resource"
    return {"verb": up, "dry_run": "", "group": group, "version": version, "resource": res, "subresource": sub,
            "scope": scope, "component": "apiserver"}


def apiserver_families(plane) -> tuple[list[Family], list[str]]:
    """Request latency and count, APF seats and rejections, watch events, etcd latency."""
    stats, fc = plane.stats, plane.fc
    bounds = stats.UPSTREAM_BUCKETS_S
    if list(bounds) != list(APISERVER_REQUEST_DURATION):
        raise ValueError("RequestStats' upstream bounds differ from apiserver_request_duration_seconds'")
    skip = len(APISERVER_REQUEST_DURATION) - len(APISERVER_REQUEST_SLI_DURATION)
    e2e: dict[tuple, list] = {}
    sli: dict[tuple, list] = {}
    total: dict[tuple, float] = {}
    rejected: dict[tuple, float] = {}
    errors = watch_timed = legacy_429 = 0
    for (verb, resource, _client, level), c in stats.cells():
        labels = request_labels(verb, resource)
        if c.count:
            code = "201" if verb == "create" else "200"
            key = tuple(labels[n] for n in API_LABELS) + (code,)
            total[key] = total.get(key, 0) + c.count
            if verb == "watch":
                watch_timed += c.count
            else:
                _merge(e2e, tuple(labels[n] for n in API_LABELS), c.up_e2e, c.e2e_sum_s, c.count)
                # the SLI buckets start at 0.05 s: the two smaller upstream buckets fold into it
                folded = [sum(c.up_sli[:skip + 1])] + list(c.up_sli[skip + 1:])
                _merge(sli, tuple(labels[n] for n in SLI_LABELS), folded, c.sli_sum_s, c.count)
        if c.rejected_429:
            key = tuple(labels[n] for n in API_LABELS) + ("429",)
            total[key] = total.get(key, 0) + c.rejected_429
            for (schema, reason), n in (c.rejected_by or {}).items():
                if reason in APF_REASONS:
                    rk = (level, schema, APF_REASONS[reason])
                    rejected[rk] = rejected.get(rk, 0) + n
                else:
                    legacy_429 += n
        errors += c.errors
    fams = [
        histogram("apiserver_request_duration_seconds", "Response latency distribution in seconds for each verb, "
                  "dry run value, group, version, resource, subresource, scope and component.", API_LABELS,
                  APISERVER_REQUEST_DURATION, e2e),
        histogram("apiserver_request_sli_duration_seconds", "Response latency distribution (not counting webhook "
                  "duration and priority & fairness queue wait times) in seconds for each verb, group, version, "
                  "resource, subresource, scope and component.", SLI_LABELS, APISERVER_REQUEST_SLI_DURATION, sli),
    ]
    req_total = Family("apiserver_request_total", "counter", "Counter of apiserver requests broken out for each "
                       "verb, dry run value, group, version, resource, scope, component, and HTTP response code.")
    for key in sorted(total):
        req_total.samples.append(("", dict(zip((*API_LABELS, "code"), key, strict=True)), total[key]))
    fams.append(req_total)
    fams += _apf_families(fc, rejected)
    fams.append(_watch_events(plane.api))
    fams += _etcd_families(plane.etcd)
    ignored = []
    if errors:
        ignored.append(f"apiserver_request_total: {errors} failed requests other than 429 are left out (kbench "
                       "counts them without their HTTP code); they are in no latency histogram either")
    if watch_timed:
        ignored.append(f"apiserver_request_duration_seconds, apiserver_request_sli_duration_seconds: {watch_timed} "
                       "WATCH requests are left out (upstream observes a watch's lifetime when it ends; kbench "
                       "times its establishment)")
    if not fc.cfg.enabled:
        ignored.append("apiserver_flowcontrol_*: APF is disabled in this scenario (max-inflight limits instead)")
    if legacy_429:
        ignored.append(f"apiserver_flowcontrol_rejected_requests_total: {legacy_429} 429s of the max-inflight "
                       "filter (APF disabled) are not APF rejections (they are in apiserver_request_total)")
    return fams, ignored


def _apf_families(fc, rejected: dict[tuple, float]) -> list[Family]:
    if not fc.cfg.enabled:
        return []
    seats = Family("apiserver_flowcontrol_current_executing_seats", "gauge", "Concurrency (number of seats) "
                   "occupied by the currently executing (initial stage for a WATCH, any stage otherwise) requests "
                   "in the API Priority and Fairness subsystem")
    held = fc.executing_seats()
    for level, schema in sorted(set(fc.seen_flows()) | set(held)):  # a series for every flow seen, as upstream
        seats.samples.append(("", {"priority_level": level, "flow_schema": schema}, held.get((level, schema), 0)))
    rej = Family("apiserver_flowcontrol_rejected_requests_total", "counter",
                 "Number of requests rejected by API Priority and Fairness subsystem")
    for (level, schema, reason) in sorted(rejected):
        rej.samples.append(("", {"priority_level": level, "flow_schema": schema, "reason": reason},
                            rejected[(level, schema, reason)]))
    nominal = Family("apiserver_flowcontrol_nominal_limit_seats", "gauge",
                     "Nominal number of execution seats configured for each priority level")
    for level in fc.levels():
        nominal.samples.append(("", {"priority_level": level}, fc.nominal_cl(level)))
    return [seats, rej, nominal]


def _watch_events(api) -> Family:
    fam = Family("apiserver_watch_events_total", "counter", "Number of events sent in watch clients")
    per: dict[tuple[str, str, str], int] = {}
    for resource, cache in sorted(api.caches.items()):
        group, version, kind, _res, _sub = resource_labels(resource)
        per[(group, version, kind)] = per.get((group, version, kind), 0) + int(cache.deliveries)
    for (group, version, kind), n in sorted(per.items()):
        fam.samples.append(("", {"group": group, "version": version, "kind": kind}, n))
    return fam


def _etcd_families(etcd) -> list[Family]:
    cells: dict[tuple, list] = {}
    for (op, resource), (counts, total, n) in etcd.latency.cells.items():
        group, _v, _k, res, _sub = resource_labels(resource)
        _merge(cells, (op, group, res), counts, total, n)
    fams = [histogram("etcd_request_duration_seconds", "Etcd request latency in seconds for each operation and "
                      "object type.", ("operation", "group", "resource"), APISERVER_REQUEST_DURATION, cells)]
    count = Family("etcd_requests_total", "counter", "Etcd request counts for each operation and object type.")
    for key in sorted(cells):
        count.samples.append(("", dict(zip(("operation", "group", "resource"), key, strict=True)), cells[key][2]))
    fams.append(count)
    return fams


# ----------------------------------------------------------------------- scheduler and kubelet

def scheduler_families(timeline, scheduler) -> tuple[list[Family], list[str]]:
    """Attempt durations and counts by result, the pod scheduling SLI by attempts."""
    profile = scheduler.framework.profile.name
    first = timeline.column("first_attempt")
    last = timeline.column("last_attempt")
    bound = timeline.column("bound")
    attempts = timeline.attempts[: timeline.n]
    ok = np.isfinite(bound) & np.isfinite(last)
    attempt = Histograms(SCHEDULING_ATTEMPT_DURATION)
    counts, total, n = _observe(bound[ok] - last[ok], SCHEDULING_ATTEMPT_DURATION)
    if n:
        attempt.cells[("scheduled", profile)] = [counts, total, n]
    for (result,), cell in scheduler.failed_attempts.cells.items():
        attempt.cells[(result, profile)] = cell
    sli: dict[tuple, list] = {}
    labels = np.where(attempts >= 15, "15+", attempts.astype(str))
    waited = bound - first
    for label in sorted(set(labels[ok].tolist())):
        sli[(label,)] = list(_observe(waited[ok & (labels == label)], POD_SCHEDULING_SLI_DURATION))
    fams = [
        histogram("scheduler_scheduling_attempt_duration_seconds", "Scheduling attempt latency in seconds "
                  "(scheduling algorithm + binding)", ("result", "profile"), SCHEDULING_ATTEMPT_DURATION,
                  attempt.cells),
        histogram("scheduler_pod_scheduling_sli_duration_seconds", "E2e latency for a pod being scheduled, from "
                  "the time the pod enters the scheduling queue and might involve multiple scheduling attempts.",
                  ("attempts",), POD_SCHEDULING_SLI_DURATION, sli),
    ]
    tries = Family("scheduler_schedule_attempts_total", "counter", "Number of attempts to schedule pods, by the "
                   "result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal "
                   "scheduler problem.")
    for (result, prof), cell in sorted(attempt.cells.items()):
        tries.samples.append(("", {"result": result, "profile": prof}, cell[2]))
    fams.append(tries)
    counters = getattr(scheduler, "counters", {})
    failed_binds = int(counters.get("bind_conflicts", 0)) + int(counters.get("bind_errors", 0))
    ignored = [f"scheduler_scheduling_attempt_duration_seconds: {failed_binds} attempts whose bind failed are "
               "left out (kbench keeps no start time for them)"] if failed_binds else []
    return fams, ignored


def kubelet_families(timeline) -> list[Family]:
    """The pod startup SLI (F1: creation to Running observed through a watch, minus image pulls) and
    the same with pulls, over every kubelet of the cluster together."""
    created = timeline.column("created")
    observed = timeline.column("running_observed")
    e2e = observed - created
    sli = e2e - timeline.image_pull_s[: timeline.n]
    return [
        histogram("kubelet_pod_start_sli_duration_seconds", "Duration in seconds to start a pod, excluding time to "
                  "pull images and run init containers, measured from pod creation timestamp to when all its "
                  "containers are reported as started and observed via watch", (), POD_START_DURATION,
                  {(): _observe(sli, POD_START_DURATION)} if np.isfinite(sli).any() else {}),
        histogram("kubelet_pod_start_total_duration_seconds", "Duration in seconds to start a pod since creation, "
                  "including time to pull images and run init containers, measured from pod creation timestamp to "
                  "when all its containers are reported as started and observed via watch", (), POD_START_DURATION,
                  {(): _observe(e2e, POD_START_DURATION)} if np.isfinite(e2e).any() else {}),
    ]


# ------------------------------------------------------------------------------------ entries

def exposition(result: Any) -> Exposition:
    """The metrics of a finished run.

    Args:
        result: A :class:`~kbench.experiment.runner.RunResult` (pod-lifecycle run: every family) or a
            :class:`~kbench.experiment.sync.SyncResult` (the apiserver, APF, watch and etcd families).

    Raises:
        ValueError: The result holds no control plane (a run loaded from a folder).
    """
    world = getattr(result, "world", None)
    plane = world.plane if world is not None else getattr(result, "plane", None)
    if plane is None:
        raise ValueError("metrics need the run's control plane: write them from the run itself")
    summary = getattr(result, "summary", None) or {}
    placement_only = (summary.get("sim") or {}).get("mode") == "placement-only"
    if placement_only:  # no apiserver, etcd or kubelet ran: their families would be empty
        fams, ignored = [], ["apiserver_*, etcd_*, kubelet_*: a placement-only run simulates no apiserver, etcd "
                             "or kubelet (only the scheduler's families are written)"]
    else:
        fams, ignored = apiserver_families(plane)
    if world is not None:
        sched = getattr(result, "scheduler", None)
        if sched is not None:
            more, why = scheduler_families(world.timeline, sched)
            fams += more
            ignored += why
        if not placement_only:
            fams += kubelet_families(world.timeline)
    return Exposition(fams, ignored)


def write_metrics(result: Any, path) -> Exposition:
    """Write :func:`exposition` of ``result`` to ``path`` (text); return it (for its ``ignored`` list)."""
    from pathlib import Path

    exp = exposition(result)
    Path(path).write_text(exp.text())
    return exp
