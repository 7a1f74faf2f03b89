"""`kbench run`: the JSON contract, the table, and one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from kbench.cli import app

runner = CliRunner()

SMALL = """
version: 1
name: small
seed: 2
duration_s: 40s
cluster:
  nodes: [{count: 5, cpu_cores: 4, memory_bytes: 8Gi}]
workload:
  deployments: [{name: web, replicas: 20, template: {cpu_cores: 100m}}]
"""

CONTRACT = [
    ("pods", "created"), ("pods", "scheduled"), ("pods", "running"), ("pods", "succeeded"),
    ("pods", "failed"), ("pods", "pending"), ("pod_startup_s", "p50"), ("pod_startup_s", "p90"),
    ("pod_startup_s", "p99"), ("pod_e2e_startup_s", "p50"), ("pod_e2e_startup_s", "p90"),
    ("pod_e2e_startup_s", "p99"), ("scheduling", "attempts"), ("scheduling", "throughput_pods_per_s"),
    ("api", "rejected_429"), ("api", "latency_p99_s", "mutating"), ("api", "latency_p99_s", "read_single"),
    ("api", "latency_p99_s", "list"), ("slo",), ("sim", "virtual_s"), ("sim", "wall_s"), ("sim", "events"),
    ("run_dir",),
]


@pytest.fixture
def scenario(tmp_path):
    p = tmp_path / "small.yaml"
    p.write_text(SMALL)
    return p


def test_run_json_has_the_keys_scripts_rely_on(scenario, tmp_path):
    res = runner.invoke(app, ["run", str(scenario), "--out", str(tmp_path / "r"), "-o", "json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    for path in CONTRACT:
        obj = s
        for k in path:
            obj = obj[k]
    assert s["pods"]["created"] == 20 and s["pods"]["running"] == 20
    for row in s["slo"]:
        assert set(row) >= {"name", "threshold", "value", "pass"}
    assert (tmp_path / "r").exists() and s["run_dir"].startswith(str(tmp_path / "r"))


def test_run_table_and_policy_and_sync_override(scenario, tmp_path):
    res = runner.invoke(app, ["run", str(scenario), "--policy", "most-allocated", "--sync", "kubelet=poll:5s",
                              "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "most-allocated" in res.stdout and "pod_startup_p99_s" in res.stdout


@pytest.mark.parametrize("args,message", [
    (["--policy", "mostallocated"], "did you mean 'most-allocated'"),
    (["--sync", "kubelet"], "--sync kubelet: expected CLASS=list-watch"),
    (["--sync", "kubelet=sometimes"], "unknown sync strategy"),
    (["--duration", "soon"], "--duration: malformed duration"),
])
def test_bad_options_exit_2(scenario, tmp_path, args, message):
    res = runner.invoke(app, ["run", str(scenario), *args, "--out", str(tmp_path)])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "Traceback" not in res.output


def test_malformed_scenario_names_the_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(SMALL.replace("replicas: 20", "replicas: many"))
    res = runner.invoke(app, ["run", str(p), "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "workload.deployments[0].replicas" in res.stderr
    p.write_text(SMALL.replace("cluster:\n  nodes: [{count: 5, cpu_cores: 4, memory_bytes: 8Gi}]\n", ""))
    res = runner.invoke(app, ["run", str(p), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "cluster.nodes" in res.stderr
