"""`kbench sync` through typer's CliRunner: the JSON contract and one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from kbench.cli import app

runner = CliRunner()

CONTRACT = [
    ("strategy",), ("clients",), ("objects",), ("virtual_s",), ("wall_s",),
    ("apiserver", "requests_per_s", "list"), ("apiserver", "requests_per_s", "watch"),
    ("apiserver", "requests_per_s", "get"), ("apiserver", "bytes_per_s"), ("apiserver", "cpu_s"),
    ("apiserver", "rejected_429"), ("etcd", "reads_per_s"), ("etcd", "writes_per_s"),
    ("staleness_s", "mean"), ("staleness_s", "p50"), ("staleness_s", "p99"), ("staleness_s", "max"),
    ("relists",),
]


def _get(obj, path):
    for key in path:
        obj = obj[key]
    return obj


def test_sync_json_has_the_keys_scripts_rely_on(tmp_path):
    res = runner.invoke(app, ["sync", "--strategy", "poll", "--strategy", "list-watch", "--clients", "20",
                              "--objects", "100", "--duration", "1m", "--poll-period", "5s",
                              "--out", str(tmp_path), "-o", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [o["strategy"] for o in out] == ["poll", "list-watch"]
    for o in out:
        for path in CONTRACT:
            _get(o, path)
        assert o["clients"] == 20 and o["objects"] == 100 and o["virtual_s"] == 60
        run_dir = tmp_path / o["run_dir"].split("/")[-1]
        assert (run_dir / "manifest.json").exists() and (run_dir / "summary.json").exists()
        assert (run_dir / "requests.parquet").exists() and (run_dir / "series.parquet").exists()
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["status"] == "complete" and manifest["config"]["sync"]["clients"] == 20
        assert len(manifest["config_hash"]) == 16


def test_sync_single_strategy_prints_one_object_and_a_table(tmp_path):
    res = runner.invoke(app, ["sync", "--strategy", "list-watch", "--clients", "5", "--objects", "10",
                              "--duration", "30s", "--out", str(tmp_path), "-o", "json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["strategy"] == "list-watch"
    res = runner.invoke(app, ["sync", "--strategy", "poll", "--clients", "5", "--objects", "10",
                              "--duration", "30s", "--out", str(tmp_path)])
    assert res.exit_code == 0 and "staleness p99" in res.stdout


@pytest.mark.parametrize("args,message", [
    (["--changes-per-s", "-1"], "sync.changes_per_s: must be >= 0"),
    (["--poll-period", "ten"], "--poll-period: malformed duration"),
    (["--object-bytes", "1Kx"], "--object-bytes: malformed quantity"),
    (["--strategy", "push"], "unknown strategy 'push'"),
    (["--clients", "0"], "--clients: must be >= 1"),
    (["-o", "xml"], "-o xml: expected one of table, json, yaml, markdown"),
    (["does-not-exist.yaml"], "does-not-exist.yaml: no such file"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    res = runner.invoke(app, ["sync", *args, "--duration", "10s", "--out", str(tmp_path)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in res.output


def test_unknown_scenario_field_gets_did_you_mean(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("version: 1\nsync:\n  client: 3\n")
    res = runner.invoke(app, ["sync", str(p), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert f"{p}: sync.client: unknown field 'client' (did you mean 'clients'?)" in res.stderr
