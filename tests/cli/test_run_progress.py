"""The run command's progress bar: virtual seconds for a lifecycle run, pods for a placement-only run."""

from __future__ import annotations

import io

from rich.console import Console

import kbench.experiment.run_cmd as run_cmd


def _render(monkeypatch, calls) -> str:
    buf = io.StringIO()
    monkeypatch.setattr(run_cmd, "err_console", Console(file=buf, force_terminal=True, width=100))

    def fn(update):
        for args in calls:
            update(*args)
        return "done"

    assert run_cmd._with_progress(True, 60.0, fn) == "done"
    return buf.getvalue()


def test_a_lifecycle_run_counts_virtual_seconds(monkeypatch):
    assert "virtual 30/60 s" in _render(monkeypatch, [(30.0, 60.0)])


def test_a_placement_only_run_counts_pods(monkeypatch):
    out = _render(monkeypatch, [(5, 40, "pods"), (40, 40, "pods")])
    assert "40/40 pods" in out and "virtual" not in out
