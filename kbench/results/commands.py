"""Typer command functions for ``kbench results ls`` and ``kbench results show``.

Registered in kbench/cli.py under a ``results`` sub-app (wrapped in ``guarded``, so a missing
folder, a folder that is not a run folder, a corrupt JSON file or a manifest of an unknown schema
version prints one ``error: path: what is wrong`` line and exits 2). Manifests are read through
:mod:`kbench.results.schema`, so run folders of older schema versions are listed and shown too.

``ls -o json`` prints a list of objects with keys scripts may rely on (fields may be added, never
renamed): ``id``, ``kind``, ``scenario``, ``policy``, ``seed``, ``status``, ``path``, ``wall_s``
and ``headline``, a dict whose keys depend on ``kind``: ``run``: ``pods_created``,
``startup_p99_s``, ``throughput_pods_per_s``, ``mode`` (``full-plane`` or ``placement-only``); ``sync``: ``strategy``, ``staleness_p99_s``,
``list_per_s``; ``comparison``, ``envelope`` and ``sweep``: ``runs`` (run folders inside) plus ``policies``,
``seeds`` and ``cells`` when the manifest has them. ``show -o json`` prints ``{"manifest": ...,
"summary": ...}``; the manifest's ``config`` is left out unless ``--config`` is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from kbench.console import check_output, console, err_console, print_data
from kbench.errors import KbenchError
from kbench.results.schema import MANIFEST, read_manifest, read_summary

TMP_PREFIX = ".tmp-"
_ESSENTIALS = ("run_id", "kind", "scenario", "policy", "strategy", "seed", "status", "error", "started",
               "finished", "wall_s", "config_hash", "schema_version", "kbench", "git_commit", "python", "simpy")


def _get(obj: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def headline(manifest: dict[str, Any], summary: dict[str, Any] | None, folder: Path | None = None) -> dict[str, Any]:
    """The headline figures of one folder, by ``kind`` (see the module docstring).

    Args:
        manifest: The (upgraded) manifest.
        summary: The summary, or None when the folder has none.
        folder: The folder (comparison and sweep: counts the run folders inside).

    Returns:
        A flat dict of figures; a figure the summary lacks is None.
    """
    kind = manifest.get("kind")
    s = summary or {}
    if kind == "run":
        return {"pods_created": _get(s, "pods", "created"), "startup_p99_s": _get(s, "pod_startup_s", "p99"),
                "throughput_pods_per_s": _get(s, "scheduling", "throughput_pods_per_s"),
                "mode": _get(s, "sim", "mode") or "full-plane"}
    if kind == "sync":
        return {"strategy": manifest.get("strategy", s.get("strategy")),
                "staleness_p99_s": _get(s, "staleness_s", "p99"),
                "list_per_s": _get(s, "apiserver", "requests_per_s", "list")}
    out: dict[str, Any] = {}
    if folder is not None:
        # comparison/envelope: run folders inside; sweep: runs/<cell_id>/<run-id>/
        runs = folder / "runs" if manifest.get("kind") == "sweep" else folder
        found = runs.glob(f"*/*/{MANIFEST}") if manifest.get("kind") == "sweep" else runs.glob(f"*/{MANIFEST}")
        out["runs"] = sum(1 for m in found if not any(part.startswith(".") for part in m.relative_to(runs).parts))
    for key in ("policies", "seeds", "cells"):
        value = manifest.get(key, s.get(key))
        if value is not None:
            out[key] = value
    return out


def list_runs(path: str | Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The run, comparison and sweep folders directly under ``path``, sorted by id.

    Args:
        path: A results folder (``results``, or a comparison folder holding run folders).

    Returns:
        ``(rows, skipped)``: one ``ls -o json`` object per folder, and counts of skipped folders
        by reason (``half_written``: ``.tmp-*``; ``other``: folders without a manifest).

    Raises:
        KbenchError: ``path`` is missing or not a folder, or a manifest or summary is corrupt or
            of an unknown schema version.
    """
    root = Path(path)
    if not root.exists():
        raise KbenchError("no such folder", source=str(root))
    if not root.is_dir():
        raise KbenchError("not a folder", source=str(root))
    rows: list[dict[str, Any]] = []
    skipped = {"half_written": 0, "other": 0}
    for child in sorted(root.iterdir(), key=lambda c: c.name):
        if not child.is_dir():
            continue
        if child.name.startswith(TMP_PREFIX):
            skipped["half_written"] += 1
            continue
        if not (child / MANIFEST).is_file():
            skipped["other"] += 1
            continue
        m = read_manifest(child)
        s = read_summary(child)
        rows.append({"id": m.get("run_id", child.name), "kind": m.get("kind"), "scenario": m.get("scenario"),
                     "policy": m.get("policy"), "seed": m.get("seed"), "status": m.get("status"),
                     "path": str(child), "wall_s": m.get("wall_s"), "headline": headline(m, s, child)})
    rows.sort(key=lambda r: str(r["id"]))
    return rows, skipped


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e6 else f"{v:.3e}"
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


