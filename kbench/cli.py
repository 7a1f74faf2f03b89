"""The kbench command line: parses, calls the library, prints; nothing else (STYLE habit 15).

Exit codes follow kubectl: 0 on success, 1 when a check the user asked for fails, 2 on bad input.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from kbench.errors import KbenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="kbench: a Kubernetes control plane simulated in virtual time.")
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one ``error:`` line to stderr and exit with ``code``."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def guarded(fn):
    """Turn KbenchError (and a few other user-input errors) into one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KbenchError as err:
            fail(err.one_line())
        except FileNotFoundError as err:
            fail(f"{err.filename}: no such file")
        except KeyboardInterrupt as err:
            msg = str(err)
            err_console.print(msg if msg.startswith("interrupted") else "interrupted", markup=False,
                              highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper


def check_output(output: str, allowed: tuple[str, ...] = ("table", "json")) -> None:
    if output not in allowed:
        fail(f"-o {output}: expected one of {', '.join(allowed)}")


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


# --------------------------------------------------------------------------------------- sync


@app.command("sync")
@guarded
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
) -> None:
    """The List vs List-Watch experiment: polling clients against informers."""
    check_output(output, ("table", "json", "markdown"))
    from kbench.config import Scenario, load_scenario
    from kbench.config.loader import from_dict, to_dict
    from kbench.experiment.sync import run_sync
    from kbench.quantity import parse_duration, parse_quantity

    base = load_scenario(scenario) if scenario is not None else Scenario(name="sync")
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
        _write_report(folders, output)


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e6 else f"{v:.3e}"
    return str(v)


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
        table.add_row(label, *[_fmt(get(r)) for r in results])
    console.print(table)
    for r in results:
        if r.get("run_dir"):
            console.print(f"{r['strategy']}: results in {r['run_dir']}", markup=False, highlight=False)


# ---------------------------------------------------------------------------------------- run


