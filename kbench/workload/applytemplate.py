"""A Kubernetes pod template (a Deployment's ``spec.template``, a Job's, a Pod's own ``spec``) →
a kbench :class:`~kbench.config.workload.PodTemplate`, with what it leaves out noted.

Fields are in three groups (CLI.md lists them for users):

* **read**: ``metadata.labels``; ``spec.containers`` and ``spec.initContainers`` (``name``,
  ``image``, ``resources`` (requests; a limit without a request is the request, as the API server
  defaults it), ``ports`` (hostPort), ``restartPolicy`` of init containers (sidecars), the first
  ``readinessProbe``'s ``initialDelaySeconds``, ``periodSeconds`` and ``successThreshold``),
  ``nodeSelector``, ``affinity``, ``tolerations``, ``topologySpreadConstraints``,
  ``schedulingGates``, ``schedulerName``, ``priority``, ``priorityClassName`` (the built-in
  system-cluster-critical and system-node-critical), ``overhead``,
  ``terminationGracePeriodSeconds``; GPU sharing annotations as for snapshots
  (:mod:`kbench.cluster.objects.manifest`); the annotation ``kbench/duration-s`` (on the object or
  its template: how long each pod runs, seconds or a duration such as ``45s``);
* **without effect** in kbench (read and dropped, no note): what only the container runtime or the
  node uses (``command``, ``args``, ``env``, ``envFrom``, ``workingDir``, ``imagePullPolicy``,
  ``securityContext``, ``volumeMounts``, ``terminationMessage*``, ``stdin``, ``tty``,
  ``resizePolicy``, ``serviceAccountName``, ``automountServiceAccountToken``, ``dnsPolicy``,
  ``dnsConfig``, ``hostname``, ``subdomain``, ``hostAliases``, ``imagePullSecrets``,
  ``enableServiceLinks``, ``setHostnameAsFQDN``, ``shareProcessNamespace``, ``hostPID``,
  ``hostIPC``, ``hostUsers``, ``os``, a Deployment's ``restartPolicy: Always``);
* **not modelled** (a note in the run's ``ignored`` list): ``volumes``, ``hostNetwork``,
  ``runtimeClassName``, ``preemptionPolicy``, ``readinessGates``, ``activeDeadlineSeconds``,
  ``ephemeralContainers``, ``resourceClaims``, pod-level ``resources``, liveness and startup
  probes, ``lifecycle`` hooks, a PriorityClass other than the built-in ones, a Job's
  ``restartPolicy: OnFailure``; any other field is noted as unknown.
"""

from __future__ import annotations

from typing import Any

from kbench.cluster.objects.manifest import SnapshotError, parse_pod
from kbench.config.workload import ProbeSpec
from kbench.dist import Dist
from kbench.errors import ConfigError
from kbench.quantity import parse_duration
from kbench.workload.inputnotes import Notes
from kbench.workload.podspec import PRIORITY_CLASSES

DURATION_ANNOTATION = "kbench/duration-s"
"""How long each pod of the object runs once started: seconds, or a duration (``45s``)."""
JOB_POD_S = 30.0
"""Run time of a Job's pods when the manifest does not say (kbench default, as ``JobSpec``)."""

_SPEC_PASSED = ("affinity", "topologySpreadConstraints", "schedulingGates", "schedulerName", "overhead")
_SPEC_READ = (*_SPEC_PASSED, "containers", "initContainers", "nodeSelector", "tolerations", "priority",
              "priorityClassName", "terminationGracePeriodSeconds", "restartPolicy")
_SPEC_INERT = ("serviceAccountName", "serviceAccount", "automountServiceAccountToken", "securityContext",
               "dnsPolicy", "dnsConfig", "hostname", "subdomain", "hostAliases", "imagePullSecrets",
               "enableServiceLinks", "setHostnameAsFQDN", "shareProcessNamespace", "hostPID", "hostIPC",
               "hostUsers", "os")
