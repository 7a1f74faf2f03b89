"""``kbench bench``: the CLI face of :mod:`kbench.bench` (parse, call, print)."""

from __future__ import annotations

import typer


def bench_cmd(
    quick: bool = typer.Option(False, "--quick", help="Tiny scenarios (CI smoke, well under a minute)."),
    scenario: list[str] = typer.Option(None, "--scenario",
                                       help="Only this scenario (repeatable): density-5k, openb, fgd-openb, "
                                            "sync-list-watch; cl2-load-5k runs only when named."),
    growth: bool = typer.Option(True, "--growth/--no-growth", help="Also run the 1,000 vs 5,000 node pair."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml."),
) -> None:
    """Benchmark kbench itself: wall time, speed-up, events/s and peak RSS per reference scenario."""
    from kbench.console import check_output, console, err_console, print_data

    check_output(output)
    from kbench.bench import bench

    def log(msg: str) -> None:
        err_console.print(f"bench: {msg}", markup=False, highlight=False, soft_wrap=True)

    res = bench(quick=quick, only=scenario or None, growth=growth, log=log)
    if output in ("json", "yaml"):
        print_data(res, output)
        return
    from rich.console import Console
    from rich.table import Table

    out = console if console.width >= 150 else Console(width=150)  # a wide table: never wrap the figures

    t = Table(title=f"kbench bench{' --quick' if quick else ''} · {res['machine']['cpus']} CPUs · "
                    f"Python {res['machine']['python']}")
    for col in ("scenario", "wall s", "CPU s", "virtual s", "speed-up", "pods", "pods/wall s", "events",
                "events/wall s", "efficiency", "peak RSS MiB"):
        t.add_column(col, justify="left" if col == "scenario" else "right", no_wrap=True)
    rows = list(res["scenarios"].items())
    g = res.get("growth")
    if g:
        rows += [(g["small"]["name"], g["small"]), (g["large"]["name"], g["large"])]
    for name, s in rows:
        eff = s.get("efficiency")
        t.add_row(name, f"{s['wall_s']:.1f}", f"{s['cpu_s']:.1f}", f"{s['virtual_s']:.0f}", f"{s['speedup']:.1f}", f"{s['pods']:,}",
                  f"{s['pods_per_wall_s']:,.0f}", f"{s['events']:,}", f"{s['events_per_wall_s']:,.0f}",
                  "" if eff is None else f"{eff:.2f}", f"{s['peak_rss_mib']:,.0f}")
    out.print(t)
    out.print(f"SimPy bare timeout loop: {res['engine']['simpy_timeout_events_per_s']:,.0f} events/s; "
                  f"efficiency (kbench events/s ÷ SimPy's): {res['efficiency']}", markup=False, highlight=False)
    if g:
        out.print(f"growth: wall s per pod {g['large']['name']} ÷ {g['small']['name']} = {g['ratio']}",
                      markup=False, highlight=False)
