"""``kbench run --apply FILE``: Kubernetes manifests created as the objects they are, as
``kubectl apply -f`` creates them (issue 19).

A file is a multi-document YAML (plain ``---`` manifests) or ``kind: List`` documents (what
``kubectl get deploy,rs,job,ds,sts,svc -A -o yaml`` prints). Each object becomes the workload spec
its controller runs (:mod:`kbench.config.workload`), created at the apply entry's ``at_s`` (0 s
from the command line):

* **Deployment** → :class:`~kbench.config.workload.DeploymentSpec`: ``replicas`` (1), ``selector``
  (``matchLabels``), ``template``, ``strategy`` (type, ``rollingUpdate.maxSurge`` /
  ``maxUnavailable``), ``minReadySeconds``, ``revisionHistoryLimit``, ``progressDeadlineSeconds``;
  the Deployment controller makes its ReplicaSets and rolls them.
* **ReplicaSet** owned by a Deployment in the same files: skipped (its Deployment makes its own),
  and said so; any other ReplicaSet is not created (kbench's ReplicaSets come from Deployments).
* **Job** → :class:`~kbench.config.workload.JobSpec`: ``completions``, ``parallelism`` (1),
  ``backoffLimit`` (6), ``template`` (defaults as kubernetes ``pkg/apis/batch/v1/defaults.go``: both
  counts unset are 1; completions unset with a parallelism is a work queue, modelled as
  completions = parallelism and noted); pods run ``kbench/duration-s`` (30 s when absent, noted).
* **DaemonSet** → :class:`~kbench.config.workload.DaemonSetSpec`: ``template`` (its
  ``nodeSelector`` and ``tolerations`` choose the nodes), ``updateStrategy.rollingUpdate``,
  ``revisionHistoryLimit``.
* **StatefulSet** → :class:`~kbench.config.workload.StatefulSetSpec`: ``replicas``,
  ``podManagementPolicy``, ``revisionHistoryLimit``, ``template``.
* **Service** → :class:`~kbench.config.workload.ServiceSpec` (``spec.selector``): the EndpointSlice
  controller writes its slices, kube-proxies program them.
* **Namespace** → :class:`~kbench.config.workload.NamespaceSpec` (its labels go to the scheduler's
  namespace lister).
* **Pod** (not bound) → a pod group of one, named ``<name>-0`` (kbench names bare pods by group).

``status`` and the server-set metadata (uid, resourceVersion, generation, creationTimestamp,
managedFields, ownerReferences) are not read: the objects are created new. Fields kbench cannot
model, other kinds and skipped objects become notes (the run's ``ignored`` list, a ``warning:``
line each); pod template fields are in :mod:`kbench.workload.applytemplate`. A file that is not
manifests (a cluster dump, a scenario, a ClusterLoader2 config) or a Pod already bound to a node is
refused with a message saying how to use it (:mod:`kbench.config.filekind`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kbench.cluster.objects.manifest import flatten_documents, load_documents
from kbench.config.filekind import misplaced
from kbench.config.workload import (
    ApplySpec,
    DaemonSetSpec,
    DeploymentSpec,
    JobSpec,
    NamespaceSpec,
    PodGroupSpec,
    PodTemplate,
    ServiceSpec,
    StatefulSetSpec,
)
from kbench.errors import ConfigError, KbenchError
from kbench.workload.applytemplate import metadata, pod_template
from kbench.workload.inputnotes import Notes

_SPEC_FIELDS = {  # kind: (fields read or without effect, {field: (note, values that need none)})
    "Deployment": (("replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit",
                    "progressDeadlineSeconds"),
                   {"paused": ("paused Deployments are not modelled (it rolls anyway)", (False,))}),
    "Job": (("completions", "parallelism", "backoffLimit", "template", "selector", "manualSelector"), {
        "suspend": ("suspended Jobs are not modelled (it runs)", (False,)),
        "completionMode": ("completionMode Indexed is not modelled (pods are not indexed)", ("NonIndexed",)),
        "ttlSecondsAfterFinished": ("ttlSecondsAfterFinished is not modelled (finished Jobs stay)", ()),
        "activeDeadlineSeconds": ("a Job's activeDeadlineSeconds is not modelled", ()),
        "podFailurePolicy": ("podFailurePolicy is not modelled (failures count against backoffLimit)", ()),
        "successPolicy": ("successPolicy is not modelled", ()),
        "backoffLimitPerIndex": ("backoffLimitPerIndex is not modelled", ()),
        "maxFailedIndexes": ("maxFailedIndexes is not modelled", ()),
        "podReplacementPolicy": ("podReplacementPolicy Failed is not modelled", ("TerminatingOrFailed",)),
        "managedBy": ("a Job managed by another controller is run by kbench's Job controller",
                      ("kubernetes.io/job-controller",))}),
    "DaemonSet": (("selector", "template", "updateStrategy", "revisionHistoryLimit"),
                  {"minReadySeconds": ("a DaemonSet's minReadySeconds is not modelled", (0,))}),
    "StatefulSet": (("replicas", "selector", "template", "podManagementPolicy", "revisionHistoryLimit",
                     "serviceName", "updateStrategy"), {
        "volumeClaimTemplates": ("StatefulSet volumeClaimTemplates are not modelled (no PersistentVolumeClaims)",
                                 ([],)),
        "minReadySeconds": ("a StatefulSet's minReadySeconds is not modelled", (0,)),
        "ordinals": ("StatefulSet ordinals are not modelled (they start at 0)", ({"start": 0}, {})),
        "persistentVolumeClaimRetentionPolicy": ("StatefulSet volumeClaimTemplates are not modelled (no "
                                                 "PersistentVolumeClaims)",
                                                 ({"whenDeleted": "Retain", "whenScaled": "Retain"}, {}))}),
    "Service": (("selector", "type", "ports", "clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy",
                 "sessionAffinity", "sessionAffinityConfig", "internalTrafficPolicy", "externalTrafficPolicy",
                 "externalIPs", "externalName", "loadBalancerIP", "loadBalancerSourceRanges", "loadBalancerClass",
                 "allocateLoadBalancerNodePorts", "healthCheckNodePort", "trafficDistribution"),
                {"publishNotReadyAddresses": ("publishNotReadyAddresses is not modelled (only ready pods are "
                                              "endpoints)", (False,))}),
}
OWNING_KINDS = ("Deployment", "Job", "DaemonSet", "StatefulSet")


@dataclass
class Applied:
    """The specs of one or more manifest files.

    Attributes:
        namespaces, services, deployments, jobs, daemonsets, statefulsets, pods: The specs.
        namespace_labels: Labels of the Namespaces created, by name.
        objects: ``(kind, namespace, name)`` of every object created, in file order.
    """

    namespaces: list[NamespaceSpec] = field(default_factory=list)
    services: list[ServiceSpec] = field(default_factory=list)
    deployments: list[DeploymentSpec] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)
    daemonsets: list[DaemonSetSpec] = field(default_factory=list)
    statefulsets: list[StatefulSetSpec] = field(default_factory=list)
    pods: list[PodGroupSpec] = field(default_factory=list)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    objects: list[tuple[str, str, str]] = field(default_factory=list)


def _match_labels(spec: dict, labels: dict[str, str], ref: str, where: str, source: str, notes: Notes
                  ) -> dict[str, str]:
    """``spec.selector.matchLabels``, checked against the template's labels as the API validates it."""
    sel = spec.get("selector") or {}
    if not isinstance(sel, dict):
        raise ConfigError("expected a LabelSelector", where=f"{where}.spec.selector")
    if sel.get("matchExpressions"):
        notes.add(source, "selector matchExpressions are not modelled (matchLabels only)", ref)
    match = {str(k): str(v) for k, v in (sel.get("matchLabels") or {}).items()}
    bad = {k: v for k, v in match.items() if labels.get(k) != v}
    if bad:
        raise ConfigError(f"selector does not match template labels: {bad}", where=f"{where}.spec.selector")
    return match


