"""Object values as stored in etcd and delivered by watches during a lifecycle run.

Every write stores a new immutable snapshot (copy-on-write: :meth:`PodObj.evolve`), so a component
that acts on what its informer delivered acts on the version it saw, which may be stale. Specs
(:class:`kbench.cluster.objects.core.Pod` and ``Node``) are shared between versions and never mutated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from kbench.cluster.objects.core import Node, Pod

POD_BYTES = 2200
"""I3: an average Pod is about 2.2 KB."""
NODE_BYTES = 15_000
"""I4: Node objects are commonly 15-20 KB."""
LEASE_BYTES = 300
"""I1, I5: a Lease is about 300 B."""


@dataclass(slots=True, eq=False)
class PodObj:
    """One version of a pod object.

    Attributes:
        key: ``namespace/name``.
        uid: Dense integer id (row in the pod timeline).
        spec: The pod spec (shared, immutable).
        node_name: ``spec.nodeName`` once bound.
        phase: ``Pending``, ``Running``, ``Succeeded`` or ``Failed``.
        ready: Ready condition (for endpoints).
        deleting: Has a deletion timestamp (graceful deletion in progress).
        owner: Owner as ``Kind/namespace/name`` (ReplicaSet, Job, DaemonSet, StatefulSet), or None.
        nominated_node: Set by preemption.
        owner_uid: The owner's uid (0: not checked).
    """

    key: str
    uid: int
    spec: Pod
    node_name: str | None = None
    phase: str = "Pending"
    ready: bool = False
    deleting: bool = False
    owner: str | None = None
    nominated_node: str | None = None
    owner_uid: int = 0

    def evolve(self, **changes) -> PodObj:
        """A new version with ``changes`` applied (the old version is left as it was)."""
        new = _new_pod(PodObj)  # field by field: copy.copy of a slotted dataclass is several times slower
        new.key, new.uid, new.spec, new.node_name = self.key, self.uid, self.spec, self.node_name
        new.phase, new.ready, new.deleting, new.owner = self.phase, self.ready, self.deleting, self.owner
        new.nominated_node, new.owner_uid = self.nominated_node, self.owner_uid
        for k, v in changes.items():
            setattr(new, k, v)
        return new

    @property
    def finished(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


_new_pod = object.__new__


@dataclass(slots=True, eq=False)
class NodeObj:
    """One version of a node object.

    Attributes:
        key: Node name.
        spec: The node spec (allocatable, labels, taints...).
        ready: Ready condition (set by the kubelet's status, cleared by the node lifecycle
            controller when leases stop).
        taints: Current taints (spec taints plus those the node lifecycle controller adds).
        unschedulable: ``spec.unschedulable``.
    """

    key: str
    spec: Node
    ready: bool = True
    taints: tuple = ()
    unschedulable: bool = False

    def evolve(self, **changes) -> NodeObj:
        new = copy.copy(self)
        for k, v in changes.items():
            setattr(new, k, v)
        return new


@dataclass(slots=True, eq=False)
class GenericObj:
    """A value for kinds the model only counts (leases, endpointslices, configmaps, CRs...).

    Attributes:
        key: Object key.
        data: Small payload (e.g. the ready endpoints of a slice).
    """

    key: str
    data: dict = field(default_factory=dict)


def pod_partition(value: PodObj) -> str | None:
    """Index of the pods watch cache: ``spec.nodeName`` (what a kubelet's field selector uses)."""
    return value.node_name
