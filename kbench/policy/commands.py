"""Typer command functions for ``kbench explain`` and ``kbench policies`` (registered in kbench/cli.py).

Bad input prints one line ``error: ...`` on stderr and exits with code 2 (DESIGN.md decision 10).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from kbench.console import check_output, console, print_data
from kbench.errors import KbenchError
from kbench.policy.registry import default_registry

if TYPE_CHECKING:
    from kbench.policy.explain import Explanation


def _fail(err: KbenchError) -> typer.Exit:
    typer.echo(f"error: {err.one_line()}", err=True)
    return typer.Exit(2)


def _render(exp: Explanation) -> Table:
    fw = exp.framework
    table = Table(title=f"pod {exp.pod.key} · policy {fw.profile.name}", title_justify="left")
    table.add_column("node")
    table.add_column("filters")
    for name in fw.score_plugins:
        table.add_column(f"{name} ×{fw.weights[name]}", justify="right")
    table.add_column("total", justify="right")
    for name, row in exp.data["nodes"].items():
        marker = "▶ " if name == exp.data["selected"] else "  "
        if row["feasible"]:
            verdict = "[green]pass[/green]" if row["filters"] else "[green]pass[/green] (no filters)"
            cells = ["—" if row["scores"].get(p) is None else str(row["scores"][p]) for p in fw.score_plugins]
            total = f"[bold]{row['total']}[/bold]" if marker.strip() else str(row["total"])
        else:
            failing = [(f, r) for f, r in row["filters"].items() if r != "Success"]
            verdict = "[red]" + "; ".join(f"{f}: {r}" for f, r in failing) + "[/red]" if failing else "[red]rejected[/red]"
            cells = ["" for _ in fw.score_plugins]
            total = ""
        table.add_row(marker + name, verdict, *cells, total)
    return table


def explain_cmd(
    policy: str = typer.Option(..., "--policy", help="Policy name (default, fgd, ...) or file (.yaml KubeSchedulerConfiguration, .py)."),
    snapshot: Path = typer.Option(..., "--snapshot", help="Cluster snapshot: `kubectl get nodes,pods -o yaml` output."),
    pod: Path = typer.Option(..., "--pod", help="Pod manifest (YAML)."),
    score_nodes: str = typer.Option(None, "--score-nodes",
                                    help="N1,N2,...: filter and score only these nodes (all still count for topology)."),
    feature_gates: str = typer.Option(None, "--feature-gates", help="Name=true|false,... (scheduler feature gates)."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml."),
) -> None:
    """Show, per node, each filter's verdict, each plugin's score and the weighted total for one pod."""
    check_output(output)
    try:
        from kbench.config.features import FeatureGates
        from kbench.policy.explain import explain_full  # the framework and pandas: not at CLI start

        gates = FeatureGates.parse(feature_gates) if feature_gates else None
        names = [n.strip() for n in score_nodes.split(",") if n.strip()] if score_nodes is not None else None
        if names is not None and not names:
            raise KbenchError("expected N1,N2,... (node names)", where="--score-nodes")
        exp = explain_full(policy, snapshot, pod, score_nodes=names, feature_gates=gates)
    except KbenchError as err:
        raise _fail(err) from None
    if output in ("json", "yaml"):
        print_data(exp.data, output)
        return
    console.print(_render(exp))
    weights = ", ".join(f"{n}×{w}" for n, w in exp.framework.weights.items())
    console.print(f"scores are normalized (0..100) before weight; total = Σ weight × score ({weights or 'no score plugins'})")
    if exp.data["selected"] is not None:
        console.print(f"selected: [bold]{exp.data['selected']}[/bold]")
    else:
        console.print(f"selected: none ({exp.result.status.message()})")
    for name, st in {**exp.data["prefilter"], **exp.data["prescore"]}.items():
        if st["code"] != "Skip":
            console.print(f"{name}: {st['code']}: {'; '.join(st['reasons'])}", markup=False)
    for note in exp.data["notes"]:
        console.print(f"note: {note}", markup=False)


def policies_cmd(output: str = typer.Option("table", "-o", "--output", help="table, json or yaml.")) -> None:
    """List every policy (named profile) and plugin, with a description and where it came from."""
    check_output(output)
    try:
        reg = default_registry()
    except KbenchError as err:
        raise _fail(err) from None
    profiles = [{"name": p.name, "version": p.version, "origin": p.origin, "source": p.source,
                 "description": p.description} for p in sorted(reg.profiles.values(), key=lambda p: p.name)]
    plugins = [{"name": p.name, "version": p.version, "origin": p.origin, "source": p.source,
                "points": p.points, "description": p.description}
               for p in sorted(reg.plugins.values(), key=lambda p: p.name)]
    if output in ("json", "yaml"):
        print_data({"policies": profiles, "plugins": plugins}, output)
        return
    table = Table(title="policies and plugins", title_justify="left")
    for col in ("kind", "name", "origin", "description"):
        table.add_column(col)
    for p in profiles:
        table.add_row("policy", f"{p['name']} (v{p['version']})", p["origin"], p["description"])
    for p in plugins:
        table.add_row("plugin", f"{p['name']} (v{p['version']})", p["origin"],
                      f"{p['description']} [dim][{', '.join(p['points'])}][/dim]")
    console.print(table)
