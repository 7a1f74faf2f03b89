"""``kbench compare``: a thin command over :func:`kbench.experiment.compare.compare` (STYLE habit 15).

The lead registers it with ``app.command("compare")(guarded(compare_cmd))``.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kbench.console import check_output, console, err_console, print_data, progress_wanted, say_report
from kbench.errors import KbenchError
from kbench.experiment import stats
from kbench.experiment.compare import DIRECTIONS, compare
from kbench.report.markdown import interval_name


def _parse_metrics(metrics: list[str] | None) -> tuple[list[str] | None, dict[str, str]]:
    """``NAME`` or ``NAME:lower|higher`` → (names, direction overrides)."""
    if not metrics:
        return None, {}
    names, dirs = [], {}
    for spec in metrics:
        name, _, d = spec.rpartition(":") if spec.endswith(tuple(f":{x}" for x in DIRECTIONS)) else (spec, "", "")
        names.append(name)
        if d:
            dirs[name] = d
    return names, dirs


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def render(result: dict[str, Any], console: Console) -> None:
    """Print a comparison as rich tables: one per metric, then the ranking and any warning."""
    base = result["baseline"]
    for m, per in result["metrics"].items():
        t = Table(title=f"{m} ({result['directions'][m]} is better; baseline {base})")
        t.add_column("policy", no_wrap=True)
        t.add_column(escape(f"median [{interval_name(result)}]"))  # brackets are rich markup otherwise
        t.add_column(escape(f"diff vs baseline [{interval_name(result)}]"))
        t.add_column("p (Holm)", no_wrap=True)
        t.add_column("verdict", no_wrap=True)
        for p in result["ranking"][m]:
            v = per[p]
            row = [p, f"{_fmt(v['median'])} [{_fmt(v['ci_low'])}, {_fmt(v['ci_high'])}]"]
            pr = result["paired"][m].get(p)
            if pr is None:
                row += ["(baseline)", "", ""]
            else:
                row += [f"{_fmt(pr['diff_median'])} [{_fmt(pr['ci_low'])}, {_fmt(pr['ci_high'])}]",
                        _fmt(pr["p_value"]), stats.verdict(pr["significant"])]
            t.add_row(*row)
        console.print(t)
    r = Table(title="ranking (best first)")
    r.add_column("metric")
    r.add_column("policies")
    for m, order in result["ranking"].items():
        r.add_row(m, " > ".join(order))
    console.print(r)
    console.print(f"{len(result['seeds'])} seeds, common random numbers, {result['test']} paired test, "
                  f"Holm across {len(result['metrics'])} metrics, alpha {result['alpha']}", highlight=False,
                  soft_wrap=True)
    if result.get("warning"):
        console.print(f"warning: {result['warning']}", style="yellow", highlight=False, soft_wrap=True)
    if result.get("comparison_dir"):
        console.print(f"comparison folder: {result['comparison_dir']}", highlight=False, soft_wrap=True)


def compare_cmd(
    scenario: Path = typer.Argument(..., help="Scenario YAML."),
    policy: list[str] = typer.Option(None, "--policy", help="A policy to compare; repeat (at least 2)."),
    seeds: int = typer.Option(stats.DEFAULT_SEEDS, "--seeds",
                              help="Seeds per policy (common random numbers). 10 lets the Wilcoxon test reach "
                                   "p = 0.002, enough for Holm over ten metrics; 5 can never reach 0.05."),
    metric: list[str] = typer.Option(None, "--metric",
                                     help="Dotted summary path, optionally NAME:lower or NAME:higher; repeat."),
    baseline: str = typer.Option(None, "--baseline", help="Policy the others are paired against (default: first)."),
    test: str = typer.Option("wilcoxon", "--test", help="wilcoxon (signed-rank) or t (paired t-test)."),
    out: Path = typer.Option(Path("results"), "--out", help="Parent folder of the comparison folder."),
    output: str = typer.Option("table", "-o", "--output", help="table, json, yaml or markdown."),
    report: bool = typer.Option(False, "--report", help="Also write report.html in the comparison folder."),
    param: list[str] = typer.Option(None, "--param", help="KEY=VALUE for the scenario's params, e.g. pods=FILE."),
    calibration: Path = typer.Option(None, "--calibration",
                                     help="Calibration file (kbench calibrate) laid over the scenario's defaults."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes, one run per cell (1: in this process); "
                                                     "the comparison is the same for any number."),
) -> None:
    """Compare policies over seeds: medians with CIs, paired tests, Holm correction, a ranking."""
    check_output(output, ("table", "json", "yaml", "markdown"))
    policies = list(policy or [])
    if len(policies) < 2:
        raise KbenchError("compare needs at least 2 policies", where="--policy")
    if seeds < 2:
        raise KbenchError(f"compare needs at least 2 seeds (got {seeds})", where="--seeds")
    if jobs < 1:
        raise KbenchError(f"expected a number of processes >= 1, got {jobs}", where="--jobs")
    names, dirs = _parse_metrics(metric)
    from kbench.config import load_scenario
    from kbench.config.params import parse_params
    from kbench.console import warn_shadowed

    loaded = load_scenario(scenario, params=parse_params(param), calibration=calibration)
    warn_shadowed(loaded)
    with _progress(progress_wanted(), len(policies) * seeds, err_console) as progress:
        result = compare(loaded, policies, seeds, names, baseline, out, test=test, directions=dirs,
                         progress=progress, jobs=jobs)
    if output in ("json", "yaml"):
        print_data(result, output)
    elif output == "markdown":
        import sys

        from kbench.report.markdown import comparison_markdown

        sys.stdout.write(comparison_markdown(result))
    else:
        render(result, console)
    if report and result.get("comparison_dir"):
        from kbench.report import write_report

        say_report(write_report([Path(result["comparison_dir"])]), output)


@contextmanager
def _progress(show: bool, total: int, console: Console):
    """A rich progress bar with ETA over the runs (on stderr); yields the ``progress(policy, seed)`` callback."""
    if not show:
        yield None
        return
    from kbench.experiment.progressbar import eta_bar

    with eta_bar(console) as bar:
        task = bar.add_task("runs", total=total)
        started = [0]

        def progress(p: str, s: int) -> None:
            if started[0]:
                bar.advance(task)
            started[0] += 1
            bar.update(task, description=f"run {p} seed {s}")

        yield progress
        bar.update(task, completed=total)
