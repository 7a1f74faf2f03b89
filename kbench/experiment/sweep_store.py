"""The sweep folder: resume bookkeeping and the tidy table.

``<out>/<name>/`` holds:

- ``sweep.json``: ``{"kind": "sweep", "schema_version": 1, "name", "scenario", "grid", "policies",
  "seeds", "metrics", "created"}`` plus ``scenario_name``, ``scenario_hash``, ``sweep_file``,
  ``cells_total``;
- ``manifest.json``: a results-store manifest (``kind: sweep``), so ``kbench results ls`` lists it;
- ``cells/<cell_id>.json``: one finished cell, ``{"cell_id", "params", "policy", "seed", "status",
  "wall_s", "summary", "run_dir"}`` (plus ``error`` when the run failed). Written to a temporary
  name and renamed, so its existence is what marks the cell done; a half-written file never counts;
- ``cells.parquet``: one row per finished cell: ``cell_id``, ``param.<name>`` per grid parameter,
  ``policy``, ``seed``, ``status``, ``wall_s`` and one column per metric (its dotted path);
  rewritten atomically from the records;
- ``runs/<cell_id>/<run-id>/``: each cell's run folder. One no record refers to (a run cut short
  by a kill) is removed at the start and the end of a sweep, so every cell has exactly one.

A rerun whose sweep file changed the grid, policies, seeds or base scenario is refused rather than
mixing results; the metrics may change (the table is rebuilt from the summaries). An exclusive lock
on ``.lock`` keeps two sweeps from writing the same folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd

from kbench.errors import KbenchError
from kbench.results.store import SCHEMA_VERSION

SWEEP_JSON = "sweep.json"
MANIFEST = "manifest.json"
CELLS = "cells"
TABLE = "cells.parquet"
RUNS = "runs"
LOCK = ".lock"
LOCK_WAIT_S = 10.0
"""How long to wait for the lock, seconds: the workers of a killed sweep take a moment to exit."""

IDENTITY = ("scenario_hash", "grid", "policies", "seeds")
"""sweep.json keys that must match for a rerun to reuse the folder."""


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to a temporary file beside ``path``, fsync it, and rename it into place."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(json.dumps(obj, indent=2, default=str) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class SweepFolder:
    """One sweep's folder (module docstring). Use :meth:`open`."""

    def __init__(self, path: Path):
        self.path = path
        self.cells_dir = path / CELLS
        self.runs_dir = path / RUNS
        self._lock_fd: int | None = None

    @classmethod
    def open(cls, path: str | Path, sweep: Any, total: int) -> SweepFolder:
        """Create or reopen the folder of ``sweep``, locked for this process.

        Raises:
            KbenchError: The folder holds a different sweep, or another sweep is writing it.
        """
        self = cls(Path(path))
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        self.runs_dir.mkdir(exist_ok=True)
        self._lock()
        try:
            self._check_or_create(sweep, total)
            for stray in self.cells_dir.glob(".*.tmp-*"):
                stray.unlink(missing_ok=True)
        except BaseException:
            self.close()
            raise
        return self

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fd = fd
                return
            except OSError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise KbenchError("another kbench sweep is writing this folder; wait for it or use another "
                                      "--out", source=str(self.path)) from None
                time.sleep(0.2)

    def close(self) -> None:
        """Release the lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _check_or_create(self, sweep: Any, total: int) -> None:
        meta = {"kind": "sweep", "schema_version": 1, "name": sweep.name, "scenario": str(sweep.scenario_path),
                "grid": sweep.grid, "policies": sweep.policies, "seeds": sweep.seeds, "metrics": sweep.metrics,
                "created": _now(), "scenario_name": sweep.base.name, "scenario_hash": sweep.scenario_hash(),
                "sweep_file": str(sweep.source), "cells_total": total}
        path = self.path / SWEEP_JSON
        if path.is_file():
            try:
                old = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                raise KbenchError(f"{SWEEP_JSON} is unreadable; remove the folder to start over",
                                  source=str(self.path)) from None
            new = json.loads(json.dumps(meta, default=str))
            changed = [k for k in IDENTITY if old.get(k) != new.get(k)]
            if changed:
                raise KbenchError(f"this folder holds a sweep with a different {', '.join(changed)} "
                                  f"({old.get('sweep_file')}); its results would not mix: use another --out or "
                                  "name, or remove the folder", source=str(self.path))
            meta["created"] = old.get("created", meta["created"])
            meta["metrics"] = sweep.metrics if sweep.metrics is not None else old.get("metrics")
        write_json_atomic(path, meta)
        self._manifest(sweep, total, "running", None)

    def _manifest(self, sweep: Any, total: int, status: str, wall_s: float | None) -> None:
        path = self.path / MANIFEST
        old = json.loads(path.read_text()) if path.is_file() else {}
        write_json_atomic(path, {"schema_version": SCHEMA_VERSION, "kind": "sweep", "run_id": sweep.name,
                                 "scenario": sweep.base.name, "policies": sweep.policies, "seeds": sweep.seeds,
                                 "cells": total, "status": status, "started": old.get("started", _now()),
                                 **({"finished": _now(), "wall_s": round(wall_s, 3)} if wall_s is not None else {})})

    def load_records(self, cells: list[Any]) -> dict[str, dict[str, Any]]:
        """The records of the cells already done (an unreadable file does not count)."""
        out = {}
        for cell in cells:
            f = self.cells_dir / f"{cell.cell_id}.json"
            if not f.is_file():
                continue
            try:
                rec = json.loads(f.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if isinstance(rec, dict) and rec.get("cell_id") == cell.cell_id and isinstance(rec.get("summary"), dict):
                out[cell.cell_id] = rec
        return out

    def write_record(self, rec: dict[str, Any]) -> None:
        """Write ``cells/<cell_id>.json`` atomically: from now on the cell is done."""
        write_json_atomic(self.cells_dir / f"{rec['cell_id']}.json", rec)

    def clean_runs(self, records: dict[str, dict[str, Any]]) -> int:
        """Remove run folders no record refers to (runs cut short by a kill); returns how many.

        Each cell runs in ``runs/<cell_id>/``; a done cell keeps the run folder its record names, a
        cell not done loses its folder (it runs again from scratch). Folders that are not run
        folders are left alone.
        """
        removed = 0
        for cell_dir in sorted(self.runs_dir.iterdir()) if self.runs_dir.is_dir() else []:
            if not cell_dir.is_dir():
                continue
            rec = records.get(cell_dir.name)
            if rec is not None and not rec.get("run_dir"):
                continue
            keep = Path(rec["run_dir"]).name if rec is not None else None
            for run in sorted(cell_dir.iterdir()):
                if run.name != keep and run.is_dir() and (run.name.startswith(".tmp-") or (run / MANIFEST).is_file()):
                    shutil.rmtree(run, ignore_errors=True)
                    removed += 1
            if rec is None and not any(cell_dir.iterdir()):
                cell_dir.rmdir()
        return removed

    def write_table(self, sweep: Any, cells: list[Any], records: dict[str, dict[str, Any]],
                    metrics: list[str]) -> list[dict[str, Any]]:
        """Rewrite ``cells.parquet`` atomically from ``records``; returns the records in cell order."""
        from kbench.experiment.compare import value_of

        ordered = [records[c.cell_id] for c in cells if c.cell_id in records]
        rows = []
        for rec in ordered:
            row = {"cell_id": rec["cell_id"]}
            row.update({f"param.{k}": rec["params"].get(k) for k in sweep.grid})
            row.update({"policy": rec["policy"], "seed": rec["seed"], "status": rec.get("status"),
                        "wall_s": rec.get("wall_s")})
            row.update({m: value_of(rec.get("summary") or {}, m) for m in metrics})
            rows.append(row)
        cols = ["cell_id", *(f"param.{k}" for k in sweep.grid), "policy", "seed", "status", "wall_s", *metrics]
        df = pd.DataFrame(rows, columns=cols)
        for k, values in sweep.grid.items():  # numbers stay numbers; anything else is text (JSON if not a string)
            col = f"param.{k}"
            if not all(_is_number(v) for v in values) and not all(isinstance(v, bool) for v in values):
                df[col] = [v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in df[col]]
        df["seed"] = df["seed"].astype("int64")
        df["wall_s"] = df["wall_s"].astype("float64")
        for m in metrics:
            df[m] = df[m].astype("float64")
        tmp = self.path / f".{TABLE}.tmp-{os.getpid()}"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, self.path / TABLE)
        return ordered

    def finish(self, sweep: Any, cells: list[Any], records: dict[str, dict[str, Any]], metrics: list[str] | None,
               status: str, wall_s: float) -> list[dict[str, Any]]:
        """Write the table, the resolved metrics and the manifest; drop unreferenced runs; unlock."""
        try:
            ordered = self.write_table(sweep, cells, records, metrics or [])
            if metrics is not None:
                path = self.path / SWEEP_JSON
                meta = json.loads(path.read_text())
                if meta.get("metrics") != metrics:
                    meta["metrics"] = metrics
                    write_json_atomic(path, meta)
            self.clean_runs(records)
            self._manifest(sweep, len(cells), status, wall_s)
        finally:
            self.close()
        return ordered
