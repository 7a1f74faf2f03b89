"""``kbench report``: a thin command over :func:`kbench.report.write_report` (STYLE habit 15)."""

from __future__ import annotations

from pathlib import Path

import typer


def report_cmd(
    paths: list[Path] = typer.Argument(..., help="Run, comparison, sweep, sync or envelope folders (several → one "
                                       "page)."),
    out: Path = typer.Option(None, "--out", help="HTML file to write (default: report.html in the first folder)."),
) -> None:
    """Write one self-contained HTML report (plotly, works offline) for results folders."""
    import time

    from kbench.console import console
    from kbench.report import write_report

    t0 = time.perf_counter()
    path = write_report(list(paths), out)
    size_mb = path.stat().st_size / 1e6
    console.print(f"report: {path} ({size_mb:.1f} MB, {time.perf_counter() - t0:.1f} s)", markup=False,
                    highlight=False, soft_wrap=True)
