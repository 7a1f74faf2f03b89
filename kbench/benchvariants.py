"""``kbench bench --variant SETS``: what a switchable mechanism costs, measured side by side.

The CPU a feature adds (issue 18: "the note says how many [Events] per pod and what they cost") is
a difference of a few per cent between two runs, and this machine's speed drifts by more than that
within minutes (docs/ENGINE_PLAN.md). Here the reference scenario and each variant (the scenario
with ``--set``-style overrides, :mod:`kbench.benchsets`) are built in one process and advanced
together, one virtual step (1 s) at a time, alternating which goes first, so any drift falls on
every variant alike; each variant's CPU seconds are the sum of its own steps (its build included,
its summary not). Every simulation is exactly its solo run: the same events in the same order (a
test compares the digests), only interleaved with the others'. The built worlds are frozen for the
garbage collector as a run freezes its own (:func:`kbench.experiment.runparts.execute`), and the
young objects are collected after every step, in the step's CPU time: a collection scans the
objects of whichever simulation made them, so, left to its automatic threshold, it charged one
variant for the others' objects (a variant with the garbage-collector controller on came out 8 %
dearer side by side and equal in solo runs).

A variant is ``KEY=VALUE[,KEY=VALUE...]`` (a comma starts a new pair only before ``key=``, so list
values keep theirs): ``--variant events.enabled=false --variant
events.enabled=false,kubelet.status_writes=minimal``. Results: per variant its overrides, CPU
seconds, the ratio to the reference scenario, the API requests, the scheduled pods, and the virtual
seconds simulated.
"""

from __future__ import annotations

import gc
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kbench.benchsets import apply_sets, describe, parse_sets
from kbench.errors import KbenchError

_PAIR_START = re.compile(r",(?=\s*[A-Za-z_][\w.\-/]*=)")


def parse_variant(text: str) -> dict[str, Any]:
    """``"a.b=1,c=[x, y]"`` -> ``{"a.b": 1, "c": ["x", "y"]}``.

    Raises:
        KbenchError: An empty variant or a malformed pair.
    """
    items = [p.strip() for p in _PAIR_START.split(text) if p.strip()]
    if not items:
        raise KbenchError(f"--variant {text!r}: expected KEY=VALUE[,KEY=VALUE...]")
    return parse_sets(items, flag="--variant")


class _Sim:
    """One variant's world, advanced step by step."""

    def __init__(self, data: dict[str, Any], sets: dict[str, Any], tmp: Path, index: int):
        from kbench.config import load_scenario
        from kbench.experiment.runner import build, effective_scenario, start

        self.sets = sets
        path = tmp / f"variant-{index}.yaml"
        path.write_text(yaml.safe_dump(apply_sets(data, sets), sort_keys=False))
        t0 = time.process_time()
        try:
            scenario = effective_scenario(load_scenario(path))
        except KbenchError as err:
            where = f"{err.where}: " if err.where else ""
            raise KbenchError(f"--variant {describe(sets) or '(none)'}: {where}{err.message}") from None
        if scenario.workload.placement_only:
            raise KbenchError("--variant: a placement-only scenario has no plane to vary")
        self.world, self.comps = build(scenario)
        start(self.world, self.comps)
        self.end = scenario.duration_s
        self.cpu_s = time.process_time() - t0
        self.done = False

    def advance(self, until: float) -> None:
        env, stop = self.world.env, self.comps.stop
        target = min(self.end, until)
        t0 = time.process_time()
        if stop is None:
            env.run(until=target)
        else:
            env.run(until=env.any_of([stop, env.timeout(target - env.now)]))
        gc.collect(0)  # this step's young objects, charged to it (automatic collection is off)
        self.cpu_s += time.process_time() - t0
        self.done = env.now >= self.end or (stop is not None and stop.processed)

    def figures(self) -> dict[str, Any]:
        from kbench.experiment.runner import run_summary

        s = run_summary(self.world, self.comps, 0.0)
        api = s["api"]
        return {"sets": self.sets, "cpu_s": round(self.cpu_s, 3), "virtual_s": round(float(self.world.env.now), 3),
                "api_requests": int(api["requests"] + api["rejected_429"] + api["errors"]),
                "pods_scheduled": int(s["scheduling"]["scheduled"]), "summary": s}


def side_by_side(data: dict[str, Any], variants: list[dict[str, Any]], step_s: float = 1.0,
                 log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the scenario ``data`` and each of ``variants`` (overrides) side by side in this process.

    Args:
        data: A full-plane scenario as plain data.
        variants: Overrides by dotted key, one dict per variant (the reference, no overrides, is added first).
        step_s: Virtual seconds each simulation advances before the next one's turn.
        log: Progress lines (about every 10 % of the virtual time).

    Returns:
        ``{"step_s", "variants": [{"sets", "cpu_s", "ratio", "virtual_s", "api_requests",
        "pods_scheduled", "summary"}, ...]}``, the reference first; ``ratio`` is CPU seconds over the
        reference's.

    Raises:
        KbenchError: A variant the loader rejects, or a placement-only scenario.
    """
    say = log or (lambda _m: None)
    with tempfile.TemporaryDirectory(prefix="kbench-variants-") as d:
        sims = [_Sim(data, sets, Path(d), i) for i, sets in enumerate([{}, *variants])]
    end = max(s.end for s in sims)
    gc.freeze()
    enabled = gc.isenabled()
    gc.disable()
    try:
        t, k, shown = 0.0, 0, 0.0
        while not all(s.done for s in sims):
            t += step_s
            k += 1
            for sim in (sims if k % 2 else reversed(sims)):
                if not sim.done:
                    sim.advance(t)
            if t >= shown + 0.1 * end:
                shown = t
                say(f"virtual {min(t, end):.0f} of {end:.0f} s")
    finally:
        if enabled:
            gc.enable()
        gc.freeze()  # the survivors join the worlds in the oldest generation (as execute does)
        gc.unfreeze()
    rows = [s.figures() for s in sims]
    base = rows[0]["cpu_s"]
    for r in rows:
        r["ratio"] = round(r["cpu_s"] / base, 3) if base > 0 else None
    return {"step_s": step_s, "variants": rows}