_SPEC_NOT_MODELLED = {  # field: (note, values that need none: the API defaults)
    "volumes": ("volumes are not modelled (no volume plugins: PVC binding, attach and mount are not simulated)",
                ([],)),
    "hostNetwork": ("hostNetwork is not modelled (its implied host ports are not checked)", (False,)),
    "runtimeClassName": ("RuntimeClasses are not read (no RuntimeClass overhead)", ("",)),
    "preemptionPolicy": ("preemptionPolicy Never is not modelled (pods may preempt)", ("PreemptLowerPriority",)),
    "readinessGates": ("readinessGates are not modelled (ready when the containers are)", ([],)),
    "activeDeadlineSeconds": ("activeDeadlineSeconds is not modelled (pods run their kbench/duration-s)", ()),
    "ephemeralContainers": ("ephemeral containers are not modelled", ([],)),
    "resourceClaims": ("resource claims (DRA) are not modelled", ([],)),
    "resources": ("pod-level resources are not modelled (container requests are summed)", ({},)),
    "nodeName": ("spec.nodeName in a pod template is not modelled (the scheduler places the pods)", ("",)),
}
_CONTAINER_KEEP = ("name", "image", "resources", "ports", "restartPolicy")
_CONTAINER_INERT = ("command", "args", "env", "envFrom", "workingDir", "imagePullPolicy", "securityContext",
                    "terminationMessagePath", "terminationMessagePolicy", "volumeMounts", "volumeDevices", "stdin",
                    "stdinOnce", "tty", "resizePolicy")
_CONTAINER_NOT_MODELLED = {
    "livenessProbe": "liveness probes are not modelled (containers never restart)",
    "startupProbe": "startup probes are not modelled",
    "lifecycle": "lifecycle hooks are not modelled (no postStart; a deleted pod stops without its preStop)",
}
_CONTAINER_READ = (*_CONTAINER_KEEP, "readinessProbe")


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"expected a mapping, got {type(value).__name__}", where=where)
    return value


def duration_s(annotations: list[dict], where: str) -> float | None:
    """The ``kbench/duration-s`` annotation of the first mapping that has it (None: absent)."""
    for ann in annotations:
        if DURATION_ANNOTATION in ann:
            value = parse_duration(ann[DURATION_ANNOTATION], where=f"{where}.annotations.{DURATION_ANNOTATION}")
            if value < 0:
                raise ConfigError("must be >= 0 seconds", where=f"{where}.annotations.{DURATION_ANNOTATION}")
            return value
    return None


def toleration_text(t: dict, where: str) -> str:
    """A core/v1 Toleration as kbench's short form (``key=value:Effect=seconds``, ``key:Effect``, ``*``)."""
    t = _mapping(t, where)
    key, op = str(t.get("key") or ""), str(t.get("operator") or "Equal")
    value, effect = str(t.get("value") or ""), str(t.get("effect") or "")
    if op not in ("Equal", "Exists"):
        raise ConfigError(f"expected operator Equal or Exists, got {op!r}", where=f"{where}.operator")
    if op == "Exists" and not key and not effect:
        return "*"
    text = f"{key}={value}" if op == "Equal" else key
    if effect:
        text += f":{effect}"
        if t.get("tolerationSeconds") is not None:
            text += f"={float(t['tolerationSeconds']):g}"
    return text