def _int(spec: dict, key: str, default: int, where: str) -> int:
    value = spec.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"expected a whole number >= 0, got {value!r}", where=f"{where}.spec.{key}")
    return value


def _intstr(value: Any, default: str) -> str:
    return default if value is None else str(value)


class _Reader:
    """Reads the objects of manifest files into :class:`Applied` (one reader for all ``--apply`` files)."""

    def __init__(self, notes: Notes):
        self.notes = notes
        self.out = Applied()
        self._seen: set[tuple[str, str, str]] = set()

    def read(self, entry: ApplySpec, path: str) -> None:
        docs = load_documents(path)
        message = misplaced(docs, "apply")
        if message:
            raise ConfigError(message, source=path)
        objs = flatten_documents(docs, path)
        deployments = {metadata(o, w)[:2] for w, o in objs if o.get("kind") == "Deployment"}
        for where, obj in objs:
            try:
                self._object(obj, where, entry, path, deployments)
            except KbenchError as err:
                at = err.where or ""
                if where and not at.startswith(where):
                    at = f"{where}.{at}" if at else where
                raise ConfigError(err.message, source=path, where=at or None) from None

    def _object(self, obj: dict, where: str, entry: ApplySpec, path: str, deployments: set) -> None:
        kind = str(obj.get("kind") or "")
        if kind not in ("Namespace", "Service", "Deployment", "ReplicaSet", "Job", "DaemonSet", "StatefulSet", "Pod"):
            self.notes.add(path, f"{kind or 'objects without a kind'} objects are not modelled (not created)",
                           _name(obj))
            return
        ns, name, labels, annotations = metadata(obj, where)
        ref = f"{kind} {name}" if kind == "Namespace" else f"{kind} {ns}/{name}"
        if kind == "ReplicaSet":
            self._replicaset(obj, ns, name, ref, path, deployments)
            return
        spec = obj.get("spec") or {}
        if not isinstance(spec, dict):
            raise ConfigError("expected a mapping", where=f"{where}.spec")
        key = (kind, "" if kind == "Namespace" else ns, name)
        if key in self._seen:
            raise ConfigError(f"{ref} is given twice (in this or an earlier --apply file)", where=where or None)
        self._seen.add(key)
        self._fields(kind, spec, ref, path)
        timing = {"at_s": entry.at_s, "after": entry.after}
        if kind == "Namespace":
            self.out.namespaces.append(NamespaceSpec(name=name, **timing))
            self.out.namespace_labels[name] = labels
        elif kind == "Service":
            self.out.services.append(self._service(spec, ns, name, ref, path, timing))
        elif kind == "Pod":
            self.out.pods.append(self._pod(obj, ns, name, ref, where, path, timing))
        else:
            self._workload(kind, spec, ns, name, annotations, ref, where, path, timing)
        self.out.objects.append(key)

    def _replicaset(self, obj: dict, ns: str, name: str, ref: str, path: str, deployments: set) -> None:
        owners = (obj.get("metadata") or {}).get("ownerReferences") or []
        owner = next((o for o in owners if isinstance(o, dict) and o.get("kind") == "Deployment"), None)
        if owner is not None and (ns, str(owner.get("name"))) in deployments:
            self.notes.add(path, "ReplicaSets owned by a Deployment in the file are skipped (the Deployment makes "
                                 "its own)", ref)
        else:
            self.notes.add(path, "a ReplicaSet without its Deployment is not modelled (not created; kbench's "
                                 "ReplicaSets come from Deployments)", ref)

    def _fields(self, kind: str, spec: dict, ref: str, path: str) -> None:
        read, not_modelled = _SPEC_FIELDS.get(kind, ((), {}))
        if kind in ("Namespace", "Pod"):
            return
        for key, value in spec.items():
            if key in not_modelled:
                note, defaults = not_modelled[key]
                if value is not None and value not in defaults:
                    self.notes.add(path, note, ref)
            elif key not in read:
                self.notes.add(path, f"unknown {kind} field {key!r} is not read", ref)

    def _service(self, spec: dict, ns: str, name: str, ref: str, path: str, timing: dict) -> ServiceSpec:
        kind = str(spec.get("type") or "ClusterIP")
        if kind in ("NodePort", "LoadBalancer"):
            self.notes.add(path, f"Service type {kind}: kube-proxy's node-port rules are not counted", ref)
        if kind == "ExternalName":
            self.notes.add(path, "ExternalName Services are created without a selector (no EndpointSlices, as "
                                 "upstream); kube-proxy's cost counts them as Services", ref)
        if len(spec.get("ports") or []) > 1:
            self.notes.add(path, "Services with several ports: kube-proxy's cost counts one port per Service", ref)
        selector = None if kind == "ExternalName" else spec.get("selector")
        if not selector and kind != "ExternalName":
            self.notes.add(path, "Services without a selector get their EndpointSlices out of band, which nothing "
                                 "writes in the run (no endpoints)", ref)
        if selector is not None and not isinstance(selector, dict):
            raise ConfigError("expected a map of labels", where="spec.selector")
        return ServiceSpec(name=name, namespace=ns, selector={str(k): str(v) for k, v in (selector or {}).items()},
                           **timing)

    def _pod(self, obj: dict, ns: str, name: str, ref: str, where: str, path: str, timing: dict) -> PodGroupSpec:
        spec = obj.get("spec") or {}
        if spec.get("nodeName"):
            raise ConfigError(f"Pod {ns}/{name} is bound to node {spec['nodeName']!r}: existing pods go to --cluster "
                              "with their nodes (`kubectl get nodes,pods -A -o yaml`)", where=where or None)
        if (obj.get("metadata") or {}).get("ownerReferences"):
            self.notes.add(path, "a Pod's ownerReferences are not read (it is created as a bare pod)", ref)
        self.notes.add(path, "bare Pods are created as <name>-0 (kbench names bare pods by group)", ref)
        fields = pod_template({"metadata": obj.get("metadata"), "spec": spec}, namespace=ns, kind="Pod", ref=ref,
                              source=path, where=where or "", notes=self.notes)
        return PodGroupSpec(name=name, namespace=ns, count=1, rate_per_s=0.0, template=PodTemplate(**fields),
                            **timing)

    def _workload(self, kind: str, spec: dict, ns: str, name: str, annotations: dict, ref: str, where: str,
                  path: str, timing: dict) -> None:
        at = f"{where}.spec.template".lstrip(".")
        template = spec.get("template")
        if not isinstance(template, dict):
            raise ConfigError(f"a {kind} needs spec.template", where=at)
        fields = pod_template(template, namespace=ns, kind=kind, ref=ref, source=path, where=at, notes=self.notes,
                              owner_annotations=annotations)
        t = PodTemplate(**fields)
        history = _int(spec, "revisionHistoryLimit", 10, where)  # K1
        if kind == "Job":
            self.out.jobs.append(self._job(spec, ns, name, t, ref, where, path, timing))
            return
        selector = _match_labels(spec, t.labels, ref, where, path, self.notes)
        if kind == "Deployment":
            strategy = spec.get("strategy") or {}
            rolling = strategy.get("rollingUpdate") or {}
            self.out.deployments.append(DeploymentSpec(
                name=name, namespace=ns, replicas=_int(spec, "replicas", 1, where), template=t, selector=selector,
                strategy=str(strategy.get("type") or "RollingUpdate"),
                max_surge=_intstr(rolling.get("maxSurge"), "25%"),  # K1
                max_unavailable=_intstr(rolling.get("maxUnavailable"), "25%"),  # K1
                revision_history_limit=history, min_ready_s=float(spec.get("minReadySeconds") or 0),
                progress_deadline_s=float(spec.get("progressDeadlineSeconds") or 600), **timing))  # K1
        elif kind == "DaemonSet":
            strategy = spec.get("updateStrategy") or {}
            if strategy.get("type") == "OnDelete":
                self.notes.add(path, "updateStrategy OnDelete is not modelled (it rolls)", ref)
            if ((spec["template"].get("spec") or {}).get("affinity") or {}).get("nodeAffinity"):
                self.notes.add(path, "a DaemonSet's nodeAffinity is not checked by its controller (nodeSelector "
                                     "and taints are) and its pods are pinned to their node instead", ref)
            rolling = strategy.get("rollingUpdate") or {}
            self.out.daemonsets.append(DaemonSetSpec(
                name=name, namespace=ns, template=t, max_unavailable=_intstr(rolling.get("maxUnavailable"), "1"),
                max_surge=_intstr(rolling.get("maxSurge"), "0"), revision_history_limit=history, **timing))  # K1
        else:
            strategy = spec.get("updateStrategy") or {}
            if strategy.get("type") == "OnDelete" or (strategy.get("rollingUpdate") or {}).get("partition"):
                self.notes.add(path, "StatefulSet updateStrategy OnDelete or a partition is not modelled (it "
                                     "rolls every pod)", ref)
            self.out.statefulsets.append(StatefulSetSpec(
                name=name, namespace=ns, replicas=_int(spec, "replicas", 1, where), template=t,
                pod_management=str(spec.get("podManagementPolicy") or "OrderedReady"),
                revision_history_limit=history, **timing))

    def _job(self, spec: dict, ns: str, name: str, t: PodTemplate, ref: str, where: str, path: str,
             timing: dict) -> JobSpec:
        parallelism = _int(spec, "parallelism", 1, where)  # batch/v1 defaults
        completions = spec.get("completions")
        if completions is None and spec.get("parallelism") is None:
            completions = 1  # batch/v1 defaults: both unset are both 1
        elif completions is None:
            self.notes.add(path, "a Job without completions (a work queue: done when one pod succeeds and the "
                                 "others end) is modelled as completions = parallelism", ref)
            completions = parallelism
        completions = _int({"completions": completions}, "completions", 1, where)
        return JobSpec(name=name, namespace=ns, completions=completions, parallelism=parallelism,
                       backoff_limit=_int(spec, "backoffLimit", 6, where), template=t, **timing)


def _name(obj: dict) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return str(meta.get("name") or "")


def read_manifests(entries: list[tuple[ApplySpec, str]], notes: Notes) -> Applied:
    """The specs of every ``(apply entry, resolved path)``.

    Raises:
        ConfigError: A file that is not manifests, a malformed object (naming file and field), a
            bound Pod, or an object given twice.
    """
    reader = _Reader(notes)
    for entry, path in entries:
        reader.read(entry, path)
    return reader.out
