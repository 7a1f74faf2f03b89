"""``kbench validate``: run the validation suite and print one line per check."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from kbench.validate.record import Record

HEADERS = ["check", "compared", "expected", "simulated", "95% CI", "error", "tolerance", "result", "source"]


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x == 0:
        return "0"
    a = abs(x)
    if float(x).is_integer() and a < 1e7:
        return str(int(x))
    return f"{x:.3g}" if 1e-3 <= a < 1e5 else f"{x:.3e}"


def _tol(r: Record) -> str:
    return {"rel": f"±{r.tolerance:.0%}" if r.expected else f"±{r.tolerance:g}", "factor": f"×{r.tolerance:g}",
            "max": "≤ expected", "exact": "exact", "info": "info"}[r.kind]


def _err(r: Record) -> str:
    return f"{r.error:+.1%}" if r.expected else _num(r.error)


def rows(records: list[Record]) -> list[list[str]]:
    """Table cells per record (shared by the table and Markdown outputs)."""
    out = []
    for r in records:
        ci = "-" if math.isnan(r.ci_low) else f"[{_num(r.ci_low)}, {_num(r.ci_high)}]"
        unit = f" {r.unit}" if r.unit else ""
        out.append([r.name, r.compared, _num(r.expected) + unit, _num(r.simulated) + unit, ci, _err(r), _tol(r),
                    "info" if r.kind == "info" else "pass" if r.passed else "FAIL", r.source])
    return out


def markdown(records: list[Record], not_covered: tuple | None = None) -> str:
    """The Markdown table plus the not-covered list (for docs/VALIDATION.md)."""
    try:
        from kbench.report.markdown import md_table
    except ImportError:  # pragma: no cover - the report helper is optional
        md_table = None
    body = rows(records)
    if md_table is not None:
        text = md_table(HEADERS, body)
    else:  # pragma: no cover
        text = "| " + " | ".join(HEADERS) + " |\n|" + "---|" * len(HEADERS) + "\n"
        text += "".join("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |\n" for row in body)
    passed = sum(r.passed for r in records)
    text += f"\n{passed}/{len(records)} checks passed.\n"
    notes = [r for r in records if r.note]
    if notes:
        text += "\nNotes:\n\n" + "".join(f"- `{r.name}`: {r.note}\n" for r in notes)
    text += "\nNot covered:\n\n"
    if not_covered is None:
        from kbench.validate.suite import LIVE_NOT_COVERED, NOT_COVERED

        not_covered = (*NOT_COVERED, LIVE_NOT_COVERED)
    text += "".join(f"- `{name}`: {why}\n" for name, why in not_covered)
    return text


def validate_cmd(
    quick: bool = typer.Option(False, "--quick", help="Small sizes (under a minute; what `make test` runs)."),
    output: str = typer.Option("table", "-o", "--output", help="table | json | yaml | markdown"),
    only: list[str] = typer.Option(None, "--only", help="Run only these check families (repeatable): "
                                   "queueing, scoring, filtering, sync, scheduler, clients, etcd, density, etcd-live."),
    calibration: Path = typer.Option(None, "--calibration", help="Calibration file laid over the defaults; "
                                     "published figures of other hardware are then shown, not checked."),
    live_etcd: str = typer.Option(None, "--live-etcd", help="URL of a real etcd: calibrate on 1 and 4 clients (or "
                                  "use --calibration), predict and measure 16 and 64 clients."),
    go_schedtrace: Path = typer.Option(None, "--go-schedtrace", help="With --live-etcd: the log of that etcd "
                                       "started with GODEBUG=schedtrace=50 (its idle spinning is not work)."),
) -> None:
    """Check the model against queueing theory, upstream scoring tests and published figures.

    Exit 0 when every check passes, 1 when any fails, 2 on bad input.
    """
    from kbench.console import check_output, console, err_console, print_data, progress_wanted

    check_output(output, ("table", "json", "yaml", "markdown"))

    def progress(name: str, wall_s: float) -> None:
        if progress_wanted():
            err_console.print(f"{name}: done in {wall_s:.1f} s", markup=False, highlight=False)

    def say(line: str) -> None:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)

    # imports the model: not at CLI start
    from kbench.validate.suite import LIVE_NOT_COVERED, NOT_COVERED, run_suite

    live = None
    if calibration is not None:
        from kbench.config.calibration import load_calibration

        load_calibration(calibration)  # a bad file fails here, before any family runs
    if live_etcd is not None:
        from kbench.calibrate.commands import sched_trace
        from kbench.calibrate.live import connect
        from kbench.validate.etcdlive import check_live_etcd

        sched = sched_trace(go_schedtrace)
        connect([live_etcd])  # an unreachable etcd fails here, in one line

        def live():
            return check_live_etcd(live_etcd, calibration=calibration, sched=sched, say=say)

    not_covered = NOT_COVERED if live_etcd else (*NOT_COVERED, LIVE_NOT_COVERED)
    records = run_suite(quick=quick, only=only or None, progress=progress, calibration=calibration,
                        live_etcd=live)
    if output in ("json", "yaml"):
        print_data([r.to_json() for r in records], output)
    elif output == "markdown":
        typer.echo(markdown(records, not_covered), nl=False)
    else:
        from rich.table import Table

        t = Table(title=f"kbench validate ({'quick' if quick else 'full'}); -o json or markdown adds 'compared'")
        keep = [i for i, h in enumerate(HEADERS) if h != "compared"]
        for i in keep:
            t.add_column(HEADERS[i], overflow="fold")
        for row in rows(records):
            t.add_row(*(row[i] for i in keep), style="bold red" if row[7] == "FAIL" else None)
        console.print(t)
        passed = sum(r.passed for r in records)
        console.print(f"{passed}/{len(records)} checks passed", markup=False, highlight=False)
        for r in records:
            if not r.passed and r.note:
                console.print(f"FAIL {r.name}: {r.note}", markup=False, highlight=False)
        for name, why in not_covered:
            console.print(f"not covered: {name}: {why}", markup=False, highlight=False)
        if calibration is not None:
            console.print(f"calibration: {calibration} laid over the defaults; published figures of other hardware "
                          "are info", markup=False, highlight=False, soft_wrap=True)
    if not all(r.passed for r in records):
        raise typer.Exit(1)
