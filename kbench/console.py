"""What every command prints through: the consoles, one-line errors, ``-o`` checking, JSON output.

Commands import these; nothing here imports a command, so no command reaches back into
:mod:`kbench.cli`. Exit codes follow kubectl: 0 on success, 1 when a check the user asked for
fails, 2 on bad input.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any

import typer
from rich.console import Console

from kbench.errors import KbenchError

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one ``error:`` line to stderr and exit with ``code``."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def guarded(fn):
    """Turn KbenchError (and a few other user-input errors) into one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KbenchError as err:
            fail(err.one_line())
        except FileNotFoundError as err:
            fail(f"{err.filename}: no such file")
        except KeyboardInterrupt as err:
            msg = str(err)
            err_console.print(msg if msg.startswith("interrupted") else "interrupted", markup=False,
                              highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper


def check_output(output: str, allowed: tuple[str, ...] = ("table", "json")) -> None:
    """Exit 2 unless ``output`` (the ``-o`` value) is one of ``allowed``."""
    if output not in allowed:
        fail(f"-o {output}: expected one of {', '.join(allowed)}")


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON to stdout (``-o json``)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def fmt(v: Any, digits: int = 3) -> str:
    """A table cell: ``-`` for None, floats to ``digits`` significant digits."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e6 else f"{v:.3e}"
    return str(v)


def warn_shadowed(scenario: Any) -> None:
    """One warning line on stderr when a scenario's own values shadow its calibration's."""
    record = getattr(scenario, "calibration", None)
    if record is not None and record.shadowed:
        err_console.print(f"warning: the scenario sets {', '.join(record.shadowed)} itself: the calibration's "
                          f"values of {'it' if len(record.shadowed) == 1 else 'them'} are not used",
                          markup=False, highlight=False, soft_wrap=True)


def say_report(path: Any, output: str) -> None:
    """Say where a report went: on stdout with a table, on stderr when stdout carries data."""
    (console if output == "table" else err_console).print(f"report: {path}", markup=False, highlight=False,
                                                          soft_wrap=True)
