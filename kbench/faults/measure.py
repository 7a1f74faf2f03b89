"""The summary's ``faults`` section: what each fault cost and how long the system took to recover.

Each fault is measured over its **window**: from its ``at_s`` to the next fault's ``at_s`` or ten
grid steps after the fault's own end, whichever is later (so windows of overlapping faults
overlap), capped at the end of the run. Figures come from the cumulative counters the injector samples on the series
grid (``metrics.series_interval_s``, so times have that resolution) and from the pod timeline:

* ``relist_storm``: informer relists in the window, when the first and last happened, and the
  storm's duration (last - first + one grid step; 0 when there was none).
* ``rejected_429`` / ``errors``: API 429s and other failed requests during the fault's effect
  (``at_s`` to ``effect_end_s``) and after it (to the end of the window).
* ``pods_evicted``: evictions by the node lifecycle controller in the window;
  ``pods_rescheduled``: pods created after the first eviction and bound within the window, at
  most the evictions (replacements cannot be told from other new pods).
* ``recovery_s``: from ``at_s`` to the last disturbance (relist, 429, error, eviction, node
  NotReady, rescheduled binding, the fault's own end, the first etcd commit after it); None when
  the window ends less than two grid steps after that (not recovered within the run).
* ``etcd_write_latency_mean_s``: mean etcd commit latency before the fault (from the start of
  the run) and during its effect.
* ``etcd_reads_per_s``: etcd range reads per second before the fault and during its effect (a
  consistent read served by the watch cache counts too: it asks etcd for the current revision).
* ``etcd_range_keys_per_s``: keys etcd's ranges read per second, before and during: the work
  that reads moved to etcd (a current-revision request reads none).
* ``slo_burn``: the share of the run's error budget the window consumed (1.0 = all of it), for
  API availability (objective 99 % of requests without 429 or error, kbench default) and pod
  startup (F1: 99 % of pods start within 5 s).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

API_AVAILABILITY_OBJECTIVE = 0.99  # kbench default (no CALIBRATION fact)
POD_STARTUP_OBJECTIVE = 0.99  # F1 (99th percentile within 5 s)
POD_STARTUP_SLO_S = 5.0  # F1
SETTLE_STEPS = 10  # a window extends at least this many grid steps past the fault's end

_COUNTERS = ("informer_relists_total", "api_rejected_429_total", "api_errors_total", "pod_evictions_total",
             "nodes_not_ready_total", "api_requests_total", "etcd_writes_total", "etcd_write_latency_sum_s",
             "etcd_reads_total", "etcd_range_keys_total")


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _columns(series: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    cols: dict[str, np.ndarray] = {}
    times = np.empty(0)
    for name in _COUNTERS:
        sel = series[series["metric"] == name].drop_duplicates("time_s")
        cols[name] = sel["value"].to_numpy(dtype=float)
        if not times.size or sel.shape[0] < times.size:
            times = sel["time_s"].to_numpy(dtype=float)
    # an interrupted run may have stopped in the middle of a sample: keep the common prefix
    n = min([times.size] + [c.size for c in cols.values()])
    return times[:n], {k: c[:n] for k, c in cols.items()}


def _delta(times: np.ndarray, col: np.ndarray, t0: float, t1: float) -> int:
    """Increase of a cumulative counter between grid samples at t0 and t1 (virtual seconds)."""
    if col.size == 0:
        return 0
    i0 = max(int(np.searchsorted(times, t0, side="left")) - 1, 0)
    i1 = max(int(np.searchsorted(times, t1, side="right")) - 1, 0)
    return int(max(col[i1] - col[i0], 0))


def _increase_times(times: np.ndarray, col: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """Grid times in (t0, t1] at which the counter had increased since the previous sample."""
    if col.size < 2:
        return np.empty(0)
    inc = np.flatnonzero(np.diff(col) > 0) + 1
    t = times[inc]
    return t[(t > t0) & (t <= t1 + 1e-9)]


def _mean(times: np.ndarray, sums: np.ndarray, counts: np.ndarray, t0: float, t1: float) -> float | None:
    n = _delta(times, counts, t0, t1)
    if n == 0 or sums.size == 0:
        return None
    i0 = max(int(np.searchsorted(times, t0, side="left")) - 1, 0)
    i1 = max(int(np.searchsorted(times, t1, side="right")) - 1, 0)
    return _r((sums[i1] - sums[i0]) / n, 6)


def fault_summary(injector, world, end_s: float) -> list[dict[str, Any]]:
    """One dict per fault on the timeline (see the module docstring for every field).

    Args:
        injector: The run's :class:`~kbench.faults.injector.FaultInjector`.
        world: The run's world.
        end_s: Virtual time the run ended, seconds.
    """
    series = world.plane.series.to_frame()
    times, cols = _columns(series)
    step = world.scenario.metrics.series_interval_s
    tl = world.timeline
    created, bound = tl.column("created"), tl.column("bound")
    from kbench.metrics.pods import pod_startup
    slo_startup, _ = pod_startup(world)
    measured = ~np.isnan(slo_startup)
    pod_budget = (1 - POD_STARTUP_OBJECTIVE) * max(int(measured.sum()), 1)
    stats = world.plane.stats
    total_requests = stats.total("count") + stats.total("rejected_429") + stats.total("errors")
    api_budget = (1 - API_AVAILABILITY_OBJECTIVE) * max(total_requests, 1)
    starts = sorted(r.at_s for r in injector.records)
    out = []
    for r in injector.records:
        nxt = [s for s in starts if s > r.at_s]
        w_end = min(max(nxt[0], r.effect_end_s + SETTLE_STEPS * step), end_s) if nxt else end_s
        row: dict[str, Any] = {"index": r.index, "fault": r.fault, "at_s": _r(r.at_s), "fired": r.fired,
                               "params": dict(injector.faults[r.index].params)}
        if not r.fired:
            out.append(row)
            continue
        eff_end = min(r.effect_end_s, end_s)
        relists = _increase_times(times, cols["informer_relists_total"], r.at_s, w_end)
        n_relists = _delta(times, cols["informer_relists_total"], r.at_s, w_end)
        row["effect_end_s"] = _r(r.effect_end_s) if math.isfinite(r.effect_end_s) else None
        row["relist_storm"] = {
            "relists": n_relists,
            "first_s": _r(relists[0]) if relists.size else None,
            "last_s": _r(relists[-1]) if relists.size else None,
            "duration_s": _r(relists[-1] - relists[0] + step) if relists.size else 0.0}
        c429, cerr = cols["api_rejected_429_total"], cols["api_errors_total"]
        row["rejected_429"] = {"during": _delta(times, c429, r.at_s, eff_end),
                               "after": _delta(times, c429, eff_end, w_end)}
        row["errors"] = {"during": _delta(times, cerr, r.at_s, eff_end), "after": _delta(times, cerr, eff_end, w_end)}
        evictions = _increase_times(times, cols["pod_evictions_total"], r.at_s, w_end)
        evicted = _delta(times, cols["pod_evictions_total"], r.at_s, w_end)
        row["pods_evicted"] = evicted
        resched_t = np.empty(0)
        if evicted:
            first_ev = float(evictions[0]) - step if evictions.size else r.at_s
            sel = ~np.isnan(created) & (created >= first_ev) & ~np.isnan(bound) & (bound <= w_end)
            resched_t = np.sort(bound[sel])[:evicted]
        row["pods_rescheduled"] = int(resched_t.size)
        row["nodes_not_ready"] = _delta(times, cols["nodes_not_ready_total"], r.at_s, w_end)
        if r.nodes:
            row["nodes"] = {"count": len(r.nodes), "names": r.nodes[:20]}
        lat, cnt = cols["etcd_write_latency_sum_s"], cols["etcd_writes_total"]
        row["etcd_write_latency_mean_s"] = {"before": _mean(times, lat, cnt, 0.0, r.at_s),
                                            "during": _mean(times, lat, cnt, r.at_s, max(eff_end, r.at_s + step))}
        reads = cols["etcd_reads_total"]
        span = max(eff_end, r.at_s + step) - r.at_s
        row["etcd_reads_per_s"] = {"before": _r(_delta(times, reads, 0.0, r.at_s) / r.at_s) if r.at_s > 0 else None,
                                   "during": _r(_delta(times, reads, r.at_s, r.at_s + span) / span)}
        keys = cols["etcd_range_keys_total"]
        row["etcd_range_keys_per_s"] = {"before": _r(_delta(times, keys, 0.0, r.at_s) / r.at_s) if r.at_s > 0 else None,
                                        "during": _r(_delta(times, keys, r.at_s, r.at_s + span) / span)}
        if r.fault == "etcd-leader-election":
            stall = r.first_commit_s - r.at_s if math.isfinite(r.first_commit_s) else None
            row["write_stall_s"] = _r(stall, 6)
        if r.fault == "slow-watchers":
            row["slow_watchers_terminated"] = injector.slow_terminations(r)
        row.update(r.detail)
        marks = [r.at_s, eff_end]
        for name in ("informer_relists_total", "api_rejected_429_total", "api_errors_total", "pod_evictions_total",
                     "nodes_not_ready_total"):
            inc = _increase_times(times, cols[name], r.at_s, w_end)
            if inc.size:
                marks.append(float(inc[-1]))
        if resched_t.size:
            marks.append(float(resched_t[-1]))
        if math.isfinite(r.first_commit_s) and r.first_commit_s <= w_end:
            marks.append(r.first_commit_s)
        last = max(marks)
        recovered = math.isfinite(r.effect_end_s) and last <= w_end - 2 * step
        row["recovered"] = bool(recovered)
        row["recovery_s"] = _r(last - r.at_s) if recovered else None
        bad_api = row["rejected_429"]["during"] + row["rejected_429"]["after"] + row["errors"]["during"] \
            + row["errors"]["after"]
        in_win = measured & (created >= r.at_s) & (created < w_end)
        bad_pods = int((slo_startup[in_win] > POD_STARTUP_SLO_S).sum())
        row["slo_burn"] = {"api_availability": _r(bad_api / api_budget, 4),
                           "pod_startup": _r(bad_pods / pod_budget, 4)}
        out.append(row)
    return out


def describe(row: dict[str, Any]) -> str:
    """One line for the ``kbench run`` table: what a fault (one row of the ``faults`` section) did."""
    head = f"fault {row['fault']} at {row['at_s']:g} s"
    if not row.get("fired"):
        return f"{head}: did not fire (after the end of the run)"
    parts = []
    storm = row.get("relist_storm") or {}
    if storm.get("relists"):
        parts.append(f"relist storm {storm['relists']} relists over {storm['duration_s']:g} s")
    if row.get("write_stall_s") is not None:
        parts.append(f"writes stalled {row['write_stall_s']:.3g} s")
    lat = row.get("etcd_write_latency_mean_s") or {}
    if row["fault"] == "etcd-slow-disk" and lat.get("during") is not None:
        parts.append(f"etcd write latency {lat.get('before') or 0:.3g} -> {lat['during']:.3g} s")
    if row.get("nodes"):
        parts.append(f"{row['nodes']['count']} nodes")
    if row.get("pods_evicted"):
        parts.append(f"{row['pods_evicted']} pods evicted, {row['pods_rescheduled']} rescheduled")
    if row.get("slow_watchers_terminated"):
        parts.append(f"{row['slow_watchers_terminated']} slow watchers terminated")
    bad = sum(row.get(k, {}).get(w, 0) for k in ("rejected_429", "errors") for w in ("during", "after"))
    parts.append(f"{row['rejected_429']['during'] + row['rejected_429']['after']} 429s, {bad} failed requests")
    rec = row.get("recovery_s")
    parts.append(f"recovered in {rec:g} s" if rec is not None else "not recovered by the end of the run")
    burn = row.get("slo_burn") or {}
    parts.append(f"SLO burn (% of the run's error budget): api {burn_pct(burn.get('api_availability'))}, "
                 f"startup {burn_pct(burn.get('pod_startup'))}")
    return f"{head}: " + "; ".join(parts)


def burn_pct(share: float | None) -> str:
    """An SLO burn share (1.0 = the whole error budget) as a percentage: ``10.3883`` -> ``1,039 %``."""
    if share is None:
        return "-"
    pct = 100.0 * share
    return f"{pct:,.0f} %" if pct >= 10 else f"{pct:.2g} %"


def fault_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """One row per fault of a run summary's ``faults`` section (empty when the run had none), under
    :data:`FAULT_HEADERS` (the report's and ``-o markdown``'s fault table)."""
    rows = []
    for f in summary.get("faults") or []:
        storm = f.get("relist_storm") or {}
        burn = f.get("slo_burn") or {}
        rows.append([f.get("fault"), f.get("at_s"), storm.get("relists"), storm.get("duration_s"),
                     (f.get("rejected_429") or {}).get("during"), (f.get("errors") or {}).get("during"),
                     f.get("pods_evicted"), f.get("pods_rescheduled"),
                     f.get("recovery_s") if f.get("recovered") else "not recovered",
                     ", ".join(f"{k} {burn_pct(v)}" for k, v in burn.items())])
    return rows


FAULT_HEADERS = ["fault", "at (s)", "relists", "storm (s)", "429s during", "errors during", "pods evicted",
                 "rescheduled", "recovery (s)", "SLO burn (% of error budget)"]
