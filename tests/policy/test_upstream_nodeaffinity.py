"""NodeAffinity against upstream's tables, exact to the integer.

Source: kubernetes/kubernetes pkg/scheduler/framework/plugins/nodeaffinity/node_affinity_test.go
@ 17bae91f207a5f2b101e581c90f7a72fc9adef96 (TestNodeAffinity, TestNodeAffinityPriority); plugin
node_affinity.go @ 00d37505 (CALIBRATION E13).
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.errors import PolicyError
from kbench.policy.api import Code, CycleState
from kbench.validate.upstream_cases import AFF2, L1, L2, L3, L5
from kbench.validate.upstream_cases import AFFINITY_SCORE as SCORE  # the table, shared with kbench validate
from policies.nodeaffinity import ERR_REASON_CONFLICT, ERR_REASON_ENFORCED, ERR_REASON_POD, NodeAffinity
from tests.policy.builders import node, pod, req, run_filter, scores, table, term

NAME_IN = "metadata.name"
ADDED_NODE2 = {"addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchFields": [{"key": NAME_IN, "operator": "In", "values": ["node2"]}]}]}}}
ADDED_ZONE_BAR = {"addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["bar"]}]}]}}}
GPU_OK = [term(req("GPU", "Exists"), req("GPU", "NotIn", "AMD", "INTER"))]

FILTER = [  # (case name, pod kwargs, node labels, node name, args, expected reason; "skip" = PreFilter SKIP)
    ("missing labels", dict(node_selector={"foo": "bar"}), {}, "n", {}, ERR_REASON_POD),
    ("same labels", dict(node_selector={"foo": "bar"}), {"foo": "bar"}, "n", {}, ""),
    ("node labels are superset", dict(node_selector={"foo": "bar"}), {"foo": "bar", "baz": "blah"}, "n", {}, ""),
    ("node labels are subset", dict(node_selector={"foo": "bar", "baz": "blah"}), {"foo": "bar"}, "n", {},
     ERR_REASON_POD),
    ("Pod with matchExpressions using In operator that matches the existing node",
     dict(required_affinity=[term(req("foo", "In", "bar", "value2"))]), {"foo": "bar"}, "n", {}, ""),
    ("Pod with matchExpressions using Gt operator that matches the existing node",
     dict(required_affinity=[term(req("kernel-version", "Gt", "0204"))]), {"kernel-version": "0206"}, "n", {}, ""),
    ("Pod with matchExpressions using NotIn operator that matches the existing node",
     dict(required_affinity=[term(req("mem-type", "NotIn", "DDR", "DDR2"))]), {"mem-type": "DDR3"}, "n", {}, ""),
    ("Pod with matchExpressions using Exists operator that matches the existing node",
     dict(required_affinity=[term(req("GPU", "Exists"))]), {"GPU": "NVIDIA-GRID-K1"}, "n", {}, ""),
    ("Pod with affinity that don't match node's labels won't schedule onto the node",
     dict(required_affinity=[term(req("foo", "In", "value1", "value2"))]), {"foo": "bar"}, "n", {}, ERR_REASON_POD),
    ("Pod with empty MatchExpressions is not a valid value will match no objects and won't schedule onto the node",
     dict(required_affinity=[term()]), {"foo": "bar"}, "n", {}, ERR_REASON_POD),
    ("Pod with no Affinity will schedule onto a node", {}, {"foo": "bar"}, "n", {}, "skip"),
    ("Pod with multiple matchExpressions ANDed that matches the existing node", dict(required_affinity=GPU_OK),
     {"GPU": "NVIDIA-GRID-K1"}, "n", {}, ""),
    ("Pod with multiple matchExpressions ANDed that doesn't match the existing node",
     dict(required_affinity=[term(req("GPU", "Exists"), req("GPU", "In", "AMD", "INTER"))]),
     {"GPU": "NVIDIA-GRID-K1"}, "n", {}, ERR_REASON_POD),
    ("Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels and will schedule onto the node",
     dict(required_affinity=[term(req("foo", "In", "bar", "value2")), term(req("diffkey", "In", "wrong", "value2"))]),
     {"foo": "bar"}, "n", {}, ""),
    ("Pod with an Affinity and a PodSpec.NodeSelector(the old thing that we are deprecating) both are satisfied, "
     "will schedule onto the node",
     dict(node_selector={"foo": "bar"}, required_affinity=[term(req("foo", "Exists"))]), {"foo": "bar"}, "n", {}, ""),
    ("Pod with an Affinity matches node's labels but the PodSpec.NodeSelector(the old thing that we are deprecating) "
     "is not satisfied, won't schedule onto the node",
     dict(node_selector={"foo": "bar"}, required_affinity=[term(req("foo", "Exists"))]), {"foo": "barrrrrr"}, "n", {},
     ERR_REASON_POD),
    ("Pod with an invalid value in Affinity term won't be scheduled onto the node",
     dict(required_affinity=[term(req("foo", "NotIn", "invalid value: ___@#$%^"))]), {"foo": "bar"}, "n", {},
     ERR_REASON_POD),
    ("Pod with matchFields using In operator that matches the existing node",
     dict(required_affinity=[term(fields=[req(NAME_IN, "In", "node1")])]), {}, "node1", {}, ""),
    ("Pod with matchFields using In operator that does not match the existing node",
     dict(required_affinity=[term(fields=[req(NAME_IN, "In", "node1")])]), {}, "node2", {}, ERR_REASON_POD),
    ("Pod with two terms: matchFields does not match, but matchExpressions matches",
     dict(required_affinity=[term(fields=[req(NAME_IN, "In", "node1"), req(NAME_IN, "In", "node2")]),
                             term(req("foo", "In", "bar"))]), {"foo": "bar"}, "node2", {}, ""),
    ("Pod with one term: matchFields does not match, but matchExpressions matches",
     dict(required_affinity=[term(req("foo", "In", "bar"), fields=[req(NAME_IN, "In", "node1")])]), {"foo": "bar"},
     "node2", {}, ERR_REASON_POD),
    ("Pod with one term: both matchFields and matchExpressions match",
     dict(required_affinity=[term(req("foo", "In", "bar"), fields=[req(NAME_IN, "In", "node1")])]), {"foo": "bar"},
     "node1", {}, ""),
    ("Pod with two terms: both matchFields and matchExpressions do not match",
     dict(required_affinity=[term(fields=[req(NAME_IN, "In", "node1")]), term(req("foo", "In", "not-match-to-bar"))]),
     {"foo": "bar"}, "node2", {}, ERR_REASON_POD),
    ("Pod with two terms of node.Name affinity",
     dict(required_affinity=[term(fields=[req(NAME_IN, "In", "node1")]), term(fields=[req(NAME_IN, "In", "node2")])]),
     {}, "node2", {}, ""),
    ("Matches added affinity and Pod's node affinity", dict(required_affinity=[term(req("zone", "In", "foo"))]),
     {"zone": "foo"}, "node2", ADDED_NODE2, ""),
    ("Matches added affinity but not Pod's node affinity", dict(required_affinity=[term(req("zone", "In", "bar"))]),
     {"zone": "foo"}, "node2", ADDED_NODE2, ERR_REASON_POD),
    ("Doesn't match added affinity", {}, {"zone": "foo"}, "node2", ADDED_ZONE_BAR, ERR_REASON_ENFORCED),
]


@pytest.mark.parametrize("name,pod_kw,labels,node_name,args,reason", FILTER, ids=[c[0] for c in FILTER])
def test_node_affinity_filter(name, pod_kw, labels, node_name, args, reason):
    plugin = NodeAffinity(args)
    nodes = table([node(node_name, labels=labels)])
    if reason == "skip":
        assert plugin.pre_filter(CycleState(), pod(**pod_kw), nodes).is_skip
        reason = ""
    [(ok, got, code)] = run_filter(plugin, pod(**pod_kw), nodes)
    assert (ok, got) == (reason == "", reason)
    assert code == (0 if ok else int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE))


def test_node_affinity_conflicting_fields():
    """Upstream "Pod with two conflicting mach field requirements": PreFilter rejects, Filter fails too."""
    p = pod(required_affinity=[term(fields=[req(NAME_IN, "In", "node1"), req(NAME_IN, "In", "node2")])])
    nodes = table([node("node2", labels={"foo": "bar"})])
    st = NodeAffinity().pre_filter(CycleState(), p, nodes)
    assert (st.code, st.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_CONFLICT,))
    res = NodeAffinity().filter(CycleState(), p, nodes, np.arange(1))
    assert (bool(res.ok[0]), res.reason_at(0)) == (False, ERR_REASON_POD)


@pytest.mark.parametrize("name,preferred,nodes,args,expected", SCORE, ids=[c[0] for c in SCORE])
def test_node_affinity_score(name, preferred, nodes, args, expected):
    t = table([node(n, labels=lab) for n, lab in nodes])
    assert scores(NodeAffinity(args), pod(preferred_affinity=preferred), t) == expected


def test_node_affinity_score_edge_cases():
    """Upstream "all nodes are same priority as NodeAffinity is nil" (PreScore not run) and
    "PreScore returns error when an incoming Pod has a broken affinity"."""
    t = table([node("node1", labels=L1), node("node2", labels=L2), node("node3", labels=L3)])
    plugin, state = NodeAffinity(), CycleState()
    raw = plugin.score(state, pod(), t, np.arange(3))
    assert plugin.normalize_scores(state, pod(), raw).tolist() == [0, 0, 0]
    broken = pod(preferred_affinity=[(2, term(req("invalid key", "In", "bar")))])
    assert plugin.pre_score(state, broken, t, np.arange(3)).code == Code.ERROR
    # "calculate the priorities correctly even if PreScore is not called": 18 / 100 / 36
    t2 = table([node("node1", labels=L1), node("node5", labels=L5), node("node2", labels=L2)])
    p = pod(preferred_affinity=AFF2)
    assert plugin.normalize_scores(state, p, plugin.score(CycleState(), p, t2, np.arange(3))).tolist() == [18, 100, 36]


def test_node_affinity_args():
    with pytest.raises(PolicyError) as err:
        NodeAffinity({"addedAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 0, "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}]}})
    assert err.value.where == "args.addedAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"
    with pytest.raises(PolicyError) as err:
        NodeAffinity({"addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}]}}})
    assert err.value.where == ("args.addedAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                               ".nodeSelectorTerms[0].matchExpressions[0]")
