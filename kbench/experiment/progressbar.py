"""The progress bar of the commands that run many simulations (``compare``, ``sweep``)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def eta_bar(console: Console, label: str = "{task.description}") -> Progress:
    """A transient bar with done/total, elapsed time and ETA on ``console`` (use it as a context
    manager); ``label`` is the first column's text (a rich format string over the task)."""
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
