"""``kbench bench --quick`` smoke (runs under ``make test``): every benchmark path runs on tiny
scenarios, in child processes, and prints the JSON keys scripts rely on."""

import json
import os
import sys

import pytest
from typer.testing import CliRunner

from kbench.bench import TRACE_FILE, cases, traces_dir
from kbench.cli import app

KEYS = ("wall_s", "cpu_s", "virtual_s", "pods", "pods_per_wall_s", "events", "events_per_wall_s", "peak_rss_mib",
        "pods_scheduled", "api_requests")
PER = ("us_wall_per_request", "us_wall_per_pod", "us_cpu_per_request", "us_cpu_per_pod")


def test_bench_quick_json():
    runner = CliRunner()
    res = runner.invoke(app, ["bench", "--quick", "-o", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["quick"] is True and out["version"] == 2
    names = set(out["scenarios"])
    assert names == {"density-5k", "openb", "fgd-openb", "fgd-openb-placement", "sync-list-watch"}
    for name, s in out["scenarios"].items():
        for k in KEYS:
            assert s[k] >= 0, (name, k)
        assert s["wall_s"] > 0 and s["peak_rss_mib"] > 10
        # CPU over the wall's span: a single-threaded run cannot use more (the import of the run
        # modules, ~0.3 s of CPU, was once counted in cpu_s only)
        assert s["cpu_s"] <= s["wall_s"] + 0.1, (name, s["cpu_s"], s["wall_s"])
        assert s["events_per_wall_s"] == pytest.approx(s["events"] / s["wall_s"], rel=0.01)
        assert "efficiency" not in s  # schema 2: replaced by the per-request and per-pod costs
        if name != "sync-list-watch":
            assert s["pods"] > 0 and s["pods_per_wall_s"] > 0 and s["pods_scheduled"] > 0
            assert s["us_wall_per_pod"] == pytest.approx(s["wall_s"] / s["pods_scheduled"] * 1e6, rel=0.01)
            assert s["us_cpu_per_pod"] == pytest.approx(s["cpu_s"] / s["pods_scheduled"] * 1e6, rel=0.01)
        if name == "fgd-openb-placement":  # no plane: no request, no SimPy event
            assert s["mode"] == "placement-only" and s["api_requests"] == s["events"] == 0
            assert s["us_wall_per_request"] is None and s["us_cpu_per_request"] is None
        else:
            assert s["events"] > 0 and s["api_requests"] > 0
            assert s["us_wall_per_request"] == pytest.approx(s["wall_s"] / s["api_requests"] * 1e6, rel=0.01)
            assert s["us_cpu_per_request"] == pytest.approx(s["cpu_s"] / s["api_requests"] * 1e6, rel=0.01)
        for k in PER:
            assert k in s
    assert out["scenarios"]["fgd-openb"]["mode"] == "full-plane"
    assert out["scenarios"]["density-5k"]["pods"] == 600  # every pod of the tiny density run created
    assert out["engine"]["simpy_timeout_events_per_s"] > 1000
    assert "efficiency" not in out
    la = out["machine"]["loadavg"]
    assert os.path.samefile(out["machine"]["python_executable"], sys.executable)  # the build measured
    assert len(la["before"]) == len(la["after"]) == 3 and all(x >= 0 for x in la["before"] + la["after"])
    g = out["growth"]
    assert g["small"]["pods"] == g["large"]["pods"] > 0
    assert g["ratio"] == pytest.approx(g["wall_s_per_pod_large"] / g["wall_s_per_pod_small"], rel=0.01)
    assert g["cpu_ratio"] == pytest.approx(g["cpu_s_per_pod_large"] / g["cpu_s_per_pod_small"], rel=0.01)


def test_bench_table_names_the_costs_and_warns_when_loaded(monkeypatch):
    """The table shows the per-request and per-pod columns; a scenario started on a loaded machine
    is named in a warning (the load is faked so the test does not depend on the machine)."""
    import kbench.bench as bench_mod

    monkeypatch.setattr(bench_mod, "loadavg", lambda: [9.0, 8.0, 7.0])
    res = CliRunner().invoke(app, ["bench", "--quick", "--scenario", "fgd-openb-placement", "--no-growth"])
    assert res.exit_code == 0, res.output
    assert "µs wall/pod" in res.output and "placement-only" in res.output
    assert "warning: the machine was loaded" in res.output and "fgd-openb-placement (9.0)" in res.output


def test_bench_unknown_scenario_exits_2():
    res = CliRunner().invoke(app, ["bench", "--quick", "--scenario", "nope", "--no-growth"])
    assert res.exit_code == 2
    assert "expected one of" in res.output


def test_full_cases_are_the_reference_scenarios():
    assert (traces_dir() / TRACE_FILE).is_file()  # bundled: workloads/traces
    full = {c.name: c for c in cases(quick=False)}
    assert set(full) == {"density-5k", "openb", "fgd-openb", "fgd-openb-placement", "sync-list-watch", "cl2-load-5k"}
    assert full["density-5k"].data["cluster"]["nodes"][0]["count"] == 5000
    assert full["sync-list-watch"].data == {"clients": 5000, "objects": 10_000, "duration_s": 600}
    assert full["fgd-openb"].policy == full["fgd-openb-placement"].policy == "fgd"
    assert full["fgd-openb"].data["workload"]["placement_only"] is False  # the scenario declares it: forced off
    assert full["fgd-openb-placement"].data["workload"]["placement_only"] is True
    assert "max_pods" not in full["fgd-openb-placement"].data["workload"]["traces"][0]  # full size
