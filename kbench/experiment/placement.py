"""Placement-only runs (issue 21, item 5): the scheduler framework over a replay's pod sequence,
without the rest of the control plane.

Some experiments ask only where pods land: FGD's sequential-arrival experiment is one (its artifact
simulates no apiserver or kubelet, FGD.md §1.2). A scenario declares it with
``workload.placement_only: true`` (``kbench run --placement-only`` / ``--full-plane`` force either
way); :func:`kbench.experiment.runner.run` then calls :func:`run_placement`, which builds only what
placement depends on (:func:`~kbench.experiment.runparts.build_scheduling`: the world's seed tree
and initial nodes, the trace replay and its pod sequence, the typical pods, the scheduler's
profiles, cache and node order, the FGD recorder) and, for each pod of the sequence in order, runs
one scheduling cycle on the cache's node table and tells the scheduler's listeners the outcome.

**Why the placements are the full plane's.** :func:`refusal` admits only scenarios where nothing
but the scheduling cycles can change the node table between two pods: one trace replay, sequential
(the next pod is created once the previous one is bound or has failed its attempt) and without
departures; no other pod source (Deployments, Jobs, DaemonSets, StatefulSets, pod groups), no
generic objects, updates or deletes, no namespace deletion, no ResourceQuota, no proxy traffic, no
faults; ``scheduler.retry_unschedulable: false`` (a failed pod is given up at once: no backoff
timing and no preemption, which gives up before looking at victims); one scheduler profile for
every pod. Then the full plane's scheduler sees the nodes in the same order (its nodes informer
LISTs the watch cache, filled from etcd in node creation order; here the cache is filled from the
same etcd values in the same order), one pod at a time in the same sequence, with the same
framework drawing from the same ``policy`` stream, the same tie-break order and typical pods, and
its listeners hear ``scheduled`` then ``bound`` or ``unschedulable`` then ``given_up`` in the same
order. ``tests/model/test_placement_only.py`` checks identical placements, FGD frames and
``gpu.*`` figures for the six FGD policies.

**What it leaves out** (the run's ``ignored`` list, :data:`LEFT_OUT`, and a warning each): every
API request, etcd, watch, the kubelets, controllers and Events; the binding write; the plane's
timing (``sim.virtual_s`` is the sum of the cycles' virtual durations, a scheduler-only clock; a
placed pod is bound at the end of its cycle); the ``duration_s`` bound and the replay's
``sequential_timeout_s``.

**The summary** has the full plane's ``scheduling.*``, ``pods.{created, scheduled, pending}``,
``gpu.*``, ``replay``, ``counters`` and the FGD frame, with ``sim.mode: "placement-only"``. The
API, etcd, apiserver, APF, watch, pod startup, SLO and write-mix blocks are absent, not zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kbench.cluster.objects.stored import PodObj
from kbench.config import Scenario
from kbench.errors import ConfigError
from kbench.experiment.runparts import (
    RunResult,
    build_scheduling,
    collection_off,
    execute,
    fgd_recorder,
    open_writer,
    store,
)
from kbench.metrics.placement import MODE, placement_summary
from kbench.policy.api import Code

LEFT_OUT = (
    "placement-only run: no apiserver, etcd, watch or client traffic (no API requests, latencies, APF, "
    "write mix or Events)",
    "placement-only run: no kubelets or controllers (pods are never started: no startup latencies, no SLOs)",
    "placement-only run: no binding write; a placed pod counts as bound at the end of its scheduling cycle",
    "placement-only run: sim.virtual_s is the sum of the scheduling cycles' virtual durations (the queue work "
    "of informer events, informer and watch delays are not timed)",
    "placement-only run: the whole pod sequence is placed whatever duration_s; the replay's "
    "sequential_timeout_s never fires",
)
"""What a placement-only run leaves out (its ``ignored`` list; see the module docstring)."""

_WORKLOAD_REFUSED = (
    ("deployments", "Deployments"), ("jobs", "Jobs"), ("daemonsets", "DaemonSets"),
    ("statefulsets", "StatefulSets"), ("pods", "pod groups"), ("generic", "generic objects"),
    ("updates", "updates"), ("deletes", "deletes"), ("quota_namespaces", "ResourceQuota namespaces"),
)


def refusal(scenario: Scenario) -> str | None:
    """Why placement could depend on the plane in ``scenario`` (effective), or None.

    Returns:
        The first reason, as one phrase (see the module docstring for the rules).
    """
    wl = scenario.workload
    replays = [t for t in wl.traces if t.file]
    if not replays:
        return "there is no trace replay of pods (placement-only replays one pod sequence)"
    if len(replays) > 1:
        return f"there are {len(replays)} trace replays of pods (their interleaving depends on the plane's timing)"
    t = replays[0]
    if not t.sequential:
        return f"trace replay {t.name!r} is not sequential (timed arrivals race the plane's delays)"
    if t.departures:
        return f"trace replay {t.name!r} has departures (deletions free resources at the plane's pace)"
    for name, what in _WORKLOAD_REFUSED:
        if getattr(wl, name):
            return f"the workload has {what} (pods or objects the plane creates or changes meanwhile)"
    if any(ns.delete_at_s for ns in wl.namespaces):
        return "the workload deletes a namespace (its pods go at the plane's pace)"
    if wl.proxy.rate_per_s > 0:
        return "the workload has proxy traffic"
    if scenario.faults:
        return "the scenario has faults"
    if scenario.cluster.dump or wl.apply:
        return "the scenario has kubectl inputs (--cluster / --apply: existing pods and applied objects)"
    if scenario.scheduler.retry_unschedulable:
        return ("scheduler.retry_unschedulable is true (a retry's timing depends on the plane: backoff, "
                "cluster events, preemption)")
    return None


def check(scenario: Scenario) -> None:
    """Raise a one-line :class:`ConfigError` naming the first :func:`refusal` reason, if any."""
    reason = refusal(scenario)
    if reason is not None:
        raise ConfigError(f"placement-only refused: {reason}; run the full plane instead (--full-plane)",
                          where="workload.placement_only")


def _one_profile(scheduler, pods: list) -> None:
    """Every pod must be scheduled by the same profile (and one must exist for it)."""
    names = list(dict.fromkeys(p.scheduler_name for p in pods))
    for name in names:
        if scheduler.profiles.frameworks.get(name) is None:
            raise ConfigError(f"placement-only refused: the pods' schedulerName {name!r} has no scheduler profile "
                              "(the full plane would leave them pending)", where="workload.placement_only")
    if len(names) > 1:
        raise ConfigError(f"placement-only refused: the pods use {len(names)} scheduler profiles "
                          f"({', '.join(names)}); placement-only runs one", where="workload.placement_only")
    for name in names:
        batch = scheduler.profiles.frameworks[name].batch
        if batch is not None and batch.enabled and batch.never is None:
            raise ConfigError(f"placement-only refused: profile {name!r} signs pods, so OpportunisticBatching "
                              "reuses a cycle's results only within 0.5 s of virtual time, which depends on the "
                              "plane's pace; set the gate OpportunisticBatching=false or run the full plane",
                              where="workload.placement_only")


def run_placement(scenario: Scenario, *, out_dir: str | Path | None = None,
                  progress: Callable[..., None] | None = None, typical_pods: Any = None,
                  wall0: float | None = None) -> RunResult:
    """Place the replay's pod sequence with the scheduler framework alone (module docstring).

    Args:
        scenario: The effective scenario (:func:`~kbench.experiment.runparts.effective_scenario`).
        out_dir: Where to write the run folder (none when None).
        progress: ``f(pods placed, pods, "pods")`` called every 2 % of the pods (the command's
            progress bar).
        typical_pods: Typical pods for FGD, if any (default: from the original pod list).
        wall0: ``time.perf_counter()`` at the run's start (default: now).

    Returns:
        The summary (``sim.mode: "placement-only"``), the ``pods`` and ``fgd`` tables and the run folder.

    Raises:
        ConfigError: Placement could depend on the plane (:func:`refusal`).
    """
    wall0 = time.perf_counter() if wall0 is None else wall0
    check(scenario)
    world, comps = build_scheduling(scenario, typical_pods=typical_pods)
    comps.fgd = fgd_recorder(scenario, comps)
    sched = comps.scheduler
    replay = next(r for r in comps.replays if r.spec.file)
    for obj in world.plane.etcd.values("nodes").values():  # the nodes informer's LIST order
        sched.cache.upsert_node(obj)
    with collection_off():  # ~10,000 new pods beside the built world
        pods = replay._specs() if replay.sequence is not None else []
    _one_profile(sched, pods)
    writer = open_writer(out_dir, scenario, sched, mode=MODE)
    status, error = execute(lambda: place(world, sched, pods, progress), writer)
    wall = time.perf_counter() - wall0
    summary = placement_summary(world, sched, comps.fgd, comps.replays, wall_s=wall, left_out=LEFT_OUT,
                                pod_specs=pods)
    summary["status"] = status
    frames = {"pods": world.timeline.to_frame()}
    if comps.fgd is not None:
        frames["fgd"] = comps.fgd.frame()
    result = RunResult(summary, frames, None, world, sched)
    if writer is not None:
        store(writer, result, status, wall, error, f"interrupted after {sched.counters['scheduling_attempts']} "
              f"of {len(pods)} pods")
    return result


def place(world, sched, pods: list, progress: Callable[..., None] | None = None) -> float:
    """One scheduling cycle per pod, in order, on the scheduler's cache (see the module docstring).

    Mirrors the scheduler's cycle (:meth:`Scheduler._schedule_one
    <kbench.cluster.scheduler.scheduler.Scheduler>`) for a pod that is alone in the queue: the
    framework's verdict, the assumption in the cache, the cycle's cost on the scheduler-only clock,
    the counters and timeline marks, and the listeners' events (``scheduled`` + ``bound``, or
    ``unschedulable`` + ``given_up``).

    Returns:
        The scheduler-only clock at the end, virtual seconds. ``progress(pods placed, pods,
        "pods")`` is called every 2 % of the pods.

    Raises:
        RuntimeError: A cycle ended in a plugin error (the full plane would retry it with backoff).
    """
    tl, counters, cache, nodes = world.timeline, sched.counters, sched.cache, sched.nodes
    cost, listeners = sched.cost, sched.listeners
    now = 0.0
    n = len(pods)
    every = max(n // 50, 1)
    for i, spec in enumerate(pods):
        key = spec.key
        uid = world.pod_uid(key, "Pod")
        pod = PodObj(key, uid, spec)
        counters["pods_created"] += 1
        tl.mark(uid, "created", now)
        tl.set_final(uid, "pending")
        if sched.first_attempt_s != sched.first_attempt_s:
            sched.first_attempt_s = now
        tl.mark(uid, "first_attempt", now)
        tl.t["last_attempt"][uid] = now
        tl.attempts[uid] += 1
        counters["scheduling_attempts"] += 1
        framework = sched._framework_of(spec)
        result = framework.schedule(spec, nodes, assume=True, cycle=counters["scheduling_attempts"], now=now)
        placed = result.node is not None and result.status.code in (Code.SUCCESS, Code.WAIT)
        if placed:
            cache.assume(key, spec, result.node_idx)
        preempting = (not placed and bool(framework.points["postFilter"])
                      and result.status.code == Code.UNSCHEDULABLE)
        seconds = cost.seconds(result.state.work, preempting)
        sched.busy_s += seconds
        now += seconds
        if placed:
            sched.scheduled += 1
            sched.bound += 1
            counters["scheduled"] += 1
            if sched.first_scheduled_s != sched.first_scheduled_s:
                sched.first_scheduled_s = sched.first_bound_s = now
            sched.last_scheduled_s = sched.last_bound_s = now
            tl.mark(uid, "scheduled", now)
            tl.mark(uid, "bound", now)
            tl.set_node(uid, result.node)
            for event in ("scheduled", "bound"):
                for listener in listeners:
                    listener(event, pod, now)
        elif result.status.is_rejected:
            sched.failed_attempts.observe(("unschedulable",), seconds)
            reasons = sched._reasons(result)
            counters["unschedulable"] += 1
            counters["given_up"] += 1
            sched.unschedulable_reasons.update(reasons)
            sched.given_up_reasons.update(reasons)
            sched.given_up.add(key)
            for event in ("unschedulable", "given_up"):
                for listener in listeners:
                    listener(event, pod, now)
        else:
            raise RuntimeError(f"pod {key}: the scheduling cycle ended in an error ({result.status.message()}); "
                               "the full plane would retry it with backoff: run with --full-plane")
        if progress is not None and (i % every == 0 or i == n - 1):
            progress(i + 1, n, "pods")
    return now
