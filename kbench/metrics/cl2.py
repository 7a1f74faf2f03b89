"""ClusterLoader2's load-test checks on a run (the summary's ``cl2`` block, for ``workloads/cl2-load.yaml``).

CL2's load test (kubernetes/perf-tests clusterloader2/testing/load/config.yaml @
0188c4d6a8aba887929f5442c20dfeb53cc1f3ad) measures, and kbench reproduces from its own figures:

* APIResponsiveness (G2, G3, G5): p99 latency per (resource, verb) of mutating calls ≤ 1 s, of
  single-object reads ≤ 1 s, of LISTs ≤ 30 s; the worst (resource, verb) is named. CL2 gathers it
  in its "Collecting measurements" step, after "Deleting SVCs" and before the framework deletes the
  test's namespaces (config.yaml above): the requests counted are those completed until the
  scenario's ``gather: true`` barrier was released (``api_gathered_at_s``; None: the whole run);
* PodStartupLatency (F1): p99 ≤ 5 s (the SLO; CL2's own threshold for the load test's pods is 1 h);
* NetworkProgrammingLatency (H6): p99 against 30 s, reported only (violations disabled by default);
* WaitForControlledPodsRunning: each ``until: running`` barrier within its 15 min operation timeout (a
  barrier that gave up at its timeout fails, with ``timed_out``);
* scheduling throughput, reported.

Each row: ``name``, ``threshold``, ``value``, ``verdict`` (``pass``, ``fail`` or ``reported``),
``source``, and for the API rows the worst ``(resource, verb)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MUTATING = ("create", "update", "patch", "delete")
WAIT_TIMEOUT_S = 900.0
"""WaitForControlledPodsRunning's operationTimeout (15 min, config.yaml @ 0188c4d6)."""


def p99_by(stats, verbs: tuple[str, ...], cells: dict | None = None) -> tuple[float | None, str]:
    """The worst p99 SLI latency over (resource, verb) pairs of ``verbs``, and which pair, seconds.

    ``cells``: SLI bucket counts by request key (:meth:`RequestStats.sli_snapshot`, taken at CL2's
    gather step) instead of the run's totals."""
    if cells is None:
        cells = {key: cell.sli_buckets for key, cell in stats._cells.items() if cell.count}
    groups: dict[tuple[str, str], np.ndarray] = {}
    for (verb, resource, _client, _level), buckets in cells.items():
        if verb in verbs:
            g = groups.get((resource, verb))
            b = np.asarray(buckets, dtype=np.int64)
            groups[(resource, verb)] = b if g is None else g + b
    bounds = list(stats.buckets_s) + [float("inf")]
    worst, which = None, ""
    for (resource, verb), b in sorted(groups.items()):
        n = int(b.sum())
        idx = int(np.searchsorted(np.cumsum(b), 0.99 * n))
        v = bounds[min(idx, len(bounds) - 1)]
        if worst is None or v > worst:
            worst, which = v, f"{resource} {verb}"
    return worst, which


def _row(name: str, threshold: float, value, source: str, reported: bool = False, **extra) -> dict:
    if value is None or reported:
        verdict = "reported"
    else:
        verdict = "pass" if value <= threshold else "fail"
    return {"name": name, "threshold": threshold, "value": value, "verdict": verdict, "source": source, **extra}


def cl2_summary(world, summary: dict[str, Any], driver: Any = None) -> dict[str, Any]:
    """The ``cl2`` block (see the module docstring)."""
    stats = world.plane.stats
    cells = getattr(driver, "gathered_sli", None)  # CL2 gathers API responsiveness before its namespace cleanup
    mutating, mut_which = p99_by(stats, MUTATING, cells)
    single, get_which = p99_by(stats, ("get",), cells)
    lists, list_which = p99_by(stats, ("list",), cells)
    npl = (summary.get("kube_proxy") or {}).get("network_programming_latency_s", {}).get("p99")
    rows = [
        _row("api_mutating_latency_p99_s", 1.0, mutating, "G2, G5", worst=mut_which),
        _row("api_read_single_latency_p99_s", 1.0, single, "G3, G5", worst=get_which),
        _row("api_list_latency_p99_s", 30.0, lists, "G3, G5", worst=list_which),
        _row("pod_startup_p99_s", 5.0, summary["pod_startup_s"]["p99"], "F1"),
        _row("network_programming_latency_p99_s", 30.0, npl, "H6 (violations disabled)", reported=True),
    ]
    waits = getattr(driver, "barrier_waits", {}) or {}
    timed_out = getattr(driver, "barrier_timed_out", set())
    wl = world.scenario.workload
    for b in wl.barriers:
        if b.until == "running" and b.name in waits:
            row = _row(f"wait_for_controlled_pods_running_s[{b.name}]", WAIT_TIMEOUT_S,
                       round(waits[b.name], 3), "CL2 load config.yaml (operationTimeout 15m)")
            if b.name in timed_out:  # CL2 fails the measurement when the wait hits its timeout
                row["verdict"], row["timed_out"] = "fail", True
            rows.append(row)
    rows.append(_row("scheduling_throughput_pods_per_s", 0.0, summary["scheduling"]["throughput_pods_per_s"],
                     "reported", reported=True))
    gathered = getattr(driver, "gathered_at_s", None)
    return {"slo": rows, "pass": all(r["verdict"] != "fail" for r in rows),
            "api_gathered_at_s": None if gathered is None else round(gathered, 3)}
