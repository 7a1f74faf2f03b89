"""``kbench bench``: the CLI face of :mod:`kbench.bench` (parse, call, print)."""

from __future__ import annotations

import typer


def bench_cmd(
    quick: bool = typer.Option(False, "--quick", help="Tiny scenarios (CI smoke, well under a minute)."),
    scenario: list[str] = typer.Option(None, "--scenario",
                                       help="Only this scenario (repeatable): density-5k, openb, fgd-openb, "
                                            "fgd-openb-placement, sync-list-watch; cl2-load-5k runs only when named."),
    growth: bool = typer.Option(True, "--growth/--no-growth", help="Also run the 1,000 vs 5,000 node pair."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml."),
    baseline: str = typer.Option(None, "--baseline", help="Also run this git revision's kbench bench, "
                                 "alternating with this tree, and print the CPU ratios (no growth pair)."),
    rounds: int = typer.Option(None, "--rounds", help="With --baseline: runs of each tree (default 2)."),
    max_ratio: float = typer.Option(None, "--max-ratio", help="With --baseline: exit 1 when a scenario's "
                                    "CPU ratio (this tree over the baseline, medians) is above this."),
    set_: list[str] = typer.Option(None, "--set", help="KEY=VALUE (repeatable): override a scenario field by "
                                   "dotted key in every scenario, e.g. events.enabled=false; with --baseline, "
                                   "this tree only."),
    variant: list[str] = typer.Option(None, "--variant", help="KEY=VALUE[,KEY=VALUE...] (repeatable): run the "
                                      "named scenarios and each variant side by side in one process and print "
                                      "the CPU each costs against the scenario as it is."),
) -> None:
    """Benchmark kbench itself: wall and CPU time, µs per API request and per scheduled pod, peak RSS."""
    from kbench.benchsets import parse_sets
    from kbench.console import check_output, console, err_console, print_data, warn
    from kbench.errors import KbenchError

    check_output(output)
    sets = parse_sets(set_)
    if baseline is None:
        for flag, value in (("--max-ratio", max_ratio), ("--rounds", rounds)):
            if value is not None:
                raise KbenchError(f"{flag} needs --baseline")
    if variant:
        if baseline is not None:
            raise KbenchError("--variant and --baseline: choose one")
        _variants(variant, scenario or [], quick, sets, output)
        return
    if baseline is not None:
        _pair(baseline, scenario or [], 2 if rounds is None else rounds, quick, max_ratio, output, sets)
        return
    from kbench.bench import LOADED, bench

    def log(msg: str) -> None:
        err_console.print(f"bench: {msg}", markup=False, highlight=False, soft_wrap=True)

    res = bench(quick=quick, only=scenario or None, growth=growth, log=log, sets=sets)
    rows = list(res["scenarios"].items())
    g = res.get("growth")
    if g:
        rows += [(g["small"]["name"], g["small"]), (g["large"]["name"], g["large"])]
    busy = [f"{name} ({s['loadavg_1m_start']})" for name, s in rows
            if s.get("loadavg_1m_start") is not None and s["loadavg_1m_start"] > LOADED]
    if busy:
        warn(f"the machine was loaded (1-minute load average above {LOADED}) at the start of: {', '.join(busy)}; "
             "compare CPU seconds, the steadier figure")
    if output in ("json", "yaml"):
        print_data(res, output)
        return
    from rich.console import Console
    from rich.table import Table

    out = console if console.width >= 170 else Console(width=170)  # a wide table: never wrap the figures

    t = Table(title=f"kbench bench{' --quick' if quick else ''} · {res['machine']['cpus']} CPUs · "
                    f"Python {res['machine']['python']} ({res['machine']['python_executable']})")
    for col in ("scenario", "mode", "wall s", "CPU s", "virtual s", "speed-up", "pods scheduled", "API requests",
                "µs wall/request", "µs wall/pod", "µs CPU/request", "µs CPU/pod", "peak RSS MiB", "load 1m"):
        t.add_column(col, justify="left" if col in ("scenario", "mode") else "right", no_wrap=True)

    def us(x) -> str:
        return "-" if x is None else f"{x:,.1f}"

    for name, s in rows:
        load = s.get("loadavg_1m_start")
        t.add_row(name, s["mode"], f"{s['wall_s']:.1f}", f"{s['cpu_s']:.1f}", f"{s['virtual_s']:.0f}",
                  f"{s['speedup']:.1f}", f"{s['pods_scheduled']:,}", f"{s['api_requests']:,}",
                  us(s["us_wall_per_request"]), us(s["us_wall_per_pod"]), us(s["us_cpu_per_request"]),
                  us(s["us_cpu_per_pod"]), f"{s['peak_rss_mib']:,.0f}", "-" if load is None else f"{load:.2f}")
    out.print(t)
    if res["sets"]:
        out.print(f"overrides: {_sets_line(res['sets'])}", markup=False, highlight=False)
    la = res["machine"]["loadavg"]
    out.print(f"load average (1/5/15 min) before {la['before']}, after {la['after']}", markup=False, highlight=False)
    if g:
        out.print(f"growth: per pod {g['large']['name']} ÷ {g['small']['name']} = {g['ratio']} (wall), "
                  f"{g['cpu_ratio']} (CPU)", markup=False, highlight=False)


def _sets_line(sets: dict) -> str:
    from kbench.benchsets import describe

    return describe(sets)


def _named(scenarios: list[str], quick: bool) -> dict:
    """The benchmark cases by name, after checking every name in ``scenarios`` is one of them."""
    from kbench.bench import cases
    from kbench.errors import KbenchError

    by_name = {c.name: c for c in cases(quick)}
    for name in scenarios:
        if name not in by_name:
            raise KbenchError(f"--scenario {name}: expected one of {', '.join(by_name)}")
    return by_name


def _pair(rev: str, scenarios: list[str], rounds: int, quick: bool, max_ratio: float | None, output: str,
          sets: dict) -> None:
    """``--baseline``: this tree against ``rev`` (:mod:`kbench.benchpair`), printed; exit 1 over ``max_ratio``."""
    import tempfile
    from pathlib import Path

    from rich.table import Table

    from kbench.bench import check_sets
    from kbench.benchpair import pair
    from kbench.console import console, err_console, print_data, progress_wanted

    by_name = _named(scenarios, quick)
    with tempfile.TemporaryDirectory(prefix="kbench-sets-") as d:  # fail now, not after the baseline's round
        check_sets([c for c in by_name.values() if (c.name in scenarios if scenarios else not c.opt_in)], sets,
                   Path(d))
    show = progress_wanted()

    def log(msg: str) -> None:
        if show:
            err_console.print(f"bench: {msg}", markup=False, highlight=False)

    res = pair(rev, list(scenarios), rounds=rounds, quick=quick, log=log, sets=sets)
    over = [name for name, s in res["scenarios"].items()
            if max_ratio is not None and s["cpu_ratio"] is not None and s["cpu_ratio"] > max_ratio]
    if max_ratio is not None:
        res["max_ratio"], res["over"] = max_ratio, over
    if output in ("json", "yaml"):
        print_data(res, output)
    else:
        t = Table(title=f"kbench bench: this tree against {rev} ({res['baseline']['commit'][:12]}), "
                        f"{rounds} alternating round(s){' --quick' if quick else ''}")
        for col in ("scenario", "baseline CPU s", "CPU s", "CPU ratio", "baseline wall s", "wall s", "wall ratio",
                    "CPU/pod ratio"):
            t.add_column(col, justify="left" if col == "scenario" else "right", no_wrap=True)

        def runs(xs: list[float]) -> str:
            return ", ".join(f"{x:.1f}" for x in xs)

        for name, s in res["scenarios"].items():
            per_pod = s["cpu_per_pod_ratio"]
            t.add_row(name, runs(s["baseline_cpu_s"]), runs(s["cpu_s"]), f"{s['cpu_ratio']}",
                      runs(s["baseline_wall_s"]), runs(s["wall_s"]), f"{s['wall_ratio']}",
                      "-" if per_pod is None else f"{per_pod}")
        console.print(t)
        if sets:
            console.print(f"overrides (this tree only): {_sets_line(sets)}", markup=False, highlight=False)
        if max_ratio is not None:
            verdict = f"above {max_ratio}: {', '.join(over)}" if over else f"every CPU ratio at most {max_ratio}"
            console.print(verdict, markup=False, highlight=False)
    if over:
        raise typer.Exit(1)


def _variants(texts: list[str], scenarios: list[str], quick: bool, sets: dict, output: str) -> None:
    """``--variant``: each named run scenario and its variants side by side (:mod:`kbench.benchvariants`)."""
    from rich.table import Table

    from kbench.bench import SCHEMA_VERSION, machine
    from kbench.benchsets import apply_sets
    from kbench.benchvariants import parse_variant, side_by_side
    from kbench.console import console, err_console, print_data, progress_wanted
    from kbench.errors import KbenchError

    variants = [parse_variant(t) for t in texts]
    if not scenarios:
        raise KbenchError("--variant needs --scenario NAME (a run scenario: density-5k, openb, fgd-openb, cl2-load-5k)")
    by_name = _named(scenarios, quick)
    for name in scenarios:  # a placement-only one is refused when its first variant is built
        if by_name[name].kind != "run":
            raise KbenchError(f"--variant: {name} is not a full-plane run scenario")
    show = progress_wanted()
    out = {"version": SCHEMA_VERSION, "quick": quick, "sets": sets, "machine": machine(), "scenarios": {}}
    for name in scenarios:
        def log(msg: str, name=name) -> None:
            if show:
                err_console.print(f"bench: {name}: {msg}", markup=False, highlight=False)

        res = side_by_side(apply_sets(by_name[name].data, sets), variants, log=log)
        for row in res["variants"]:
            row.pop("summary")
        out["scenarios"][name] = res
    if output in ("json", "yaml"):
        print_data(out, output)
        return
    t = Table(title=f"kbench bench --variant: side by side in one process{' --quick' if quick else ''}")
    for col in ("scenario", "variant", "CPU s", "ratio", "API requests", "pods scheduled", "virtual s"):
        t.add_column(col, justify="left" if col in ("scenario", "variant") else "right", no_wrap=col != "variant")
    for name, res in out["scenarios"].items():
        for row in res["variants"]:
            label = _sets_line(row["sets"]) if row["sets"] else "(as it is)"
            t.add_row(name, label, f"{row['cpu_s']:.1f}", f"{row['ratio']}", f"{row['api_requests']:,}",
                      f"{row['pods_scheduled']:,}", f"{row['virtual_s']:.0f}")
    console.print(t)
    if sets:
        console.print(f"overrides (every variant): {_sets_line(sets)}", markup=False, highlight=False)
