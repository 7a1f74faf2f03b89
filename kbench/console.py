"""What every command prints through: the consoles, one-line errors, ``-o`` checking, data output.

Commands import these; nothing here imports a command, so no command reaches back into
:mod:`kbench.cli`. Exit codes follow kubectl: 0 on success, 1 when a check the user asked for
fails, 2 on bad input.

**Pipes.** When a console's stream is not a terminal (``kbench results ls | cat``, a CI log, a
file), it is as wide as :data:`PIPE_WIDTH`: tables keep every cell whole on one line (no wrapping,
no ``…``) and text is not folded. On a terminal the terminal's width applies. Every console a
command uses comes from :func:`make_console` (``console`` and ``err_console`` below are two).

**Formats.** ``-o json`` and ``-o yaml`` print the same data (:func:`print_data`); commands that
print data accept both. Progress goes to stderr, in every output mode, only when stderr is a
terminal (:func:`progress_wanted`).
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any

import typer
from rich.console import Console, ConsoleDimensions

from kbench.errors import KbenchError, RunFailed

PIPE_WIDTH = 100_000
"""Columns of a console whose stream is not a terminal: wide enough that nothing wraps."""
DATA_FORMATS = ("json", "yaml")
"""The ``-o`` values that print data rather than a table (same content, two syntaxes)."""


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _Console(Console):
    """A rich console that never wraps or truncates when its stream is not a terminal.

    ``COLUMNS`` in the environment does not narrow a pipe (rich would take it as the width); a
    ``width`` given by the caller does.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._fixed_width = kwargs.get("width") is not None

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size, or :data:`PIPE_WIDTH` columns when the stream is not a terminal."""
        dims = Console.size.fget(self)
        if not self._fixed_width and not _isatty(self.file):
            return ConsoleDimensions(PIPE_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)


def make_console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that follows the pipe rule of the module docstring."""
    return _Console(stderr=stderr)


console = make_console()
err_console = make_console(stderr=True)


def progress_wanted() -> bool:
    """Whether to show progress: only when stderr is a terminal (whatever ``-o`` is)."""
    return _isatty(sys.stderr)


def fail(message: str, code: int = 2) -> None:
    """Print one ``error:`` line to stderr and exit with ``code``."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """Print one ``warning:`` line to stderr (the command goes on)."""
    err_console.print(f"warning: {message}", markup=False, highlight=False, soft_wrap=True)


def guarded(fn):
    """Turn KbenchError (and a few other user-input errors) into one line and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KbenchError as err:
            fail(err.one_line())
        except RunFailed as err:
            fail(" ".join(str(err).split()), code=RunFailed.exit_code)
        except FileNotFoundError as err:
            fail(f"{err.filename}: no such file")
        except KeyboardInterrupt as err:
            msg = str(err)
            err_console.print(msg if msg.startswith("interrupted") else "interrupted", markup=False,
                              highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper


def check_output(output: str, allowed: tuple[str, ...] = ("table", "json", "yaml")) -> None:
    """Exit 2 unless ``output`` (the ``-o`` value) is one of ``allowed``."""
    if output not in allowed:
        fail(f"-o {output}: expected one of {', '.join(allowed)}")


def _plain(obj: Any) -> Any:
    """``obj`` as plain JSON data (numpy numbers, paths and the like through ``str``)."""
    return json.loads(json.dumps(obj, default=str))


def to_yaml(obj: Any) -> str:
    """``obj`` as YAML: the same data as the JSON output, keys in the same order."""
    import yaml

    return yaml.safe_dump(_plain(obj), sort_keys=False, allow_unicode=True, width=PIPE_WIDTH)


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON to stdout (``-o json``)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def print_data(obj: Any, output: str) -> None:
    """Write ``obj`` to stdout as ``-o json`` or ``-o yaml`` asks."""
    if output == "yaml":
        sys.stdout.write(to_yaml(obj))
    else:
        print_json(obj)


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


def warn_not_modelled(summaries: list[dict]) -> None:
    """One ``warning: not modelled:`` line on stderr per mechanism the runs left out (their
    ``ignored`` lists), so a run never drops a mechanism silently."""
    seen: list[str] = []
    for s in summaries:
        for item in s.get("ignored") or ():
            if item not in seen:
                seen.append(item)
    for item in seen:
        err_console.print(f"warning: not modelled: {item}", markup=False, highlight=False, soft_wrap=True)
