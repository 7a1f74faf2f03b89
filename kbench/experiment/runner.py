"""One pod-lifecycle run: build the world, start every component, run, summarise, store.

``run(scenario, policy=..., seed=...)`` is the notebook entry point (``kbench.run``); ``kbench run``
calls it. Lifecycle phases follow desmod: build → wire and validate → run → collect; a run that fails
or is interrupted still writes its folder, marked ``failed`` or ``interrupted`` with what was
collected so far. A scenario that declares ``workload.placement_only`` runs the scheduler framework
alone (:mod:`kbench.experiment.placement`). The pieces both share (:class:`RunResult`,
:class:`Components`, :func:`effective_scenario`, the run folder) are in :mod:`kbench.experiment.runparts`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from kbench.cluster.world import World
from kbench.config import Scenario, load_scenario
from kbench.experiment.runparts import (  # noqa: F401 - re-exported: tests and notebooks import them from here
    Components,
    RunResult,
    build_scheduling,
    effective_scenario,
    execute,
    fgd_recorder,
    on_disk_summary,
    open_writer,
    scheduler_manifest,
    store,
)
from kbench.metrics.observer import SloMonitor
from kbench.metrics.summary import summarize
from kbench.workload.driver import WorkloadDriver


def build(scenario: Scenario, seed: int | None = None, typical_pods: Any = None) -> tuple[World, Components]:
    """Build and wire a lifecycle run (nothing runs yet)."""
    from kbench.cluster.controllers import ControllerManager
    from kbench.cluster.kubelet.fleet import KubeletFleet
    from kbench.cluster.proxy.kubeproxy import KubeProxyFleet

    scenario = effective_scenario(scenario)
    world, comps = build_scheduling(scenario, seed, typical_pods)
    replays = comps.replays
    comps.controllers = ControllerManager(world)
    comps.kubelets = KubeletFleet(world)
    wl = scenario.workload
    if any(d.service for d in wl.deployments) or wl.services:
        comps.kubeproxies = KubeProxyFleet(world)
    comps.driver = WorkloadDriver(world, scheduler=comps.scheduler)
    comps.monitor = SloMonitor(world, on_finished=comps.driver.on_pod_finished)
    for r in replays:
        r.attach(comps.scheduler, comps.monitor.informer)
    comps.fgd = fgd_recorder(scenario, comps)
    ending = [r.done for r in replays if r.spec.end_when_done]
    if ending and len(ending) == len(replays):
        comps.stop = world.env.event()  # a plain event: SimPy strips callbacks of nested conditions
        world.env.process(_stop_when(world.env, ending, comps.stop))
    elif wl.end_after:  # the workload's last item is done: end (after a linger)
        comps.stop = world.env.event()
        world.env.process(_stop_when(world.env, [comps.driver.done_event(wl.end_after)], comps.stop,
                                     wl.end_linger_s))
    _register_series(world, comps)
    if scenario.faults:
        from kbench.faults.injector import FaultInjector
        comps.faults = FaultInjector(world, comps.kubelets)
    return world, comps


def _stop_when(env, events: list, stop, linger_s: float = 0.0) -> Any:
    """Trigger ``stop`` ``linger_s`` seconds after every event in ``events`` has triggered."""
    yield env.all_of(events)
    if linger_s > 0:
        yield env.timeout(linger_s)
    stop.succeed()


def _register_series(world: World, comps: Components) -> None:
    s = world.plane.series
    tl = world.timeline
    s.gauge("pods_pending", lambda: int(np.count_nonzero(tl.final[: tl.n] == 0)))
    s.gauge("pods_running", lambda: int(np.count_nonzero(tl.final[: tl.n] == 1)))
    s.gauge("pods_scheduled_total", lambda: int(np.count_nonzero(~np.isnan(tl.t["bound"][: tl.n]))))
    from kbench.metrics.mix import SERIES
    for resource in SERIES:  # objects in etcd over time by resource (issue 18)
        s.gauge("etcd_objects", lambda r=resource: world.api.etcd_for(r).object_count(r), resource=resource)
    stats = world.events.stats
    s.gauge("events_written_total", lambda: stats.created + stats.patched)
    if comps.controllers is not None and comps.controllers.gc is not None:
        gc = comps.controllers.gc
        s.gauge("gc_deleted_total", lambda: sum(gc.deleted.values()))
    nodes = getattr(comps.scheduler, "nodes", None)
    if nodes is not None:
        for res in ("cpu", "memory", "nvidia.com/gpu"):
            def frac(res=res):
                table = comps.scheduler.nodes
                if res not in table.res_index or table.n == 0:
                    return 0.0
                alloc = table.allocatable_of(res).sum()
                return float(table.requested_of(res).sum() / alloc) if alloc > 0 else 0.0
            s.gauge("allocated_fraction", frac, resource=res)


def run_summary(world: World, comps: Components, wall_s: float) -> dict[str, Any]:
    """The summary of a full-plane run at its current virtual time (``wall_s``: its wall seconds)."""
    return summarize(world, virtual_s=float(world.env.now), wall_s=wall_s, scheduler=comps.scheduler,
                     fgd=comps.fgd, measure_start_s=comps.driver.measure_start_s if comps.driver else None,
                     replays=comps.replays, faults=comps.faults, controllers=comps.controllers,
                     kubeproxies=comps.kubeproxies, driver=comps.driver)


def start(world: World, comps: Components) -> None:
    """Start every component."""
    world.plane.start()
    world.events.start()
    for comp in (comps.monitor, comps.kubelets, comps.kubeproxies, comps.controllers, comps.scheduler, comps.driver,
                 *comps.replays, comps.faults):
        if comp is not None:
            comp.start()


def run(scenario: Scenario | str | Path, *, policy: str | None = None, seed: int | None = None,
        out_dir: str | Path | None = None, progress: Callable[[float, float], None] | None = None,
        typical_pods: Any = None) -> RunResult:
    """Run one scenario.

    Args:
        scenario: A :class:`Scenario` or a path to a scenario YAML.
        policy: Overrides ``scheduler.policy`` (a name or a file).
        seed: Overrides the scenario's seed.
        out_dir: Where to write the run folder (none when None).
        progress: ``f(virtual_now_s, virtual_end_s)`` called every few virtual seconds.
        typical_pods: Typical pods for FGD (the trace's pods), if any.

    Returns:
        The summary, the tables and the run folder.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if policy is not None:
        scenario = replace(scenario, scheduler=replace(scenario.scheduler, policy=policy))
    if seed is not None:
        scenario = replace(scenario, seed=seed)
    wall0 = time.perf_counter()
    scenario = effective_scenario(scenario)
    if scenario.workload.placement_only:
        from kbench.experiment.placement import run_placement
        return run_placement(scenario, out_dir=out_dir, progress=progress, typical_pods=typical_pods, wall0=wall0)
    world, comps = build(scenario, typical_pods=typical_pods)
    writer = open_writer(out_dir, scenario, comps.scheduler)
    end = scenario.duration_s

    def simulate() -> None:
        start(world, comps)
        step = max(end / 50.0, 1.0)
        env, stop = world.env, comps.stop
        while env.now < end:
            target = min(end, env.now + step)
            if stop is None:
                env.run(until=target)
            else:
                env.run(until=env.any_of([stop, env.timeout(target - env.now)]))
            if progress is not None:
                progress(env.now, end)
            if stop is not None and stop.processed:
                break

    status, error = execute(simulate, writer)
    wall = time.perf_counter() - wall0
    summary = run_summary(world, comps, wall)
    summary["status"] = status
    summary["sim"]["mode"] = "full-plane"
    frames = {"pods": world.timeline.to_frame(), "requests": world.plane.stats.to_frame(),
              "series": world.plane.series.to_frame()}
    if comps.fgd is not None:
        frames["fgd"] = comps.fgd.frame()
    result = RunResult(summary, frames, None, world, comps.scheduler, comps.driver)
    if writer is not None:
        store(writer, result, status, wall, error,
              f"interrupted at virtual {float(world.env.now):.1f} s of {scenario.duration_s:g} s")
    return result


