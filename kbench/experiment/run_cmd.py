"""``kbench run``: one pod-lifecycle run from the command line (parse, call, print)."""

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
    say_report,
    warn,
    warn_not_modelled,
    warn_shadowed,
)


def run_cmd(
    scenario: Path = typer.Argument(None, help="Scenario YAML (workloads/demo.yaml, workloads/density-5k.yaml); "
                                    "optional with --cluster (defaults then)."),
    cluster: Path = typer.Option(None, "--cluster", help="A cluster as `kubectl get nodes,pods -A -o yaml` prints "
                                 "it: its nodes, and its bound pods as existing load."),
    apply: list[Path] = typer.Option(None, "--apply", help="Kubernetes manifests to create at 0 s, as `kubectl "
                                     "apply -f` (Deployments, Jobs, DaemonSets, StatefulSets, Services, ...); "
                                     "repeatable."),
    policy: str = typer.Option(None, "--policy", help="Scheduling policy name or file (overrides the scenario)."),
    seed: int = typer.Option(None, "--seed", help="Master seed (overrides the scenario)."),
    duration: str = typer.Option(None, "--duration", help="Virtual time to simulate (overrides the scenario)."),
    sync: list[str] = typer.Option(None, "--sync", help="CLASS=list-watch|watch-list|poll:PERIOD, e.g. kubelet=poll:10s."),
    param: list[str] = typer.Option(None, "--param", help="KEY=VALUE for the scenario's params, e.g. pods=FILE."),
    out: Path = typer.Option(Path("results"), "--out", help="Parent folder of the run folder."),
    output: str = typer.Option("table", "-o", "--output", help="table, json, yaml or markdown."),
    report: bool = typer.Option(False, "--report", help="Also write report.html (plotly, offline) in the run folder."),
    metrics: Path = typer.Option(None, "--metrics", help="Also write the run's metrics to FILE (Prometheus text "
                                 "format, upstream names and labels)."),
    case: str = typer.Option(None, "--case", help="scheduler_perf config: the test case to run."),
    workload: str = typer.Option(None, "--workload", help="scheduler_perf config: the workload to run."),
    list_cases: bool = typer.Option(False, "--list", help="scheduler_perf config: list its cases and workloads."),
    calibration: Path = typer.Option(None, "--calibration",
                                     help="Calibration file (kbench calibrate) laid over the scenario's defaults."),
    placement_only: bool = typer.Option(None, "--placement-only/--full-plane",
                                        help="Run only the scheduler framework over the trace replay's pods (refused "
                                             "when placement could depend on the plane), or force the full plane "
                                             "(default: the scenario's workload.placement_only)."),
) -> None:
    """One pod-lifecycle run: pods, startup percentiles, SLO verdicts, throughput (or a scheduler_perf workload)."""
    check_output(output, ("table", "json", "yaml", "markdown"))
    from kbench.workload.schedperf.command import is_perf_config, perf_cmd

    if scenario is None and cluster is None:
        fail("give a scenario (kbench run SCENARIO.yaml) or a cluster (kbench run --cluster DUMP.yaml "
             "[--apply MANIFESTS.yaml])")
    if scenario is not None and is_perf_config(scenario):
        if cluster is not None or apply:
            fail("--cluster and --apply do not apply to scheduler_perf configs")
        check_output(output, ("table", "json", "yaml"))
        if calibration is not None:
            fail("--calibration applies to scenarios only, not to scheduler_perf configs")
        perf_cmd(scenario, case, workload, list_cases, param, seed, out, output)
        return
    if case or workload or list_cases:
        fail("--case, --workload and --list apply to scheduler_perf configs only")
    from dataclasses import replace

    from kbench.config import load_scenario, scenario_from_dict
    from kbench.config.loader import to_dict
    from kbench.config.params import parse_params
    from kbench.experiment.runner import run as run_scenario
    from kbench.quantity import parse_duration

    if seed is not None:
        from kbench.rng import check_seed
        check_seed(seed)
    if scenario is not None:
        sc = load_scenario(scenario, params=parse_params(param), calibration=calibration)
    else:
        if param:
            fail("--param needs a scenario that declares parameters")
        sc = scenario_from_dict({"name": cluster.stem}, calibration=calibration)
    warn_shadowed(sc)
    if sync or duration is not None or cluster is not None or apply:
        data = to_dict(sc)
        for flag, path in [("--cluster", cluster)] + [("--apply", p) for p in apply or []]:
            if path is not None and not path.is_file():
                fail(f"{flag} {path}: no such file")
        if cluster is not None:
            data["cluster"]["dump"] = str(cluster.resolve())
        data["workload"]["apply"] += [{"file": str(p.resolve())} for p in apply or []]
        for item in sync or []:
            cls, eq, strategy = item.partition("=")
            if not eq or not cls:
                fail(f"--sync {item}: expected CLASS=list-watch, CLASS=watch-list or CLASS=poll:PERIOD")
            data["sync_strategies"][cls] = strategy
        if duration is not None:
            data["duration_s"] = parse_duration(duration, where="--duration")
        sc = scenario_from_dict(data)
    if policy is not None:
        from kbench.policy.resolve import resolve_policy
        resolve_policy(policy)  # an unknown name fails here, with "did you mean", before the run
        sc = replace(sc, scheduler=replace(sc.scheduler, policy=policy))
    if placement_only is not None:
        sc = replace(sc, workload=replace(sc.workload, placement_only=placement_only))
    result = _with_progress(progress_wanted(), sc.duration_s,
                            lambda progress: run_scenario(sc, seed=seed, out_dir=out, progress=progress))
    summary = result.summary
    if output in ("json", "yaml"):
        print_data(summary, output)
    elif output == "markdown":
        from kbench.report.markdown import run_markdown
        sys.stdout.write(run_markdown(summary))
    else:
        _run_table(summary)
    warn_not_modelled([summary])
    if report and result.run_dir is not None:
        write_and_say_report([result.run_dir], output)
    if metrics is not None:
        write_and_say_metrics(result, metrics, output)


