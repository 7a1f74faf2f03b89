"""TaintToleration against upstream's tables, exact to the integer.

Source: kubernetes/kubernetes pkg/scheduler/framework/plugins/tainttoleration/taint_toleration_test.go
@ cb6ff2d8ce3595f88570f82c7d0e6d98910afd3c (TestTaintTolerationScore, TestTaintTolerationFilter);
NormalizeScore per helper/normalize_score.go @ 2e94b405 (CALIBRATION E12). The filter reason is
current kube-scheduler's ``node(s) had untolerated taint(s)`` (policies/tainttoleration.py says why);
that test file's copy expects the older ``node(s) had untolerated taint {key: value}``.
"""

from __future__ import annotations

import pytest

from kbench.validate.upstream_cases import PNS
from kbench.validate.upstream_cases import TAINT_SCORE as SCORE  # the table, shared with kbench validate
from policies.tainttoleration import TaintToleration
from tests.policy.builders import node, pod, run_filter, scores, table, taint, toleration


@pytest.mark.parametrize("name,tols,taints,expected", SCORE, ids=[c[0] for c in SCORE])
def test_taint_toleration_score(name, tols, taints, expected):
    nodes = table([node(f"node{chr(65 + i)}", taints=t) for i, t in enumerate(taints)])
    assert scores(TaintToleration(), pod(tolerations=tols), nodes) == expected


DED = taint("dedicated", "user1", "NoSchedule")
FILTER = [  # (case name, tolerations, node taints, expected reason)
    ("A pod having no tolerations can't be scheduled onto a node with nonempty taints", [], [DED],
     "node(s) had untolerated taint(s)"),
    ("A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
     [toleration("dedicated", "user1", "NoSchedule")], [DED], ""),
    ("A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule",
     [toleration("dedicated", "user2", "NoSchedule")], [DED], "node(s) had untolerated taint(s)"),
    ("A pod can be scheduled onto the node, with a toleration uses operator Exists that tolerates the taints on the node",
     [toleration("foo", effect="NoSchedule", operator="Exists")], [taint("foo", "bar")], ""),
    ("A pod has multiple tolerations, node has multiple taints, all the taints are tolerated, "
     "pod can be scheduled onto the node",
     [toleration("dedicated", "user2", "NoSchedule"), toleration("foo", effect="NoSchedule", operator="Exists")],
     [taint("dedicated", "user2"), taint("foo", "bar")], ""),
    ("A pod has a toleration that keys and values match the taint on the node, but (non-empty) effect doesn't match, "
     "can't be scheduled onto the node", [toleration("foo", "bar", PNS)], [taint("foo", "bar")],
     "node(s) had untolerated taint(s)"),
    ("The pod has a toleration that keys and values match the taint on the node, the effect of toleration is empty, "
     "and the effect of taint is NoSchedule. Pod can be scheduled onto the node", [toleration("foo", "bar")],
     [taint("foo", "bar")], ""),
    ("The pod has a toleration that key and value don't match the taint on the node, "
     "but the effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node",
     [toleration("dedicated", "user2", "NoSchedule")], [taint("dedicated", "user1", PNS)], ""),
    ("The pod has no toleration, but the effect of taint on node is PreferNoSchedule. "
     "Pod can be scheduled onto the node", [], [taint("dedicated", "user1", PNS)], ""),
]


@pytest.mark.parametrize("name,tols,taints,reason", FILTER, ids=[c[0] for c in FILTER])
def test_taint_toleration_filter(name, tols, taints, reason):
    [(ok, got, code)] = run_filter(TaintToleration(), pod(tolerations=tols), table([node("nodeA", taints=taints)]))
    assert (ok, got) == (reason == "", reason)
    assert code == (0 if ok else 3)  # Code.UNSCHEDULABLE_AND_UNRESOLVABLE
