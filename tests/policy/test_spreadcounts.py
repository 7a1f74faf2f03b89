"""PodTopologySpread's cached matching-pod counts equal a walk over every bound pod (property test).

The counts of a new selector come from the bound pods grouped by (namespace, labels); those of a
known selector from the table's change log (or a recount when the log is too short). Whatever
the order of binds, unbinds and queries, and however many selectors (beyond the LRU's 64), they
must be exactly upstream's countPodsMatchSelector over every node.
"""

from __future__ import annotations

from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.cluster.objects import Container, Node, NodeTable, Pod
from kbench.cluster.objects import nodetable as nodetable_module
from kbench.cluster.objects.selectors import LabelSelector
from policies import spreadcounts
from policies.spreadcounts import selector_counts

LABELS = [{"app": "a"}, {"app": "a", "pod-template-hash": "1"}, {"app": "a", "pod-template-hash": "2"},
          {"app": "b"}, {"app": "b", "tier": "x"}, {}]
SELECTORS = [{"app": "a"}, {"app": "a", "pod-template-hash": "1"}, {"app": "b"}, {"tier": "x"},
             {"app": "b", "tier": "x"}, {"app": "c"}]


def _brute(nodes, namespace, sel):
    return [sum(1 for p in bound if not p.terminating and p.namespace == namespace and sel.matches(p.labels))
            for bound in nodes.pods]


ops = st.lists(st.one_of(
    st.tuples(st.just("bind"), st.integers(0, 4), st.integers(0, len(LABELS) - 1), st.sampled_from(["ns1", "ns2"])),
    st.tuples(st.just("unbind"), st.integers(0, 50)),
    st.tuples(st.just("query"), st.integers(0, len(SELECTORS) - 1), st.sampled_from(["ns1", "ns2"])),
    st.tuples(st.just("many"), st.integers(0, 3)),  # a burst of new selectors: LRU eviction
), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(ops, st.sampled_from([None, 2]))
def test_cached_counts_equal_a_walk_over_every_pod(steps, log_size):
    """``log_size`` 2: the table keeps only the last few changes, so refreshes fall back to recounts."""
    with mock.patch.object(nodetable_module, "_PODS_LOG", log_size or nodetable_module._PODS_LOG):
        _check(steps)


def _check(steps):
    nodes = NodeTable.from_nodes([Node(f"n{i}", {"cpu": 10**6, "memory": 2**40, "pods": 10**4}) for i in range(5)])
    bound: list[tuple[Pod, int]] = []
    serial = 0
    for step in steps:
        if step[0] == "bind":
            _, row, li, ns = step
            serial += 1
            pod = Pod(f"p{serial}", namespace=ns, labels=dict(LABELS[li]),
                      containers=[Container("c", requests={"cpu": 1})])
            nodes.add_pod(pod, row)
            bound.append((pod, row))
        elif step[0] == "unbind" and bound:
            pod, row = bound.pop(step[1] % len(bound))
            nodes.remove_pod(pod, row)
        elif step[0] == "query":
            _, si, ns = step
            sel = LabelSelector.of_labels(SELECTORS[si])
            assert selector_counts(nodes, ns, sel).tolist() == _brute(nodes, ns, sel)
        elif step[0] == "many":
            for k in range(70):  # more distinct selectors than the cache keeps
                sel = LabelSelector.of_labels({"app": "a", "n": str(k + 100 * step[1])})
                assert selector_counts(nodes, "ns1", sel).tolist() == [0] * 5
    for si in range(len(SELECTORS)):
        for ns in ("ns1", "ns2"):
            sel = LabelSelector.of_labels(SELECTORS[si])
            assert selector_counts(nodes, ns, sel).tolist() == _brute(nodes, ns, sel)
    spreadcounts.invalidate(nodes)


def test_a_group_over_many_nodes_counts_like_a_walk():
    """A DaemonSet-like group (one pod per node, 50 nodes) takes the vectorised path."""
    nodes = NodeTable.from_nodes([Node(f"n{i}", {"cpu": 10**6, "memory": 2**40, "pods": 100}) for i in range(50)])
    sel = LabelSelector.of_labels({"app": "ds"})
    pods = []
    for i in range(50):
        for _ in range(1 + i % 3):
            pod = Pod(f"p{len(pods)}", namespace="ns1", labels={"app": "ds"},
                      containers=[Container("c", requests={"cpu": 1})])
            nodes.add_pod(pod, i)
            pods.append((pod, i))
    for pod, row in pods[::7]:
        nodes.remove_pod(pod, row)
    spreadcounts.invalidate(nodes)  # the next query builds the groups from the table
    assert selector_counts(nodes, "ns1", sel).tolist() == _brute(nodes, "ns1", sel)
    assert selector_counts(nodes, "ns2", sel).tolist() == [0] * 50
