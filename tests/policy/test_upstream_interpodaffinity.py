"""InterPodAffinity against upstream's tables, exact to the integer and to the reason string.

Sources (kubernetes/kubernetes pkg/scheduler/framework/plugins/interpodaffinity/): filtering_test.go
@ 072825f9a367e9ca0f73f91830945f1b7f46e0d9 (TestRequiredAffinitySingleNode,
TestRequiredAffinityMultipleNodes) and scoring_test.go @ 030880a5dc5449403c6d1f0aa146a7dc21d6c6dc
(TestPreferredAffinity, TestPreferredAffinityWithHardPodAffinitySymmetricWeight); the tables live in
kbench/validate/upstream_affinity.py (shared with ``kbench validate``), with the arithmetic of the
score cases in comments. As upstream: PreFilter sees every node, then Filter runs node by node;
PreScore, Score and NormalizeScore run over every node.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.cluster.objects import NodeTable
from kbench.cluster.objects.clusterobjects import ClusterObjects
from kbench.errors import PolicyError
from kbench.policy.api import Code, CycleState, Handle
from kbench.validate.builders import node
from kbench.validate.filtering import snapshot_table
from kbench.validate.upstream_affinity import (
    FILTER_MULTI,
    FILTER_SINGLE,
    HARD_PODS,
    NAMESPACES,
    NODE1,
    NS1,
    SCORE,
    SCORE_HARD,
    p,
)
from policies.interpodaffinity import InterPodAffinity


def objects(namespaces: dict) -> ClusterObjects:
    objs = ClusterObjects()
    for name, labels in namespaces.items():
        objs.add_namespace(name, labels)
    return objs


def run_filter(pod, pods, nodes, namespaces):
    """Upstream's loop: PreFilter once, then Filter on each node. "skip", ("prefilter", code,
    message), or per node "" (pass) / (code, reason)."""
    table = snapshot_table(nodes, pods)
    plugin = InterPodAffinity({}, Handle(objects=objects(namespaces)))
    state = CycleState()
    st = plugin.pre_filter(state, pod, table)
    if st.is_skip:
        return "skip"
    if not st.ok:
        return ("prefilter", int(st.code), st.message())
    out = []
    for row in range(table.n):
        res = plugin.filter(state, pod, table, np.array([row], dtype=np.int64))
        out.append("" if res.ok[0] else (int(np.broadcast_to(res.code, (1,))[0]), res.reason_at(0)))
    return out


@pytest.mark.parametrize("name,pod,pods,expected", FILTER_SINGLE, ids=[c[0] for c in FILTER_SINGLE])
def test_required_affinity_single_node(name, pod, pods, expected):
    whole = expected == "skip" or (isinstance(expected, tuple) and expected[0] == "prefilter")
    assert run_filter(pod, pods, NODE1, NAMESPACES) == (expected if whole else [expected])


@pytest.mark.parametrize("name,pod,pods,nodes,expected", FILTER_MULTI, ids=[c[0] for c in FILTER_MULTI])
def test_required_affinity_multiple_nodes(name, pod, pods, nodes, expected):
    assert run_filter(pod, pods, nodes, NS1) == expected


def run_score(pod, pods, node_labels, args, namespaces):
    """PreScore, Score and NormalizeScore over every node; None for SKIP, ("error", message) for an error."""
    table = snapshot_table([node(f"node{i + 1}", labels=lab) for i, lab in enumerate(node_labels)], pods)
    plugin = InterPodAffinity(args, Handle(objects=objects(namespaces)))
    state = CycleState()
    cand = np.arange(table.n, dtype=np.int64)
    st = plugin.pre_score(state, pod, table, cand)
    if st.is_skip:
        return None
    if not st.ok:
        return ("error", st.message())
    raw = plugin.score(state, pod, table, cand)
    assert raw.dtype == np.int64
    return [int(x) for x in plugin.normalize_scores(state, pod, raw)]


@pytest.mark.parametrize("name,pod,pods,labels,ignore,expected", SCORE, ids=[c[0] for c in SCORE])
def test_preferred_affinity(name, pod, pods, labels, ignore, expected):
    got = run_score(pod, pods, labels, {"hardPodAffinityWeight": 1, "ignorePreferredTermsOfExistingPods": ignore},
                    NAMESPACES)
    if isinstance(expected, tuple):  # upstream checks the code and that the message contains the text
        assert got[0] == "error" and expected[1] in got[1]
    else:
        assert got == expected


@pytest.mark.parametrize("name,namespace,weight,expected", SCORE_HARD, ids=[c[0] for c in SCORE_HARD])
def test_preferred_affinity_with_hard_pod_affinity_symmetric_weight(name, namespace, weight, expected):
    pod = p(labels={"service": "S1"}, ns=namespace)
    got = run_score(pod, HARD_PODS, [{"region": "China"}, {"region": "India"}, {"az": "az1"}],
                    {"hardPodAffinityWeight": weight}, NAMESPACES)
    assert got == expected


# ----- beyond the tables --------------------------------------------------------------------------------

@pytest.mark.parametrize("args,where", [({"hardPodAffinityWeight": 101}, "args.hardPodAffinityWeight"),
                                        ({"hardPodAffinityWeight": -1}, "args.hardPodAffinityWeight"),
                                        ({"ignorePreferredTermsOfExistingPods": "yes"},
                                         "args.ignorePreferredTermsOfExistingPods"),
                                        ({"hardPodAfinityWeight": 1}, "args.hardPodAfinityWeight")])
def test_bad_args_are_refused_with_their_path(args, where):
    with pytest.raises(PolicyError) as info:
        InterPodAffinity(args)
    assert info.value.where == where


def test_counts_follow_pods_added_and_removed():
    """The incremental counts give the answers a fresh table gives, as anti-affine pods come and go."""
    nodes = [node(f"n{i}", labels={"zone": f"z{i % 3}", "kubernetes.io/hostname": f"n{i}"}) for i in range(9)]
    table = NodeTable.from_nodes(nodes)
    plugin = InterPodAffinity({})
    incoming = p(labels={"app": "web"}, anti=[{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}])
    placed = []
    for i in range(5):
        existing = p(f"w{i}", f"n{i}", {"app": "web"},
                     anti=[{"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}])
        table.add_pod(existing, table.index[f"n{i}"])
        placed.append(existing)
        for j, pod in enumerate(placed[:-1]):
            if (i + j) % 4 == 0:
                table.remove_pod(pod, table.index[pod.node_name])
                placed.remove(pod)
                break
        fresh = NodeTable.from_nodes(nodes, placed)
        for t in (table, fresh):
            assert t.req_anti_total == len(placed)
        got = [run_filter_on(plugin, incoming, t) for t in (table, fresh)]
        assert got[0] == got[1]


def run_filter_on(plugin, pod, table):
    state = CycleState()
    st = plugin.pre_filter(state, pod, table)
    if st.is_skip:
        return "skip"
    res = plugin.filter(state, pod, table, np.arange(table.n, dtype=np.int64))
    return [bool(x) for x in res.ok], [res.reason_at(i) for i in range(table.n)]


def test_no_affinity_anywhere_skips_in_constant_time():
    """The default-profile path: no bound pod with required anti-affinity and none on the pod: SKIP
    before the index is built."""
    import policies.affinitycounts as ac

    table = NodeTable.from_nodes([node(f"n{i}") for i in range(50)], [p(f"x{i}", f"n{i}") for i in range(50)])
    plugin = InterPodAffinity({})
    state = CycleState()
    assert plugin.pre_filter(state, p(), table).is_skip
    assert plugin.pre_score(state, p(), table, np.arange(50)).is_skip
    assert table not in ac._INDEX
    assert state.work == {}
    assert plugin.pre_filter(CycleState(), p(), table).code == Code.SKIP
