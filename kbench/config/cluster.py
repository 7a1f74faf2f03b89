"""The cluster's nodes (section ``cluster:`` of a scenario): groups of identical nodes.

Sizes are Kubernetes quantities (``cpu_cores: 3800m``, ``memory_bytes: 15Gi``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodeGroup:
    """A group of identical nodes.

    Attributes:
        count: Number of nodes.
        name_prefix: Nodes are named ``<prefix>-<i>``.
        cpu_cores: Allocatable CPU, cores (``3800m`` = 3.8).
        memory_bytes: Allocatable memory, bytes.
        pods: Allocatable pods (F9: 110).
        gpus: GPUs per node.
        gpu_model: GPU model label.
        labels: Extra node labels.
        taints: Taints as ``key=value:Effect``.
        zones: Nodes are spread round-robin over ``zone-0 .. zone-(zones-1)``
            (label ``topology.kubernetes.io/zone``).
        images: Pre-pulled images: name -> size in bytes.
    """

    count: int = 1
    name_prefix: str = "node"
    cpu_cores: float = 4.0
    memory_bytes: float = 16 * 2**30
    pods: int = 110  # F9
    gpus: int = 0
    gpu_model: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[str] = field(default_factory=list)
    zones: int = 1
    images: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterConfig:
    """The nodes.

    Attributes:
        nodes: Node groups.
        dump: A cluster as ``kubectl get nodes,pods -A -o yaml`` prints it ("" = none; ``kbench run
            --cluster``): its Nodes join the node groups' and its bound pods are the existing load
            at 0 s (:mod:`kbench.workload.clusterdump`). Relative to the scenario's folder.
    """

    nodes: list[NodeGroup] = field(default_factory=list)
    dump: str = ""