def pod_template(template: dict, *, namespace: str, kind: str, ref: str, source: str, where: str,
                 notes: Notes, owner_annotations: dict | None = None) -> dict:
    """The fields of a :class:`~kbench.config.workload.PodTemplate` for a pod template.

    Args:
        template: ``{metadata, spec}`` as a manifest holds it.
        namespace: The object's namespace (pod affinity terms default to it).
        kind: The owning kind (``Job`` pods default to a 30 s run).
        ref: ``Kind namespace/name`` of the object, for notes.
        source: The manifest file, for notes.
        where: Field path of ``template`` in the file, for errors.
        notes: Where notes go.
        owner_annotations: The object's own annotations (``kbench/duration-s``).

    Returns:
        Keyword arguments of ``PodTemplate`` (the caller builds it with the rest of its spec).

    Raises:
        ConfigError: A malformed field, naming its path.
    """
    meta = _mapping(template.get("metadata"), f"{where}.metadata")
    spec = _mapping(template.get("spec"), f"{where}.spec")
    labels = {str(k): str(v) for k, v in _mapping(meta.get("labels"), f"{where}.metadata.labels").items()}
    annotations = _mapping(meta.get("annotations"), f"{where}.metadata.annotations")
    if not spec.get("containers"):
        raise ConfigError("a pod template needs spec.containers", where=f"{where}.spec.containers")
    try:
        proto = parse_pod({"metadata": {"name": "template", "namespace": namespace, "labels": labels,
                                        "annotations": annotations}, "spec": spec}, where)
    except SnapshotError as err:
        raise ConfigError(err.message, where=err.where) from None
    out: dict[str, Any] = {"labels": labels}
    _note_fields(spec, source, ref, kind, notes)
    subset = {k: spec[k] for k in _SPEC_PASSED if spec.get(k) is not None}
    for part in ("containers", "initContainers"):
        items = spec.get(part) or []
        if items:
            subset[part] = [{k: c[k] for k in _CONTAINER_KEEP if k in c} for c in items]
    out["spec"] = subset
    out["node_selector"] = dict(proto.node_selector)
    out["tolerations"] = [toleration_text(t, f"{where}.spec.tolerations[{i}]")
                          for i, t in enumerate(spec.get("tolerations") or [])]
    out["gpus"], out["gpu_milli"], out["gpu_model"] = proto.gpu_count, proto.gpu_milli, proto.gpu_model or ""
    out["priority"] = max(0, int(proto.priority))
    pcn = str(spec.get("priorityClassName") or "")
    if pcn:
        out["priority_class_name"] = pcn
        if pcn not in PRIORITY_CLASSES and not proto.priority:
            notes.add(source, f"PriorityClass {pcn} is not read (its pods get priority 0)", ref)
    if spec.get("terminationGracePeriodSeconds") is not None:
        out["termination_grace_s"] = float(spec["terminationGracePeriodSeconds"])
    probe = next((c.get("readinessProbe") for c in spec.get("containers") or [] if isinstance(c, dict)
                  and c.get("readinessProbe")), None)
    if probe:
        probe = _mapping(probe, f"{where}.spec.containers.readinessProbe")
        out["readiness_probe"] = ProbeSpec(float(probe.get("initialDelaySeconds") or 0.0),
                                           float(probe.get("periodSeconds") or 10.0),  # core/v1 default
                                           int(probe.get("successThreshold") or 1))  # core/v1 default
    run_s = duration_s([annotations, owner_annotations or {}], where)
    if run_s is None and kind == "Job":
        run_s = JOB_POD_S
        notes.add(source, f"Job pods' run time is not in a manifest: each runs {JOB_POD_S:g} s (kbench default; "
                          f"set the annotation {DURATION_ANNOTATION})", ref)
    out["duration_s"] = Dist.const(run_s or 0.0)
    return out


def _note_fields(spec: dict, source: str, ref: str, kind: str, notes: Notes) -> None:
    for key, value in spec.items():
        if key in _SPEC_NOT_MODELLED:
            note, defaults = _SPEC_NOT_MODELLED[key]
            if value is not None and value not in defaults:
                notes.add(source, note, ref)
        elif key not in _SPEC_READ and key not in _SPEC_INERT:
            notes.add(source, f"unknown pod spec field {key!r} is not read", ref)
    if kind == "Job" and spec.get("restartPolicy") == "OnFailure":
        notes.add(source, "restartPolicy OnFailure is not modelled (a failed Job pod is replaced, as with Never)", ref)
    for part in ("containers", "initContainers"):
        for c in spec.get(part) or []:
            if not isinstance(c, dict):
                continue
            for key in c:
                if key in _CONTAINER_NOT_MODELLED:
                    notes.add(source, _CONTAINER_NOT_MODELLED[key], ref)
                elif key not in _CONTAINER_READ and key not in _CONTAINER_INERT:
                    notes.add(source, f"unknown container field {key!r} is not read", ref)


def metadata(obj: dict, where: str) -> tuple[str, str, dict, dict]:
    """``(namespace, name, labels, annotations)`` of an object (namespace ``default`` when absent).

    Raises:
        ConfigError: No ``metadata.name``.
    """
    meta = _mapping(obj.get("metadata"), f"{where}.metadata" if where else "metadata")
    if not meta.get("name"):
        raise ConfigError(f"a {obj.get('kind')} needs metadata.name", where=f"{where}.metadata.name".lstrip("."))
    ns = str(meta.get("namespace") or "default")
    labels = {str(k): str(v) for k, v in _mapping(meta.get("labels"), f"{where}.metadata.labels").items()}
    return ns, str(meta["name"]), labels, _mapping(meta.get("annotations"), f"{where}.metadata.annotations")

