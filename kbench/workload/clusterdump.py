"""``kbench run --cluster DUMP``: a real cluster's nodes and the pods already on them (issue 19).

The dump is what ``kubectl get nodes,pods -A -o yaml`` (or ``-o json``) prints: a ``kind: List``,
or a multi-document stream. Nodes and pods are read by the snapshot parser that ``kbench explain``
uses (:mod:`kbench.cluster.objects.manifest`: allocatable, labels, taints, unschedulable, images,
GPUs; a pod's requests, priority, affinity, tolerations, spreading, labels).

* Every **Node** joins the cluster (as it is, with its name; the scenario's node groups, if any, are
  added beside it).
* A **Pod** bound to a node of the dump (``spec.nodeName``) and neither Succeeded, Failed nor being
  deleted is **existing load**: it is in etcd at 0 s (no API cost, like the nodes), the scheduler's
  cache counts its requests on its node, and its kubelet holds its resources. A Running pod runs on
  (its kubelet adopts it: no startup, no status write; its token refreshes fall uniformly over the
  refresh period, since its token's age is unknown); a Pending one is started by its kubelet from
  0 s. Its owner references are dropped: no controller of the dump runs (the pod stays as load, the
  garbage collector leaves it alone). Pods of an object given to ``--apply`` are left out (the
  applied object makes its own). Existing pods are not in the summary's pod counts or startup
  figures (they were created before the run): ``inputs.cluster`` and ``cluster_nodes`` count them.
* What is left out is counted and noted: unbound (pending) pods, terminated and terminating pods,
  pods on nodes the dump lacks, other kinds (``--apply`` takes them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kbench.cluster.objects import Node, Pod
from kbench.cluster.objects.manifest import flatten_documents, load_documents, parse_node, parse_pod
from kbench.config.filekind import misplaced
from kbench.errors import ConfigError, KbenchError
from kbench.workload.inputnotes import Notes

LEFT_OUT = ("unbound", "terminated", "terminating", "on_unknown_nodes", "replaced_by_apply")
"""Why a dump's pod is not existing load (the keys of ``inputs.cluster.left_out``)."""


@dataclass
class ExistingPod:
    """A pod of the dump that is load at 0 s.

    Attributes:
        pod: Its spec (bound: ``node_name`` set).
        phase: ``Running`` or ``Pending``.
        ready: Its Ready condition (Running pods without conditions count as ready).
        top_owner: ``(kind, namespace, name)`` of the object that made it (a ReplicaSet's pods
            name their Deployment), or None.
    """

    pod: Pod
    phase: str
    ready: bool
    top_owner: tuple[str, str, str] | None = None


@dataclass
class ClusterDump:
    """What a dump holds for a run.

    Attributes:
        nodes: The nodes, in file order.
        pods: The existing load.
        namespaces: Namespace labels: the dump's Namespace objects and the namespaces of its pods.
        left_out: Pods left out, by :data:`LEFT_OUT` reason.
    """

    nodes: list[Node] = field(default_factory=list)
    pods: list[ExistingPod] = field(default_factory=list)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    left_out: Counter = field(default_factory=Counter)


def _ready(status: dict, phase: str) -> bool:
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == "Ready":
            return str(cond.get("status")) == "True"
    return phase == "Running"


def top_owner(obj: dict, pod: Pod) -> tuple[str, str, str] | None:
    """The object that made ``pod``: its owner, or a ReplicaSet's Deployment (the ReplicaSet's name
    is ``<deployment>-<pod-template-hash>``)."""
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    owner = next((o for o in owners if isinstance(o, dict) and o.get("controller")), owners[0] if owners else None)
    if not isinstance(owner, dict) or not owner.get("kind") or not owner.get("name"):
        return None
    kind, name = str(owner["kind"]), str(owner["name"])
    h = pod.labels.get("pod-template-hash")
    if kind == "ReplicaSet" and h and name.endswith(f"-{h}"):
        return ("Deployment", pod.namespace, name[: -len(h) - 1])
    return (kind, pod.namespace, name)


def read_dump(path: str, notes: Notes) -> ClusterDump:
    """Read a cluster dump (see the module docstring).

    Raises:
        ConfigError: Not a dump (the message says what the file is), a malformed object (naming the
            file and field), or two nodes of the same name.
    """
    docs = load_documents(path)
    message = misplaced(docs, "cluster")
    if message:
        raise ConfigError(message, source=path)
    out = ClusterDump()
    pods: list[tuple[dict, Pod, str, bool]] = []
    for where, obj in flatten_documents(docs, path):
        kind = obj.get("kind")
        try:
            if kind == "Node":
                out.nodes.append(parse_node(obj, where))
            elif kind == "Pod":
                status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
                phase = str(status.get("phase") or "Pending")
                pods.append((obj, parse_pod(obj, where), phase, _ready(status, phase)))
            elif kind == "Namespace":
                meta = obj.get("metadata") or {}
                out.namespaces[str(meta.get("name"))] = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
            else:
                notes.add(path, f"{kind} objects in a cluster dump are not created (give them to --apply)",
                          str((obj.get("metadata") or {}).get("name") or ""))
        except KbenchError as err:
            raise ConfigError(err.message, source=path, where=err.where or where or None) from None
    names = set()
    for node in out.nodes:
        if node.name in names:
            raise ConfigError(f"node {node.name!r} is given twice", source=path)
        names.add(node.name)
    for obj, pod, phase, ready in pods:
        if not pod.node_name:
            out.left_out["unbound" if phase not in ("Succeeded", "Failed") else "terminated"] += 1
        elif phase in ("Succeeded", "Failed"):
            out.left_out["terminated"] += 1
        elif pod.terminating:
            out.left_out["terminating"] += 1
        elif pod.node_name not in names:
            out.left_out["on_unknown_nodes"] += 1
        else:
            out.pods.append(ExistingPod(pod, "Running" if phase == "Running" else "Pending", ready,
                                        top_owner(obj, pod)))
            out.namespaces.setdefault(pod.namespace, {})
    why = {"unbound": "pods without a node (pending) are left out: give their controllers to --apply",
           "terminated": "terminated (Succeeded or Failed) pods are left out: they hold no resources",
           "terminating": "pods being deleted are left out",
           "on_unknown_nodes": "pods bound to nodes the dump does not hold are left out"}
    for reason, text in why.items():
        if out.left_out[reason]:
            notes.add(path, f"{out.left_out[reason]} {text}")
    return out
