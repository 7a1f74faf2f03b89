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


def test_sync_disable_compression_sends_the_whole_lists(tmp_path):
    """--disable-compression (kubectl's flag): 5 clients polling 200 x 1 KiB every 5 s get 200 KiB
    responses whole; by default they are gzipped (over 128 KiB, I3, I30: / 5). The manifest keeps
    the client class's setting."""
    base = ["sync", "--strategy", "poll", "--clients", "5", "--objects", "200", "--changes-per-s", "0",
            "--poll-period", "5s", "--duration", "30s", "-o", "json"]
    out = {}
    for flag in ([], ["--disable-compression"]):
        res = runner.invoke(app, [*base, *flag, "--out", str(tmp_path / str(len(flag)))])
        assert res.exit_code == 0, res.output
        out[bool(flag)] = json.loads(res.stdout)
    per_list = {k: o["apiserver"]["egress_bytes_per_s"] / o["lists_logical_per_s"] for k, o in out.items()}
    assert per_list[True] == pytest.approx(200 * 1024, rel=0.01)
    assert per_list[False] == pytest.approx(200 * 1024 / 5, rel=0.01)
    run_dir = tmp_path / "1" / out[True]["run_dir"].split("/")[-1]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["config"]["clients"]["default"]["disable_compression"] is True


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


def test_sync_experiment_three_clients_three_strategies_one_table_one_folder(tmp_path):
    """Issue 16, T8.1: three --clients values x three strategies: one table (a column per run), one
    experiment folder with experiment.json (9 runs, the swept axis, the crossovers) and its report."""
    args = ["sync", "--clients", "10,20", "--clients", "40", "--strategy", "poll", "--strategy", "list-watch",
            "--strategy", "watch-list", "--objects", "100", "--duration", "20s", "--out", str(tmp_path)]
    res = runner.invoke(app, [*args, "--report"])
    assert res.exit_code == 0, res.output
    assert res.stdout.count("List vs List-Watch") == 1
    folders = [p for p in tmp_path.iterdir() if (p / "experiment.json").is_file()]
    assert len(folders) == 1
    exp = json.loads((folders[0] / "experiment.json").read_text())
    assert exp["axes"] == {"clients": [10.0, 20.0, 40.0]} and len(exp["runs"]) == 9
    assert [r["strategy"] for r in exp["runs"]] == ["poll"] * 3 + ["list-watch"] * 3 + ["watch-list"] * 3
    assert {c["cost"] for c in exp["crossover"]} == {"apiserver_cores", "egress_bytes_per_s", "etcd_cores",
                                                     "memory_peak_bytes"}
    assert (folders[0] / "report.html").is_file()
    assert "warning: not modelled:" in res.stderr
    md = runner.invoke(app, [*args[:-2], "--out", str(tmp_path / "m"), "-o", "markdown"])
    header = next(line for line in md.stdout.splitlines() if line.startswith("| metric"))
    assert header.count("|") == 11  # metric + 9 runs
    for col in ("poll clients=10", "list-watch clients=20", "watch-list clients=40"):
        assert f"| {col} |" in header
    out = runner.invoke(app, [*args[:-2], "--out", str(tmp_path / "j"), "-o", "json"])
    summaries = json.loads(out.stdout)
    assert len(summaries) == 9 and [s["swept"]["clients"] for s in summaries[:3]] == [10.0, 20.0, 40.0]
    for s in summaries:
        for path in CONTRACT + NEW_KEYS:
            _get(s, path)


NEW_KEYS = [
    ("apiserver", "egress_bytes_per_s"), ("apiserver", "ingress_bytes_per_s"), ("apiserver", "memory_peak_bytes"),
    ("apiserver", "watch_events_sent_per_s"), ("apiserver", "terminated_watchers"), ("etcd", "cpu_s"),
    ("etcd", "range_keys_per_s"), ("latency_s", "list", "p50"), ("latency_s", "list", "p99"), ("feature_gates",),
]
"""The keys issue 16 adds to every run's JSON (a contract from now on)."""


def test_sync_gates_and_version_are_explicit_and_printed(tmp_path):
    res = runner.invoke(app, ["sync", "--strategy", "poll", "--clients", "5", "--objects", "20", "--duration", "20s",
                              "--kubernetes-version", "1.33", "--feature-gates", "ConsistentListFromCache=false",
                              "--out", str(tmp_path), "-o", "json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["kubernetes_version"] == "1.33"
    assert s["feature_gates"]["ConsistentListFromCache"] is False and s["feature_gates"]["WatchListClient"] is False
    manifest = json.loads((tmp_path / s["run_dir"].split("/")[-1] / "manifest.json").read_text())
    assert manifest["config"]["gates"]["ConsistentListFromCache"] is False  # the effective config has them
    assert manifest["config"]["kubernetes_version"] == "1.33"
    assert s["etcd"]["range_requests_per_s"] > 0  # consistent polls now read etcd


@pytest.mark.parametrize("args,message", [
    (["--feature-gates", "ConsistentListFromCach=false"], "unknown feature gate 'ConsistentListFromCach' "
                                                          "(did you mean 'ConsistentListFromCache'?)"),
    (["--feature-gates", "WatchList"], "--feature-gates: expected NAME=true|false"),
    (["--kubernetes-version", "2.0"], "kbench models Kubernetes 1.16 to 1.35"),
    (["--clients", "10,x"], "--clients: expected a number"),
    (["--strategy", "watchlist"], "unknown strategy 'watchlist'"),
])
def test_sync_bad_gates_and_values_are_one_line(args, message, tmp_path):
    res = runner.invoke(app, ["sync", *args, "--duration", "10s", "--out", str(tmp_path)])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], res.stderr
