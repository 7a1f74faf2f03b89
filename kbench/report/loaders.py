"""Detect what kind of results folder a path is and load it for a report.

Kinds (decided from the files a folder holds):

* ``sweep``: ``sweep.json`` (and ``cells.parquet``: one row per cell, ``param.<name>`` columns,
  ``policy``, ``seed``, ``status``, one column per metric named by its dotted path);
* ``comparison``: ``comparison.json`` (``kbench compare``), with the run folders inside;
* ``run`` and ``sync``: ``manifest.json`` with ``kind`` ``run`` or ``sync`` (tables via
  :func:`kbench.results.load`);
* ``envelope``: ``manifest.json`` with ``kind`` ``envelope`` and ``envelope.json`` (``kbench envelope``).
* ``sync-experiment``: ``experiment.json`` (``kbench sync`` with a swept axis), with the sync run
  folders inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from kbench.errors import KbenchError

KINDS = ("run", "sync", "comparison", "sweep", "envelope", "sync-experiment")


@dataclass
class Loaded:
    """One loaded folder.

    Attributes:
        kind: ``run``, ``sync``, ``comparison``, ``sweep``, ``envelope`` or ``sync-experiment``.
        path: The folder.
        data: For run/sync: :func:`kbench.results.load`'s dict (``manifest``, ``summary``, tables);
            comparison: ``{"comparison": dict, "runs": [run dicts without tables]}``; sweep:
            ``{"sweep": dict, "cells": DataFrame}``; envelope: ``{"envelope": dict, "manifest": dict}``; sync-experiment: ``{"experiment": dict, "runs":
            [Loaded sync folders]}``.
    """

    kind: str
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A display name: the scenario (or the sweep's name), else the folder name."""
        d = self.data
        keys = ("name", "scenario_name", "scenario") if self.kind == "sweep" else ("scenario", "name")
        for obj in (d.get("manifest"), d.get("comparison"), d.get("sweep"), d.get("experiment"), d.get("summary")):
            if isinstance(obj, dict):
                for key in keys:
                    if isinstance(obj.get(key), str) and obj[key]:
                        return obj[key]
        return self.path.name


def detect_kind(path: str | Path) -> str:
    """The kind of results folder at ``path``.

    Raises:
        KbenchError: Missing, not a folder, or none of the known kinds.
    """
    p = Path(path)
    if not p.exists():
        raise KbenchError("no such folder", source=str(p))
    if not p.is_dir():
        raise KbenchError("not a folder (expected a run, comparison, sweep, sync or envelope folder)", source=str(p))
    if (p / "sweep.json").is_file():
        return "sweep"
    if (p / "experiment.json").is_file():
        return "sync-experiment"
    if (p / "comparison.json").is_file():
        return "comparison"
    if (p / "manifest.json").is_file():
        from kbench.results.schema import read_manifest

        kind = read_manifest(p).get("kind", "run")
        if kind in KINDS:
            return kind
        raise KbenchError(f"unknown folder kind {kind!r} in manifest.json", source=str(p))
    raise KbenchError("not a results folder (no manifest.json, comparison.json or sweep.json)", source=str(p))


def load(path: str | Path) -> Loaded:
    """Load a folder of any kind (see the module docstring).

    Raises:
        KbenchError: Not a results folder, or a corrupt file in it.
    """
    from kbench.results.schema import read_json, read_manifest, read_summary
    from kbench.results.store import load as load_run

    p = Path(path)
    kind = detect_kind(p)
    if kind in ("run", "sync"):
        try:
            return Loaded(kind, p, load_run(p))
        except (OSError, ValueError) as err:  # pyarrow raises ArrowInvalid (a ValueError) on a bad table
            raise KbenchError(f"cannot read a table: {err}", source=str(p)) from None
    if kind == "envelope":
        env = read_json(p / "envelope.json") if (p / "envelope.json").is_file() else None
        if not isinstance(env, dict):
            raise KbenchError("an envelope folder without envelope.json (the search did not finish)", source=str(p))
        return Loaded(kind, p, {"envelope": env, "manifest": read_manifest(p)})
    if kind == "sync-experiment":
        exp = read_json(p / "experiment.json")
        if not isinstance(exp, dict):
            raise KbenchError("experiment.json: expected a JSON object", source=str(p))
        runs = [load(child) for child in sorted(p.iterdir())
                if child.is_dir() and not child.name.startswith(".") and (child / "manifest.json").is_file()]
        return Loaded(kind, p, {"experiment": exp, "runs": runs})
    if kind == "comparison":
        comp = read_json(p / "comparison.json")
        if not isinstance(comp, dict) or not isinstance(comp.get("metrics"), dict):
            raise KbenchError("comparison.json: expected an object with 'metrics'", source=str(p))
        runs = []
        for child in sorted(p.iterdir()):
            if child.is_dir() and not child.name.startswith(".") and (child / "manifest.json").is_file():
                runs.append({"path": child, "manifest": read_manifest(child), "summary": read_summary(child)})
        return Loaded(kind, p, {"comparison": comp, "runs": runs})
    sweep = read_json(p / "sweep.json")
    if not isinstance(sweep, dict):
        raise KbenchError("sweep.json: expected a JSON object", source=str(p))
    cells_path = p / "cells.parquet"
    try:
        cells = pd.read_parquet(cells_path) if cells_path.is_file() else pd.DataFrame()
    except (OSError, ValueError) as err:
        raise KbenchError(f"cannot read cells.parquet: {err}", source=str(p)) from None
    return Loaded(kind, p, {"sweep": sweep, "cells": cells})


def comparison_pods(loaded: Loaded, max_runs: int = 40) -> pd.DataFrame:
    """The ``pods`` tables of a comparison's run folders, with a ``policy`` and ``seed`` column.

    Args:
        loaded: A loaded comparison.
        max_runs: Read at most this many run folders (the report stays fast on big comparisons).

    Returns:
        The concatenated frame (empty when no run folder has a pods table).
    """
    frames = []
    for run in loaded.data.get("runs", [])[:max_runs]:
        f = Path(run["path"]) / "pods.parquet"
        if f.is_file():
            df = pd.read_parquet(f, columns=["created_s", "running_observed_s", "image_pull_s"])
            df["policy"] = str(run["manifest"].get("policy"))
            df["seed"] = run["manifest"].get("seed")
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
