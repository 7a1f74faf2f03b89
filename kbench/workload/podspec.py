"""Pod specs from workload templates."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from kbench.cluster.objects import CPU, GPU, MEMORY, Container, ContainerPort, Node, Pod, Taint, Toleration
from kbench.cluster.objects.clusterobjects import ClusterObjects
from kbench.config.cluster import NodeGroup
from kbench.config.workload import PodTemplate
from kbench.errors import ConfigError, KbenchError

FAIL_ANNOTATION = "kbench/fail-probability"
"""Pod annotation: probability that the pod ends Failed rather than Succeeded (the kubelet reads it)."""
PROBE_ANNOTATION = "kbench/readiness-probe"
"""Pod annotation: the readiness probe as ``initial_delay_s,period_s,success_threshold`` (the kubelet
reads it; absent: no probe, ready once running)."""
GRACE_ANNOTATION = "kbench/termination-grace-s"
"""Pod annotation: ``terminationGracePeriodSeconds`` (absent: the API default, 30 s, which a pod that
exits on SIGTERM never reaches)."""
ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"


def parse_taint(text: str) -> Taint:
    """``key=value:Effect`` or ``key:Effect``."""
    body, _, effect = text.rpartition(":")
    if not body or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise ConfigError(f"malformed taint {text!r}: expected key=value:Effect")
    key, _, value = body.partition("=")
    return Taint(key, value, effect)


def parse_toleration(text: str) -> Toleration:
    """``key=value:Effect``, ``key:Effect``, ``key`` (Exists, any effect) or ``*`` (everything);
    ``...:NoExecute=<seconds>`` sets tolerationSeconds."""
    if text == "*":
        return Toleration(operator="Exists")
    body, sep, effect = text.rpartition(":")
    if not sep:
        body, effect = text, ""
    seconds = None
    effect, eq_s, secs = effect.partition("=")
    if eq_s:
        try:
            seconds = float(secs)
        except ValueError:
            raise ConfigError(f"malformed toleration {text!r}: expected key:Effect=<seconds>") from None
    key, eq, value = body.partition("=")
    return Toleration(key, "Equal" if eq else "Exists", value, effect, seconds)


PRIORITY_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
"""The built-in PriorityClasses (kubernetes ``pkg/apis/scheduling``: SystemCriticalPriority 2e9)."""


def pod_from_template(name: str, namespace: str, t: PodTemplate, *, owner: str | None = None,
                      labels: dict[str, str] | None = None, duration_s: float | None = None) -> Pod:
    """A pod spec (units: millicores, bytes) from a template.

    Args:
        name: Pod name.
        namespace: Namespace.
        t: The template.
        owner: ``Kind/name`` of the owner.
        labels: Labels added to the template's.
        duration_s: Drawn run time, seconds (None: runs until deleted).

    Raises:
        ConfigError: A malformed ``spec`` (its field path named).
    """
    requests = {CPU: t.cpu_cores * 1000.0, MEMORY: float(t.memory_bytes)}
    gpu_count, gpu_milli = t.gpus, t.gpu_milli
    if gpu_count and not gpu_milli:
        requests[GPU] = float(gpu_count)
    for res, qty in t.extended_resources.items():
        requests[res] = float(qty)
    ports = tuple(ContainerPort(int(p), int(p)) for p in t.host_ports)
    all_labels = {**t.labels, **(labels or {})}
    priority = t.priority or PRIORITY_CLASSES.get(t.priority_class_name, 0)
    if t.spec:
        proto = _spec_pod(t, namespace, tuple(sorted(all_labels.items())))
        containers = proto.containers or [Container("main", t.image, requests, ports)]
        pod = replace(proto, name=name, namespace=namespace, labels=all_labels, containers=list(containers),
                      init_containers=list(proto.init_containers), annotations={}, owner=owner,
                      duration_s=duration_s, priority=priority or proto.priority,
                      node_selector={**proto.node_selector, **t.node_selector},
                      tolerations=[*proto.tolerations, *(parse_toleration(x) for x in t.tolerations)],
                      gpu_count=gpu_count, gpu_milli=gpu_milli, gpu_model=t.gpu_model or None,
                      scheduling_gates=(*proto.scheduling_gates, *t.scheduling_gates),
                      scheduler_name=t.scheduler_name or proto.scheduler_name,
                      priority_class_name=t.priority_class_name or proto.priority_class_name)
    else:
        pod = Pod(name=name, namespace=namespace, labels=all_labels,
                  containers=[Container("main", t.image, requests, ports)], priority=priority,
                  node_selector=dict(t.node_selector), tolerations=[parse_toleration(x) for x in t.tolerations],
                  gpu_count=gpu_count, gpu_milli=gpu_milli, gpu_model=t.gpu_model or None, owner=owner,
                  duration_s=duration_s, scheduling_gates=tuple(t.scheduling_gates),
                  scheduler_name=t.scheduler_name or "default-scheduler", priority_class_name=t.priority_class_name)
    if t.fail_probability:
        pod.annotations[FAIL_ANNOTATION] = str(t.fail_probability)
    probe = t.readiness_probe
    if probe is not None:
        pod.annotations[PROBE_ANNOTATION] = f"{probe.initial_delay_s:g},{probe.period_s:g},{probe.success_threshold:d}"
    if t.termination_grace_s != 30.0:
        pod.annotations[GRACE_ANNOTATION] = f"{t.termination_grace_s:g}"
    return pod


_SPEC_PODS: dict[tuple, tuple[dict, Pod]] = {}
_MAX_SPEC_PODS = 256


def _spec_pod(t: PodTemplate, namespace: str, labels: tuple) -> Pod:
    """The template's ``spec`` parsed once per (template spec, namespace, labels): pod
    (anti-)affinity terms default to the pod's namespace and merge matchLabelKeys from its labels."""
    from kbench.cluster.objects.manifest import parse_pod  # the parser: only for templates with a spec

    key = (id(t.spec), namespace, labels)
    hit = _SPEC_PODS.get(key)
    if hit is not None and hit[0] is t.spec:
        return hit[1]
    try:
        proto = parse_pod({"metadata": {"name": "template", "namespace": namespace, "labels": dict(labels)},
                           "spec": t.spec}, "template.spec")
    except KbenchError as err:
        raise ConfigError(err.message, where=err.where) from None
    if len(_SPEC_PODS) >= _MAX_SPEC_PODS:
        _SPEC_PODS.clear()
    _SPEC_PODS[key] = (t.spec, proto)
    return proto


