"""Console ergonomics, one rule for every command (kbench/console.py): no wrapping or truncation
when stdout is not a terminal, ``-o yaml`` beside ``-o json``, ``kbench --version``, progress only
when stderr is a terminal."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from kbench import console as kconsole
from kbench.cli import app
from kbench.results import RunWriter
from kbench.version import __version__

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
runner = CliRunner()


def _kbench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """kbench in a child process with stdout and stderr on pipes (what ``| cat`` gives it)."""
    return subprocess.run([sys.executable, "-c", "from kbench.cli import main; main()", *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "40", **(env or {})},
                          timeout=120)


@pytest.fixture
def many_runs(tmp_path):
    out = tmp_path / "results"
    ids = [f"20261203-12000{i}-a-rather-long-scenario-name-for-wrapping-most-allocated-seed{i}" for i in range(5)]
    for i, rid in enumerate(ids):
        w = RunWriter(out, rid, {"kind": "run", "scenario": "a-rather-long-scenario-name-for-wrapping",
                                 "policy": "most-allocated", "seed": i, "config": {}, "config_hash": "h"})
        w.json("summary", {"pods": {"created": 3000 + i}, "pod_startup_s": {"p99": 21.4},
                           "scheduling": {"throughput_pods_per_s": 98.5}})
        w.table("pods", pd.DataFrame({"a": [1]}))
        w.finish("complete", wall_s=12.5)
    return out, ids


def test_results_ls_piped_prints_one_line_per_run(many_runs):
    """``kbench results ls | cat``: each run on one line, its id and headline whole, even with COLUMNS=40."""
    out, ids = many_runs
    res = _kbench("results", "ls", str(out))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    for i, rid in enumerate(ids):
        hits = [line for line in lines if rid in line]
        assert len(hits) == 1, (rid, res.stdout)
        assert f"{3000 + i} pods" in hits[0] and "pods/s" in hits[0] and "most-allocated" in hits[0]
    assert "…" not in res.stdout
    assert sum(1 for line in lines if "20261203-12000" in line) == len(ids)


def test_explain_piped_keeps_node_names_and_reasons_whole():
    """``kbench explain ... | cat`` shows every node name and filter reason in full."""
    args = ["explain", "--policy", "default", "--snapshot", str(FIX / "cluster-snapshot.yaml"),
            "--pod", str(FIX / "pod-web.yaml")]
    data = json.loads(_kbench(*args, "-o", "json").stdout)
    res = _kbench(*args)
    assert res.returncode == 0, res.stderr
    assert "…" not in res.stdout
    for name, row in data["nodes"].items():
        lines = [line for line in res.stdout.splitlines() if name in line]
        assert lines, name
        for reason in row["filters"].values():
            if reason != "Success":
                assert any(reason in line for line in lines), (name, reason)


def test_a_terminal_keeps_its_width(monkeypatch):
    """On a terminal the console wraps at the terminal's width (here a fake 60-column terminal)."""

    class Tty(io.StringIO):
        def isatty(self):
            return True

    # rich reads COLUMNS and LINES when the console is built (a test runner's worker may set them)
    monkeypatch.setenv("COLUMNS", "60")
    monkeypatch.delenv("LINES", raising=False)
    c = kconsole._Console(file=Tty(), width=None, force_terminal=True)
    assert c.width == 60
    piped = kconsole._Console(file=io.StringIO())
    assert piped.width == kconsole.PIPE_WIDTH


@pytest.mark.parametrize("args", [
    ["policies"],
    ["explain", "--policy", "default", "--snapshot", str(FIX / "cluster-snapshot.yaml"), "--pod",
     str(FIX / "pod-web.yaml")],
    ["workload", "inspect", str(ROOT / "tests" / "fixtures" / "traces" / "workload.yaml")],
])
def test_yaml_is_the_same_data_as_json(args):
    """``-o yaml`` prints exactly what ``-o json`` prints, in YAML."""
    j = runner.invoke(app, [*args, "-o", "json"])
    y = runner.invoke(app, [*args, "-o", "yaml"])
    assert j.exit_code == 0 and y.exit_code == 0, (j.output, y.output)
    assert yaml.safe_load(y.stdout) == json.loads(j.stdout)
    assert not y.stdout.lstrip().startswith(("{", "["))


def test_results_ls_and_show_yaml(many_runs):
    out, ids = many_runs
    j = runner.invoke(app, ["results", "ls", str(out), "-o", "json"])
    y = runner.invoke(app, ["results", "ls", str(out), "-o", "yaml"])
    assert yaml.safe_load(y.stdout) == json.loads(j.stdout)
    y = runner.invoke(app, ["results", "show", str(out / ids[0]), "-o", "yaml"])
    assert y.exit_code == 0 and yaml.safe_load(y.stdout)["summary"]["pods"]["created"] == 3000


def test_version_flag_and_command():
    for args in (["--version"], ["version"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and res.stdout.strip() == f"kbench {__version__}"


def test_progress_only_when_stderr_is_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert kconsole.progress_wanted() is False
    monkeypatch.setattr(sys, "stderr", Tty())
    assert kconsole.progress_wanted() is True


def test_compare_table_headers_name_the_interval():
    """The interval's label is in the header, brackets and all (rich would read "[...]" as markup)."""
    from kbench.experiment.compare import analyse
    from kbench.experiment.compare_cmd import render

    comp = analyse({"a": [[1.0, 2.0, 3.0]], "b": [[2.0, 3.0, 4.0]]}, ["pod_startup_s.p99"], [1, 2, 3], "a")
    buf = io.StringIO()
    render(comp, kconsole._Console(file=buf))
    assert "median [min–max, n=3]" in buf.getvalue() and "diff vs baseline [min–max, n=3]" in buf.getvalue()
