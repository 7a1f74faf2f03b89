"""Upstream InterPodAffinity cases end to end through ``kbench explain -o json``: a snapshot with
Namespace objects and (anti-)affine pods, ``--score-nodes``, the ``statuses`` / ``prefilter`` /
``prescore`` keys, and ``--feature-gates`` (cases from kbench/validate/upstream_affinity.py)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from kbench.policy.commands import explain_cmd

app = typer.Typer()
app.command("explain")(explain_cmd)
app.command("other")(lambda: None)


def write(path: Path, docs: list[dict]) -> Path:
    path.write_text(yaml.safe_dump_all(docs))
    return path


def node(name, **labels):
    return {"kind": "Node", "metadata": {"name": name, "labels": labels},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}


def pod(name, node_name=None, ns="", labels=None, affinity=None, scheduler=None):
    spec = {"containers": [{"name": "c", "image": "pause"}]}
    if node_name:
        spec["nodeName"] = node_name
    if affinity:
        spec["affinity"] = affinity
    if scheduler:
        spec["schedulerName"] = scheduler
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}}, "spec": spec,
            "status": {"phase": "Running" if node_name else "Pending"}}


def namespace(name, **labels):
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def sel(key, op, *values):
    return {"matchExpressions": [{"key": key, "operator": op, **({"values": list(values)} if values else {})}]}


def run(tmp_path, snapshot, incoming, *extra):
    snap = write(tmp_path / "snap.yaml", snapshot)
    p = write(tmp_path / "pod.yaml", [incoming])
    res = CliRunner().invoke(app, ["explain", "--policy", "default", "--snapshot", str(snap), "--pod", str(p),
                                   "-o", "json", *extra])
    return res


def test_anti_affinity_with_matching_namespace_selector(tmp_path):
    """filtering_test.go "anti-affinity with matching NamespaceSelector": Unschedulable, with upstream's reason."""
    snapshot = [node("node1", region="r1", zone="z11"), namespace("subteam2.team1", team="team1"),
                namespace("subteam1.team1", team="team1"),
                pod("e", "node1", "subteam2.team1", {"service": "securityscan"})]
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": sel("service", "In", "securityscan", "value2"), "topologyKey": "zone",
         "namespaceSelector": sel("team", "In", "team1")}]}}
    res = run(tmp_path, snapshot, pod("p", ns="subteam1.team1", labels={"security": "S1"}, affinity=anti))
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    row = data["nodes"]["node1"]
    assert row["statuses"]["InterPodAffinity"] == {"code": "Unschedulable",
                                                   "reasons": ["node(s) didn't match pod anti-affinity rules"]}
    assert row["filters"]["InterPodAffinity"] == "node(s) didn't match pod anti-affinity rules"
    assert data["selected"] is None and data["status"]["code"] == "Unschedulable"
    assert data["prefilter"]["NodePorts"] == {"code": "Skip", "reasons": []}
    assert row["statuses"]["NodePorts"] == {"code": "Skip", "reasons": []}


def test_score_nodes_keeps_the_other_nodes_in_the_topology(tmp_path):
    """scoring_test.go "All the nodes that have the same topology key & label value...": only node2
    and node3 are scored, but the matching pod on node1 still gives node2 (same region) 100."""
    snapshot = [node("node1", region="China"), node("node2", region="China", az="az1"), node("node3", region="India"),
                pod("e", "node1", "", {"security": "S1"})]
    pref = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 5, "podAffinityTerm": {"labelSelector": sel("security", "In", "S1"), "topologyKey": "region"}}]}}
    res = run(tmp_path, snapshot, pod("p", ns="", affinity=pref), "--score-nodes", "node2,node3")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert sorted(data["nodes"]) == ["node2", "node3"]
    assert data["nodes"]["node2"]["scores"]["InterPodAffinity"] == 100
    assert data["nodes"]["node3"]["scores"]["InterPodAffinity"] == 0
    assert data["selected"] == "node2"


def test_prescore_skip_and_prefilter_rejection_are_reported(tmp_path):
    """An invalid label value fails PreFilter with upstream's parse message (UnschedulableAndUnresolvable)."""
    bad = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": sel("service", "In", "{{.bad-value.}}"), "topologyKey": "region"}]}}
    res = run(tmp_path, [node("node1", region="r1")], pod("p", ns="", affinity=bad))
    data = json.loads(res.stdout)
    st = data["prefilter"]["InterPodAffinity"]
    assert st["code"] == "UnschedulableAndUnresolvable"
    assert st["reasons"][0].startswith('parsing pod: requiredAffinityTerms: values[0][service]: Invalid value: "{{.bad-value.}}"')
    ok = run(tmp_path, [node("node1", region="r1"), node("node2", region="r2")], pod("q", ns=""))
    assert json.loads(ok.stdout)["prescore"]["InterPodAffinity"] == {"code": "Skip", "reasons": []}


def test_feature_gate_match_label_keys_off_leaves_the_selector_alone(tmp_path):
    """matchLabelKeys is merged at admission with MatchLabelKeysInPodAffinity on (the default): the
    existing pod of another version then no longer matches the anti-affinity term."""
    snapshot = [node("node1", zone="z1"), pod("e", "node1", "", {"app": "web", "version": "v1"})]
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone", "matchLabelKeys": ["version"]}]}}
    incoming = pod("p", ns="", labels={"app": "web", "version": "v2"}, affinity=anti)
    on = json.loads(run(tmp_path, snapshot, incoming).stdout)
    off = json.loads(run(tmp_path, snapshot, incoming, "--feature-gates", "MatchLabelKeysInPodAffinity=false").stdout)
    assert on["nodes"]["node1"]["statuses"]["InterPodAffinity"]["code"] == "Success"
    assert off["nodes"]["node1"]["statuses"]["InterPodAffinity"]["code"] == "Unschedulable"


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    snapshot = [node("node1")]
    res = run(tmp_path, snapshot, pod("p"), "--score-nodes", "node9")
    assert res.exit_code == 2 and "node9" in res.output and "Traceback" not in res.output
    res = run(tmp_path, snapshot, pod("p"), "--feature-gates", "SchedulerQueueingHints=maybe")
    assert res.exit_code == 2 and "Name=true|false" in res.output


def test_gated_pod_is_reported_at_pre_enqueue(tmp_path):
    gated = pod("p")
    gated["spec"]["schedulingGates"] = [{"name": "foo"}, {"name": "bar"}]
    data = json.loads(run(tmp_path, [node("node1")], gated).stdout)
    assert data["preenqueue"] == {"SchedulingGates": {"code": "UnschedulableAndUnresolvable",
                                                      "reasons": ["waiting for scheduling gates: [foo bar]"]}}
    assert data["selected"] is None and data["nodes"]["node1"]["feasible"]
