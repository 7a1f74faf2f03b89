"""``kbench bench --baseline REV``: this tree against a git revision, alternating, in one run (the
before/after figures issues 16, 18 and 21 ask for): the order of runs, the ratios, the exit codes,
and one real pair of quick runs against HEAD."""

from __future__ import annotations

import gzip
import json
import subprocess

import pytest
from typer.testing import CliRunner

import kbench.benchpair as bp
from kbench.bundled import ROOT, TRACES
from kbench.cli import app

runner = CliRunner()
needs_git = pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout of kbench")


def _fake_runs(monkeypatch, cpu: dict[str, list[float]], pods: dict[str, int | None] | None = None):
    """bench_tree replaced: each call returns the next CPU figure of its side (and its scheduled pods,
    absent when None, as before bench schema 2); the calls are logged."""
    calls: list[str] = []

    def bench_tree(tree, scenarios, quick, sets=None):
        side = "baseline" if tree != ROOT else "this tree"
        calls.append(side)
        seen_sets.append((side, sets))
        x = cpu[side][sum(1 for c in calls if c == side) - 1]
        figures = {"cpu_s": x, "wall_s": 2 * x}
        if pods is not None and pods[side] is not None:
            figures["pods_scheduled"] = pods[side]
        return {"scenarios": {"openb": figures}}

    seen_sets: list = []
    monkeypatch.setattr(bp, "bench_tree", bench_tree)
    monkeypatch.setattr(bp, "_check_imports", lambda tree: None)
    calls_sets[:] = [seen_sets]
    return calls


calls_sets: list = []  # the last _fake_runs' (side, sets) log, for the --set test


@needs_git
def test_rounds_alternate_and_ratios_are_medians(monkeypatch):
    calls = _fake_runs(monkeypatch, {"baseline": [10.0, 30.0, 20.0], "this tree": [13.0, 12.0, 40.0]})
    res = bp.pair("HEAD", ["openb"], rounds=3)
    assert calls == ["baseline", "this tree", "this tree", "baseline", "baseline", "this tree"]
    s = res["scenarios"]["openb"]
    assert s["baseline_cpu_s"] == [10.0, 30.0, 20.0] and s["cpu_s"] == [13.0, 12.0, 40.0]
    assert s["cpu_ratio"] == pytest.approx(13.0 / 20.0, abs=1e-3) and s["wall_ratio"] == s["cpu_ratio"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert res["baseline"] == {"rev": "HEAD", "commit": head} and res["rounds"] == 3
    assert s["cpu_per_pod_ratio"] is None  # no side reported its scheduled pods


@needs_git
def test_the_per_pod_ratio_counts_the_pods_each_side_scheduled(monkeypatch):
    # this tree schedules 90 pods where the baseline schedules 100: 1.2x the CPU is 1.333x per pod
    _fake_runs(monkeypatch, {"baseline": [10.0, 10.0], "this tree": [12.0, 12.0]}, {"baseline": 100, "this tree": 90})
    s = bp.pair("HEAD", ["openb"], rounds=2)["scenarios"]["openb"]
    assert s["cpu_ratio"] == 1.2 and s["cpu_per_pod_ratio"] == pytest.approx(1.2 * 100 / 90, abs=1e-3)
    assert s["pods_scheduled"] == [90, 90] and s["baseline_pods_scheduled"] == [100, 100]
    _fake_runs(monkeypatch, {"baseline": [10.0], "this tree": [12.0]}, {"baseline": None, "this tree": 90})
    assert bp.pair("HEAD", ["openb"], rounds=1)["scenarios"]["openb"]["cpu_per_pod_ratio"] is None


@needs_git
@pytest.mark.parametrize("limit,code", [(1.5, 0), (1.2, 1)])
def test_max_ratio_decides_the_exit_code(monkeypatch, limit, code):
    _fake_runs(monkeypatch, {"baseline": [10.0], "this tree": [13.0]})
    res = runner.invoke(app, ["bench", "--baseline", "HEAD", "--rounds", "1", "--scenario", "openb",
                              "--max-ratio", str(limit), "-o", "json"])
    assert res.exit_code == code, res.output
    out = json.loads(res.stdout)
    assert out["scenarios"]["openb"]["cpu_ratio"] == 1.3 and out["over"] == ([] if code == 0 else ["openb"])


@needs_git
def test_set_overrides_reach_this_tree_only(monkeypatch):
    _fake_runs(monkeypatch, {"baseline": [10.0, 10.0], "this tree": [9.0, 9.0]})
    res = runner.invoke(app, ["bench", "--baseline", "HEAD", "--rounds", "2", "--scenario", "openb",
                              "--set", "events.enabled=false", "--set", "kubelet.status_writes=minimal", "-o", "json"])
    assert res.exit_code == 0, res.output
    want = {"events.enabled": False, "kubelet.status_writes": "minimal"}
    assert json.loads(res.stdout)["sets"] == want
    assert calls_sets[0] == [("baseline", None), ("this tree", want), ("this tree", want), ("baseline", None)]


@needs_git
def test_a_bad_set_fails_before_any_run(monkeypatch):
    def no_run(*a, **k):
        raise AssertionError("ran a benchmark despite a bad --set")

    monkeypatch.setattr(bp, "pair", no_run)
    res = runner.invoke(app, ["bench", "--baseline", "HEAD", "--scenario", "openb", "--set", "events.enabld=false"])
    assert res.exit_code == 2 and "--set: openb: events.enabld: unknown field" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("args,message", [
    (["bench", "--baseline", "no-such-revision-xyz"], "no such commit"),
    (["bench", "--max-ratio", "1.25"], "--max-ratio needs --baseline"),
    (["bench", "--baseline", "HEAD", "--rounds", "0"], "--rounds must be at least 1"),
    (["bench", "--baseline", "HEAD", "--scenario", "nope"], "--scenario nope: expected one of"),
    (["bench", "--rounds", "3"], "--rounds needs --baseline"),  # was ignored: one run, not three
    (["bench", "--scenario", "openb", "--variant", "kubelet.x=1", "--rounds", "2"], "--rounds needs --baseline"),
    (["bench", "--scenario", "openb", "--variant", "nokey"], "--variant 'nokey': expected KEY=VALUE"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    if "--baseline" in args and not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout of kbench")
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output


def test_a_revision_before_the_bundled_traces_gets_them_decompressed(tmp_path):
    bp.provide_traces(tmp_path)
    name = "openb_pod_list_default.csv"
    got = tmp_path.joinpath(*bp.OLD_TRACES, name)
    assert got.read_bytes() == gzip.decompress((TRACES / f"{name}.gz").read_bytes())
    got.unlink()
    bp.provide_traces(tmp_path)  # already provided: left as it is
    assert not got.exists()


@needs_git
def test_a_real_quick_pair_against_head():
    res = runner.invoke(app, ["bench", "--baseline", "HEAD", "--quick", "--scenario", "sync-list-watch",
                              "--rounds", "1", "-o", "json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)["scenarios"]["sync-list-watch"]
    assert len(s["baseline_cpu_s"]) == len(s["cpu_s"]) == 1 and s["cpu_s"][0] > 0 and s["baseline_cpu_s"][0] > 0
    assert s["cpu_ratio"] == pytest.approx(s["cpu_s"][0] / s["baseline_cpu_s"][0], abs=1e-3)
