"""The results store: one self-describing folder per run.

``results/<run-id>/`` holds ``manifest.json`` (schema version, kbench version, git commit,
effective config and its hash, seed, policy, Python and SimPy versions, wall time, status),
Parquet tables (``requests``, ``series``, ...) and ``summary.json``. The folder is written under a
temporary name and renamed into place when the run ends, so a half-written run never looks
finished; a run that fails or is interrupted is still renamed, with ``status`` saying so.
Results are data (Parquet and JSON), never pickles.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd

from kbench.results.schema import SCHEMA_VERSION
from kbench.version import __version__


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    import simpy

    return {"kbench": __version__, "python": platform.python_version(),
            "simpy": getattr(simpy, "__version__", "?")}


def new_run_id(name: str, seed: int, extra: str = "") -> str:
    """A sortable, readable run id: ``20261126-201500-<name>[-extra]-s<seed>``."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:40]
    parts = [stamp, safe] + ([extra] if extra else []) + [f"s{seed}"]
    return "-".join(parts)


class RunWriter:
    """Writes one run folder atomically.

    Args:
        out_dir: Parent folder (``results``).
        run_id: Folder name.
        manifest: Initial manifest fields (config, config_hash, seed, policy, scenario...).
    """

    def __init__(self, out_dir: str | Path, run_id: str, manifest: dict[str, Any]):
        self.out_dir = Path(out_dir)
        self.run_id = run_id
        self.final = self.out_dir / run_id
        self.tmp = self.out_dir / f".tmp-{run_id}-{os.getpid()}"
        self.manifest = {"schema_version": SCHEMA_VERSION, "run_id": run_id, **_versions(),
                         "git_commit": _git_commit(), "status": "running",
                         "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                         **manifest}
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()

    def table(self, name: str, df: pd.DataFrame) -> None:
        """Write ``<name>.parquet``."""
        df.to_parquet(self.tmp / f"{name}.parquet", index=False)

    def json(self, name: str, obj: Any) -> None:
        """Write ``<name>.json``."""
        (self.tmp / f"{name}.json").write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable) + "\n")

    def finish(self, status: str = "complete", **fields: Any) -> Path:
        """Write the manifest with ``status`` and rename the folder into place."""
        self.manifest.update(fields)
        self.manifest["status"] = status
        self.manifest["finished"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        self.json("manifest", self.manifest)
        if self.final.exists():
            shutil.rmtree(self.final)
        os.replace(self.tmp, self.final)
        return self.final


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load(path: str | Path) -> dict[str, Any]:
    """Load a run folder for a notebook: manifest, summary and every table as a DataFrame.

    The manifest goes through :func:`kbench.results.schema.read_manifest` and the tables through
    :func:`kbench.results.schema.upgrade_tables`, so folders written under an older schema version
    load in the current shape.

    Returns:
        ``{"manifest": dict, "summary": dict, "<table>": DataFrame, ...}``.

    Raises:
        KbenchError: Not a run folder, a corrupt JSON file, or an unknown schema version.
    """
    from kbench.results.schema import MANIFEST, read_json, read_manifest, upgrade_tables

    p = Path(path)
    out: dict[str, Any] = {"manifest": read_manifest(p)}
    raw = read_json(p / MANIFEST if p.is_dir() else p)
    written = raw.get("schema_version", 0) if isinstance(raw, dict) else 0
    for f in sorted(p.glob("*.json")):
        if f.name != MANIFEST:
            out[f.stem] = read_json(f)
    tables = {f.stem: pd.read_parquet(f) for f in sorted(p.glob("*.parquet"))}
    upgrade_tables(written if isinstance(written, int) else 0, tables)
    out.update(tables)
    return out
