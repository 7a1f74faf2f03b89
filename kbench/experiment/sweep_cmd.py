"""``kbench sweep``: a thin command over :func:`kbench.experiment.sweep.run_sweep`.

``-o json`` prints ``{"sweep_dir", "name", "total", "ran", "skipped", "failed", "metrics",
"cells": [{"cell_id", "params", "policy", "seed", "status", "wall_s", "run_dir", "metrics":
{metric: value}}]}`` (cells in grid order; a metric a cell lacks is null), plus ``report`` with
``--report``.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from kbench.console import check_output, console, err_console, print_data, progress_wanted
from kbench.errors import RunFailed
from kbench.experiment.compare import value_of
from kbench.experiment.sweep import SweepResult, run_sweep


def _num(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def to_json(result: SweepResult) -> dict[str, Any]:
    """The ``-o json`` object (module docstring)."""
    cells = [{"cell_id": r["cell_id"], "params": r["params"], "policy": r["policy"], "seed": r["seed"],
              "status": r.get("status"), "wall_s": r.get("wall_s"), "run_dir": r.get("run_dir"),
              "metrics": {m: _num(value_of(r.get("summary") or {}, m)) for m in result.metrics}}
             for r in result.records]
    return {"sweep_dir": str(result.sweep_dir), "name": result.sweep.name, "total": len(result.sweep.cells()),
            "ran": result.ran, "skipped": result.skipped, "failed": result.failed, "metrics": result.metrics,
            "cells": cells}


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def render(result: SweepResult, console: Console) -> None:
    """One row per grid combination and policy: cells done, failures and each metric's median over seeds."""
    sweep = result.sweep
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in result.records:
        groups.setdefault((json.dumps(r["params"], sort_keys=True), r["policy"]), []).append(r)
    t = Table(title=f"sweep {sweep.name}: medians over seeds")
    for k in sweep.grid:
        t.add_column(k, overflow="fold")
    t.add_column("policy", overflow="fold")
    t.add_column("seeds", justify="right")
    for m in result.metrics:
        t.add_column(m, justify="right", overflow="fold")
    for (_, policy), recs in groups.items():
        ok = [r for r in recs if r.get("status") == "complete"]
        medians = []
        for m in result.metrics:
            vals = [v for v in (value_of(r["summary"], m) for r in ok) if not math.isnan(v)]
            medians.append(_fmt(statistics.median(vals)) if vals else "-")
        done = f"{len(ok)}" + (f" ({len(recs) - len(ok)} failed)" if len(recs) > len(ok) else "")
        t.add_row(*[_fmt(recs[0]["params"][k]) for k in sweep.grid], policy, done, *medians)
    console.print(t)
    console.print(f"{len(result.records)}/{len(sweep.cells())} cells done: ran {result.ran}, skipped {result.skipped} "
                  f"(done before), failed {result.failed}; {result.wall_s:.1f} s", highlight=False, soft_wrap=True)
    console.print(f"sweep folder: {result.sweep_dir}", highlight=False, soft_wrap=True)


def sweep_cmd(
    sweep_file: Path = typer.Argument(..., help="Sweep YAML (workloads/sweeps/nodes-x-policy.yaml)."),
    jobs: int = typer.Option(None, "--jobs", "-j", help="Worker processes (default: CPU count; 1: in this process)."),
    dask: str = typer.Option(None, "--dask", help="tcp://HOST:PORT of a Dask scheduler, or local for a LocalCluster."),
    out: Path = typer.Option(Path("results"), "--out", help="Parent folder of the sweep folder <out>/<name>/."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml."),
    report: bool = typer.Option(False, "--report", help="Also write <sweep folder>/report.html."),
    calibration: Path = typer.Option(None, "--calibration",
                                     help="Calibration file (kbench calibrate) laid over the scenario's defaults."),
) -> None:
    """Run a grid of scenario parameters × policies × seeds; a rerun skips finished cells."""
    check_output(output)
    if progress_wanted():
        from kbench.experiment.progressbar import eta_bar

        with eta_bar(err_console, "cells") as bar:
            tasks: list[Any] = []

            def progress(done: int, total: int) -> None:
                if not tasks:  # created at the count found done, so those do not feed the ETA's speed
                    tasks.append(bar.add_task("cells", total=total, completed=done))
                bar.update(tasks[0], completed=done)

            result = run_sweep(sweep_file, out, jobs=jobs, dask=dask, progress=progress, calibration=calibration)
    else:
        result = run_sweep(sweep_file, out, jobs=jobs, dask=dask, calibration=calibration)
    report_path = None
    if report:
        from kbench.report import write_report

        report_path = write_report([result.sweep_dir], None)
    if output in ("json", "yaml"):
        obj = to_json(result)
        if report_path is not None:
            obj["report"] = str(report_path)
        print_data(obj, output)
    else:
        render(result, console)
        if report_path is not None:
            console.print(f"report: {report_path}", highlight=False, soft_wrap=True)
    check_failed(result)


def check_failed(result: SweepResult) -> None:
    """Exit 1 (through :class:`~kbench.errors.RunFailed`) naming the failed cells, if any."""
    failed = [r for r in result.records if r.get("status") != "complete"]
    if not failed:
        return
    shown = "; ".join(f"{r['cell_id']} ({(r.get('error') or r.get('status') or 'failed').splitlines()[0]})"
                      for r in failed[:5])
    more = f"; and {len(failed) - 5} more" if len(failed) > 5 else ""
    raise RunFailed(f"{len(failed)} of {len(result.records)} cells failed: {shown}{more} "
                    f"(cells/<cell_id>.json in {result.sweep_dir}; delete one to retry it)")
