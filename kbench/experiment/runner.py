"""One pod-lifecycle run: build the world, start every component, run, summarise, store.

``run(scenario, policy=..., seed=...)`` is the notebook entry point (``kbench.run``); ``kbench run``
calls it. Lifecycle phases follow desmod: build → wire and validate → run → collect; a run that fails
or is interrupted still writes its folder, marked ``failed`` or ``interrupted`` with what was
collected so far.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kbench.cluster.world import World
from kbench.config import Scenario, load_scenario
from kbench.config.loader import calibration_manifest, config_hash, to_dict
from kbench.errors import ConfigError
from kbench.metrics.apiserver import NOT_MODELLED
from kbench.metrics.observer import SloMonitor
from kbench.metrics.summary import summarize
from kbench.results.store import RunWriter, new_run_id
from kbench.workload.driver import WorkloadDriver
from kbench.workload.podspec import cluster_objects, nodes_from_groups


@dataclass
class RunResult:
    """What a run returns.

    Attributes:
        summary: The summary (``kbench run -o json``).
        frames: ``pods``, ``requests``, ``series`` DataFrames.
        run_dir: The run folder, when written.
        world: The simulated world (for notebooks and tests).
        scheduler: The run's scheduler, if it had one (its attempt histograms for ``--metrics``).
    """

    summary: dict[str, Any]
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    run_dir: Path | None = None
    world: World | None = None
    scheduler: Any = None


@dataclass
class Components:
    """The acting components of a run (None where a scenario does not need one)."""

    scheduler: Any = None
    kubelets: Any = None
    kubeproxies: Any = None
    controllers: Any = None
    driver: WorkloadDriver | None = None
    monitor: SloMonitor | None = None
    replays: list = field(default_factory=list)
    fgd: Any = None
    stop: Any = None
    faults: Any = None


def effective_scenario(scenario: Scenario) -> Scenario:
    """The scenario with its workload spec compiled and trace options applied (see the module
    docstring): a replay with ``retry_unschedulable: false`` turns the scheduler's retries off."""
    from kbench.workload.compile import compile_workload

    scenario = compile_workload(scenario)
    if any(not t.retry_unschedulable for t in scenario.workload.traces) and scenario.scheduler.retry_unschedulable:
        scenario = replace(scenario, scheduler=replace(scenario.scheduler, retry_unschedulable=False))
    return scenario


def build(scenario: Scenario, seed: int | None = None, typical_pods: Any = None) -> tuple[World, Components]:
    """Build and wire a lifecycle run (nothing runs yet)."""
    from kbench.cluster.controllers import ControllerManager
    from kbench.cluster.kubelet.fleet import KubeletFleet
    from kbench.cluster.proxy.kubeproxy import KubeProxyFleet
    from kbench.cluster.scheduler.scheduler import Scheduler
    from kbench.workload.kubectlinputs import load_inputs
    from kbench.workload.replay import TraceReplay

    scenario = effective_scenario(scenario)
    inputs = load_inputs(scenario)  # kbench run --cluster / --apply
    if inputs is not None:
        scenario = inputs.scenario
    traces = scenario.workload.traces
    if not scenario.cluster.nodes and not any(t.nodes_file for t in traces) and not (inputs and inputs.nodes):
        raise ConfigError("a lifecycle scenario needs nodes: node groups (cluster.nodes), a trace's node list, or a "
                          "cluster dump (kbench run --cluster DUMP.yaml)", where="cluster.nodes")
    world = World(scenario, seed)
    world.objects = cluster_objects(scenario.workload)
    replays = [TraceReplay(world, t) for t in traces]
    nodes = nodes_from_groups(scenario.cluster.nodes) + [n for r in replays for n in r.nodes]
    if inputs is not None:
        nodes = _with_dump_nodes(nodes, inputs.nodes)
        world.inputs = inputs
        world.initial_namespaces = dict(inputs.namespaces)
        for ns, labels in inputs.namespace_labels.items():
            world.objects.add_namespace(ns, labels)
    world.add_nodes(nodes)
    if inputs is not None:
        world.add_existing_pods(inputs.existing)
    for r in replays:
        r.build_sequence(nodes)
    if typical_pods is None and any(r.original is not None and len(r.original) for r in replays):
        from kbench.policy.typical import typical_pods as make_typical
        typical_pods = make_typical([p for r in replays for p in r.original_pod_specs()])
    comps = Components(replays=replays)
    comps.scheduler = Scheduler(world, typical_pods=typical_pods) if typical_pods is not None else Scheduler(world)
    if replays:
        seed0 = traces[0].node_order_seed
        rng = world.stream("workload/node-order") if seed0 is None else np.random.default_rng(seed0)
        from kbench.workload.replay import node_order
        order = node_order([n.name for n in nodes], rng)
        for fw in comps.scheduler.profiles.frameworks.values():
            fw.node_order = order
    comps.controllers = ControllerManager(world)
    comps.kubelets = KubeletFleet(world)
    wl = scenario.workload
    if any(d.service for d in wl.deployments) or wl.services:
        comps.kubeproxies = KubeProxyFleet(world)
    comps.driver = WorkloadDriver(world, scheduler=comps.scheduler)
    comps.monitor = SloMonitor(world, on_finished=comps.driver.on_pod_finished)
    for r in replays:
        r.attach(comps.scheduler, comps.monitor.informer)
    if scenario.workload.fgd_metrics:
        from kbench.metrics.fgd import FgdRecorder
        from kbench.policy.typical import TypicalPods
        comps.fgd = FgdRecorder(comps.scheduler, typical_pods if isinstance(typical_pods, TypicalPods) else None)
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


