"""The kubelet: one per node, it starts the pods bound to its node and reports the node's health.

In Kubernetes it watches its pods, admits them, creates the sandbox, pulls images, starts
containers and writes pod status; it renews the node lease and posts node status. kbench models
the fleet and node faults (:mod:`.fleet`), heartbeats (:mod:`.heartbeats`), the node's client
(:mod:`.nodeclient`), the pod startup pipeline (:mod:`.podworker`) and node resources
(:mod:`.noderesources`).
"""

from kbench.cluster.kubelet.fleet import KubeletFleet

__all__ = ["KubeletFleet"]