@app.command("run")
@guarded
def run_cmd(
    scenario: Path = typer.Argument(..., help="Scenario YAML (workloads/demo.yaml, workloads/density-5k.yaml)."),
    policy: str = typer.Option(None, "--policy", help="Scheduling policy name or file (overrides the scenario)."),
    seed: int = typer.Option(None, "--seed", help="Master seed (overrides the scenario)."),
    duration: str = typer.Option(None, "--duration", help="Virtual time to simulate (overrides the scenario)."),
    sync: list[str] = typer.Option(None, "--sync", help="CLASS=list-watch|poll:PERIOD, e.g. kubelet=poll:10s."),
    param: list[str] = typer.Option(None, "--param", help="KEY=VALUE for the scenario's params, e.g. pods=FILE."),
    out: Path = typer.Option(Path("results"), "--out", help="Parent folder of the run folder."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or markdown."),
    report: bool = typer.Option(False, "--report", help="Also write report.html (plotly, offline) in the run folder."),
) -> None:
    """One pod-lifecycle run: pods, startup percentiles, SLO verdicts, throughput."""
    check_output(output, ("table", "json", "markdown"))
    from dataclasses import replace

    from kbench.config import load_scenario, scenario_from_dict
    from kbench.config.loader import to_dict
    from kbench.config.params import parse_params
    from kbench.experiment.runner import run as run_scenario
    from kbench.quantity import parse_duration

    sc = load_scenario(scenario, params=parse_params(param))
    if sync or duration is not None:
        data = to_dict(sc)
        for item in sync or []:
            cls, eq, strategy = item.partition("=")
            if not eq or not cls:
                fail(f"--sync {item}: expected CLASS=list-watch or CLASS=poll:PERIOD")
            data["sync_strategies"][cls] = strategy
        if duration is not None:
            data["duration_s"] = parse_duration(duration, where="--duration")
        sc = scenario_from_dict(data)
    if policy is not None:
        from kbench.policy.profile import resolve_policy
        resolve_policy(policy)  # an unknown name fails here, with "did you mean", before the run
        sc = replace(sc, scheduler=replace(sc.scheduler, policy=policy))
    result = _with_progress(output == "table", sc.duration_s,
                            lambda progress: run_scenario(sc, seed=seed, out_dir=out, progress=progress))
    summary = result.summary
    if output == "json":
        print_json(summary)
    elif output == "markdown":
        from kbench.report.markdown import run_markdown
        sys.stdout.write(run_markdown(summary))
    else:
        _run_table(summary)
    if report and result.run_dir is not None:
        _write_report([result.run_dir], output)


def _write_report(folders: list[Path], output: str) -> None:
    """Write the HTML report of ``folders`` and say where it went (stderr unless the output is a table)."""
    from kbench.report import write_report

    path = write_report(folders)
    (console if output == "table" else err_console).print(f"report: {path}", markup=False, highlight=False,
                                                          soft_wrap=True)


def _with_progress(show: bool, total: float, fn):
    if not show:
        return fn(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("virtual {task.completed:.0f}/{task.total:.0f} s"), BarColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("run", total=total)
        return fn(lambda now, end: bar.update(task, completed=now))


def _run_table(s: dict) -> None:
    pods = s["pods"]
    t = Table(title=f"kbench run: {s['scenario']} · policy {s['policy']} · seed {s['seed']}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("pods created / scheduled", f"{pods['created']} / {pods['scheduled']}")
    t.add_row("running / succeeded / failed / pending / deleted",
              f"{pods['running']} / {pods['succeeded']} / {pods['failed']} / {pods['pending']} / {pods['deleted']}")
    ps, pe = s["pod_startup_s"], s["pod_e2e_startup_s"]
    t.add_row("pod startup p50 / p90 / p99 s (SLO, excl. pulls)", f"{_fmt(ps['p50'])} / {_fmt(ps['p90'])} / {_fmt(ps['p99'])}")
    t.add_row("pod e2e startup p50 / p90 / p99 s", f"{_fmt(pe['p50'])} / {_fmt(pe['p90'])} / {_fmt(pe['p99'])}")
    sc = s["scheduling"]
    t.add_row("scheduling attempts", str(sc["attempts"]))
    t.add_row("scheduler throughput pods/s", _fmt(sc["throughput_pods_per_s"]))
    t.add_row("bind conflicts / preemptions", f"{sc['bind_conflicts']} / {sc['preemptions']}")
    t.add_row("API requests / 429s", f"{s['api']['requests']} / {s['api']['rejected_429']}")
    t.add_row("virtual s / wall s / events", f"{_fmt(s['sim']['virtual_s'])} / {_fmt(s['sim']['wall_s'])} / {s['sim']['events']}")
    console.print(t)
    slo = Table(title="SLOs")
    for col in ("SLO", "threshold", "value", "verdict", "source"):
        slo.add_column(col)
    for row in s["slo"]:
        slo.add_row(row["name"], _fmt(row["threshold"]), _fmt(row["value"]), "pass" if row["pass"] else "FAIL",
                    row.get("source", ""))
    console.print(slo)
    if pods.get("pending") and pods.get("pending_reasons"):
        console.print("pending pods, filter reasons: " + "; ".join(f"{k} ({v})" for k, v in pods["pending_reasons"].items()),
                      markup=False, highlight=False)
    if s.get("faults"):
        from kbench.faults.measure import describe
        for row in s["faults"]:
            console.print(describe(row), markup=False, highlight=False, soft_wrap=True)
    if s.get("run_dir"):
        console.print(f"results in {s['run_dir']}", markup=False, highlight=False)


# ------------------------------------------------------------------------------ registrations


def _register_optional() -> None:
    """Commands whose modules live with their subsystem."""
    try:
        from kbench.policy import commands as policy_commands
    except ImportError:  # pragma: no cover - during bootstrap only
        return
    app.command("explain")(guarded(policy_commands.explain_cmd))
    app.command("policies")(guarded(policy_commands.policies_cmd))
    try:
        from kbench.workload import commands as workload_commands
    except ImportError:  # pragma: no cover - during bootstrap only
        return
    workload_app = typer.Typer(no_args_is_help=True, help="Inspect and convert workload traces.")
    workload_app.command("inspect")(guarded(workload_commands.inspect_cmd))
    workload_app.command("convert")(guarded(workload_commands.convert_cmd))
    app.add_typer(workload_app, name="workload")
    from kbench.experiment.compare_cmd import compare_cmd
    from kbench.results import commands as results_commands

    app.command("compare")(guarded(compare_cmd))
    results_app = typer.Typer(no_args_is_help=True, help="List and inspect run folders.")
    results_app.command("ls")(guarded(results_commands.results_ls_cmd))
    results_app.command("show")(guarded(results_commands.results_show_cmd))
    app.add_typer(results_app, name="results")
    # -- sweep and envelope commands (experiments) register below this line
    from kbench.experiment.envelope_cmd import envelope_cmd

    app.command("envelope")(guarded(envelope_cmd))
    from kbench.experiment.sweep_cmd import sweep_cmd

    app.command("sweep")(guarded(sweep_cmd))
    # -- report command (reports) registers below this line
    from kbench.report.commands import report_cmd

    app.command("report")(guarded(report_cmd))
    # -- bench command (performance) registers below this line
    from kbench.bench_cmd import bench_cmd

    app.command("bench")(guarded(bench_cmd))
    # -- validate command (validation) registers below this line
    from kbench.validate.commands import validate_cmd

    app.command("validate")(guarded(validate_cmd))
    # -- fault-related commands, if any, register below this line


_register_optional()


@app.command("version")
def version_cmd() -> None:
    """Print the kbench version."""
    import kbench
    console.print(f"kbench {kbench.__version__}", markup=False, highlight=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KbenchError as err:  # errors raised while parsing
        err_console.print(f"error: {err.one_line()}", markup=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
