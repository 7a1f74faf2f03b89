"""``kbench sync``: the List vs List-Watch experiment from the command line (parse, call, print)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from kbench.console import check_output, console, err_console, fail, fmt, print_json, warn_shadowed
from kbench.experiment.run_cmd import write_and_say_report


def sync_cmd(
    scenario: Path = typer.Argument(None, help="Scenario YAML (optional; options below override it)."),
    strategy: list[str] = typer.Option(None, "--strategy", help="poll or list-watch; repeat to run both."),
    clients: int = typer.Option(None, "--clients", help="Number of clients."),
    objects: int = typer.Option(None, "--objects", help="Number of objects."),
    changes_per_s: float = typer.Option(None, "--changes-per-s", help="Object changes per second."),
    poll_period: str = typer.Option(None, "--poll-period", help="LIST period of polling clients (10s, 1m)."),
    object_bytes: str = typer.Option(None, "--object-bytes", help="Object size (1Ki, 20Ki)."),
    scope: str = typer.Option(None, "--scope", help="all (every client caches every object) or partitioned."),
    duration: str = typer.Option(None, "--duration", help="Virtual time to simulate (10m)."),
    seed: int = typer.Option(None, "--seed", help="Master seed."),
    restart_at: str = typer.Option(None, "--apiserver-restart-at", help="Restart the apiserver at this time."),
    out: Path = typer.Option(Path("results"), "--out", help="Parent folder of the run folders."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or markdown."),
    report: bool = typer.Option(False, "--report",
                                help="Also write one report.html for all strategies (in the first run folder)."),
    calibration: Path = typer.Option(None, "--calibration",
                                     help="Calibration file (kbench calibrate) laid over the scenario's defaults."),
) -> None:
    """The List vs List-Watch experiment: polling clients against informers."""
    check_output(output, ("table", "json", "markdown"))
    from kbench.config import Scenario, load_scenario, scenario_from_dict
    from kbench.config.loader import from_dict, to_dict
    from kbench.experiment.sync import run_sync
    from kbench.quantity import parse_duration, parse_quantity

    if scenario is not None:
        base = load_scenario(scenario, calibration=calibration)
    else:
        base = scenario_from_dict({"name": "sync"}, calibration=calibration)
    warn_shadowed(base)
    data = to_dict(base)
    sync = data["sync"]
    for key, value in (("strategies", strategy or None), ("clients", clients), ("objects", objects),
                       ("changes_per_s", changes_per_s), ("scope", scope)):
        if value is not None:
            sync[key] = value
    if poll_period is not None:
        sync["poll_period_s"] = parse_duration(poll_period, where="--poll-period")
    if object_bytes is not None:
        sync["object_bytes"] = parse_quantity(object_bytes, where="--object-bytes")
    if restart_at is not None:
        sync["apiserver_restart_at_s"] = parse_duration(restart_at, where="--apiserver-restart-at")
    if duration is not None:
        data["duration_s"] = parse_duration(duration, where="--duration")
    if seed is not None:
        data["seed"] = seed
    for name in ("clients", "objects"):
        if sync[name] < 1:
            fail(f"--{name}: must be >= 1, got {sync[name]}")
    eff = from_dict(Scenario, data)
    results, folders = [], []
    for strat in eff.sync.strategies:
        if output == "table":
            err_console.print(f"running {strat}: {eff.sync.clients} clients, {eff.sync.objects} objects, "
                              f"{eff.duration_s:g} virtual s ...", markup=False)
        res = run_sync(eff, strat, out_dir=out)
        results.append(res.summary)
        if res.run_dir is not None:
            folders.append(res.run_dir)
    if output == "json":
        print_json(results[0] if len(results) == 1 else results)
    elif output == "markdown":
        from kbench.report.markdown import sync_markdown
        sys.stdout.write(sync_markdown(results))
    else:
        _sync_table(results)
    if report and folders:
        write_and_say_report(folders, output)


def _sync_table(results: list[dict]) -> None:
    table = Table(title="List vs List-Watch")
    table.add_column("metric")
    for r in results:
        table.add_column(r["strategy"], justify="right")
    rows = [
        ("LIST /s", lambda r: r["apiserver"]["requests_per_s"]["list"]),
        ("WATCH /s", lambda r: r["apiserver"]["requests_per_s"]["watch"]),
        ("apiserver MB/s", lambda r: r["apiserver"]["bytes_per_s"] / 1e6),
        ("apiserver CPU-s", lambda r: r["apiserver"]["cpu_s"]),
        ("429s", lambda r: r["apiserver"]["rejected_429"]),
        ("etcd reads /s", lambda r: r["etcd"]["reads_per_s"]),
        ("etcd writes /s", lambda r: r["etcd"]["writes_per_s"]),
        ("staleness mean s", lambda r: r["staleness_s"]["mean"]),
        ("staleness p50 s", lambda r: r["staleness_s"]["p50"]),
        ("staleness p99 s", lambda r: r["staleness_s"]["p99"]),
        ("staleness max s", lambda r: r["staleness_s"]["max"]),
        ("relists", lambda r: r["relists"]),
        ("wall s", lambda r: r["wall_s"]),
    ]
    for label, get in rows:
        table.add_row(label, *[fmt(get(r)) for r in results])
    console.print(table)
    for r in results:
        if r.get("run_dir"):
            console.print(f"{r['strategy']}: results in {r['run_dir']}", markup=False, highlight=False)
