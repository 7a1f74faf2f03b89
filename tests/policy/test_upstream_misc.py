"""NodeName, NodeUnschedulable, PrioritySort and DefaultPreemption against upstream's tables.

Sources (kubernetes/kubernetes, pkg/scheduler/framework/plugins/):

* nodename/node_name_test.go @ 96a58e4b8a59fab0b3735b1ae0cf92eeab6fc49c (TestNodeName)
* nodeunschedulable/node_unschedulable_test.go @ b574b11f6b28f06e17333bb110e9374db3259bad (TestNodeUnschedulable)
* queuesort/priority_sort_test.go @ fd145d64ee320f61b74a21810c4da498972a186e (TestLess)
* defaultpreemption/default_preemption_test.go @ 5def93b10a782c40035e7cf3bf5156616b1ce62e (TestPostFilter;
  upstream st.MakeNode().Capacity() adds 32 allocatable pods unless given), plus hand-computed cases for
  pickOneNodeForPreemption's criteria and the GPU-share fit (kbench's documented simplification).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from kbench.errors import PolicyError
from kbench.policy.api import Code, CycleState, Handle, Status
from policies.defaultpreemption import DefaultPreemption
from policies.nodename import ERR_REASON as NODENAME_REASON
from policies.nodename import NodeName
from policies.nodeunschedulable import ERR_REASON as UNSCHED_REASON
from policies.nodeunschedulable import NodeUnschedulable
from policies.prioritysort import PrioritySort
from tests.policy.builders import node, pod, run_filter, table, toleration


@pytest.mark.parametrize("name,pod_node,node_name,reason", [
    ("no host specified", None, "foo", ""),
    ("host matches", "foo", "foo", ""),
    ("host doesn't match", "bar", "foo", NODENAME_REASON),
])
def test_node_name(name, pod_node, node_name, reason):
    p = pod("p")
    p.node_name = pod_node  # set after building the table so the pod is not bound
    [(ok, got, code)] = run_filter(NodeName(), p, table([node(node_name)]))
    assert (ok, got, code) == (reason == "", reason, 0 if reason == "" else int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE))


@pytest.mark.parametrize("name,tols,unschedulable,reason", [
    ("Does not schedule pod to unschedulable node (node.Spec.Unschedulable==true)", [], True, UNSCHED_REASON),
    ("Schedule pod to normal node", [], False, ""),
    ("Schedule pod with toleration to unschedulable node (node.Spec.Unschedulable==true)",
     [toleration("node.kubernetes.io/unschedulable", effect="NoSchedule")], True, ""),
])
def test_node_unschedulable(name, tols, unschedulable, reason):
    n = table([node("n", unschedulable=unschedulable)])
    [(ok, got, code)] = run_filter(NodeUnschedulable(), pod(tolerations=tols), n)
    assert (ok, got, code) == (reason == "", reason, 0 if reason == "" else int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE))


def queued(priority, t=None):
    return SimpleNamespace(priority=priority, queued_s=t)


@pytest.mark.parametrize("name,p1,p2,expected", [
    ("p1.priority less than p2.priority", queued(10), queued(100), False),
    ("p1.priority greater than p2.priority", queued(100), queued(10), True),
    ("equal priority. p1 is added to schedulingQ earlier than p2", queued(100, 1.0), queued(100, 2.0), True),
    ("equal priority. p2 is added to schedulingQ earlier than p1", queued(100, 2.0), queued(100, 1.0), False),
])
def test_priority_sort(name, p1, p2, expected):
    assert PrioritySort().less(p1, p2) is expected


# ----- DefaultPreemption ------------------------------------------------------------------------

LOW, MID, HIGH = 0, 100, 1000
LARGE, MEDIUM = {"cpu": 300, "memory": 300}, {"cpu": 200, "memory": 200}
U, UU = Status(Code.UNSCHEDULABLE), Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


def preempt(p, nodes, existing, statuses, args=None):
    t = table(nodes, existing)
    st = {t.index[name]: s for name, s in statuses.items()}
    state = CycleState()
    status, nominated = DefaultPreemption(args, Handle(rng=np.random.default_rng(0), nodes=t)).post_filter(
        state, p, t, st)
    return status.code, nominated, [v.name for v in state.get("victims", [])]


ONE_POD = dict(pods=1)
NODE_RES = dict(cpu=200, memory=400, pods=32)

POST_FILTER = [  # (case name, pod, nodes, existing, statuses, (code, nominated, victims))
    ("pod with higher priority can be made schedulable", pod("p", priority=HIGH), [node("node1", **ONE_POD)],
     [pod("p1", node="node1")], {"node1": U}, (Code.SUCCESS, "node1", ["p1"])),
    ("pod with tied priority is still unschedulable", pod("p"), [node("node1", **ONE_POD)],
     [pod("p1", node="node1")], {"node1": U}, (Code.UNSCHEDULABLE, None, [])),
    ("preemption should respect filteredNodesStatuses", pod("p", priority=HIGH), [node("node1", **ONE_POD)],
     [pod("p1", node="node1")], {"node1": UU}, (Code.UNSCHEDULABLE, None, [])),
    ("pod can be made schedulable on one node", pod("p", priority=MID),
     [node("node1", **ONE_POD), node("node2", **ONE_POD)],
     [pod("p1", node="node1", priority=HIGH), pod("p2", node="node2", priority=LOW)], {"node1": U, "node2": U},
     (Code.SUCCESS, "node2", ["p2"])),
    ("no candidate nodes found, no enough resource after removing low priority pods",
     pod("p", priority=HIGH, reqs=[LARGE]), [node("node1", **NODE_RES), node("node2", **NODE_RES)],
     [pod("p1", node="node1"), pod("p2", node="node2")], {"node1": U, "node2": U}, (Code.UNSCHEDULABLE, None, [])),
    ("no candidate nodes found with mixed reasons, no lower priority pod and no enough CPU resource",
     pod("p", priority=HIGH, reqs=[LARGE]),
     [node("node1", **ONE_POD), node("node2", **NODE_RES), node("node3", **ONE_POD)],
     [pod("p1", node="node1", priority=HIGH), pod("p2", node="node2"), pod("p3", node="node3", priority=HIGH)],
     {"node1": U, "node2": U, "node3": U}, (Code.UNSCHEDULABLE, None, [])),
    # upstream's node1 fails through a test plugin; here node1 needs no eviction (no victims), node2 does
    ("one failed with TestPlugin and the other pass", pod("p", priority=HIGH, reqs=[LARGE]),
     [node("node1", 300, 300, pods=32), node("node2", 300, 300, pods=32)],
     [pod("p1", node="node1"), pod("p2", node="node2", reqs=[MEDIUM])], {"node1": U, "node2": U},
     (Code.SUCCESS, "node2", ["p2"])),
    # kbench criteria cases: highest victim priority 100 (node1) vs 0 (node2) -> node2
    ("lowest highest-priority victim wins", pod("p", priority=HIGH, reqs=[LARGE]),
     [node("node1", 300, 300), node("node2", 300, 300)],
     [pod("a", node="node1", priority=MID, reqs=[MEDIUM]), pod("b", node="node2", priority=LOW, reqs=[MEDIUM])],
     {"node1": U, "node2": U}, (Code.SUCCESS, "node2", ["b"])),
    # both max 100; sums 100 + 100 (node1) vs 100 + 0 (node2), each + 2 * 2^31 -> node2
    ("smallest priority sum wins", pod("p", priority=HIGH, reqs=[{"cpu": 300}]),
     [node("node1", 300, 10**9), node("node2", 300, 10**9)],
     [pod("a1", node="node1", priority=MID, reqs=[{"cpu": 150}]), pod("a2", node="node1", priority=MID, reqs=[{"cpu": 150}]),
      pod("b1", node="node2", priority=MID, reqs=[{"cpu": 150}]), pod("b2", node="node2", priority=LOW, reqs=[{"cpu": 150}])],
     {"node1": U, "node2": U}, (Code.SUCCESS, "node2", ["b1", "b2"])),
    # reprieve keeps the more important pod when evicting the less important one suffices
    ("reprieve the most important victims first", pod("p", priority=HIGH, reqs=[{"cpu": 100}]),
     [node("node1", 300, 10**9)],
     [pod("a", node="node1", priority=MID, reqs=[{"cpu": 100}]), pod("b", node="node1", priority=LOW, reqs=[{"cpu": 100}]),
      pod("c", node="node1", priority=MID, reqs=[{"cpu": 100}])], {"node1": U}, (Code.SUCCESS, "node1", ["b"])),
]


@pytest.mark.parametrize("name,p,nodes,existing,statuses,want", POST_FILTER, ids=[c[0] for c in POST_FILTER])
def test_default_preemption(name, p, nodes, existing, statuses, want):
    assert preempt(p, nodes, existing, statuses) == want


def test_preemption_frees_gpu_share():
    """A GPU-sharing pod (500 milli) preempts the 600-milli holder of the node's only GPU."""
    gnode = node("g1", 8000, 10**10)
    gnode.gpu_count = 1
    victim = pod("v", node="g1", priority=LOW, gpu_count=1, gpu_milli=600)
    t = table([gnode], [victim])
    state = CycleState()
    st, nominated = DefaultPreemption().post_filter(state, pod("p", priority=HIGH, gpu_milli=500), t, {0: U})
    assert (st.code, nominated, state["victims"]) == (Code.SUCCESS, "g1", [victim])


def test_preemption_args():
    assert DefaultPreemption().num_candidates(5000) == 500  # 10 % of 5000 (D7)
    assert DefaultPreemption().num_candidates(50) == 50  # at least 100, at most n
    with pytest.raises(PolicyError) as err:
        DefaultPreemption({"minCandidateNodesPercentage": 0, "minCandidateNodesAbsolute": 0})
    assert err.value.where == "args.minCandidateNodesPercentage"
    with pytest.raises(PolicyError) as err:
        DefaultPreemption({"minCandidateNodesPercentage": 101})
    assert err.value.where == "args.minCandidateNodesPercentage"