def write_and_say_metrics(result, path: Path, output: str) -> None:
    """Write the Prometheus metrics of ``result`` to ``path``, say where, and warn of what they leave out."""
    from kbench.metrics.prometheus import write_metrics

    exp = write_metrics(result, path)
    for note in exp.ignored:
        warn(f"metrics: {note}")
    (console if output == "table" else err_console).print(f"metrics: {path}", markup=False, highlight=False,
                                                          soft_wrap=True)


def _with_progress(show: bool, total: float, fn):
    if not show:
        return fn(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.fields[label]}"), BarColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task("run", total=total, label="")  # the first update names the unit

        def update(done: float, end: float, unit: str = "") -> None:
            # a lifecycle run reports virtual seconds, a placement-only run pods placed ("pods")
            label = f"{done:.0f}/{end:.0f} {unit}" if unit else f"virtual {done:.0f}/{end:.0f} s"
            bar.update(task, completed=done, total=end, label=label)

        return fn(update)


def _run_table(s: dict) -> None:
    pods = s["pods"]
    t = Table(title=f"kbench run: {s['scenario']} · policy {s['policy']} · seed {s['seed']}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("pods created / scheduled", f"{pods['created']} / {pods['scheduled']}")
    if "running" in pods:  # a placement-only run starts no pod (kbench.experiment.placement)
        t.add_row("running / succeeded / failed / pending / deleted",
                  f"{pods['running']} / {pods['succeeded']} / {pods['failed']} / {pods['pending']} / {pods['deleted']}")
    else:
        t.add_row("pending (never placed)", str(pods["pending"]))
    ps, pe = s.get("pod_startup_s"), s.get("pod_e2e_startup_s")
    if ps is not None and pe is not None:
        t.add_row("pod startup p50 / p90 / p99 s (SLO, excl. pulls)", f"{fmt(ps['p50'])} / {fmt(ps['p90'])} / {fmt(ps['p99'])}")
        t.add_row("pod e2e startup p50 / p90 / p99 s", f"{fmt(pe['p50'])} / {fmt(pe['p90'])} / {fmt(pe['p99'])}")
    sc = s["scheduling"]
    t.add_row("scheduling attempts", str(sc["attempts"]))
    t.add_row("scheduler throughput pods/s", fmt(sc["throughput_pods_per_s"]))
    t.add_row("bind conflicts / preemptions", f"{sc['bind_conflicts']} / {sc['preemptions']}")
    if "api" in s:
        t.add_row("API requests / 429s", f"{s['api']['requests']} / {s['api']['rejected_429']}")
    if s.get("events"):
        ev = s["events"]
        t.add_row("Events emitted / written / per s", f"{ev['emitted']} / {ev['written']} / {fmt(ev['per_s'])}")
    wpp = s.get("writes_per_pod") or {}
    if wpp:
        total = sum(v for verbs in wpp.values() for v in verbs.values())
        t.add_row("API writes per pod created", fmt(total))
    t.add_row("virtual s / wall s / events", f"{fmt(s['sim']['virtual_s'])} / {fmt(s['sim']['wall_s'])} / {s['sim']['events']}")
    if s["sim"].get("mode") == "placement-only":
        t.add_row("mode", "placement-only (virtual s: the scheduler's cycles only)")
    from kbench.report.markdown import gpu_rows

    for label, value in gpu_rows(s):
        t.add_row(label, fmt(value) if not isinstance(value, str) else value)
    console.print(t)
    if s.get("slo"):
        slo = Table(title="SLOs")
        for col in ("SLO", "threshold", "value", "verdict", "source"):
            slo.add_column(col)
        for row in s["slo"]:
            slo.add_row(row["name"], fmt(row["threshold"]), fmt(row["value"]), "pass" if row["pass"] else "FAIL",
                        row.get("source", ""))
        console.print(slo)
    if pods.get("pending") and pods.get("pending_reasons"):
        console.print("pending pods, filter reasons: " + "; ".join(f"{k} ({v})" for k, v in pods["pending_reasons"].items()),
                      markup=False, highlight=False)
    _inputs_tables(s)
    if s.get("faults"):
        from kbench.faults.measure import describe
        for row in s["faults"]:
            console.print(describe(row), markup=False, highlight=False, soft_wrap=True)
    if s.get("run_dir"):
        console.print(f"results in {s['run_dir']}", markup=False, highlight=False)


def _state(row: dict) -> str:
    """One applied object's end state in a few words."""
    kind = row["kind"]
    if not row.get("present"):
        return "gone"
    if kind == "Deployment":
        return f"{row['available']}/{row['replicas']} available"
    if kind == "Job":
        return f"{row['succeeded']}/{row['completions']} succeeded" + (", complete" if row["complete"] else "")
    if kind == "DaemonSet":
        return f"{row['available']}/{row['desired']} available"
    if kind == "StatefulSet":
        return f"{row['ready']}/{row['replicas']} ready"
    if kind == "Service":
        n = row["endpointslices"]
        return f"{row['endpoints']} endpoints in {n} EndpointSlice{'' if n == 1 else 's'}"
    return str(row.get("phase") or "")


_TABLE_ROWS = 30
"""Rows of the applied objects and cluster nodes tables (``-o json`` has them all)."""


def _inputs_tables(s: dict) -> None:
    """The applied objects and the dump's nodes (``kbench run --cluster / --apply``), at most
    :data:`_TABLE_ROWS` rows each."""
    if s.get("applied"):
        t = Table(title="Applied objects (at the end)")
        for col in ("kind", "object", "state", "pods", "nodes"):
            t.add_column(col)
        for row in s["applied"][:_TABLE_ROWS]:
            name = row["name"] if row["kind"] == "Namespace" else f"{row['namespace']}/{row['name']}"
            nodes = ", ".join(f"{n} {c}" for n, c in (row.get("nodes") or {}).items())
            t.add_row(row["kind"], name, _state(row), str(row.get("pods", "")), nodes)
        console.print(t)
        _more(len(s["applied"]), "objects")
    if s.get("cluster_nodes"):
        t = Table(title="Cluster nodes (at the end; existing pods from the dump)")
        for col in ("node", "pods", "existing pods", "CPU requested / allocatable cores"):
            t.add_column(col)
        for row in s["cluster_nodes"][:_TABLE_ROWS]:
            t.add_row(row["node"], str(row["pods"]), str(row["existing_pods"]),
                      f"{fmt(row.get('cpu_requested_cores'))} / {fmt(row['cpu_allocatable_cores'])}")
        console.print(t)
        _more(len(s["cluster_nodes"]), "nodes")


def _more(n: int, what: str) -> None:
    if n > _TABLE_ROWS:
        console.print(f"... and {n - _TABLE_ROWS} more {what} (-o json lists them all)", markup=False,
                      highlight=False)


def write_and_say_report(folders: list[Path], output: str) -> None:
    """Write the HTML report of ``folders`` and say where it went (stderr unless the output is a table)."""
    from kbench.report import write_report

    say_report(write_report(folders), output)
