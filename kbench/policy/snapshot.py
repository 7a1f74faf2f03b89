"""Reading cluster snapshots and pod manifests as Kubernetes prints them.

A snapshot is what ``kubectl get nodes,pods -A -o yaml`` (or ``-o json``) prints: a ``kind: List``
with ``items``, or a multi-document stream of Node and Pod objects (other kinds are ignored).

* **Node**: ``status.allocatable`` (else ``status.capacity``), ``metadata.labels``,
  ``spec.taints``, ``spec.unschedulable``, ``status.images`` (every name of an image gets its
  ``sizeBytes``). GPUs: ``nvidia.com/gpu`` in allocatable, or the ``alibabacloud.com/gpu-count``
  label; the model from the ``alibabacloud.com/gpu-card-model`` or ``nvidia.com/gpu.product`` label.
* **Pod**: containers' and init containers' ``resources.requests`` (a resource with only a limit
  gets the limit as its request, as the API server defaults it), ``overhead``, ``priority``,
  ``nodeSelector``, ``affinity.nodeAffinity``, ``tolerations``, ``topologySpreadConstraints``,
  ``schedulerName``, labels, annotations, the first owner reference. A pod with ``spec.nodeName``
  is bound to that node unless its phase is Succeeded or Failed.
* **GPU requests**: ``nvidia.com/gpu: k`` in requests means k whole GPUs. GPU sharing follows
  Open-Gpu-Share and the FGD simulator: pod annotations ``alibabacloud.com/gpu-milli`` (thousandths
  of each GPU), ``alibabacloud.com/gpu-count`` (GPUs, default 1) and
  ``alibabacloud.com/gpu-card-model`` (required model); a bound pod's GPUs in
  ``alibabacloud.com/gpu-index`` (``"0"``, ``"0,1"`` or ``"0-1"`` meaning GPUs 0 and 1).

Quantities become integers in kbench units (cpu millicores rounded up as ``MilliValue``; others
rounded up as ``Value``).
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from kbench.cluster.objects import (
    GPU,
    Container,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeTable,
    Pod,
    Taint,
    Toleration,
    TopologySpreadConstraint,
)
from kbench.errors import KbenchError
from kbench.quantity import parse_quantity

GPU_MILLI = "alibabacloud.com/gpu-milli"
GPU_COUNT = "alibabacloud.com/gpu-count"
GPU_MODEL = "alibabacloud.com/gpu-card-model"
GPU_INDEX = "alibabacloud.com/gpu-index"
_MODEL_LABELS = (GPU_MODEL, "nvidia.com/gpu.product")


class SnapshotError(KbenchError):
    """A snapshot or pod manifest is malformed."""


def _q(value, resource: str, where: str) -> float:
    number = parse_quantity(value, where=where)
    if resource == "cpu":
        return float(math.ceil(round(number * 1000, 6)))
    return float(math.ceil(round(number, 6)))


def _resources(mapping, where: str) -> dict[str, float]:
    if not mapping:
        return {}
    if not isinstance(mapping, dict):
        raise SnapshotError("expected a mapping of resource: quantity", where=where)
    return {str(k): _q(v, str(k), f"{where}.{k}") for k, v in mapping.items()}


def _mapping(value, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SnapshotError(f"expected a mapping, got {type(value).__name__}", where=where)
    return value


def _list(value, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SnapshotError(f"expected a list, got {type(value).__name__}", where=where)
    return value


def _container(obj, where: str) -> Container:
    obj = _mapping(obj, where)
    res = _mapping(obj.get("resources"), f"{where}.resources")
    requests = _resources(res.get("requests"), f"{where}.resources.requests")
    for k, v in _resources(res.get("limits"), f"{where}.resources.limits").items():
        requests.setdefault(k, v)
    return Container(str(obj.get("name", "")), str(obj.get("image", "") or ""), requests)


def _requirements(items, where: str) -> tuple[NodeSelectorRequirement, ...]:
    out = []
    for i, e in enumerate(_list(items, where)):
        e = _mapping(e, f"{where}[{i}]")
        if "key" not in e or "operator" not in e:
            raise SnapshotError("expected key and operator", where=f"{where}[{i}]")
        out.append(NodeSelectorRequirement(str(e["key"]), str(e["operator"]),
                                           tuple(str(v) for v in _list(e.get("values"), f"{where}[{i}].values"))))
    return tuple(out)


def _term(obj, where: str) -> NodeSelectorTerm:
    obj = _mapping(obj, where)
    return NodeSelectorTerm(_requirements(obj.get("matchExpressions"), f"{where}.matchExpressions"),
                            _requirements(obj.get("matchFields"), f"{where}.matchFields"))


def _gpu_indices(text: str, where: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(text).replace("-", ",").split(",") if p.strip())
    except ValueError:
        raise SnapshotError(f"expected GPU indices like 0,1 or 0-1, got {text!r}", where=where) from None


def parse_pod(obj: dict, where: str = "") -> Pod:
    """Turn a Pod object (as the API prints it) into a :class:`~kbench.cluster.objects.Pod`.

    Raises:
        SnapshotError: Naming the field path under ``where``.
    """
    p = f"{where}." if where else ""
    meta = _mapping(obj.get("metadata"), f"{p}metadata")
    spec = _mapping(obj.get("spec"), f"{p}spec")
    if not meta.get("name"):
        raise SnapshotError("a Pod needs metadata.name", where=f"{p}metadata.name")
    annotations = {str(k): str(v) for k, v in _mapping(meta.get("annotations"), f"{p}metadata.annotations").items()}
    containers = [_container(c, f"{p}spec.containers[{i}]")
                  for i, c in enumerate(_list(spec.get("containers"), f"{p}spec.containers"))]
    inits = [_container(c, f"{p}spec.initContainers[{i}]")
             for i, c in enumerate(_list(spec.get("initContainers"), f"{p}spec.initContainers"))]
    node_aff = _mapping(_mapping(spec.get("affinity"), f"{p}spec.affinity").get("nodeAffinity"),
                        f"{p}spec.affinity.nodeAffinity")
    base = f"{p}spec.affinity.nodeAffinity"
    required = None
    if node_aff.get("requiredDuringSchedulingIgnoredDuringExecution") is not None:
        req = _mapping(node_aff["requiredDuringSchedulingIgnoredDuringExecution"],
                       f"{base}.requiredDuringSchedulingIgnoredDuringExecution")
        terms_at = f"{base}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        required = [_term(t, f"{terms_at}[{i}]") for i, t in enumerate(_list(req.get("nodeSelectorTerms"), terms_at))]
    preferred = []
    pref_at = f"{base}.preferredDuringSchedulingIgnoredDuringExecution"
    for i, item in enumerate(_list(node_aff.get("preferredDuringSchedulingIgnoredDuringExecution"), pref_at)):
        item = _mapping(item, f"{pref_at}[{i}]")
        preferred.append((int(item.get("weight", 0)), _term(item.get("preference"), f"{pref_at}[{i}].preference")))
    tolerations = []
    for i, t in enumerate(_list(spec.get("tolerations"), f"{p}spec.tolerations")):
        t = _mapping(t, f"{p}spec.tolerations[{i}]")
        tolerations.append(Toleration(str(t.get("key", "") or ""), str(t.get("operator", "Equal") or "Equal"),
                                      str(t.get("value", "") or ""), str(t.get("effect", "") or ""),
                                      t.get("tolerationSeconds")))
    spread = []
    for i, c in enumerate(_list(spec.get("topologySpreadConstraints"), f"{p}spec.topologySpreadConstraints")):
        at = f"{p}spec.topologySpreadConstraints[{i}]"
        c = _mapping(c, at)
        if "maxSkew" not in c or "topologyKey" not in c:
            raise SnapshotError("expected maxSkew and topologyKey", where=at)
        spread.append(TopologySpreadConstraint(
            int(c["maxSkew"]), str(c["topologyKey"]), str(c.get("whenUnsatisfiable", "DoNotSchedule")),
            c.get("labelSelector"), tuple(_list(c.get("matchLabelKeys"), f"{at}.matchLabelKeys")),
            c.get("minDomains"), str(c.get("nodeAffinityPolicy") or "Honor"),
            str(c.get("nodeTaintsPolicy") or "Ignore")))
    whole = sum(c.requests.get(GPU, 0.0) for c in containers)
    whole = max(whole, max((c.requests.get(GPU, 0.0) for c in inits), default=0.0))
    gpu_count, gpu_milli = int(whole), 1000 if whole else 0
    if GPU_MILLI in annotations:
        try:
            gpu_milli = int(annotations[GPU_MILLI])
            gpu_count = int(annotations.get(GPU_COUNT, gpu_count or 1))
        except ValueError:
            raise SnapshotError("expected a whole number", where=f"{p}metadata.annotations.{GPU_MILLI}") from None
    owners = _list(meta.get("ownerReferences"), f"{p}metadata.ownerReferences")
    owner = f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else None
    node_name = spec.get("nodeName") or None
    return Pod(
        name=str(meta["name"]), namespace=str(meta.get("namespace") or "default"), uid=str(meta.get("uid") or ""),
        labels={str(k): str(v) for k, v in _mapping(meta.get("labels"), f"{p}metadata.labels").items()},
        containers=containers, init_containers=inits, overhead=_resources(spec.get("overhead"), f"{p}spec.overhead"),
        priority=int(spec.get("priority") or 0),
        node_selector={str(k): str(v) for k, v in _mapping(spec.get("nodeSelector"), f"{p}spec.nodeSelector").items()},
        required_affinity=required, preferred_affinity=preferred, tolerations=tolerations, topology_spread=spread,
        node_name=str(node_name) if node_name else None, gpu_count=gpu_count, gpu_milli=gpu_milli,
        gpu_model=annotations.get(GPU_MODEL), owner=owner,
        scheduler_name=str(spec.get("schedulerName") or "default-scheduler"), annotations=annotations,
        gpu_indices=_gpu_indices(annotations[GPU_INDEX], f"{p}metadata.annotations.{GPU_INDEX}")
        if GPU_INDEX in annotations else (),
        terminating=bool(meta.get("deletionTimestamp")))


def parse_node(obj: dict, where: str = "") -> Node:
    """Turn a Node object into a :class:`~kbench.cluster.objects.Node`.

    Raises:
        SnapshotError: Naming the field path under ``where``.
    """
    p = f"{where}." if where else ""
    meta = _mapping(obj.get("metadata"), f"{p}metadata")
    spec = _mapping(obj.get("spec"), f"{p}spec")
    status = _mapping(obj.get("status"), f"{p}status")
    if not meta.get("name"):
        raise SnapshotError("a Node needs metadata.name", where=f"{p}metadata.name")
    key = "allocatable" if status.get("allocatable") else "capacity"
    alloc = _resources(status.get(key), f"{p}status.{key}")
    labels = {str(k): str(v) for k, v in _mapping(meta.get("labels"), f"{p}metadata.labels").items()}
    taints = []
    for i, t in enumerate(_list(spec.get("taints"), f"{p}spec.taints")):
        t = _mapping(t, f"{p}spec.taints[{i}]")
        taints.append(Taint(str(t.get("key", "")), str(t.get("value", "") or ""), str(t.get("effect", ""))))
    images: dict[str, int] = {}
    for i, img in enumerate(_list(status.get("images"), f"{p}status.images")):
        img = _mapping(img, f"{p}status.images[{i}]")
        for name in _list(img.get("names"), f"{p}status.images[{i}].names"):
            images[str(name)] = int(img.get("sizeBytes") or 0)
    gpus = int(alloc.get(GPU, 0)) or int(labels.get(GPU_COUNT, 0) or 0)
    model = next((labels[k] for k in _MODEL_LABELS if k in labels), None)
    return Node(str(meta["name"]), alloc, labels, taints, bool(spec.get("unschedulable", False)), images,
                gpus, model if gpus else None)


def _documents(path: Path) -> list:
    if not path.is_file():
        raise SnapshotError("no such file", source=str(path))
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise SnapshotError(f"invalid YAML: {getattr(err, 'problem', None) or err}", source=str(path),
                            where=f"line {mark.line + 1}" if mark else None) from None
    out = []
    for d, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise SnapshotError(f"expected a Kubernetes object, got {type(doc).__name__}", source=str(path),
                                where=f"document {d + 1}")
        if doc.get("kind") == "List" or (doc.get("kind", "").endswith("List") and "items" in doc):
            prefix = "items" if len(docs) == 1 else f"document {d + 1}.items"
            out += [(f"{prefix}[{i}]", item) for i, item in enumerate(_list(doc.get("items"), prefix))]
        else:
            out.append(("" if len(docs) == 1 else f"document {d + 1}", doc))
    return out


def load_snapshot(path: str | Path) -> tuple[list[Node], list[Pod]]:
    """Read the Nodes and the bound, non-terminated Pods of a snapshot file.

    Raises:
        SnapshotError: Naming the file and field path.
    """
    path = Path(path)
    nodes, pods = [], []
    for where, obj in _documents(path):
        try:
            if not isinstance(obj, dict):
                raise SnapshotError("expected a Kubernetes object", where=where or None)
            if obj.get("kind") == "Node":
                nodes.append(parse_node(obj, where))
            elif obj.get("kind") == "Pod":
                phase = _mapping(obj.get("status"), f"{where}.status").get("phase")
                pod = parse_pod(obj, where)
                if pod.node_name and phase not in ("Succeeded", "Failed"):
                    pods.append(pod)
        except KbenchError as err:
            raise SnapshotError(err.message, source=str(path), where=err.where) from None
    if not nodes:
        raise SnapshotError("no Node objects found (expected `kubectl get nodes,pods -o yaml` output)",
                            source=str(path))
    return nodes, pods


def load_snapshot_table(path: str | Path) -> NodeTable:
    """A node table from a snapshot: nodes sorted by name, bound pods added.

    Raises:
        SnapshotError: Bad file, or a pod bound to a node not in the snapshot, or GPUs that overflow.
    """
    nodes, pods = load_snapshot(path)
    nodes.sort(key=lambda n: n.name)
    table = NodeTable()
    for node in nodes:
        if node.name in table.index:
            raise SnapshotError(f"duplicate node {node.name!r}", source=str(path))
        table.add_node(node)
    for pod in pods:
        if pod.node_name not in table.index:
            raise SnapshotError(f"pod {pod.key} is bound to node {pod.node_name!r}, which is not in the snapshot",
                                source=str(path))
        try:
            table.add_pod(pod, table.index[pod.node_name], pod.gpu_indices)
        except ValueError as err:
            raise SnapshotError(str(err), source=str(path)) from None
    return table


def load_pod(path: str | Path) -> Pod:
    """Read one Pod manifest (a single document, or a List holding one Pod).

    Raises:
        SnapshotError: Not exactly one Pod, or a malformed field.
    """
    path = Path(path)
    objs = _documents(path)
    pods = [(w, o) for w, o in objs if isinstance(o, dict) and o.get("kind") == "Pod"]
    if len(pods) != 1:
        kinds = sorted({str(o.get("kind")) for _, o in objs if isinstance(o, dict)})
        raise SnapshotError(f"expected exactly one Pod, found {len(pods)} (kinds: {kinds})", source=str(path))
    where, obj = pods[0]
    try:
        return parse_pod(obj, where)
    except KbenchError as err:
        raise SnapshotError(err.message, source=str(path), where=err.where) from None
