"""``kbench bench --quick`` smoke (runs under ``make test``): every benchmark path runs on tiny
scenarios, in child processes, and prints the JSON keys scripts rely on."""

import json

import pytest
from typer.testing import CliRunner

from kbench.bench import TRACE_FILE, cases, traces_dir
from kbench.cli import app

KEYS = ("wall_s", "virtual_s", "pods", "pods_per_wall_s", "events", "events_per_wall_s", "peak_rss_mib")


def test_bench_quick_json():
    runner = CliRunner()
    res = runner.invoke(app, ["bench", "--quick", "-o", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["quick"] is True
    names = set(out["scenarios"])
    assert names == {"density-5k", "openb", "fgd-openb", "sync-list-watch"}
    for name, s in out["scenarios"].items():
        for k in KEYS:
            assert s[k] >= 0, (name, k)
        assert s["wall_s"] > 0 and s["events"] > 0 and s["peak_rss_mib"] > 10
        assert s["events_per_wall_s"] == pytest.approx(s["events"] / s["wall_s"], rel=0.01)
        if name != "sync-list-watch":
            assert s["pods"] > 0 and s["pods_per_wall_s"] > 0
    assert out["scenarios"]["density-5k"]["pods"] == 600  # every pod of the tiny density run created
    assert out["engine"]["simpy_timeout_events_per_s"] > 1000
    assert 0 < out["efficiency"] < 10
    g = out["growth"]
    assert g["small"]["pods"] == g["large"]["pods"] > 0
    assert g["ratio"] == pytest.approx(g["wall_s_per_pod_large"] / g["wall_s_per_pod_small"], rel=0.01)


def test_bench_unknown_scenario_exits_2():
    res = CliRunner().invoke(app, ["bench", "--quick", "--scenario", "nope", "--no-growth"])
    assert res.exit_code == 2
    assert "expected one of" in res.output


def test_full_cases_are_the_reference_scenarios():
    assert (traces_dir() / TRACE_FILE).is_file()  # bundled: workloads/traces
    full = {c.name: c for c in cases(quick=False)}
    assert set(full) == {"density-5k", "openb", "fgd-openb", "sync-list-watch", "cl2-load-5k"}
    assert full["density-5k"].data["cluster"]["nodes"][0]["count"] == 5000
    assert full["sync-list-watch"].data == {"clients": 5000, "objects": 10_000, "duration_s": 600}
    assert full["fgd-openb"].policy == "fgd"
