"""User-facing errors.

Every problem with user input (scenario, trace, policy, CLI option) raises :class:`KbenchError`
whose message names the file, the field or line, and what was expected. The CLI prints the message
on one line and exits with code 2 (DESIGN.md decision 10).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class KbenchError(Exception):
    """An error in user input, reported as one line without a traceback.

    Args:
        message: What is wrong and what was expected.
        source: The file (or other origin) the bad input came from, if any.
        where: The field path (``apiserver.cores``) or ``line 12`` inside ``source``.
    """

    def __init__(self, message: str, *, source: str | None = None, where: str | None = None):
        self.message = message
        self.source = source
        self.where = where
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as the CLI prints it: ``source: where: message``."""
        parts = [p for p in (self.source, self.where) if p]
        prefix = ": ".join(parts)
        text = f"{prefix}: {self.message}" if prefix else self.message
        return " ".join(text.split("\n"))


class ConfigError(KbenchError):
    """A scenario or config file is malformed."""


class PolicyError(KbenchError):
    """A policy or profile cannot be resolved, loaded or run."""


class TraceError(KbenchError):
    """A trace file is malformed."""


class RunFailed(Exception):
    """Runs of an experiment failed (a model error, not bad input). The CLI prints the message,
    which names the failed runs or cells, on one line and exits with code 1."""

    exit_code = 1


class EtcdQuotaExceeded(Exception):
    """etcd rejected a write because the backend quota is exceeded (B8).

    This is a model event, not a user-input error: clients see it as a failed request.
    """

    def __init__(self, size_bytes: int, quota_bytes: int):
        # args stay (size, quota) so that SimPy can rebuild the exception as type(e)(*e.args).
        super().__init__(size_bytes, quota_bytes)
        self.size_bytes = size_bytes
        self.quota_bytes = quota_bytes

    def __str__(self) -> str:
        return f"mvcc: database space exceeded ({self.size_bytes} > {self.quota_bytes} bytes)"


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A " (did you mean 'x'?)" suffix for a misspelt name, or "" when nothing is close."""
    close = difflib.get_close_matches(name, sorted(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
