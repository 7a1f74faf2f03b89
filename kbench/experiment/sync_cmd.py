"""``kbench sync``: the List vs List-Watch experiment from the command line (parse, call, print).

``--clients``, ``--objects``, ``--changes-per-s``, ``--object-bytes`` and ``--poll-period`` take
several values (comma-separated or repeated) or come from ``--sweep FILE``; every strategy runs at
every point of the grid (:mod:`kbench.experiment.syncsweep`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.table import Table

from kbench.console import (
    check_output,
    console,
    err_console,
    fail,
    fmt,
    print_data,
    progress_wanted,
    warn_not_modelled,
    warn_shadowed,
)
from kbench.experiment.run_cmd import write_and_say_metrics, write_and_say_report
from kbench.experiment.synctable import ROWS, column_name, row_value


def sync_cmd(
    scenario: Path = typer.Argument(None, help="Scenario YAML (optional; options below override it)."),
    strategy: list[str] = typer.Option(None, "--strategy",
                                       help="poll, list-watch or watch-list; repeat for several."),
    clients: list[str] = typer.Option(None, "--clients", help="Number of clients (several: 100,1000,5000)."),
    objects: list[str] = typer.Option(None, "--objects", help="Number of objects (several allowed)."),
    changes_per_s: list[str] = typer.Option(None, "--changes-per-s", help="Object changes per second (several allowed)."),
    poll_period: list[str] = typer.Option(None, "--poll-period", help="LIST period of polling clients (10s, 1m)."),
    object_bytes: list[str] = typer.Option(None, "--object-bytes", help="Object size (1Ki, 20Ki; several allowed)."),
    sweep: Path = typer.Option(None, "--sweep", help="YAML of axes to sweep: {clients: [..], objects: [..], ...}."),
    scope: str = typer.Option(None, "--scope", help="all (every client caches every object) or partitioned."),
    k8s_version: str = typer.Option(None, "--kubernetes-version", help="Kubernetes release modelled (1.30, 1.35)."),
    feature_gates: str = typer.Option(None, "--feature-gates", help="Gate overrides: ConsistentListFromCache=false,..."),
    duration: str = typer.Option(None, "--duration", help="Virtual time to simulate (10m)."),
    seed: int = typer.Option(None, "--seed", help="Master seed."),
    disable_compression: bool = typer.Option(
        False, "--disable-compression",
        help="The clients ask for uncompressed responses (kubectl's flag; client-go's DisableCompression)."),
    restart_at: str = typer.Option(None, "--apiserver-restart-at", help="Restart the apiserver at this time."),
    out: Path = typer.Option(Path("results"), "--out", help="Parent folder of the run folders."),
    output: str = typer.Option("table", "-o", "--output", help="table, json, yaml or markdown."),
    report: bool = typer.Option(False, "--report",
                                help="Also write one report.html for all runs (in the experiment folder)."),
    metrics: Path = typer.Option(None, "--metrics", help="Also write each run's metrics (Prometheus text "
                                 "format); with several runs FILE gets the strategy and point before its suffix."),
    calibration: Path = typer.Option(None, "--calibration",
                                     help="Calibration file (kbench calibrate) laid over the scenario's defaults."),
) -> None:
    """The List vs List-Watch experiment: polling clients, informers and watch-lists."""
    check_output(output, ("table", "json", "yaml", "markdown"))
    from kbench.config import Scenario, load_scenario, scenario_from_dict
    from kbench.config.features import parse_gates
    from kbench.config.loader import from_dict, load_yaml, to_dict
    from kbench.experiment.syncsweep import AXES, run_experiment
    from kbench.quantity import parse_duration

    if seed is not None:
        from kbench.rng import check_seed
        check_seed(seed)
    if scenario is not None:
        base = load_scenario(scenario, calibration=calibration)
    else:
        base = scenario_from_dict({"name": "sync"}, calibration=calibration)
    warn_shadowed(base)
    data = to_dict(base)
    sync = data["sync"]
    if strategy:
        sync["strategies"] = strategy
    if scope is not None:
        sync["scope"] = scope
    if restart_at is not None:
        sync["apiserver_restart_at_s"] = parse_duration(restart_at, where="--apiserver-restart-at")
    if duration is not None:
        data["duration_s"] = parse_duration(duration, where="--duration")
    if seed is not None:
        data["seed"] = seed
    if k8s_version is not None:
        data["kubernetes_version"] = k8s_version
    if feature_gates is not None:
        data["feature_gates"] = {**data.get("feature_gates", {}), **parse_gates(feature_gates)}
    if disable_compression:
        cls = sync["client_class"]
        data["clients"][cls] = {**(data["clients"].get(cls) or data["clients"].get("default") or {}),
                                "disable_compression": True}
    axes: dict[str, list[float]] = {}
    if sweep is not None:
        spec = load_yaml(sweep)
        for key, vals in spec.items():
            if key not in AXES:
                fail(f"{sweep}: unknown axis {key!r}: expected one of {', '.join(AXES)}")
            axes[key] = [_parse(key, v, f"{sweep}: {key}") for v in (vals if isinstance(vals, list) else [vals])]
    for key, flag, raw in (("clients", "--clients", clients), ("objects", "--objects", objects),
                           ("changes_per_s", "--changes-per-s", changes_per_s),
                           ("poll_period_s", "--poll-period", poll_period),
                           ("object_bytes", "--object-bytes", object_bytes)):
        if raw:
            axes[key] = [_parse(key, v.strip(), flag) for item in raw for v in str(item).split(",") if v.strip()]
    for key in ("clients", "objects"):
        for v in axes.get(key, [sync[key]]):
            if v < 1:
                fail(f"--{key}: must be >= 1, got {v:g}")
    for key, vals in axes.items():  # validate every value through the schema, first value as the base
        for v in vals:
            from_dict(Scenario, {**data, "sync": {**sync, key: v}})
        sync[key] = vals[0]
    eff = from_dict(Scenario, data)

    def progress(strat: str, point: dict) -> None:
        if progress_wanted():
            where = ", ".join(f"{k}={v:g}" for k, v in point.items()) or (
                f"{eff.sync.clients} clients, {eff.sync.objects} objects")
            err_console.print(f"running {strat}: {where}, {eff.duration_s:g} virtual s ...", markup=False)

    def write_metrics(strat: str, point: dict, res) -> None:
        if metrics is None:
            return
        single = len(eff.sync.strategies) == 1 and not any(len(v) > 1 for v in axes.values())
        tag = "-".join([strat, *(f"{k}{v:g}" for k, v in point.items() if len(axes[k]) > 1)])
        write_and_say_metrics(res, metrics if single else metrics.with_name(f"{metrics.stem}-{tag}{metrics.suffix}"),
                              output)

    exp = run_experiment(eff, list(eff.sync.strategies), axes, out_dir=out, progress=progress, each=write_metrics)
    results = exp.summaries
    if output in ("json", "yaml"):
        print_data(results[0] if len(results) == 1 else results, output)
    elif output == "markdown":
        from kbench.report.markdown import sync_markdown
        sys.stdout.write(sync_markdown(results))
    else:
        _sync_table(results)
        if exp.folder is not None:
            console.print(f"experiment: {exp.folder}", markup=False, highlight=False, soft_wrap=True)
    warn_not_modelled(results)
    if report and results:
        write_and_say_report([exp.folder] if exp.folder is not None else exp.run_dirs, output)


def _parse(key: str, text, where: str) -> float:
    from kbench.errors import ConfigError
    from kbench.quantity import parse_duration, parse_quantity

    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    if key == "poll_period_s":
        return parse_duration(str(text), where=where)
    if key == "object_bytes":
        return parse_quantity(str(text), where=where)
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"expected a number, got {text!r}", where=where) from None


def _sync_table(results: list[dict]) -> None:
    table = Table(title="List vs List-Watch")
    table.add_column("metric")
    for r in results:
        table.add_column(column_name(r), justify="right")
    for label, path, *scale in ROWS:
        table.add_row(label, *[fmt(row_value(r, path, *scale)) for r in results])
    console.print(table)
    for r in results:
        if r.get("run_dir"):
            console.print(f"{column_name(r)}: results in {r['run_dir']}", markup=False, highlight=False)