def _with_dump_nodes(nodes: list, dump_nodes: list) -> list:
    """The scenario's nodes and a cluster dump's; a name in both is an error."""
    names = {n.name for n in nodes}
    clash = next((n.name for n in dump_nodes if n.name in names), None)
    if clash is not None:
        raise ConfigError(f"node {clash!r} is both in the cluster dump and made by the scenario", where="cluster.dump")
    return nodes + list(dump_nodes)


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
    world, comps = build(scenario, typical_pods=typical_pods)
    writer = None
    if out_dir is not None:
        writer = RunWriter(out_dir, new_run_id(scenario.name, scenario.seed, _slug(scenario.scheduler.policy)),
                           {"kind": "run", "scenario": scenario.name, "policy": scenario.scheduler.policy,
                            "seed": scenario.seed, "config": to_dict(scenario), "config_hash": config_hash(scenario),
                            **scheduler_manifest(comps.scheduler), **calibration_manifest(scenario)})
    status = "complete"
    error = None
    gc_threshold = gc.get_threshold()
    # The built world is long-lived and the model allocates many short-lived objects: freezing the
    # world and collecting young objects less often cut fgd-openb from 28.2 to 23.5 s wall.
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        start(world, comps)
        end = scenario.duration_s
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
    except KeyboardInterrupt:
        status = "interrupted"
    except Exception as err:  # a model bug: still write what was collected
        status, error = "failed", f"{type(err).__name__}: {err}"
        if writer is None:
            raise
    finally:
        gc.set_threshold(*gc_threshold)
        gc.unfreeze()
    wall = time.perf_counter() - wall0
    summary = summarize(world, virtual_s=float(world.env.now), wall_s=wall, scheduler=comps.scheduler,
                        fgd=comps.fgd, measure_start_s=comps.driver.measure_start_s if comps.driver else None,
                        replays=comps.replays, faults=comps.faults, controllers=comps.controllers,
                        kubeproxies=comps.kubeproxies, driver=comps.driver)
    summary["status"] = status
    frames = {"pods": world.timeline.to_frame(), "requests": world.plane.stats.to_frame(),
              "series": world.plane.series.to_frame()}
    if comps.fgd is not None:
        frames["fgd"] = comps.fgd.frame()
    result = RunResult(summary, frames, None, world, comps.scheduler)
    if writer is not None:
        for name, df in frames.items():
            writer.table(name, df)
        summary["run_dir"] = str(writer.final)
        writer.json("summary", on_disk_summary(summary))
        result.run_dir = writer.finish(status, wall_s=round(wall, 3), **({"error": error} if error else {}))
        if status == "failed":
            raise RuntimeError(f"run failed: {error} (partial results in {result.run_dir})")
        if status == "interrupted":
            raise KeyboardInterrupt(f"interrupted at virtual {float(world.env.now):.1f} s of {scenario.duration_s:g} s: "
                                    f"partial results in {result.run_dir} (status interrupted)")
    return result


def scheduler_manifest(scheduler) -> dict[str, Any]:
    """The run manifest's scheduler part: what is not modelled (``ignored``, the summary's list: the
    apiserver's and the scheduler's) and the scheduler configuration file's path, SHA-256 and content
    (when the policy is a file)."""
    if scheduler is None:
        return {}
    cfg = scheduler.profiles.config
    out: dict[str, Any] = {"ignored": [*NOT_MODELLED, *scheduler.ignored]}
    if cfg.content:
        out["scheduler_config"] = {"path": cfg.source, "sha256": cfg.sha256, "content": cfg.content}
    return out


def on_disk_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as ``summary.json`` holds it: without the volatile fields (``run_dir`` and
    ``sim.wall_s``, which are in ``manifest.json``), so the same scenario and seed give a
    byte-identical file in any process. ``kbench run -o json`` still prints them."""
    out = {k: v for k, v in summary.items() if k != "run_dir"}
    if isinstance(out.get("sim"), dict):
        out["sim"] = {k: v for k, v in out["sim"].items() if k != "wall_s"}
    return out


def _slug(policy: str) -> str:
    return Path(policy).stem if ("/" in policy or policy.endswith((".py", ".yaml", ".yml"))) else policy
