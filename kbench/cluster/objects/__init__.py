"""Cluster objects: what every component reads and writes, importable by all without a cycle.

In Kubernetes these are the core/v1 API types (Pod, Node, taints, selectors) and their stored
values in etcd. kbench models the scheduling-relevant fields (:mod:`.core`), every node's
resources as a struct of numpy arrays (:mod:`.nodetable`), and immutable stored snapshots with
their byte sizes (:mod:`.stored`).
"""

from kbench.cluster.objects.core import (
    CPU,
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    GPU,
    MEMORY,
    PODS,
    Container,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Pod,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    selector_matches,
    tolerates_all,
)
from kbench.cluster.objects.nodetable import NodeTable
from kbench.cluster.objects.podaffinity import AffinityTerm, ContainerPort, HostPort, PodAffinity
from kbench.cluster.objects.selectors import LabelSelector

__all__ = [
    "AffinityTerm", "ContainerPort", "HostPort", "LabelSelector", "PodAffinity",
    "CPU", "DEFAULT_MEMORY_REQUEST", "DEFAULT_MILLI_CPU_REQUEST", "GPU", "MEMORY", "PODS", "Container",
    "Node", "NodeSelectorRequirement", "NodeSelectorTerm", "NodeTable", "Pod", "Taint", "Toleration",
    "TopologySpreadConstraint", "selector_matches", "tolerates_all",
]
