"""Typer command functions for ``kbench workload inspect`` and ``kbench workload convert``.

Registered in kbench/cli.py under a ``workload`` sub-app (wrapped in ``guarded``, so a bad file
prints one ``error: path:line: what was expected`` line and exits 2). The work is done by
:func:`summarize_trace` (a library function: it returns plain data) and by the trace importers'
``load_trace`` / ``write_native``.

``inspect -o json`` keys scripts may rely on (fields may be added, never renamed): ``format``,
``source``, ``pods``, ``nodes``, ``span_s``, ``arrival_rate_per_s``, ``bad_rows``,
``requests.<resource>.{min,p50,max,mean}`` for ``cpu_milli``, ``memory_bytes``, ``gpu_count``,
``gpu_milli`` and ``gpu_total_milli`` (k x u), ``duration_s.{min,p50,max,mean}``, ``gpu_pods``
(``cpu_only``, ``sharing``, ``whole``), ``node_shapes[]`` of ``{cpu_milli, memory_bytes,
gpu_count, gpu_model, count}``, ``api_requests`` (audit logs) and ``histogram.{bin_s, counts}``
(arrivals per time bin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from kbench.console import check_output, console, fail, print_data, warn

HIST_BINS = 40
_BARS = " ▁▂▃▄▅▆▇█"


def _stats(values: np.ndarray) -> dict[str, float] | None:
    v = values[~np.isnan(values)]
    if v.size == 0:
        return None
    return {"min": float(v.min()), "p50": float(np.quantile(v, 0.5)), "max": float(v.max()),
            "mean": round(float(v.mean()), 6)}


def summarize_trace(trace) -> dict[str, Any]:
    """Counts, time span, arrival rate, request distributions, GPU mix, node shapes, histogram.

    Args:
        trace: A :class:`~kbench.workload.traces.common.Trace`.

    Returns:
        Plain data (see the module docstring for the keys).
    """
    pods, nodes = trace.pods, trace.nodes
    out: dict[str, Any] = {"format": trace.format, "source": str(trace.source), "pods": int(len(pods)),
                           "nodes": 0 if nodes is None else int(len(nodes)), "bad_rows": int(trace.bad_rows)}
    arrival = pods["arrival_s"].to_numpy(dtype=np.float64) if len(pods) else np.zeros(0)
    known = arrival[~np.isnan(arrival)]
    span = float(known.max() - known.min()) if known.size > 1 else 0.0
    out["span_s"] = span
    out["arrival_rate_per_s"] = round((known.size - 1) / span, 6) if span > 0 else 0.0
    out["present_at_start"] = int(np.isnan(arrival).sum())
    requests: dict[str, Any] = {}
    if len(pods):
        k = pods["gpu_count"].to_numpy(dtype=np.float64)
        u = pods["gpu_milli"].to_numpy(dtype=np.float64)
        cols = {"cpu_milli": pods["cpu_milli"].to_numpy(dtype=np.float64),
                "memory_bytes": pods["memory_bytes"].to_numpy(dtype=np.float64),
                "gpu_count": k, "gpu_milli": u, "gpu_total_milli": k * u}
        requests = {name: _stats(v) for name, v in cols.items()}
        out["duration_s"] = _stats(pods["duration_s"].to_numpy(dtype=np.float64))
        whole = pods[(pods["gpu_count"] > 0) & (pods["gpu_milli"] >= 1000)]
        out["gpu_pods"] = {"cpu_only": int((k == 0).sum()),
                           "sharing": int(((k > 0) & (u < 1000)).sum()),
                           "whole": {str(int(c)): int(n) for c, n in whole["gpu_count"].value_counts().sort_index().items()}}
        models = pods["gpu_model"][pods["gpu_model"] != ""]
        out["gpu_model_constraints"] = int(len(models))
    out["requests"] = requests
    if nodes is not None and len(nodes):
        shapes = (nodes.groupby(["cpu_milli", "memory_bytes", "gpu_count", "gpu_model"], sort=False)
                  .size().reset_index(name="count").sort_values("count", ascending=False, kind="stable"))
        out["node_shapes"] = [{"cpu_milli": float(r.cpu_milli), "memory_bytes": float(r.memory_bytes),
                               "gpu_count": int(r.gpu_count), "gpu_model": str(r.gpu_model), "count": int(r.count)}
                              for r in shapes.itertuples(index=False)]
        out["node_totals"] = {"cpu_milli": float(nodes["cpu_milli"].sum()), "gpus": int(nodes["gpu_count"].sum())}
    if getattr(trace, "requests", None) is not None:
        out["api_requests"] = int(len(trace.requests))
    if known.size:
        counts, edges = np.histogram(known, bins=HIST_BINS if span > 0 else 1)
        out["histogram"] = {"start_s": float(edges[0]), "bin_s": float(edges[1] - edges[0]),
                            "counts": [int(c) for c in counts]}
    return out


def sparkline(counts: list[int]) -> str:
    """One character per bin, height proportional to the count."""
    top = max(counts) if counts else 0
    if top == 0:
        return ""
    return "".join(_BARS[0 if c == 0 else max(1, round(8 * c / top))] for c in counts)


def _human(v: float, unit: str) -> str:
    if unit == "bytes":
        for suffix, scale in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if abs(v) >= scale:
                return f"{v / scale:.4g}{suffix}"
        return f"{v:.4g}"
    if unit == "s":
        for suffix, scale in (("d", 86400), ("h", 3600), ("m", 60)):
            if abs(v) >= scale:
                return f"{v / scale:.4g}{suffix}"
        return f"{v:.4g}s"
    return f"{v:.6g}"


def _print_table(s: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(f"{s['source']} · format {s['format']}", markup=False, highlight=False)
    head = Table(show_header=False)
    head.add_column("what")
    head.add_column("value", justify="right")
    head.add_row("pods / nodes", f"{s['pods']} / {s['nodes']}")
    if s["pods"]:
        head.add_row("time span", _human(s["span_s"], "s"))
        head.add_row("arrival rate", f"{s['arrival_rate_per_s']:.4g} pods/s")
        if s.get("present_at_start"):
            head.add_row("present at start", str(s["present_at_start"]))
        g = s.get("gpu_pods") or {}
        whole = ", ".join(f"{n}×{c}" for c, n in g.get("whole", {}).items())
        head.add_row("GPU mix", f"{g.get('cpu_only', 0)} CPU-only, {g.get('sharing', 0)} sharing, whole: {whole or '-'}")
    if s.get("api_requests") is not None:
        head.add_row("API requests", str(s["api_requests"]))
    if s.get("bad_rows"):
        head.add_row("bad rows skipped", str(s["bad_rows"]))
    console.print(head)
    if s["requests"]:
        req = Table(title="requests per pod", title_justify="left")
        for col in ("resource", "min", "p50", "max", "mean"):
            req.add_column(col, justify="left" if col == "resource" else "right")
        units = {"memory_bytes": "bytes"}
        rows = list(s["requests"].items()) + [("duration_s", s.get("duration_s"))]
        for name, st in rows:
            if st:
                unit = units.get(name, "s" if name.endswith("_s") else "")
                req.add_row(name, *(_human(st[k], unit) for k in ("min", "p50", "max", "mean")))
        console.print(req)
    if s.get("node_shapes"):
        shapes = Table(title="node shapes", title_justify="left")
        for col in ("count", "cpu", "memory", "GPUs", "model"):
            shapes.add_column(col, justify="right" if col != "model" else "left")
        for sh in s["node_shapes"][:15]:
            shapes.add_row(str(sh["count"]), f"{sh['cpu_milli'] / 1000:g}", _human(sh["memory_bytes"], "bytes"),
                           str(sh["gpu_count"]), sh["gpu_model"] or "-")
        if len(s["node_shapes"]) > 15:
            shapes.add_row("…", "", "", "", f"{len(s['node_shapes']) - 15} more shapes")
        console.print(shapes)
    hist = s.get("histogram")
    if hist and len(hist["counts"]) > 1:
        console.print(f"arrivals per {_human(hist['bin_s'], 's')} (max {max(hist['counts'])}): "
                      f"|{sparkline(hist['counts'])}|", markup=False, highlight=False)


def inspect_cmd(
    file: Path = typer.Argument(..., help="A trace file (any supported format)."),
    format: str = typer.Option(None, "--format", help="The file's format (default: detect from the header)."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml."),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help="Skip malformed rows and count them."),
) -> None:
    """Summarize a trace: counts, time span, arrival rate, request distributions, node shapes."""
    from kbench.workload.traces import load_trace

    check_output(output)
    summary = summarize_trace(load_trace(file, format or None, skip_bad_rows=skip_bad_rows))
    if output in ("json", "yaml"):
        print_data(summary, output)
        return
    _print_table(summary)


OUTPUT_FORMATS = ("table", "json", "yaml")
NATIVE_SUFFIXES = (".parquet", ".csv")


def convert_cmd(
    file: Path = typer.Argument(..., help="A trace file (any supported format)."),
    format: str = typer.Option(None, "--format", help="The input format (default: detect from the header)."),
    out: Path = typer.Option(None, "--out",
                             help="The native file to write: .parquet or .csv (the format is the suffix)."),
    output: str = typer.Option("table", "-o", "--output", help="What to print: table, json or yaml."),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help="Skip malformed rows and count them."),
) -> None:
    """Convert a trace to kbench's native format (see CLI.md)."""
    from kbench.workload.traces import load_trace, write_native

    if out is None and output not in OUTPUT_FORMATS and Path(output).suffix in NATIVE_SUFFIXES:
        # the spelling before -o meant the format everywhere: `convert FILE -o OUT.parquet`
        warn(f"-o {output}: -o is the output format (table, json, yaml); the file is --out FILE. "
             "Read as --out for now; this spelling will go.")
        out, output = Path(output), "table"
    check_output(output, OUTPUT_FORMATS)
    if out is None:
        fail("--out FILE is required: the native file to write (.parquet or .csv)")
    trace = load_trace(file, format or None, skip_bad_rows=skip_bad_rows)
    written = write_native(trace, out)
    data = {"format": trace.format, "source": str(file), "pods": int(len(trace.pods)),
            "nodes": None if trace.nodes is None else int(len(trace.nodes)), "bad_rows": int(trace.bad_rows),
            "written": [str(p) for p in written]}
    if output in ("json", "yaml"):
        print_data(data, output)
        return
    skipped = f", {trace.bad_rows} bad rows skipped" if trace.bad_rows else ""
    console.print(f"{trace.format}: {len(trace.pods)} pods"
                  + (f", {len(trace.nodes)} nodes" if trace.nodes is not None else "") + skipped
                  + " -> " + ", ".join(str(p) for p in written), markup=False, highlight=False, soft_wrap=True)
