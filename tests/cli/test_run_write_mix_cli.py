"""`kbench run -o json`: the keys of issue 18 (writes per pod, Events, the GC) and the warnings."""

import json

from typer.testing import CliRunner

from kbench.cli import app

runner = CliRunner()

SCENARIO = """
version: 1
name: mix
seed: 2
duration_s: 60s
cluster:
  nodes: [{count: 3, cpu_cores: 4, memory_bytes: 8Gi}]
workload:
  deployments: [{name: web, replicas: 6, delete_at_s: 20s, template: {cpu_cores: 100m}}]
  daemonsets: [{name: agent}]
"""


def test_run_json_has_the_write_mix_keys(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text(SCENARIO)
    res = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "r"), "-o", "json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["writes_per_pod"]["pods"]["create"] == 1.0
    assert s["writes_per_pod"]["pods/binding"]["create"] == 1.0
    ev = s["events"]
    assert ev["emitted"] >= ev["written"] > 0 and ev["aggregated"] >= 0 and ev["per_s"] == round(ev["written"] / 60, 4)
    assert s["gc"]["deleted"] == {"pods": 6, "replicasets": 1}
    assert s["etcd_objects"]["daemonsets"] == 1
    # NodeAffinity's PreFilterResult is modelled: a DaemonSet no longer adds that ignored entry
    assert not any("PreFilterResult" in item for item in s["ignored"])
    assert "PreFilterResult" not in res.stderr


def test_an_unknown_kube_proxy_mode_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SCENARIO + "kube_proxy: {mode: userspace}\n")
    res = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "r"), "-o", "json"])
    assert res.exit_code == 2
    assert "kubeproxy.mode" in res.output and "Traceback" not in res.output
