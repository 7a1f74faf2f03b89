"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) take only pods that tolerate it.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go``
@ 09b2e8f6. A node with ``unschedulable`` set fails with ``node(s) were unschedulable``
(UnschedulableAndUnresolvable) unless the pod tolerates the taint
``node.kubernetes.io/unschedulable:NoSchedule``.
"""

from __future__ import annotations

import numpy as np

from kbench.cluster.objects import Taint
from kbench.policy.api import Code, FilterResult
from kbench.policy.events import ADD, NODE, UPDATE_NODE_TAINT, ClusterEvent
from policies import hintfns, signers
from policies.resourceargs import check_keys

NAME = "NodeUnschedulable"
ERR_REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")


class NodeUnschedulable:
    """Filters cordoned nodes unless the pod tolerates ``node.kubernetes.io/unschedulable``."""

    NAME = NAME
    DESCRIPTION = "Cordoned (unschedulable) nodes only take pods tolerating the unschedulable taint"

    def __init__(self, args: dict | None = None, handle=None):
        check_keys({} if args is None else args, (), "args", "NodeUnschedulableArgs")
        self.handle = handle

    def passes_all(self, state, pod, nodes) -> bool:
        """True when no node is cordoned or the pod tolerates the unschedulable taint."""
        return not nodes.unschedulable.any() or any(t.tolerates(UNSCHEDULABLE_TAINT) for t in pod.tolerations)

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching's fragment (upstream ``SignPod``: the tolerations)."""
        return signers.tolerations(pod)

    def filter(self, state, pod, nodes, candidates) -> FilterResult:
        """Fail cordoned candidates when the pod does not tolerate the unschedulable taint."""
        cand = np.asarray(candidates, dtype=np.int64)
        if any(t.tolerates(UNSCHEDULABLE_TAINT) for t in pod.tolerations):
            return FilterResult.all_pass(len(cand))
        return FilterResult(~nodes.unschedulable[cand], ERR_REASON, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def events_to_register(self):
        """Node added or its taints / cordon changed (policies/hintfns.py)."""
        return [(ClusterEvent(NODE, ADD | UPDATE_NODE_TAINT), hintfns.node_unschedulable)]


PLUGINS = [NodeUnschedulable]
