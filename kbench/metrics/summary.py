"""Run summaries: headline figures and SLO verdicts (G2, G3, F1).

The summary is the object ``kbench run -o json`` prints and ``summary.json`` holds. Its keys are a
contract scripts rely on (see CLI.md): fields may be added, never renamed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from kbench.cluster.world import World
from kbench.metrics.apiserver import apf_block, apiserver_block, etcd_block, not_modelled, watch_block
from kbench.metrics.pods import FINAL_STATES, pod_startup

SLO_API_MUTATING_S = 1.0  # G2
SLO_API_READ_SINGLE_S = 1.0  # G3 (scope=resource)
SLO_API_LIST_S = 30.0  # G3 (scope=namespace and cluster)
SLO_POD_STARTUP_S = 5.0  # F1

MUTATING = ("create", "update", "patch", "delete")


def _pct(values: np.ndarray, q: float) -> float | None:
    v = values[~np.isnan(values)]
    return None if v.size == 0 else round(float(np.quantile(v, q)), 6)


def _latency_p99(world: World, verbs: tuple[str, ...]) -> float | None:
    v = world.plane.stats.quantile(0.99, kind="sli", verbs=verbs)
    return None if math.isnan(v) else v


def summarize(world: World, *, virtual_s: float, wall_s: float, scheduler: Any = None, fgd: Any = None,
              measure_start_s: float | None = None, replays: Any = (), faults: Any = None,
              controllers: Any = None, kubeproxies: Any = None, driver: Any = None) -> dict[str, Any]:
    """The run summary (see the module docstring).

    Args:
        world: The run's world.
        virtual_s: Virtual time simulated, seconds.
        wall_s: Wall-clock time, seconds.
        scheduler: The scheduler (throughput, pending reasons, GPU state).
        fgd: An :class:`~kbench.metrics.fgd.FgdRecorder`: adds ``gpu.*_at_arrived``.
        measure_start_s: Start of the measured phase, seconds (NaN/None: ``scenario.warmup_s``
            when > 0, else no ``measured`` block).
        replays: Trace replays (adds ``replay``: pods per replay, original and inflated counts).
        faults: The run's :class:`~kbench.faults.injector.FaultInjector`, if any (adds ``faults``).
        controllers: The controller manager (adds ``gc``).
        kubeproxies: The kube-proxy fleet (adds ``kube_proxy``).
        driver: The workload driver (barrier waits for ``cl2``).
    """
    tl = world.timeline
    n = tl.n
    made = ~np.isnan(tl.column("created"))  # rows whose create committed (a 429'd create leaves a row)
    final = tl.final[:n][made]
    counts = {s: int((final == i).sum()) for i, s in enumerate(FINAL_STATES)}
    created = int(made.sum())
    bound = tl.column("bound")
    slo_startup, e2e = pod_startup(world)
    c = world.counters
    sched_times = bound[~np.isnan(bound)]
    span = float(sched_times.max() - sched_times.min()) if sched_times.size > 1 else 0.0
    throughput = (sched_times.size - 1) / span if span > 0 else 0.0
    stats = world.plane.stats
    mutating = _latency_p99(world, MUTATING)
    single = _latency_p99(world, ("get",))
    lists = _latency_p99(world, ("list",))
    startup_p99 = _pct(slo_startup, 0.99)
    slo = [
        {"name": "api_mutating_latency_p99_s", "threshold": SLO_API_MUTATING_S, "value": mutating,
         "pass": mutating is None or mutating <= SLO_API_MUTATING_S, "source": "G2"},
        {"name": "api_read_single_latency_p99_s", "threshold": SLO_API_READ_SINGLE_S, "value": single,
         "pass": single is None or single <= SLO_API_READ_SINGLE_S, "source": "G3"},
        {"name": "api_list_latency_p99_s", "threshold": SLO_API_LIST_S, "value": lists,
         "pass": lists is None or lists <= SLO_API_LIST_S, "source": "G3"},
        {"name": "pod_startup_p99_s", "threshold": SLO_POD_STARTUP_S, "value": startup_p99,
         "pass": startup_p99 is None or startup_p99 <= SLO_POD_STARTUP_S, "source": "F1"},
    ]
    scheduling, pending_reasons = scheduling_block(c, scheduler, throughput)
    summary: dict[str, Any] = {
        "scenario": world.scenario.name,
        "policy": world.scenario.scheduler.policy,
        "seed": world.scenario.seed,
        "pods": {"created": created, "scheduled": int((~np.isnan(bound)).sum()),
                 "running": counts["running"], "succeeded": counts["succeeded"], "failed": counts["failed"],
                 "pending": counts["pending"], "deleted": counts["deleted"],
                 "pending_reasons": pending_reasons},
        "pod_startup_s": {"p50": _pct(slo_startup, 0.5), "p90": _pct(slo_startup, 0.9), "p99": startup_p99,
                          "count": int((~np.isnan(slo_startup)).sum())},
        "pod_e2e_startup_s": {"p50": _pct(e2e, 0.5), "p90": _pct(e2e, 0.9), "p99": _pct(e2e, 0.99)},
        "scheduling": scheduling,
        "api": {"requests": int(stats.total("count")), "rejected_429": int(stats.total("rejected_429")),
                "errors": int(stats.total("errors")),
                "latency_p99_s": {"mutating": mutating, "read_single": single, "list": lists},
                "cpu_s": round(world.api.cpu_s, 3)},
        "etcd": {"writes": int(world.plane.etcd.stats.writes), "db_size_bytes": int(world.plane.etcd.db_size_bytes),
                 **etcd_block(world.plane, virtual_s)},
        "apiserver": apiserver_block(world.plane, virtual_s),
        "apf": apf_block(world.plane),
        "watch": watch_block(world.api, world.informer_stats),
        "retries": int(sum(world.plane.retries.values())),
        "kubernetes_version": world.scenario.kubernetes_version,
        "feature_gates": dict(world.scenario.gates),
        "ignored": [*not_modelled(dict(world.scenario.gates), world.api), *getattr(scheduler, "ignored", ())],
        "counters": {k: int(v) for k, v in sorted(c.items())},
        "slo": slo,
        "sim": {"virtual_s": virtual_s, "wall_s": round(wall_s, 3), "events": _events(world)},
    }
    gpu = gpu_summary(world, scheduler)
    if gpu and fgd is not None:
        gpu.update(fgd.summary())
    if gpu:
        summary["gpu"] = gpu
    start = measure_start_s if measure_start_s is not None and measure_start_s == measure_start_s else None
    if start is None and world.scenario.warmup_s > 0:
        start = world.scenario.warmup_s
    if start is not None:
        summary["measured"] = measured_summary(world, start)
    if replays:
        summary["replay"] = [{"name": r.spec.name, "pods": 0 if r.sequence is None else len(r.sequence),
                              "original_pods": 0 if r.original is None else len(r.original),
                              "nodes": len(r.nodes), "bad_rows": r.bad_rows} for r in replays]
    if faults is not None:
        from kbench.faults.measure import fault_summary
        summary["faults"] = fault_summary(faults, world, virtual_s)
    from kbench.metrics.mix import mix_summary
    mix = mix_summary(world, pods_created=created, virtual_s=virtual_s, controllers=controllers,
                      kubeproxies=kubeproxies)
    mix_ignored = mix.pop("ignored", [])
    summary.update(mix)
    summary["ignored"] += [item for item in mix_ignored if item not in summary["ignored"]]
    if world.inputs is not None:  # kbench run --cluster / --apply
        from kbench.metrics.applied import inputs_summary
        summary.update(inputs_summary(world, scheduler))
        summary["ignored"] += [item for item in world.inputs.notes if item not in summary["ignored"]]
    if "cl2-load" in world.scenario.workload.labels:
        from kbench.metrics.cl2 import cl2_summary
        summary["cl2"] = cl2_summary(world, summary, driver)
    return summary


def scheduling_block(c, scheduler: Any, throughput: float) -> tuple[dict[str, Any], dict[str, int]]:
    """The summary's ``scheduling`` block and the pending pods' reasons (the first 20).

    Args:
        c: The world's counters.
        scheduler: The scheduler (its stats win over ``throughput``), or None.
        throughput: Pods bound per virtual second, when there is no scheduler.
    """
    pending_reasons: dict[str, int] = {}
    extra: dict[str, Any] = {}
    if scheduler is not None and hasattr(scheduler, "stats"):
        st = scheduler.stats()
        throughput = float(st["throughput_pods_per_s"])
        pending_reasons = dict(list(st["pending_reasons"].items())[:20])
        extra = {k: st[k] for k in ("profiles", "pods_without_profile", "time_share", "attempts_per_pod",
                                    "batched_pods") if k in st}
        if "busy_s" in st:  # virtual seconds in scheduling cycles, and their share of the run
            extra["busy_s"] = round(float(st["busy_s"]), 6)
            now = float(getattr(getattr(scheduler, "env", None), "now", 0.0) or 0.0)
            if now > 0:
                extra["utilization"] = round(float(st["busy_s"]) / now, 6)
    block = {"attempts": int(c["scheduling_attempts"]), "throughput_pods_per_s": round(throughput, 3),
             "scheduled": int(c["scheduled"]),
             "bind_conflicts": int(c["bind_conflicts"]), "preemptions": int(c["preemptions"]),
             "unschedulable": int(c["unschedulable"]), "given_up": int(c["given_up"]), **extra}
    return block, pending_reasons


def measured_summary(world: World, start_s: float) -> dict[str, Any]:
    """Figures over the measured phase: pods created at or after ``start_s`` (virtual seconds).

    ``warmup_s`` is the start; ``scheduling.throughput_pods_per_s`` counts their bindings between
    the first creation and the last binding.
    """
    tl = world.timeline
    created = tl.column("created")
    sel = ~np.isnan(created) & (created >= start_s)
    bound = tl.column("bound")[sel]
    slo, e2e = pod_startup(world)
    slo, e2e = slo[sel], e2e[sel]
    done = bound[~np.isnan(bound)]
    span = float(done.max() - created[sel].min()) if done.size else 0.0
    return {"warmup_s": round(float(start_s), 6), "pods": int(sel.sum()), "scheduled": int(done.size),
            "pod_startup_s": {"p50": _pct(slo, 0.5), "p90": _pct(slo, 0.9), "p99": _pct(slo, 0.99)},
            "pod_e2e_startup_s": {"p50": _pct(e2e, 0.5), "p90": _pct(e2e, 0.9), "p99": _pct(e2e, 0.99)},
            "throughput_pods_per_s": round(done.size / span, 3) if span > 0 else 0.0}


def gpu_summary(world: World, scheduler: Any, specs: list | None = None) -> dict[str, Any]:
    """GPU allocation and fragmentation at the end of the run (FGD.md §1.3), when GPUs exist.

    Typical pods are the scheduler's (the trace's) when it has them, else every pod created
    (``specs``, default: the pods in etcd).
    """
    nodes = getattr(scheduler, "nodes", None)
    if nodes is None or nodes.n == 0 or int(nodes.gpu_count.sum()) == 0:
        return {}
    from kbench.policy import gpufrag
    from kbench.policy.typical import TypicalPods, typical_pods

    capacity = float(nodes.gpu_count.sum()) * 1000.0
    free = float(np.maximum(nodes.gpu_free_milli, 0).sum())
    out: dict[str, Any] = {"gpus": int(nodes.gpu_count.sum()),
                           "allocated_pct": round(100.0 * (capacity - free) / capacity, 4)}
    typical = getattr(scheduler, "typical_pods", None)
    if not isinstance(typical, TypicalPods):
        if specs is None:
            specs = [p.spec for p in world.plane.etcd.values("pods").values() if p is not None]
        if not specs:
            return out
        typical = typical_pods(specs)
    out["frag_amount_pct"] = round(gpufrag.frag_amount_pct(nodes, typical), 4)
    out["frag_rate_pct"] = round(gpufrag.frag_rate_pct(nodes, typical), 4)
    return out


def _events(world: World) -> int:
    """Events the SimPy kernel scheduled (its insertion counter)."""
    from kbench.simkernel import events_scheduled

    return events_scheduled(world.env)
