"""NodePorts: a node fits only if the pod's host ports are free there.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/nodeports/node_ports.go``
(007f7ae7dc217d27dad994dce003cfe1c5bc6706; ``ErrReason``, ``fitsPorts``), ``framework/types.go``
(``HostPortInfo.CheckConflict``) and ``pkg/scheduler/util`` (``GetHostPorts``); tests
``node_ports_test.go`` @ 008b3652959ca58af8be3fb5b6ecfe9ae7638282.

* Host ports are those with ``hostPort`` > 0 of app containers and of sidecar (``restartPolicy:
  Always``) init containers; a pod without any is skipped at PreFilter.
* A wanted ``(hostIP, protocol, hostPort)`` conflicts with a bound pod's port of the same protocol
  and number when either address is 0.0.0.0 (``hostIP`` "") or the addresses are equal.
  Reason ``node(s) didn't have free ports for the requested pod ports`` (Unschedulable).
* Events: an assigned pod deleted (Queue when its host ports conflicted with the pod's), a node
  added.

Per-node work: only the nodes that use one of the wanted (protocol, port) pairs are looked at
(``NodeTable.used_ports``).
"""

from __future__ import annotations

import numpy as np

from kbench.policy.api import Code, FilterResult, Status
from kbench.policy.events import ADD, ASSIGNED_POD, DELETE, NODE, ClusterEvent
from policies import signers
from policies.resourceargs import check_keys

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"


def conflicts(want, used_ports: dict, row: int) -> bool:
    """Whether any wanted :class:`~kbench.cluster.objects.HostPort` conflicts on ``row``."""
    for hp in want:
        ips = used_ports.get((hp.protocol, hp.port), {}).get(row)
        if ips and hp.conflicts(ips):
            return True
    return False


def ports_conflict(want, have) -> bool:
    """Whether two lists of host ports conflict (upstream ``fitsPorts`` negated)."""
    used: dict = {}
    for hp in have:
        used.setdefault((hp.protocol, hp.port), {}).setdefault(0, {})
        used[(hp.protocol, hp.port)][0][hp.ip] = 1
    return conflicts(want, used, 0)


class NodePorts:
    """Filter: the pod's host ports must be free on the node."""

    NAME = NAME
    DESCRIPTION = "Filter: the pod's host ports must be free on the node"

    def __init__(self, args: dict | None = None, handle=None):
        check_keys({} if args is None else args, (), "args", "NodePortsArgs")
        self.handle = handle

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching's fragment (upstream ``SignPod``: the host ports)."""
        return signers.host_ports(pod)

    def pre_filter(self, state, pod, nodes) -> Status:
        """SKIP when the pod binds no host port."""
        if not pod.host_ports:
            return Status.skip()
        return Status.success()

    def passes_all(self, state, pod, nodes) -> bool:
        """True when no node uses any wanted (protocol, port)."""
        used = nodes.used_ports
        return not any((hp.protocol, hp.port) in used for hp in pod.host_ports)

    def filter(self, state, pod, nodes, candidates) -> FilterResult:
        """Fail the candidates where a wanted host port is taken."""
        cand = np.asarray(candidates, dtype=np.int64)
        want = pod.host_ports
        if not want:
            return FilterResult.all_pass(len(cand))
        bad = np.zeros(nodes.n, dtype=bool)
        used = nodes.used_ports
        for hp in want:
            for row, ips in used.get((hp.protocol, hp.port), {}).items():
                if not bad[row] and hp.conflicts(ips):
                    bad[row] = True
        state.add_work("filter_op", len(want) * len(cand))
        return FilterResult(~bad[cand], ERR_REASON, Code.UNSCHEDULABLE)

    def events_to_register(self):
        """An assigned pod deleted (hint below); a node added (Queue)."""
        return [(ClusterEvent(ASSIGNED_POD, DELETE), self._after_pod_deleted), (ClusterEvent(NODE, ADD), None)]

    @staticmethod
    def _after_pod_deleted(pod, old, new) -> bool:
        """Upstream ``isSchedulableAfterPodDeleted``: Queue when the deleted pod's host ports
        conflicted with the pod's."""
        if old is None or not old.host_ports:
            return False
        return ports_conflict(pod.host_ports, old.host_ports)


PLUGINS = [NodePorts]
