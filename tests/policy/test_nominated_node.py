"""The preemptor's nominated node is filtered alone first and, if it passes, taken without scoring.

Upstream: ``findNodesThatFitPod`` calls ``evaluateNominatedNode`` when ``status.nominatedNodeName`` is
set (kubernetes/kubernetes pkg/scheduler/schedule_one.go; the PreferNominatedNode behaviour, GA in
v1.24): the room a preemption made goes to its preemptor even when another node would score higher.
"""

from __future__ import annotations

from kbench.cluster.objects import Container, Node, NodeTable, Pod
from kbench.policy.framework import Framework
from kbench.policy.profile import profile_from_dict

GI = 2**30


def nodes() -> NodeTable:
    """``small`` (1 core, half of it used) and ``big`` (8 free cores: LeastAllocated prefers it)."""
    table = NodeTable.from_nodes([Node(name, {"cpu": cpu, "memory": 16.0 * GI, "pods": 110},
                                       labels={"kubernetes.io/hostname": name})
                                  for name, cpu in (("small", 1000.0), ("big", 8000.0))])
    table.add_pod(pod("resident", 500.0), table.index["small"])
    return table


def pod(name: str, cpu: float) -> Pod:
    return Pod(name, containers=[Container("c", requests={"cpu": cpu, "memory": GI})])


def default() -> Framework:
    return Framework(profile_from_dict("d", {"base": "default"}), 0)


def test_the_nominated_node_wins_when_it_fits():
    table = nodes()
    assert default().schedule(pod("p", 500.0), table, assume=False).node == "big"
    res = default().schedule(pod("p", 500.0), table, assume=False, nominated=table.index["small"])
    assert res.node == "small"
    assert res.state.work["filter_node"] == 1 and "score_node" not in res.state.work


def test_a_nominated_node_that_does_not_fit_falls_back_to_every_node():
    table = nodes()
    res = default().schedule(pod("p", 800.0), table, assume=False, nominated=table.index["small"])
    assert res.node == "big"
    assert res.state.work["filter_node"] == 1 + 2  # the nominated node, then the whole cluster
