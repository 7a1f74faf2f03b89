"""NodeName: a pod whose ``spec.nodeName`` is set fits only that node.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/nodename/node_name.go`` @ 6f137b77
(``Fits``, ``ErrReason``). A node other than the named one fails with
``node(s) didn't match the requested node name`` (UnschedulableAndUnresolvable).
"""

from __future__ import annotations

import numpy as np

from kbench.policy.api import Code, FilterResult
from kbench.policy.events import ADD, NODE, ClusterEvent
from policies import hintfns
from policies.resourceargs import check_keys

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    """Filters every node but the one named in the pod's ``node_name`` (if set)."""

    NAME = NAME
    DESCRIPTION = "Pods with spec.nodeName fit only that node"

    def __init__(self, args: dict | None = None, handle=None):
        check_keys({} if args is None else args, (), "args", "NodeNameArgs")
        self.handle = handle

    def passes_all(self, state, pod, nodes) -> bool:
        """True when the pod names no node (Filter passes every node)."""
        return not pod.node_name

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching's fragment (upstream ``SignPod``: spec.nodeName)."""
        return (pod.node_name,)

    def filter(self, state, pod, nodes, candidates) -> FilterResult:
        """All pass when ``pod.node_name`` is empty; else only the named node."""
        cand = np.asarray(candidates, dtype=np.int64)
        if not pod.node_name:
            return FilterResult.all_pass(len(cand))
        ok = np.asarray(nodes.names, dtype=object)[cand] == pod.node_name
        return FilterResult(ok, ERR_REASON, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def events_to_register(self):
        """Node added (policies/hintfns.py)."""
        return [(ClusterEvent(NODE, ADD), hintfns.node_name)]


PLUGINS = [NodeName]
