"""``kbench calibrate etcd`` and ``kbench calibrate metrics``: parse, call the library, print.

The calibration document goes to stdout (``-o yaml``, the default, or ``json``) or to ``--out FILE``;
progress and the summary table go to stderr, so ``kbench calibrate etcd ... > cal.yaml`` works.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from kbench.console import check_output, err_console, fail
from kbench.errors import KbenchError


def _say(line: str) -> None:
    err_console.print(line, markup=False, highlight=False, soft_wrap=True)


def _ints(text: str, where: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        fail(f"{where} {text}: expected whole numbers separated by commas, e.g. 1,4")
    if not vals or min(vals) < 1:
        fail(f"{where} {text}: expected whole numbers >= 1")
    return vals


def _emit(doc: dict, output: str, out: Path | None) -> None:
    import json

    import yaml

    text = (yaml.safe_dump(doc, sort_keys=False, allow_unicode=True) if output == "yaml"
            else json.dumps(doc, indent=2, default=str) + "\n")
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        _say(f"calibration written to {out}")


def etcd_cmd(
    endpoints: str = typer.Option(..., "--endpoints", help="etcd client URLs, comma-separated (http://HOST:PORT)."),
    clients: str = typer.Option("1,4", "--clients", help="Client counts; the fit uses the lowest and the highest."),
    duration: str = typer.Option("10s", "--duration", help="Length of one measurement window."),
    warmup: str = typer.Option("2s", "--warmup", help="Load before a point's first window."),
    repeat: int = typer.Option(3, "--repeat", help="Windows per point (the median window is used)."),
    value_bytes: str = typer.Option("256", "--value-bytes", help="Size of each value put."),
    ops: str = typer.Option("put,range", "--ops", help="put, or put,range (ranges fit read_base_s)."),
    etcd_cores: int = typer.Option(None, "--etcd-cores", help="etcd's cores, for a remote endpoint."),
    prefix: str = typer.Option("/kbench-calibrate/", "--prefix", help="Key prefix (deleted at the end)."),
    allow_kubernetes_etcd: bool = typer.Option(False, "--allow-kubernetes-etcd",
                                               help="Load an etcd holding Kubernetes objects anyway."),
    cacert: Path = typer.Option(None, "--cacert", help="CA file for https endpoints."),
    cert: Path = typer.Option(None, "--cert", help="Client certificate for https endpoints."),
    key: Path = typer.Option(None, "--key", help="Client key for https endpoints."),
    output: str = typer.Option("yaml", "-o", "--output", help="yaml or json."),
    out: Path = typer.Option(None, "--out", help="Write the calibration to FILE instead of stdout."),
    go_schedtrace: Path = typer.Option(None, "--go-schedtrace", help="The log of an etcd started with "
                                       "GODEBUG=schedtrace=50: its idle spinning is left out of the CPU per put."),
) -> None:
    """Measure a live etcd at several client counts and fit kbench's etcd model to it."""
    check_output(output, ("yaml", "json"))
    from kbench.quantity import parse_duration, parse_quantity

    cs = _ints(clients, "--clients")
    duration_s = parse_duration(duration, where="--duration")
    warmup_s = parse_duration(warmup, where="--warmup")
    size = int(parse_quantity(value_bytes, where="--value-bytes"))
    from kbench.calibrate.live import calibrate_etcd

    doc = calibrate_etcd([u for u in endpoints.split(",") if u.strip()], clients=cs,
                         ops=[o.strip() for o in ops.split(",") if o.strip()], duration_s=duration_s,
                         warmup_s=warmup_s, repeat=repeat, value_bytes=size, prefix=prefix,
                         allow_kubernetes=allow_kubernetes_etcd, etcd_cores=etcd_cores,
                         cacert=str(cacert) if cacert else None, cert=str(cert) if cert else None,
                         key=str(key) if key else None, command=shlex.join(["kbench", *sys.argv[1:]]),
                         sched=sched_trace(go_schedtrace), say=_say)
    _summary(doc)
    _emit(doc, output, out)


def sched_trace(path: Path | None):
    """The :class:`~kbench.calibrate.gosched.SchedTrace` of ``--go-schedtrace`` (None without one).

    Raises:
        KbenchError: The file does not exist (one line, exit 2).
    """
    if path is None:
        return None
    if not path.is_file():
        raise KbenchError(f"no such file: {path}", where="--go-schedtrace")
    from kbench.calibrate.gosched import SchedTrace

    return SchedTrace(path)


def _summary(doc: dict) -> None:
    from rich.table import Table

    from kbench.console import fmt

    t = Table(title=f"etcd {doc['source']['etcd_version']} at {doc['source']['leader']}: measured (median window) "
                    "and the fitted model")
    for col in ("op", "clients", "req/s", "model req/s", "mean ms", "model ms", "p99 ms", "client CPU cores",
                "etcd CPU cores", "Go spinning cores", "busy cores", "fsync ms", "entries/fsync", "discarded"):
        t.add_column(col, justify="right")
    def ms(v: float | None) -> str:
        return fmt(v * 1e3) if v is not None else "-"

    for p in doc["points"]:
        t.add_row(p["op"], str(p["clients"]), fmt(p["throughput_per_s"]), fmt(p.get("model_throughput_per_s")),
                  ms(p["latency_mean_s"]), ms(p.get("model_latency_mean_s")), ms(p["latency_p99_s"]),
                  fmt(p["client_cpu_cores"]), fmt(p["etcd_cpu_cores"]), fmt(p.get("spin_cores")),
                  fmt(p["busy_cores"]),
                  ms(p["fsync_mean_s"]), fmt(p["entries_per_fsync"]), str(p["discarded"]))
    err_console.print(t)
    for note in doc.get("notes", []):
        _say(f"note: {note}")


def metrics_cmd(
    files: list[str] = typer.Argument(..., help="Prometheus text dumps (FILE or COMPONENT=FILE; two dumps of one "
                                               "component give deltas)."),
    nodes: int = typer.Option(None, "--nodes", help="Cluster nodes, when no apiserver_storage_objects says so."),
    output: str = typer.Option("yaml", "-o", "--output", help="yaml or json."),
    out: Path = typer.Option(None, "--out", help="Write the calibration to FILE instead of stdout."),
) -> None:
    """Fit kbench's apiserver, etcd and scheduler costs to /metrics dumps of a real control plane."""
    check_output(output, ("yaml", "json"))
    from kbench.calibrate.metrics import calibrate_metrics

    doc = calibrate_metrics(files, nodes=nodes, command=shlex.join(["kbench", *sys.argv[1:]]))
    for path, why in doc.get("not_fitted", {}).items():
        _say(f"not fitted: {path}: {why}")
    _emit(doc, output, out)
