"""``kbench sync`` as an experiment: strategies x swept values, one folder, the crossover (issue 16).

The grid is the cartesian product of the strategies and the values of each swept axis
(``clients``, ``objects``, ``changes_per_s``, ``object_bytes``, ``poll_period_s``); every cell is a
run of :func:`kbench.experiment.sync.run_sync` on the same seed (common random numbers). When some
axis has several values the runs go into one experiment folder ``<out>/sync-<id>/`` with
``experiment.json`` (the axes, the strategies, every summary and the crossovers); otherwise the run
folders go straight into ``<out>`` as before.

**Crossover.** For each pair (a watching strategy, ``poll``) and each cost (apiserver cores,
egress, etcd cores, peak memory), along each swept axis and for fixed values of the others, the
point where ``watch - poll`` changes sign, linearly interpolated between the two grid values around
it (the costs are linear in clients, objects and changes, so the straight line is exact when the
grid brackets it). Physics says where to look: both costs grow with the number of clients, so
against clients the egress curves are parallel; egress crosses along the change rate at about
``objects x object size / (poll_period x event size)`` changes per second.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kbench.config import Scenario
from kbench.config.loader import calibration_manifest
from kbench.experiment.sync import run_sync
from kbench.results.store import new_run_id

AXES = ("clients", "objects", "changes_per_s", "object_bytes", "poll_period_s")
"""Axes of the ``sync`` section a sweep may vary."""

COSTS = {"apiserver_cores": ("apiserver", "cpu_cores"), "egress_bytes_per_s": ("apiserver", "egress_bytes_per_s"),
         "etcd_cores": ("etcd", "cpu_cores"), "memory_peak_bytes": ("apiserver", "memory_peak_bytes")}
"""The costs compared for a crossover: name -> path in a summary."""


@dataclass
class SyncExperiment:
    """What a sync experiment produced.

    Attributes:
        summaries: One summary per run (strategy-major, then the grid in axis order).
        folder: The experiment folder (None without a sweep or without ``out_dir``).
        axes: The swept axes and their values.
        crossover: See :func:`crossovers`.
    """

    summaries: list[dict[str, Any]]
    folder: Path | None = None
    axes: dict[str, list[float]] = field(default_factory=dict)
    crossover: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run_dirs(self) -> list[Path]:
        return [Path(s["run_dir"]) for s in self.summaries if s.get("run_dir")]


def grid(axes: dict[str, list[float]]) -> list[dict[str, float]]:
    """Every combination of the axes' values, in the order the axes and values are given."""
    names = list(axes)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(axes[n] for n in names))]


def run_experiment(base: Scenario, strategies: list[str], axes: dict[str, list[float]], *,
                   out_dir: str | Path | None = None,
                   progress: Callable[[str, dict[str, float]], None] | None = None,
                   each: Callable[[str, dict[str, float], Any], None] | None = None) -> SyncExperiment:
    """Run every (strategy, grid point) of the experiment.

    Args:
        base: The scenario (its ``sync`` section is the base of every run).
        strategies: ``poll``, ``list-watch``, ``watch-list`` (in order).
        axes: Swept axes and their values (an axis with one value is a fixed override).
        out_dir: Parent folder of the results (none written when None).
        progress: Called with ``(strategy, point)`` before each run.
        each: Called with ``(strategy, point, result)`` after each run (its
            :class:`~kbench.experiment.runner.RunResult`, which is not kept).
    """
    swept = {k: v for k, v in axes.items() if len(v) > 1}
    points = grid(axes) if axes else [{}]
    folder = None
    run_parent = out_dir
    if out_dir is not None and swept:
        folder = Path(out_dir) / new_run_id(base.name, base.seed, "sync")
        folder.mkdir(parents=True, exist_ok=True)
        run_parent = folder
    summaries = []
    for strategy in strategies:
        for point in points:
            if progress is not None:
                progress(strategy, point)
            sync = replace(base.sync, **{k: (int(v) if k in ("clients", "objects") else float(v))
                                         for k, v in point.items()})
            res = run_sync(replace(base, sync=sync), strategy, out_dir=run_parent)
            res.summary["swept"] = {k: point[k] for k in swept}
            if each is not None:
                each(strategy, point, res)
            summaries.append(res.summary)
    exp = SyncExperiment(summaries, folder, swept, crossovers(summaries, swept))
    if folder is not None:
        data = {"kind": "sync-experiment", "scenario": base.name, "seed": base.seed, "strategies": strategies,
                "axes": swept, "runs": [_portable(s, folder) for s in summaries], "crossover": exp.crossover,
                **calibration_manifest(base)}
        (folder / "experiment.json").write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return exp


def _portable(summary: dict[str, Any], folder: Path) -> dict[str, Any]:
    out = {k: v for k, v in summary.items() if k != "wall_s"}
    if summary.get("run_dir"):
        out["run_dir"] = Path(summary["run_dir"]).name  # relative to the experiment folder
    return out


def value(summary: dict[str, Any], path: tuple[str, ...]) -> float | None:
    """The number at ``path`` in a summary (None when absent)."""
    obj: Any = summary
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return float(obj) if isinstance(obj, int | float) else None


def crossovers(summaries: list[dict[str, Any]], swept: dict[str, list[float]]) -> list[dict[str, Any]]:
    """Where each watching strategy's cost crosses polling's, along each swept axis.

    Returns:
        One entry per (strategy, cost, axis, fixed values of the other axes) with ``x`` (the
        interpolated crossing, None when the sign never changes), ``between`` (the two grid
        values around it), and ``cheaper`` (which strategy costs less below the crossing, or over
        the whole range).
    """
    out = []
    by = {(s["strategy"], tuple(sorted(s.get("swept", {}).items()))): s for s in summaries}
    strategies = sorted({s["strategy"] for s in summaries if s["strategy"] != "poll"})
    for axis, values in swept.items():
        others = {k: v for k, v in swept.items() if k != axis}
        xs = sorted(values)
        for fixed in grid(others) if others else [{}]:
            for strat in strategies:
                for name, path in COSTS.items():
                    diffs = []
                    for x in xs:
                        key_pt = tuple(sorted({**fixed, axis: x}.items()))
                        a, b = by.get((strat, key_pt)), by.get(("poll", key_pt))
                        va, vb = (value(a, path), value(b, path)) if a and b else (None, None)
                        diffs.append(None if va is None or vb is None else va - vb)
                    out.append(_crossing(strat, name, axis, fixed, xs, diffs))
    return out


def _crossing(strat: str, cost: str, axis: str, fixed: dict, xs: list[float], diffs: list) -> dict:
    entry: dict[str, Any] = {"strategy": strat, "versus": "poll", "cost": cost, "axis": axis, "fixed": fixed,
                             "x": None, "between": None, "cheaper": None}
    pts = [(x, d) for x, d in zip(xs, diffs, strict=True) if d is not None]
    signed = [(x, d) for x, d in pts if d != 0]
    if not signed:
        entry["cheaper"] = "equal" if pts else None
        return entry
    entry["cheaper"] = strat if signed[0][1] < 0 else "poll"
    for (x0, d0), (x1, d1) in itertools.pairwise(signed):  # a zero between them is the crossing itself
        if (d0 < 0) != (d1 < 0):
            zero = [x for x, d in pts if x0 < x < x1 and d == 0]
            x = zero[0] if zero else x0 + d0 / (d0 - d1) * (x1 - x0)
            entry["x"], entry["between"] = x, [x0, x1]
            break
    return entry
