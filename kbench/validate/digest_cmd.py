"""``kbench digest``: hash the results of fixed cases, or compare them with an earlier digest."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _load_against(path: Path) -> dict:
    from kbench.errors import KbenchError

    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise KbenchError(f"cannot read {path}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise KbenchError(f"{path} is not JSON (line {err.lineno}): write it with kbench digest -o json") from None
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, dict) or not all(isinstance(v, dict) and "summary" in v and "frames" in v
                                              for v in cases.values()):
        raise KbenchError(f"{path} is not a kbench digest: write it with kbench digest -o json")
    return cases


def _table(headers: list[str], rows: list[list[str]]):
    from rich.table import Table

    t = Table()
    for h in headers:
        t.add_column(h, no_wrap=True)
    for row in rows:
        t.add_row(*row)
    return t


def digest_cmd(
    cases: list[str] = typer.Argument(None, help="Cases to run (default: all): demo, fault-apiserver-restart, "
                                      "fault-etcd-leader-election, openb-reduced, fgd-openb-reduced, density-300, "
                                      "sync-poll, sync-list-watch, sync-watch-list."),
    scenario: list[Path] = typer.Option(None, "--scenario", help="Also digest this scenario file "
                                        "(repeatable; `kbench run`'s scenarios)."),
    against: Path = typer.Option(None, "--against", help="A digest printed before with -o json: show which "
                                 "parts differ; exit 1 when any does."),
    output: str = typer.Option("table", "-o", "--output", help="table, json or yaml."),
) -> None:
    """Hash each case's results (summary sections and result tables) to check that a change left them identical."""
    from kbench.console import check_output, console, err_console, print_data, progress_wanted
    from kbench.errors import KbenchError
    from kbench.validate.digest import CASES, compare, run_cases

    check_output(output)
    for path in scenario or []:
        if not path.is_file():
            raise KbenchError(f"scenario file not found: {path}")
    before = _load_against(against) if against is not None else None
    names = list(cases or ([] if scenario else CASES))  # run_cases rejects an unknown name
    show = progress_wanted()

    def log(msg: str) -> None:
        if show:
            err_console.print(f"digest: {msg}", markup=False, highlight=False)

    got = run_cases(names, list(scenario or []), log=log)
    rows = compare(got, before) if before is not None else None
    differs = rows is not None and any(v == "differs" for _, _, v in rows)
    if output in ("json", "yaml"):
        data: dict = {"cases": got}
        if rows is not None:
            data["against"] = {"file": str(against), "differs": [f"{c} {p}" for c, p, v in rows if v == "differs"],
                               "same": sum(v == "same" for _, _, v in rows)}
        print_data(data, output)
    elif rows is None:
        console.print(_table(["case", "digest", "parts"],
                            [[name, d["hash"][:16], str(len(d["summary"]) + len(d["frames"]))]
                             for name, d in got.items()]))
    else:
        shown = [[c, p, v] for c, p, v in rows if v != "same"]
        same = sum(v == "same" for _, _, v in rows)
        if shown:
            console.print(_table(["case", "part", "result"], shown))
        console.print(f"{same} of {len(rows)} parts identical to {against}", markup=False, highlight=False)
    if differs:
        raise typer.Exit(1)