def nodes_from_groups(groups: list[NodeGroup]) -> list[Node]:
    """Node specs for every node group (names ``<prefix>-<i>``, zones round-robin)."""
    out: list[Node] = []
    for g in groups:
        taints = [parse_taint(x) for x in g.taints]
        width = max(4, len(str(g.count - 1)))
        for i in range(g.count):
            name = f"{g.name_prefix}-{i:0{width}d}"
            alloc = {CPU: g.cpu_cores * 1000.0, MEMORY: float(g.memory_bytes), "pods": float(g.pods)}
            if g.gpus:
                alloc[GPU] = float(g.gpus)
            labels = {HOSTNAME_LABEL: name, ZONE_LABEL: f"zone-{i % max(g.zones, 1)}", **g.labels}
            out.append(Node(name=name, allocatable=alloc, labels=labels, taints=list(taints),
                            images={k: int(v) for k, v in g.images.items()}, gpu_count=g.gpus,
                            gpu_model=g.gpu_model or None))
    return out


def draw_duration(t: PodTemplate, rng: np.random.Generator) -> float | None:
    """A run time from the template (None when the pod runs until deleted)."""
    d = t.duration_s
    if d.kind == "constant" and d.value == 0:
        return None
    return float(d.sample(rng))


def cluster_objects(workload) -> ClusterObjects:
    """The Namespaces a scenario's workload uses, as the scheduler's namespace lister would hold
    them. Services, ReplicaSets and StatefulSets reach the scheduler through its informers
    (:mod:`kbench.cluster.scheduler.listers`) once the workload creates them.
    """
    objects = ClusterObjects()
    spaces = {"default", *workload.quota_namespaces}
    for item in (*workload.deployments, *workload.jobs, *workload.pods, *workload.traces):
        spaces.add(item.namespace)
    for ns in sorted(spaces):
        objects.add_namespace(ns)
    return objects
