"""HTML reports: one self-contained plotly page per run, comparison, sweep or sync experiment.

``write_report(paths, out)`` is the entry point (``kbench report`` and the ``--report`` flags call
it); :mod:`kbench.report.figures` holds the figures as pure functions for notebooks.
"""

from __future__ import annotations

from pathlib import Path

from kbench.errors import KbenchError

REPORT_NAME = "report.html"


def write_report(paths: list[Path], out: Path | None = None) -> Path:
    """Write one HTML page reporting on every folder in ``paths``.

    Args:
        paths: Run, comparison, sweep or sync folders (kinds may be mixed; sync folders share a
            section so polling and watching are drawn against each other).
        out: The HTML file to write (default: ``report.html`` inside the first folder).

    Returns:
        The file written.

    Raises:
        KbenchError: No path, a path that is not a results folder, or an unwritable output.
    """
    from kbench.report.loaders import load
    from kbench.report.page import render
    from kbench.report.sections import build_sections

    paths = [Path(p) for p in paths]
    if not paths:
        raise KbenchError("report needs at least one folder")
    items = [load(p) for p in paths]
    target = Path(out) if out is not None else paths[0] / REPORT_NAME
    if target.is_dir():
        target = target / REPORT_NAME
    text = render(build_sections(items), [str(p) for p in paths])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as err:
        raise KbenchError(f"cannot write the report: {err.strerror}", source=str(target)) from None
    return target


__all__ = ["REPORT_NAME", "write_report"]
