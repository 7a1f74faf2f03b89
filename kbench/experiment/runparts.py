"""What one run is built from and how its folder is written, shared by the full-plane runner
(:mod:`kbench.experiment.runner`) and placement-only runs (:mod:`kbench.experiment.placement`).

:func:`build_scheduling` builds the part of a run that placement depends on (the world with its
seed tree and initial nodes, the trace replays and their pod sequences, the typical pods, the
scheduler and its node order); the runner adds the rest of the plane. :func:`open_writer` and
:func:`store` write the run folder (``results/<run-id>/``) the same way for both.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kbench.cluster.world import World
from kbench.config import Scenario
from kbench.config.loader import calibration_manifest, config_hash, to_dict
from kbench.errors import ConfigError
from kbench.metrics.observer import SloMonitor
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
        driver: The run's workload driver, if it had one (barrier waits, CL2's gathered latencies).
    """

    summary: dict[str, Any]
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    run_dir: Path | None = None
    world: World | None = None
    scheduler: Any = None
    driver: Any = None



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
    typical_pods: Any = None



def effective_scenario(scenario: Scenario) -> Scenario:
    """The scenario with its workload spec compiled and trace options applied (see the module
    docstring): a replay with ``retry_unschedulable: false`` turns the scheduler's retries off."""
    from kbench.workload.compile import compile_workload

    scenario = compile_workload(scenario)
    if any(not t.retry_unschedulable for t in scenario.workload.traces) and scenario.scheduler.retry_unschedulable:
        scenario = replace(scenario, scheduler=replace(scenario.scheduler, retry_unschedulable=False))
    return scenario



def build_scheduling(scenario: Scenario, seed: int | None = None,
                     typical_pods: Any = None) -> tuple[World, Components]:
    """The part of a run that placement depends on, shared by :func:`build` and placement-only runs
    (:mod:`kbench.experiment.placement`): the world (seed tree, etcd's initial nodes), the trace
    replays and their pod sequences, the typical pods and the scheduler with its node order.

    ``scenario`` must be effective (:func:`effective_scenario`). Nothing runs yet.
    """
    from kbench.cluster.scheduler.scheduler import Scheduler
    from kbench.workload.kubectlinputs import load_inputs
    from kbench.workload.replay import TraceReplay

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
    comps = Components(replays=replays, typical_pods=typical_pods)
    comps.scheduler = Scheduler(world, typical_pods=typical_pods) if typical_pods is not None else Scheduler(world)
    if replays:
        seed0 = traces[0].node_order_seed
        rng = world.stream("workload/node-order") if seed0 is None else np.random.default_rng(seed0)
        from kbench.workload.replay import node_order
        order = node_order([n.name for n in nodes], rng)
        for fw in comps.scheduler.profiles.frameworks.values():
            fw.node_order = order
    return world, comps


def _with_dump_nodes(nodes: list, dump_nodes: list) -> list:
    """The scenario's nodes and a cluster dump's; a name in both is an error."""
    names = {n.name for n in nodes}
    clash = next((n.name for n in dump_nodes if n.name in names), None)
    if clash is not None:
        raise ConfigError(f"node {clash!r} is both in the cluster dump and made by the scenario", where="cluster.dump")
    return nodes + list(dump_nodes)


def fgd_recorder(scenario: Scenario, comps: Components) -> Any:
    """The FGD recorder listening to the scheduler, when the workload asks for the FGD metrics."""
    if not scenario.workload.fgd_metrics:
        return None
    from kbench.metrics.fgd import FgdRecorder
    from kbench.policy.typical import TypicalPods
    typical = comps.typical_pods
    return FgdRecorder(comps.scheduler, typical if isinstance(typical, TypicalPods) else None)



def scheduler_manifest(scheduler) -> dict[str, Any]:
    """The run manifest's scheduler part: what is not modelled (``ignored``: the apiserver's and the
    scheduler's; the summary's list adds what the run touched) and the scheduler configuration file's
    path, SHA-256 and content (when the policy is a file)."""
    if scheduler is None:
        return {}
    from kbench.metrics.apiserver import not_modelled

    cfg = scheduler.profiles.config
    world = getattr(scheduler, "world", None)
    gates = dict(world.scenario.gates) if world is not None else None
    out: dict[str, Any] = {"ignored": [*not_modelled(gates, getattr(world, "api", None)), *scheduler.ignored]}
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


def open_writer(out_dir: str | Path | None, scenario: Scenario, scheduler: Any, **manifest: Any) -> RunWriter | None:
    """The run folder's writer (None when ``out_dir`` is None); ``manifest`` adds fields."""
    if out_dir is None:
        return None
    return RunWriter(out_dir, new_run_id(scenario.name, scenario.seed, _slug(scenario.scheduler.policy)),
                     {"kind": "run", "scenario": scenario.name, "policy": scenario.scheduler.policy,
                      "seed": scenario.seed, "config": to_dict(scenario), "config_hash": config_hash(scenario),
                      **scheduler_manifest(scheduler), **calibration_manifest(scenario), **manifest})


def store(writer: RunWriter, result: RunResult, status: str, wall_s: float, error: str | None,
          interrupted: str = "interrupted") -> None:
    """Write the result's tables and summary, rename the folder into place (``result.run_dir``).

    Raises:
        RuntimeError: The run failed (the message names the partial results).
        KeyboardInterrupt: The run was interrupted (``interrupted`` says where, then the folder).
    """
    summary = result.summary
    for name, df in result.frames.items():
        writer.table(name, df)
    summary["run_dir"] = str(writer.final)
    writer.json("summary", on_disk_summary(summary))
    result.run_dir = writer.finish(status, wall_s=round(wall_s, 3), **({"error": error} if error else {}))
    if status == "failed":
        raise RuntimeError(f"run failed: {error} (partial results in {result.run_dir})")
    if status == "interrupted":
        raise KeyboardInterrupt(f"{interrupted}: partial results in {result.run_dir} (status interrupted)")


@contextmanager
def collection_off() -> Iterator[None]:
    """Automatic garbage collection off for the block, the setting restored after, and what the
    block left alive handed to the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``), so
    the next young collection does not scan it all (~0.1 s after openb).

    The model leaves no reference cycles (tests/unit/test_no_cycles.py bounds them at a few objects
    a run), so the cyclic collector would find nothing and only scan what lives on: with it on
    (young collections every 100,000 allocations) density-5k spent 5.3 of 102 CPU s in 157
    collections, fgd-openb 0.2 of 7.5 s; building fgd-openb's ~10,800 pod specs for a
    placement-only run set off full collections costing 0.05-0.15 s. A policy file that makes
    reference cycles keeps them until the block ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.freeze()
        gc.unfreeze()


def execute(body: Callable[[], None], writer: RunWriter | None) -> tuple[str, str | None]:
    """Run ``body`` with automatic garbage collection off (:func:`collection_off`).

    Returns:
        ``(status, error)``: ``complete``, ``interrupted`` (Ctrl-C) or ``failed`` with the error
        (a model bug: the folder is still written with what was collected; without a writer the
        exception propagates).
    """
    status, error = "complete", None
    with collection_off():
        try:
            body()
        except KeyboardInterrupt:
            status = "interrupted"
        except Exception as err:
            status, error = "failed", f"{type(err).__name__}: {err}"
            if writer is None:
                raise
    return status, error
