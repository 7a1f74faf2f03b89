"""Kubernetes objects as the API prints them (YAML/JSON) → kbench objects: the one parser that
snapshots (``kbench explain``), trace manifests, pod templates and scheduler_perf templates share.

* **Node**: ``status.allocatable`` (else ``status.capacity``), ``metadata.labels``,
  ``spec.taints``, ``spec.unschedulable``, ``status.images`` (every name of an image gets its
  ``sizeBytes``). GPUs: ``nvidia.com/gpu`` in allocatable, or the ``alibabacloud.com/gpu-count``
  label; the model from the ``alibabacloud.com/gpu-card-model`` or ``nvidia.com/gpu.product`` label.
* **Pod**: containers' and init containers' ``resources.requests`` (a resource with only a limit
  gets the limit as its request, as the API server defaults it), ``ports`` (``hostPort``,
  ``hostIP``, ``protocol``), init containers' ``restartPolicy`` (``Always``: a sidecar), ``overhead``,
  ``priority``, ``priorityClassName``, ``nodeSelector``, ``affinity.nodeAffinity``,
  ``affinity.podAffinity`` / ``podAntiAffinity`` (with the apiserver's matchLabelKeys merge when
  the MatchLabelKeysInPodAffinity gate is on), ``tolerations``, ``topologySpreadConstraints``,
  ``schedulingGates``, ``schedulerName``, labels, annotations, the first owner reference,
  ``metadata.deletionTimestamp`` (terminating). A pod with ``spec.nodeName`` is bound to that node.
  A missing ``metadata.namespace`` is ``default``; an explicit ``""`` stays empty (upstream's tests
  use the empty namespace).
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

from kbench.cluster.objects.clusterobjects import ClusterObjects
from kbench.cluster.objects.core import (
    GPU,
    Container,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Pod,
    Taint,
    Toleration,
    TopologySpreadConstraint,
)
from kbench.cluster.objects.podaffinity import ContainerPort, parse_pod_affinity
from kbench.errors import KbenchError
from kbench.quantity import parse_quantity


class SnapshotError(KbenchError):
    """A snapshot, manifest or template is malformed."""


GPU_MILLI = "alibabacloud.com/gpu-milli"
GPU_COUNT = "alibabacloud.com/gpu-count"
GPU_MODEL = "alibabacloud.com/gpu-card-model"
GPU_INDEX = "alibabacloud.com/gpu-index"
_MODEL_LABELS = (GPU_MODEL, "nvidia.com/gpu.product")


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


def _int(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SnapshotError(f"expected a whole number, got {value!r}", where=where)
    try:
        return int(value)
    except ValueError:
        raise SnapshotError(f"expected a whole number, got {value!r}", where=where) from None


def _ports(items, where: str) -> tuple[ContainerPort, ...]:
    out = []
    for i, p in enumerate(_list(items, where)):
        p = _mapping(p, f"{where}[{i}]")
        host = _int(p.get("hostPort") or 0, f"{where}[{i}].hostPort")
        if not 0 <= host <= 65535:
            raise SnapshotError(f"must be between 0 and 65535, got {host}", where=f"{where}[{i}].hostPort")
        out.append(ContainerPort(_int(p.get("containerPort") or 0, f"{where}[{i}].containerPort"), host,
                                 str(p.get("hostIP") or ""), str(p.get("protocol") or "TCP")))
    return tuple(out)


def _container(obj, where: str) -> Container:
    obj = _mapping(obj, where)
    res = _mapping(obj.get("resources"), f"{where}.resources")
    requests = _resources(res.get("requests"), f"{where}.resources.requests")
    for k, v in _resources(res.get("limits"), f"{where}.resources.limits").items():
        requests.setdefault(k, v)
    policy = obj.get("restartPolicy")
    return Container(str(obj.get("name", "")), str(obj.get("image", "") or ""), requests,
                     _ports(obj.get("ports"), f"{where}.ports"), str(policy) if policy else None)


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


def _pod_affinity(affinity: dict, namespace: str, labels: dict, match_label_keys: bool, where: str):
    for part in ("podAffinity", "podAntiAffinity"):
        body = _mapping(affinity.get(part), f"{where}.{part}")
        for kind in ("requiredDuringSchedulingIgnoredDuringExecution", "preferredDuringSchedulingIgnoredDuringExecution"):
            for i, t in enumerate(_list(body.get(kind), f"{where}.{part}.{kind}")):
                t = _mapping(t, f"{where}.{part}.{kind}[{i}]")
                term = t.get("podAffinityTerm", {}) if kind.startswith("preferred") else t
                at = f"{where}.{part}.{kind}[{i}]"
                if kind.startswith("preferred") and "weight" in t:
                    _int(t["weight"], f"{at}.weight")
                for sel in ("labelSelector", "namespaceSelector"):
                    _mapping(_mapping(term, at).get(sel), f"{at}.{sel}")
    try:
        return parse_pod_affinity(affinity, namespace, labels, match_label_keys)
    except (KeyError, TypeError, AttributeError) as err:
        raise SnapshotError(f"malformed pod affinity term ({type(err).__name__}: {err})", where=where) from None


def parse_pod(obj: dict, where: str = "", match_label_keys: bool = True) -> Pod:
    """Turn a Pod object (as the API prints it) into a :class:`~kbench.cluster.objects.Pod`.

    Args:
        obj: The Pod mapping.
        where: Field path of the object (for errors).
        match_label_keys: Fold pod affinity terms' matchLabelKeys/mismatchLabelKeys into their
            selectors, as the apiserver does with the MatchLabelKeysInPodAffinity gate (on upstream).

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
    namespace = str(meta["namespace"]) if meta.get("namespace") is not None else "default"
    labels = {str(k): str(v) for k, v in _mapping(meta.get("labels"), f"{p}metadata.labels").items()}
    affinity = _mapping(spec.get("affinity"), f"{p}spec.affinity")
    gates = []
    for i, g in enumerate(_list(spec.get("schedulingGates"), f"{p}spec.schedulingGates")):
        g = _mapping(g, f"{p}spec.schedulingGates[{i}]")
        if not g.get("name"):
            raise SnapshotError("a scheduling gate needs a name", where=f"{p}spec.schedulingGates[{i}].name")
        gates.append(str(g["name"]))
    return Pod(
        name=str(meta["name"]), namespace=namespace, uid=str(meta.get("uid") or ""),
        labels=labels,
        containers=containers, init_containers=inits, overhead=_resources(spec.get("overhead"), f"{p}spec.overhead"),
        priority=int(spec.get("priority") or 0),
        node_selector={str(k): str(v) for k, v in _mapping(spec.get("nodeSelector"), f"{p}spec.nodeSelector").items()},
        required_affinity=required, preferred_affinity=preferred, tolerations=tolerations, topology_spread=spread,
        node_name=str(node_name) if node_name else None, gpu_count=gpu_count, gpu_milli=gpu_milli,
        gpu_model=annotations.get(GPU_MODEL), owner=owner,
        scheduler_name=str(spec.get("schedulerName") or "default-scheduler"), annotations=annotations,
        gpu_indices=_gpu_indices(annotations[GPU_INDEX], f"{p}metadata.annotations.{GPU_INDEX}")
        if GPU_INDEX in annotations else (),
        terminating=bool(meta.get("deletionTimestamp")),
        pod_affinity=_pod_affinity(affinity, namespace, labels, match_label_keys, f"{p}spec.affinity"),
        scheduling_gates=tuple(gates), priority_class_name=str(spec.get("priorityClassName") or ""))


