"""NodeAffinity's PreFilterResult: a pod pinned to node names is filtered on those nodes only.

Upstream: ``NodeAffinity.PreFilter`` returns ``PreFilterResult{NodeNames}`` when every required term
pins ``metadata.name In [...]`` (kubernetes/kubernetes
pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go @ 00d37505), and
``findNodesThatFitPod`` filters only those nodes, sets every other node's status to
UnschedulableAndUnresolvable "node(s) didn't satisfy plugin(s) [NodeAffinity]" and advances
``nextStartNodeIndex`` by the nodes it processed (pkg/scheduler/schedule_one.go). A DaemonSet pod is
the common case: its cycle looks at one node, not at every node of the cluster.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.cluster.objects import Container, Node, NodeSelectorRequirement, NodeSelectorTerm, NodeTable, Pod
from kbench.policy.api import Code, CycleState
from kbench.policy.framework import Framework
from policies.nodeaffinity import NodeAffinity

GI = 2**30
NAME = "metadata.name"


def pinned(*names_per_term: tuple[str, ...], cpu: float = 100.0, expressions: bool = False) -> Pod:
    terms = []
    for names in names_per_term:
        if names:
            terms.append(NodeSelectorTerm(match_fields=(NodeSelectorRequirement(NAME, "In", tuple(names)),)))
        else:
            terms.append(NodeSelectorTerm(match_expressions=(NodeSelectorRequirement("zone", "In", ("a",)),)))
    return Pod("ds-pod", containers=[Container("c", requests={"cpu": cpu})], required_affinity=terms)


def cluster(n: int, small: tuple[int, ...] = ()) -> NodeTable:
    """``n`` nodes of 4 cores (1 core for the rows in ``small``), zone a/b alternating."""
    return NodeTable.from_nodes([Node(f"n{i:04d}", {"cpu": (1000.0 if i in small else 4000.0), "memory": 16.0 * GI,
                                                    "pods": 110},
                                      labels={"kubernetes.io/hostname": f"n{i:04d}", "zone": "ab"[i % 2]})
                                 for i in range(n)])


@pytest.mark.parametrize(("terms", "expected"), [
    ((("node1",),), {"node1"}),                         # one term pinning one node
    ((("node1", "node2"), ("node3",)), {"node1", "node2", "node3"}),  # terms are ORed: the union
    ((("node1",), ()), None),                           # a term without metadata.name: every node
])
def test_pre_filter_returns_the_pinned_names(terms, expected):
    st = NodeAffinity().pre_filter(CycleState(), pinned(*terms), cluster(3))
    assert st.ok
    assert (None if st.node_names is None else set(st.node_names)) == expected


def test_the_requirements_of_one_term_intersect():
    term = NodeSelectorTerm(match_fields=(NodeSelectorRequirement(NAME, "In", ("node1", "node2")),
                                          NodeSelectorRequirement(NAME, "In", ("node2", "node3"))))
    p = Pod("p", containers=[Container("c", requests={"cpu": 1.0})], required_affinity=[term])
    assert set(NodeAffinity().pre_filter(CycleState(), p, cluster(3)).node_names) == {"node2"}


def test_a_pinned_pod_is_filtered_on_its_node_only():
    nodes = cluster(500)
    fw = Framework("default", 0)
    assert fw.num_feasible_nodes_to_find(500) < 500
    fw._next_start = 17
    res = fw.schedule(pinned(("n0123",)), nodes, assume=False)
    assert res.node_idx == nodes.index["n0123"]
    assert np.flatnonzero(res.evaluated).tolist() == [nodes.index["n0123"]]
    assert res.state.work["filter_node"] == 1.0
    assert fw._next_start == 18  # upstream advances by the nodes processed


def test_the_same_node_is_chosen_as_when_every_node_is_filtered():
    """Several pinned names: the filtered subset gives the choice a full walk gives."""
    nodes = cluster(300, small=(5, 77))
    names = ("n0005", "n0077", "n0150", "n0151", "n0299")
    fw, ref = Framework("default", 3), Framework("default", 3)
    for cpu in (100.0, 1500.0):
        p = pinned(names, cpu=cpu)
        got = fw.schedule(p, nodes, assume=False)
        want = ref.schedule(p, nodes, assume=False, evaluate_all=True)
        assert got.node_idx == want.node_idx
        assert np.flatnonzero(got.feasible).tolist() == np.flatnonzero(want.feasible).tolist()
        assert int(got.evaluated.sum()) == len(names) and int(want.evaluated.sum()) == 300


def test_a_pinned_node_that_does_not_fit_reports_the_others_as_unresolvable():
    nodes = cluster(200, small=(42,))
    res = Framework("default", 0).schedule(pinned(("n0042",), cpu=2000.0), nodes, assume=False)
    assert res.node_idx is None
    assert res.status.code == Code.UNSCHEDULABLE  # the pinned node may be freed by preemption
    msg = res.status.message()
    assert msg.startswith("0/200 nodes are available")
    assert "1 Insufficient cpu" in msg and "199 node(s) didn't satisfy plugin(s) [NodeAffinity]" in msg


def test_a_pod_pinned_to_a_missing_node_is_unresolvable():
    res = Framework("default", 0).schedule(pinned(("gone",)), cluster(150), assume=False)
    assert res.status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert "150 node(s) didn't satisfy plugin(s) [NodeAffinity]" in res.status.message()
