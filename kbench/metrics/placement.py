"""The summary of a placement-only run (:mod:`kbench.experiment.placement`).

The same keys as a full-plane run (:func:`kbench.metrics.summary.summarize`) for what placement-only
measures: ``scheduling.*`` (:func:`~kbench.metrics.summary.scheduling_block`), ``pods.{created,
scheduled, pending}``, ``gpu.*`` (:func:`~kbench.metrics.summary.gpu_summary` and the FGD recorder's
curves), ``replay``, ``counters``, ``ignored``; ``sim`` has ``mode: "placement-only"``, ``virtual_s``
(the scheduler-only clock, seconds), ``wall_s`` and ``events`` (0: no SimPy event runs). The API,
etcd, apiserver, APF, watch, pod startup, SLO, measured-phase and write-mix blocks are absent, not zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kbench.metrics.summary import gpu_summary, scheduling_block

MODE = "placement-only"


def placement_summary(world, scheduler, fgd, replays, *, wall_s: float, left_out: tuple[str, ...],
                      pod_specs: list) -> dict[str, Any]:
    """The run summary of a placement-only run (see the module docstring).

    Args:
        world: The run's world (its timeline and counters).
        scheduler: The scheduler whose cache was filled.
        fgd: The FGD recorder, or None.
        replays: The trace replays.
        wall_s: Wall-clock seconds of the run.
        left_out: What the run leaves out (first in ``ignored``).
        pod_specs: Every pod of the sequence (typical pods when the scheduler has none, as the full
            plane takes every pod created).
    """
    tl, c = world.timeline, world.counters
    created = int(np.count_nonzero(~np.isnan(tl.column("created"))))
    scheduled = int(np.count_nonzero(~np.isnan(tl.column("bound"))))
    block, pending_reasons = scheduling_block(c, scheduler, 0.0)
    virtual_s = float(scheduler.busy_s)
    summary: dict[str, Any] = {
        "scenario": world.scenario.name,
        "policy": world.scenario.scheduler.policy,
        "seed": world.scenario.seed,
        "pods": {"created": created, "scheduled": scheduled, "pending": created - scheduled,
                 "pending_reasons": pending_reasons},
        "scheduling": block,
        "kubernetes_version": world.scenario.kubernetes_version,
        "feature_gates": dict(world.scenario.gates),
        "ignored": [*left_out, *scheduler.ignored],
        "counters": {k: int(v) for k, v in sorted(c.items())},
        "sim": {"virtual_s": virtual_s, "wall_s": round(wall_s, 3), "events": 0, "mode": MODE},
    }
    gpu = gpu_summary(world, scheduler, pod_specs)
    if gpu and fgd is not None:
        gpu.update(fgd.summary())
    if gpu:
        summary["gpu"] = gpu
    summary["replay"] = [{"name": r.spec.name, "pods": 0 if r.sequence is None else len(r.sequence),
                          "original_pods": 0 if r.original is None else len(r.original),
                          "nodes": len(r.nodes), "bad_rows": r.bad_rows} for r in replays]
    return summary