def load_documents(path: str | Path) -> list:
    """The YAML documents of a file of Kubernetes objects (empty documents dropped).

    Raises:
        SnapshotError: No such file, not text, or invalid YAML (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise SnapshotError("no such file", source=str(path))
    try:
        return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except UnicodeDecodeError:
        raise SnapshotError("not a text file", source=str(path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise SnapshotError(f"invalid YAML: {getattr(err, 'problem', None) or err}", source=str(path),
                            where=f"line {mark.line + 1}" if mark else None) from None


def flatten_documents(docs: list, source: str = "") -> list[tuple[str, dict]]:
    """``(where, object)`` for every object of ``docs``, the items of ``kind: List`` documents opened
    (``where`` is ``items[3]``, ``document 2`` or ``document 2.items[0]``).

    Raises:
        SnapshotError: A document that is not a mapping.
    """
    out = []
    for d, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise SnapshotError(f"expected a Kubernetes object, got {type(doc).__name__}", source=source or None,
                                where=f"document {d + 1}")
        kind = str(doc.get("kind") or "")
        if kind == "List" or (kind.endswith("List") and "items" in doc):
            prefix = "items" if len(docs) == 1 else f"document {d + 1}.items"
            out += [(f"{prefix}[{i}]", item) for i, item in enumerate(_list(doc.get("items"), prefix))]
        else:
            out.append(("" if len(docs) == 1 else f"document {d + 1}", doc))
    return out


def read_documents(path: str | Path) -> list[tuple[str, dict]]:
    """:func:`flatten_documents` of :func:`load_documents` (a snapshot, a manifest file)."""
    return flatten_documents(load_documents(path), str(path))


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




OBJECT_KINDS = ("Namespace", "Service", "ReplicaSet", "ReplicationController", "StatefulSet")
"""Kinds besides Node and Pod that :func:`add_object` reads into a ClusterObjects."""


def add_object(objects: ClusterObjects, obj: dict, where: str = "") -> None:
    """Add a Namespace (labels), Service (``spec.selector`` map), ReplicaSet / StatefulSet
    (``spec.selector`` LabelSelector) or ReplicationController (``spec.selector`` map) to ``objects``.

    Raises:
        SnapshotError: A malformed field, naming its path under ``where``.
    """
    p = f"{where}." if where else ""
    kind = obj.get("kind")
    meta = _mapping(obj.get("metadata"), f"{p}metadata")
    if not meta.get("name"):
        raise SnapshotError(f"a {kind} needs metadata.name", where=f"{p}metadata.name")
    name = str(meta["name"])
    namespace = str(meta["namespace"]) if meta.get("namespace") is not None else "default"
    spec = _mapping(obj.get("spec"), f"{p}spec")
    if kind == "Namespace":
        labels = _mapping(meta.get("labels"), f"{p}metadata.labels")
        objects.add_namespace(name, {str(k): str(v) for k, v in labels.items()})
    elif kind in ("Service", "ReplicationController"):
        sel = spec.get("selector")
        sel = None if sel is None else {str(k): str(v) for k, v in _mapping(sel, f"{p}spec.selector").items()}
        if kind == "Service":
            objects.add_service(namespace, name, sel)
        else:
            objects.add_controller(kind, namespace, name, sel)
    else:
        sel = spec.get("selector")
        objects.add_controller(kind, namespace, name, None if sel is None else _mapping(sel, f"{p}spec.selector"))