def _headline_text(row: dict[str, Any]) -> str:
    h = row["headline"]
    if row["kind"] == "run":
        startup = "placement-only" if h.get("mode") == "placement-only" else \
            f"startup p99 {_fmt(h['startup_p99_s'])}s"
        return f"{_fmt(h['pods_created'])} pods · {startup} · {_fmt(h['throughput_pods_per_s'])} pods/s"

    if row["kind"] == "sync":
        return f"staleness p99 {_fmt(h['staleness_p99_s'])}s · {_fmt(h['list_per_s'])} LIST/s"
    return " · ".join(f"{k} {_fmt(v)}" for k, v in h.items())


def _skipped_note(skipped: dict[str, int]) -> str:
    parts = []
    if skipped["half_written"]:
        parts.append(f"{skipped['half_written']} half-written (.tmp-*)")
    if skipped["other"]:
        parts.append(f"{skipped['other']} without a manifest")
    return f"skipped {' and '.join(parts)} folder(s)" if parts else ""


def results_ls_cmd(
    path: Path = typer.Argument(Path("results"), help="Results folder (or a comparison/sweep folder)."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml."),
) -> None:
    """List run, comparison and sweep folders: id, scenario, policy, seed, status, headline figures."""
    from rich.table import Table
    from rich.text import Text

    check_output(output)
    rows, skipped = list_runs(path)
    note = _skipped_note(skipped)
    if output in ("json", "yaml"):
        print_data(rows, output)
        if note:
            err_console.print(note, markup=False, highlight=False)
        return
    table = Table(title=f"kbench results: {path}")
    table.add_column("id", overflow="fold")
    for col in ("kind", "scenario", "policy", "seed", "status"):
        table.add_column(col, justify="right" if col == "seed" else "left", no_wrap=col in ("kind", "status"))
    table.add_column("headline")
    table.add_column("wall s", justify="right")
    for r in rows:
        policy = r["policy"] if r["policy"] is not None else r["headline"].get("strategy")
        cells = (r["id"], r["kind"], r["scenario"], policy, r["seed"], r["status"], _headline_text(r), r["wall_s"])
        table.add_row(*(Text(_fmt(c)) for c in cells))
    console.print(table)
    console.print(f"{len(rows)} folder(s)" + (f"; {note}" if note else ""), markup=False, highlight=False)


def _resolve_run(run: Path) -> Path:
    """``run`` as given, or ``results/<run>`` when only that exists."""
    if not run.exists() and not run.is_absolute() and (Path("results") / run).exists():
        return Path("results") / run
    return run


def show_run(run: str | Path, *, config: bool = False) -> dict[str, Any]:
    """The ``show -o json`` object of one folder.

    Args:
        run: The run (or comparison/sweep) folder.
        config: Keep the manifest's ``config`` (the full effective scenario).

    Returns:
        ``{"manifest": dict, "summary": dict | None, "tables": {name: rows}, "path": str}``.

    Raises:
        KbenchError: Not a run folder, corrupt JSON, or an unknown schema version.
    """
    folder = _resolve_run(Path(run))
    manifest = read_manifest(folder)
    if folder.name == MANIFEST:
        folder = folder.parent
    summary = read_summary(folder)
    if not config:
        manifest = {k: v for k, v in manifest.items() if k != "config"}
    tables: dict[str, int | None] = {}
    for f in sorted(folder.glob("*.parquet")):
        try:
            import pyarrow.parquet as pq
            tables[f.stem] = pq.ParquetFile(f).metadata.num_rows
        except Exception:  # an unreadable table is reported as such, not fatal to show
            tables[f.stem] = None
    return {"manifest": manifest, "summary": summary, "tables": tables, "path": str(folder)}


def results_show_cmd(
    run: Path = typer.Argument(..., help="Run folder (results/<id>), or an id under ./results."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml."),
    config: bool = typer.Option(False, "--config", help="Include the effective config (large)."),
) -> None:
    """Show one run folder: manifest essentials, headline figures and SLO verdicts."""
    from rich.table import Table
    from rich.text import Text

    check_output(output)
    data = show_run(run, config=config)
    m, s = data["manifest"], data["summary"]
    if output in ("json", "yaml"):
        print_data({"manifest": m, "summary": s}, output)
        return
    t = Table(title=f"kbench results show: {data['path']}")
    t.add_column("field")
    t.add_column("value")
    for key in _ESSENTIALS:
        if m.get(key) is not None:
            t.add_row(key, Text(_fmt(m[key])))
    for key, value in headline(m, s, Path(data["path"])).items():
        t.add_row(key, Text(_fmt(value)))
    if data["tables"]:
        t.add_row("tables", Text(", ".join(f"{k} ({_fmt(n)} rows)" for k, n in data["tables"].items())))
    if s is None:
        t.add_row("summary", "none (summary.json missing)")
    console.print(t)
    slos = (s or {}).get("slo")
    if isinstance(slos, list) and slos:
        slo = Table(title="SLOs")
        for col in ("SLO", "threshold", "value", "verdict", "source"):
            slo.add_column(col)
        for row in slos:
            verdict = "-" if row.get("pass") is None else ("pass" if row["pass"] else "FAIL")
            cells = (row.get("name"), row.get("threshold"), row.get("value"), verdict, row.get("source", ""))
            slo.add_row(*(Text(_fmt(c)) for c in cells))
        console.print(slo)
    if config and "config" in m:
        console.print_json(json.dumps(m["config"], default=str))
