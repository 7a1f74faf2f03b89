"""``kbench envelope``: a thin command over :func:`kbench.experiment.envelope.envelope` (STYLE habit 15).

Registered in kbench/cli.py with ``app.command("envelope")(guarded(envelope_cmd))``. Exit codes:
0 when the search completes, whether it found a breach, found the SLO failing already at
``--min`` or found no breach up to ``--max`` (the search is a measurement, not a check the user
asked to pass); 2 on bad input (one ``error:`` line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from kbench.console import check_output, console, err_console, print_data, say_report
from kbench.experiment.envelope import DIMENSIONS, RUN_SLOS, SYNC_SLOS, envelope


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def verdict_line(result: dict[str, Any]) -> str:
    """One sentence: where the SLO first fails, or that it never did."""
    dim, slo = result["dimension"], result["slo"]
    if result["status"] == "no_breach":
        return f"no breach up to {dim} = {_fmt(result['max'])}: {slo} passed at every step"
    if result["status"] == "breach_at_min":
        return f"{slo} fails already at {dim} = {_fmt(result['min'])} (--min); lower it to find the breach point"
    return (f"{slo} first fails at {dim} = {_fmt(result['breach_value'])} "
            f"(last pass {_fmt(result['last_pass'])}, first fail {_fmt(result['first_fail'])})")


def render(result: dict[str, Any], console: Console) -> None:
    """Print the steps as a table, then the verdict, the rule and the folder."""
    t = Table(title=f"kbench envelope: {result['scenario']} · {result['dimension']} · {result['slo']} "
                    f"<= {_fmt(result['threshold'])}")
    t.add_column("step", justify="right")
    t.add_column(result["dimension"], justify="right")
    t.add_column("SLO values")
    t.add_column("verdict", no_wrap=True)
    for i, s in enumerate(result["steps"], 1):
        vals = ", ".join(f"{_fmt(v)}{'' if p else '!'}" for v, p in zip(s["values"], s["passes"], strict=True))
        t.add_row(str(i), _fmt(s["value"]), vals, "pass" if s["pass"] else "FAIL")
    console.print(t)
    console.print(verdict_line(result), highlight=False, soft_wrap=True)
    console.print(f"{result['replications']} replication(s) per step (seeds {result['seeds']}); {result['rule']}; "
                  "! marks a failing replication", highlight=False, soft_wrap=True)
    if result.get("envelope_dir"):
        console.print(f"envelope folder: {result['envelope_dir']}", highlight=False, soft_wrap=True)


def envelope_cmd(
    scenario: Path = typer.Argument(..., help="Scenario YAML (workloads/envelope-small.yaml)."),
    vary: str = typer.Option(..., "--vary", help=f"Dimension: {' | '.join(DIMENSIONS)}."),
    slo: str = typer.Option(..., "--slo", help=f"SLO name. nodes, pod-rate: {', '.join(RUN_SLOS)}; "
                                                f"clients: {', '.join(SYNC_SLOS)}."),
    min_value: float = typer.Option(None, "--min", help="First value tried (default: the scenario's own)."),
    max_value: float = typer.Option(None, "--max", help="Largest value tried (default: 64 x --min)."),
    replications: int = typer.Option(1, "--replications", "-r", help="Seeds per step (the same at every step)."),
    tolerance: float = typer.Option(0.1, "--tolerance",
                                    help="Stop when first_fail - last_pass <= tolerance x first_fail."),
    seed: int = typer.Option(None, "--seed", help="First seed (default: the scenario's)."),
    threshold: float = typer.Option(None, "--threshold", help="Override the SLO's threshold (s, or a count)."),
    policy: str = typer.Option(None, "--policy", help="Scheduling policy (nodes, pod-rate)."),
    strategy: str = typer.Option(None, "--strategy", help="poll or list-watch (clients; default: scenario's first)."),
    param: list[str] = typer.Option(None, "--param", help="KEY=VALUE for the scenario's params."),
    out: Path = typer.Option(Path("results"), "--out", help="Parent folder of the envelope folder."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml."),
    report: bool = typer.Option(False, "--report", help="Also write report.html in the envelope folder (the SLO "
                                "against the varied dimension, with the boundary)."),
) -> None:
    """Find the smallest nodes / pod-rate / clients at which an SLO first fails (bracketing, bisection)."""
    check_output(output)
    from kbench.config import load_scenario
    from kbench.config.params import parse_params

    sc = load_scenario(scenario, params=parse_params(param))

    def progress(step: dict[str, Any]) -> None:
        vals = ", ".join(_fmt(v) for v in step["values"])
        err_console.print(f"step {vary}={_fmt(step['value'])}: {slo} = [{vals}] -> {'pass' if step['pass'] else 'FAIL'}",
                  highlight=False, markup=False, soft_wrap=True)

    result = envelope(sc, vary, slo, min_value=min_value, max_value=max_value, replications=replications,
                      tolerance=tolerance, seed=seed, threshold=threshold, out_dir=out, policy=policy,
                      strategy=strategy, progress=progress)
    if output in ("json", "yaml"):
        print_data(result, output)
    else:
        render(result, console)
    if report and result.get("envelope_dir"):
        from kbench.report import write_report

        say_report(write_report([Path(result["envelope_dir"])]), output)
