"""Reading run-folder manifests of every schema version.

A run folder's ``manifest.json`` carries ``schema_version`` (see :mod:`kbench.results.store`).
Old folders stay readable: :func:`upgrade_manifest` applies the functions of :data:`UPGRADES`
one step at a time until the manifest has the current shape. A manifest written by a newer
kbench (a version above :data:`SCHEMA_VERSION`) is refused with a
:class:`~kbench.errors.KbenchError` naming the file, rather than misread.

Versions:
    0: the pre-release shape: no ``schema_version`` key, no ``kind`` (every folder was a
       pod-lifecycle run), no ``run_id`` (the folder name is the id) and the wall-clock time
       under ``wall_time_s``.
    1: ``schema_version: 1``, ``kind`` (``run``, ``sync``, ``comparison``, ``envelope``, ``sweep``),
       ``run_id``, ``wall_s``, ``status`` (``complete``, ``failed``, ``interrupted``).
    2: the manifest as in 1; ``requests.parquet``'s ``sli_le_<bound>`` columns are cumulative
       (requests with latency at most the bound, as Prometheus' ``le``) where version 1 stored
       per-bucket counts, and ``e2e_le_<bound>`` columns (end-to-end latency) join them.
       :func:`upgrade_tables` turns a version-1 table into the new meaning on loading.

Adding version N+1: bump ``SCHEMA_VERSION`` here, write ``_vN_to_vN1(manifest)`` here
(it receives a copy and returns the upgraded dict, ``schema_version`` included), register it in
:data:`UPGRADES` under ``N`` and add a test that reads a version-N folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kbench.errors import KbenchError

SCHEMA_VERSION = 2
"""Version of the run-folder layout this kbench writes (``schema_version`` in manifest.json)."""
MANIFEST = "manifest.json"
SUMMARY = "summary.json"


def _v0_to_v1(manifest: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (pre-release, no ``schema_version``) to version 1.

    Args:
        manifest: A version-0 manifest (a copy; it may be changed in place).

    Returns:
        The manifest with ``kind`` defaulted to ``run``, ``wall_time_s`` renamed ``wall_s`` and
        ``schema_version`` set to 1.
    """
    manifest.setdefault("kind", "run")
    if "wall_time_s" in manifest:
        manifest.setdefault("wall_s", manifest.pop("wall_time_s"))
    manifest["schema_version"] = 1
    return manifest


def _v1_to_v2(manifest: dict[str, Any]) -> dict[str, Any]:
    """Version 1 to 2: the manifest is unchanged (the tables changed, see :func:`upgrade_tables`)."""
    manifest["schema_version"] = 2
    return manifest


UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _v0_to_v1,
    1: _v1_to_v2,
}
"""Upgrade functions by the version they read: ``UPGRADES[n]`` turns version n into n + 1."""


def upgrade_manifest(manifest: dict[str, Any], source: str | Path = MANIFEST) -> dict[str, Any]:
    """Bring a manifest of any known schema version to the current shape.

    Args:
        manifest: The parsed ``manifest.json`` (not modified).
        source: The file it came from, named in errors.

    Returns:
        A new dict in the shape of :data:`SCHEMA_VERSION`.

    Raises:
        KbenchError: The version is not an integer, is newer than this kbench reads, or has no
            upgrade path.
    """
    data = dict(manifest)
    version = data.get("schema_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise KbenchError(f"expected an integer, got {version!r}", source=str(source), where="schema_version")
    if version > SCHEMA_VERSION:
        raise KbenchError(f"schema version {version} is newer than this kbench reads (up to {SCHEMA_VERSION}); "
                          "upgrade kbench", source=str(source), where="schema_version")
    while version < SCHEMA_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise KbenchError(f"no upgrade from schema version {version}", source=str(source),
                              where="schema_version")
        data = step(data)
        version = data["schema_version"]
    return data


def upgrade_tables(version: int, tables: dict[str, Any]) -> None:
    """Bring the tables of a folder written under schema ``version`` to the current meaning, in place.

    Versions 0 and 1 stored ``requests.parquet``'s ``sli_le_<bound>`` columns as per-bucket
    counts; they become cumulative (a running sum in bound order), as version 2 writes them.

    Args:
        version: The folder's ``schema_version`` as written (before :func:`upgrade_manifest`).
        tables: Table name -> DataFrame (changed in place).
    """
    req = tables.get("requests")
    if version < 2 and req is not None and len(req.columns):
        from kbench.metrics.buckets import le_columns

        cols, _ = le_columns(req.columns, "sli")
        if cols:
            req[cols] = req[cols].cumsum(axis=1)


def read_json(path: Path) -> Any:
    """Parse one JSON file, turning a missing or corrupt file into a one-line error.

    Args:
        path: The file.

    Raises:
        KbenchError: The file is missing, unreadable or not valid JSON.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise KbenchError("no such file", source=str(path)) from None
    except OSError as err:
        raise KbenchError(f"cannot read: {err.strerror}", source=str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise KbenchError(f"corrupt JSON: {err.msg}", source=str(path),
                          where=f"line {err.lineno} column {err.colno}") from None


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Read and upgrade a run folder's manifest.

    Args:
        folder: A run (or comparison/sweep) folder, or its ``manifest.json``.

    Returns:
        The manifest in the current shape; ``run_id`` defaults to the folder name.

    Raises:
        KbenchError: The folder is missing, is not a run folder, or its manifest is corrupt or
            of an unknown version.
    """
    p = Path(folder)
    if p.name == MANIFEST and p.is_file():
        p = p.parent
    if not p.exists():
        raise KbenchError("no such folder", source=str(p))
    if not p.is_dir():
        raise KbenchError("not a run folder (expected a folder holding manifest.json)", source=str(p))
    path = p / MANIFEST
    if not path.is_file():
        raise KbenchError("not a run folder (no manifest.json)", source=str(p))
    data = read_json(path)
    if not isinstance(data, dict):
        raise KbenchError(f"expected a JSON object, got {type(data).__name__}", source=str(path))
    data = upgrade_manifest(data, path)
    data.setdefault("run_id", p.name)
    return data


def read_summary(folder: str | Path) -> dict[str, Any] | None:
    """A run folder's ``summary.json``, or None when the run wrote none.

    Raises:
        KbenchError: The summary exists but is corrupt or not a JSON object.
    """
    path = Path(folder) / SUMMARY
    if not path.is_file():
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise KbenchError(f"expected a JSON object, got {type(data).__name__}", source=str(path))
    return data
