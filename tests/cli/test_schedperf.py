"""``kbench run PERF-CONFIG``: scheduler_perf files run to completion, list, refuse what they must."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kbench.cli import app

FIX = Path(__file__).parents[1] / "fixtures" / "scheduler_perf" / "performance-config.yaml"
WL = Path(__file__).parents[2] / "workloads" / "scheduler_perf" / "performance-config.yaml"
KEYS = {"kind", "config", "config_sha256", "case", "workload", "seed", "labels", "params", "feature_gates",
        "ignored", "scheduling", "upstream_threshold", "vs_threshold", "sim"}


def run(*args):
    return CliRunner().invoke(app, ["run", *map(str, args)])


def test_list_shows_cases_workloads_thresholds_and_status():
    res = run(FIX, "--list", "-o", "json")
    assert res.exit_code == 0, res.output
    rows = {(r["case"], r["workload"]): r for r in json.loads(res.stdout)}
    assert rows[("Basic", "50Nodes")]["status"] == "runnable" and rows[("Basic", "50Nodes")]["threshold"] == 100
    assert "unused" in rows[("Basic", "UnusedParam")]["status"]
    assert rows[("WithDRA", "5Nodes")]["status"].startswith("not runnable: opcode createResourceClaims")
    bundled = {(r["case"], r["workload"]) for r in json.loads(run(WL, "--list", "-o", "json").stdout)}
    assert ("SchedulingBasic", "5000Nodes_10000Pods") in bundled
    assert ("SchedulingPodAntiAffinity", "5000Nodes_2000Pods") in bundled
    assert ("TopologySpreading", "5000Nodes_5000Pods") in bundled


def test_a_workload_runs_to_completion_with_the_documented_keys(tmp_path):
    res = run(FIX, "--case", "Basic", "--workload", "50Nodes", "-o", "json", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) >= KEYS
    sched = data["scheduling"]
    assert sched["measured_pods"] == 3000 and sched["bound"] == 3010 and sched["attempts_per_pod"] == 1.0
    tp = sched["throughput_pods_per_s"]
    assert tp["samples"] > 0 and tp["p50"] <= tp["p90"] <= tp["p99"] and tp["average"] > 0
    assert data["vs_threshold"] == round(tp["average"] / 100, 4)
    manifest = json.loads((Path(data["run_dir"]) / "manifest.json").read_text())
    assert manifest["perf_config"]["sha256"] == data["config_sha256"] and "- name: Basic" in manifest["perf_config"]["content"]


def test_param_overrides_the_workload():
    res = run(FIX, "--case", "Basic", "--workload", "50Nodes", "--param", "measurePods=40", "-o", "json")
    assert json.loads(res.stdout)["scheduling"]["measured_pods"] == 40


def test_gated_pods_count_as_attempted_at_a_barrier():
    res = run(FIX, "--case", "Gated", "--workload", "5Nodes", "-o", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["scheduling"]["bound"] == 20  # the 4 gated pods never bind


def test_bad_inputs_exit_2_naming_the_problem():
    for args, text in (((FIX, "--case", "WithDRA", "--workload", "5Nodes"), "createResourceClaims"),
                       ((FIX, "--case", "Basic", "--workload", "UnusedParam"), "['extra']"),
                       ((FIX, "--case", "Basic", "--workload", "NoSuch"), "no workload 'NoSuch'"),
                       ((FIX, "--case", "Basci", "--workload", "50Nodes"), "did you mean 'Basic'"),
                       ((FIX,), "--case and --workload")):
        res = run(*args)
        assert res.exit_code == 2, (args, res.output)
        assert text in res.output and "Traceback" not in res.output


def test_case_options_are_refused_for_a_scenario():
    res = run(Path(__file__).parents[2] / "workloads" / "demo.yaml", "--case", "X")
    assert res.exit_code == 2 and "scheduler_perf configs only" in res.output


def test_the_three_acceptance_cases_run_at_small_sizes():
    """SchedulingBasic, SchedulingPodAntiAffinity and TopologySpreading from the bundled config, shrunk
    with --param (the 5000-node workloads are run by hand: docs/VALIDATION.md)."""
    for case, wl, params in (("SchedulingBasic", "500Nodes", ["initNodes=100", "initPods=50", "measurePods=300"]),
                             ("SchedulingPodAntiAffinity", "500Nodes", ["initNodes=100", "initPods=20", "measurePods=60"]),
                             ("TopologySpreading", "500Nodes", ["initNodes=60", "initPods=60", "measurePods=300"])):
        args = [WL, "--case", case, "--workload", wl, "-o", "json"]
        for p in params:
            args += ["--param", p]
        res = run(*args)
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert data["scheduling"]["measured_pods"] == int(params[2].split("=")[1]), case
