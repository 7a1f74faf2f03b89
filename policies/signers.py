"""Pod signature fragments for opportunistic batching (KEP-5598; :mod:`kbench.policy.batching`).

Each in-tree plugin's ``sign(pod)`` returns what upstream's ``SignPod`` returns (the pod fields its
feasibility and score depend on), or None where upstream refuses to sign. The helpers mirror
``staging/src/k8s.io/kube-scheduler/framework/signers.go`` (kubernetes/kubernetes @ 0fd66036):
tolerations sorted by key then value, host port numbers sorted (IP and protocol left out), image
names normalized (``:latest`` added when untagged), sorted and de-duplicated. Fragments are compared
for equality only.
"""

from __future__ import annotations


def resources(pod) -> tuple:
    """``ResourcesSignerName``: the pod's effective requests (containers, init containers,
    overhead) and its GPU request."""
    return tuple(sorted(pod.requests().items())), pod.gpu_count, pod.gpu_milli, pod.gpu_model


def tolerations(pod) -> tuple:
    """``TolerationsSigner``: the tolerations ordered by key, then value."""
    return tuple(sorted(pod.tolerations, key=lambda t: (t.key, t.value, t.operator, t.effect,
                                                        -1.0 if t.toleration_seconds is None else t.toleration_seconds)))


def host_ports(pod) -> tuple:
    """``HostPortsSigner``: the non-zero host port numbers, sorted."""
    return tuple(sorted(hp.port for hp in pod.host_ports if hp.port))


def node_affinity(pod) -> tuple:
    """``NodeAffinitySigner`` and ``NodeSelectorSignerName``: required and preferred node affinity
    and the node selector."""
    return (tuple(sorted(pod.node_selector.items())), pod.required_affinity, tuple(pod.preferred_affinity))


def image_names(pod) -> tuple:
    """``ImageNamesSignerName``: normalized image names, sorted, without duplicates."""
    return tuple(sorted({_normalized(i) for i in pod.images()}))


def _normalized(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    return image if (":" in tail or "@" in image) else image + ":latest"
