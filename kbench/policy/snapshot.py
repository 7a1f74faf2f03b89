"""Reading cluster snapshots and pod manifests as Kubernetes prints them.

A snapshot is what ``kubectl get nodes,pods -A -o yaml`` (or ``-o json``) prints: a ``kind: List``
with ``items``, or a multi-document stream of Node and Pod objects; Namespace, Service, ReplicaSet,
ReplicationController and StatefulSet objects are read too (InterPodAffinity's namespace selectors,
PodTopologySpread's default selector); other kinds are ignored. The fields read are listed in
:mod:`kbench.cluster.objects.manifest`, where the parsers live (GPU requests and sharing
annotations, quantities in kbench units).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kbench.cluster.objects import Node, NodeTable, Pod
from kbench.cluster.objects.clusterobjects import ClusterObjects
from kbench.cluster.objects.manifest import (  # noqa: F401  (re-exported: the parsers' old home)
    GPU_COUNT,
    GPU_INDEX,
    GPU_MILLI,
    GPU_MODEL,
    OBJECT_KINDS,
    SnapshotError,
    _list,
    _mapping,
    add_object,
    parse_node,
    parse_pod,
    read_documents,
)
from kbench.errors import KbenchError


def _read(path: Path, match_label_keys: bool = True) -> tuple[list[Node], list[Pod], ClusterObjects]:
    nodes, pods = [], []
    objects = ClusterObjects()
    for where, obj in read_documents(path):
        try:
            if not isinstance(obj, dict):
                raise SnapshotError("expected a Kubernetes object", where=where or None)
            kind = obj.get("kind")
            if kind == "Node":
                nodes.append(parse_node(obj, where))
            elif kind == "Pod":
                phase = _mapping(obj.get("status"), f"{where}.status").get("phase")
                pod = parse_pod(obj, where, match_label_keys)
                if pod.node_name and phase not in ("Succeeded", "Failed"):
                    pods.append(pod)
            elif kind in OBJECT_KINDS:
                add_object(objects, obj, where)
        except KbenchError as err:
            raise SnapshotError(err.message, source=str(path), where=err.where) from None
    if not nodes:
        raise SnapshotError("no Node objects found (expected `kubectl get nodes,pods -o yaml` output)",
                            source=str(path))
    return nodes, pods, objects


def load_snapshot(path: str | Path) -> tuple[list[Node], list[Pod]]:
    """Read the Nodes and the bound, non-terminated Pods of a snapshot file.

    Raises:
        SnapshotError: Naming the file and field path.
    """
    nodes, pods, _ = _read(Path(path))
    return nodes, pods


@dataclass
class Snapshot:
    """A snapshot as explain uses it.

    Attributes:
        nodes: The node table (nodes sorted by name, bound pods added).
        objects: Namespaces, Services and controllers found in the file.
        notes: What was left out (pods bound to nodes the file does not hold).
    """

    nodes: NodeTable
    objects: ClusterObjects
    notes: list[str] = field(default_factory=list)


def load_snapshot_objects(path: str | Path, match_label_keys: bool = True) -> Snapshot:
    """Nodes, bound pods and the other objects of a snapshot (``kbench explain``).

    A pod bound to a node the snapshot does not hold is left out with a note (upstream's snapshot
    keeps it in a node-less entry that no plugin lists).

    Raises:
        SnapshotError: Bad file, duplicate nodes, or GPUs that overflow.
    """
    path = Path(path)
    nodes, pods, objects = _read(path, match_label_keys)
    table = _table(nodes, path)
    notes = []
    for pod in pods:
        if pod.node_name not in table.index:
            notes.append(f"pod {pod.key} is bound to node {pod.node_name!r}, which is not in the snapshot: left out")
            continue
        _bind(table, pod, path)
    return Snapshot(table, objects, notes)


def _table(nodes: list[Node], path: Path) -> NodeTable:
    nodes = sorted(nodes, key=lambda n: n.name)
    table = NodeTable()
    for node in nodes:
        if node.name in table.index:
            raise SnapshotError(f"duplicate node {node.name!r}", source=str(path))
        table.add_node(node)
    return table


def _bind(table: NodeTable, pod: Pod, path: Path) -> None:
    try:
        table.add_pod(pod, table.index[pod.node_name], pod.gpu_indices)
    except ValueError as err:
        raise SnapshotError(str(err), source=str(path)) from None


def load_snapshot_table(path: str | Path) -> NodeTable:
    """A node table from a snapshot: nodes sorted by name, bound pods added.

    Raises:
        SnapshotError: Bad file, or a pod bound to a node not in the snapshot, or GPUs that overflow.
    """
    path = Path(path)
    nodes, pods, _ = _read(path)
    table = _table(nodes, path)
    for pod in pods:
        if pod.node_name not in table.index:
            raise SnapshotError(f"pod {pod.key} is bound to node {pod.node_name!r}, which is not in the snapshot",
                                source=str(path))
        _bind(table, pod, path)
    return table


def load_pod(path: str | Path, match_label_keys: bool = True) -> Pod:
    """Read one Pod manifest (a single document, or a List holding one Pod).

    Raises:
        SnapshotError: Not exactly one Pod, or a malformed field.
    """
    path = Path(path)
    objs = read_documents(path)
    pods = [(w, o) for w, o in objs if isinstance(o, dict) and o.get("kind") == "Pod"]
    if len(pods) != 1:
        kinds = sorted({str(o.get("kind")) for _, o in objs if isinstance(o, dict)})
        raise SnapshotError(f"expected exactly one Pod, found {len(pods)} (kinds: {kinds})", source=str(path))
    where, obj = pods[0]
    try:
        return parse_pod(obj, where, match_label_keys)
    except KbenchError as err:
        raise SnapshotError(err.message, source=str(path), where=err.where) from None
