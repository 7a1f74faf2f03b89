"""`kbench results ls` and `kbench results show`: tables, JSON contract, one-line errors."""

import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from kbench.cli import guarded
from kbench.results import RunWriter
from kbench.results.commands import results_ls_cmd, results_show_cmd

runner = CliRunner()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("ls")(guarded(results_ls_cmd))
app.command("show")(guarded(results_show_cmd))

RUN_SUMMARY = {"pods": {"created": 20}, "pod_startup_s": {"p99": 1.25},
               "scheduling": {"throughput_pods_per_s": 40.0},
               "slo": [{"name": "pod_startup_p99_s", "threshold": 5.0, "value": 1.25, "pass": True},
                       {"name": "api_mutating_p99_s", "threshold": 1.0, "value": 3.0, "pass": False}]}
SYNC_SUMMARY = {"strategy": "list-watch", "staleness_s": {"p99": 0.5}, "apiserver": {"requests_per_s": {"list": 0.1}}}


@pytest.fixture
def results(tmp_path):
    out = tmp_path / "results"
    for rid, kind, extra, summary, status in (
            ("20261126-1-small-default-s1", "run", {"policy": "default"}, RUN_SUMMARY, "complete"),
            ("20261126-2-small-sync-list-watch-s1", "sync", {"strategy": "list-watch"}, SYNC_SUMMARY, "complete"),
            ("20261126-0-small-fgd-s2", "run", {"policy": "fgd"}, RUN_SUMMARY, "interrupted")):
        w = RunWriter(out, rid, {"kind": kind, "scenario": "small", "seed": 1, "config": {"x": 1},
                                 "config_hash": "h", **extra})
        w.table("pods", pd.DataFrame({"a": [1]}))
        w.json("summary", summary)
        w.finish(status, wall_s=0.25)
    RunWriter(out, "20261126-9-half", {"kind": "run"})  # half-written: left as .tmp-*
    return out


def test_ls_json(results):
    res = runner.invoke(app, ["ls", str(results), "-o", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["id"] for r in rows] == ["20261126-0-small-fgd-s2", "20261126-1-small-default-s1",
                                       "20261126-2-small-sync-list-watch-s1"]
    for r in rows:
        assert {"id", "kind", "scenario", "policy", "seed", "status", "path", "headline"} <= set(r)
    assert rows[0]["status"] == "interrupted" and rows[1]["policy"] == "default"
    assert rows[1]["headline"]["startup_p99_s"] == 1.25
    assert rows[2]["headline"]["list_per_s"] == 0.1
    assert "1 half-written" in res.stderr


def test_ls_table(results):
    res = runner.invoke(app, ["ls", str(results)], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    for text in ("20261126-0-small-fgd-s2", "interrupted", "list-watch", "staleness p99 0.5s", "20 pods",
                 "3 folder(s)", "skipped 1 half-written"):
        assert text in res.stdout


def test_show_table_and_json(results):
    run = results / "20261126-1-small-default-s1"
    res = runner.invoke(app, ["show", str(run)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "FAIL" in res.stdout and "pass" in res.stdout and "api_mutating_p99_s" in res.stdout
    res = runner.invoke(app, ["show", str(run), "-o", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {"manifest", "summary"} and "config" not in data["manifest"]
    assert data["summary"]["pods"]["created"] == 20 and data["manifest"]["policy"] == "default"
    res = runner.invoke(app, ["show", str(run), "-o", "json", "--config"])
    assert json.loads(res.stdout)["manifest"]["config"] == {"x": 1}


@pytest.mark.parametrize("case", ["missing", "not-a-run", "corrupt", "newer"])
def test_errors_are_one_line_naming_the_path(results, tmp_path, case):
    run = results / "20261126-1-small-default-s1"
    manifest = run / "manifest.json"
    target, cmd = run, "show"
    if case == "missing":
        target = tmp_path / "nope"
    elif case == "not-a-run":
        target = tmp_path
    elif case == "corrupt":
        manifest.write_text("{")
        target, cmd = manifest, "ls"
    else:
        m = json.loads(manifest.read_text())
        m["schema_version"] = 99
        manifest.write_text(json.dumps(m))
        target = manifest
    res = runner.invoke(app, [cmd, str(results if cmd == "ls" else target)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(target) in lines[0]


def test_bad_output_format(results):
    res = runner.invoke(app, ["ls", str(results), "-o", "xml"])
    assert res.exit_code == 2 and "expected one of table, json, yaml" in res.stderr


def test_show_prints_brackets_literally(tmp_path):
    w = RunWriter(tmp_path, "failed-run", {"kind": "run", "scenario": "s", "seed": 1})
    d = w.finish("failed", error="KeyError: ['x'] [bold]")
    res = runner.invoke(app, ["show", str(d)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "KeyError: ['x'] [bold]" in res.stdout and "summary.json missing" in res.stdout
