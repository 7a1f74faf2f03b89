"""The apps objects of the ``workload:`` section as their controllers see them (issue 18):
Deployments with a rollout strategy and revision history, Jobs, DaemonSets, StatefulSets,
Services, Namespaces, and the ops on them (``updates``: scale or roll; ``deletes``: delete with a
propagation policy), each with the upstream defaults (K1, K7). Listed by
:class:`kbench.config.workload.WorkloadConfig`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kbench.config.podtemplate import PodTemplate
from kbench.dist import Dist
from kbench.errors import ConfigError

STRATEGIES = ("RollingUpdate", "Recreate")
PROPAGATIONS = ("Background", "Foreground", "Orphan")


def _check_intstr(value: str, where: str) -> None:
    """An IntOrString as a Deployment's maxSurge: ``"25%"`` or ``"3"``."""
    text = str(value).strip()
    body = text[:-1] if text.endswith("%") else text
    if not body.isdigit():
        raise ConfigError(f"expected a count or a percentage like 25%, got {value!r}", where=where)


@dataclass(frozen=True)
class DeploymentSpec:
    """A Deployment: its Deployment controller keeps one ReplicaSet per pod template and rolls
    from the old ones to the new one (K1 defaults).

    Attributes:
        name: Name.
        namespace: Namespace.
        replicas: Desired replicas.
        template: Pod template.
        at_s: Creation time, seconds (counted from the release of ``after`` when set).
        delete_at_s: Deletion time, seconds (0: never; counted like ``at_s``).
        service: Create a Service of the same name selecting its pods (EndpointSlices, kube-proxy).
        after: Name of a barrier this Deployment waits for ("" = none).
        measure: Part of the measured phase.
        labels: Extra pod labels (the pods always carry ``app=<name>``).
        selector: ``spec.selector.matchLabels`` (empty: ``app=<name>``).
        strategy: ``RollingUpdate`` or ``Recreate`` (K1: RollingUpdate).
        max_surge: RollingUpdate maxSurge, a count or a percentage rounded up (K1: 25%).
        max_unavailable: RollingUpdate maxUnavailable, rounded down (K1: 25%).
        revision_history_limit: Old ReplicaSets kept (K1: 10).
        min_ready_s: ``minReadySeconds``: a pod counts as available after being ready this long.
        progress_deadline_s: ``progressDeadlineSeconds`` (K1: 600; sets the Progressing condition).
        delete_propagation: How ``delete_at_s`` deletes it: Background, Foreground or Orphan (K7).
        copies: Deployments made from this spec, named ``<name>-<i>`` (1: just ``<name>``).
        namespaces: Make the copies in each of these namespaces (empty: ``namespace``).
        spread_s: Each copy starts at a time drawn uniformly in [0, spread_s) after ``at_s``
            (CL2's RandomizedSaturationTimeLimited), from the stream ``workload/spec/<name>``.
    """

    name: str = "deploy"
    namespace: str = "default"
    replicas: int = 1  # K1
    template: PodTemplate = field(default_factory=PodTemplate)
    at_s: float = 0.0
    delete_at_s: float = 0.0
    service: bool = False
    after: str = ""
    measure: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    selector: dict[str, str] = field(default_factory=dict)
    strategy: str = "RollingUpdate"  # K1
    max_surge: str = "25%"  # K1
    max_unavailable: str = "25%"  # K1
    revision_history_limit: int = 10  # K1
    min_ready_s: float = 0.0
    progress_deadline_s: float = 600.0  # K1
    delete_propagation: str = "Background"  # K7
    copies: int = 1
    namespaces: list[str] = field(default_factory=list)
    spread_s: float = 0.0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"expected one of {', '.join(STRATEGIES)}, got {self.strategy!r}", where="strategy")
        if self.delete_propagation not in PROPAGATIONS:
            raise ConfigError(f"expected one of {', '.join(PROPAGATIONS)}, got {self.delete_propagation!r}",
                              where="delete_propagation")
        _check_intstr(self.max_surge, "max_surge")
        _check_intstr(self.max_unavailable, "max_unavailable")
        if self.copies < 1:
            raise ConfigError("must be >= 1", where="copies")


@dataclass(frozen=True)
class JobSpec:
    """A Job.

    Attributes:
        name: Name.
        namespace: Namespace.
        completions: Successful pods needed.
        parallelism: Pods running at once.
        backoff_limit: Failed pods tolerated before the Job fails.
        template: Pod template (set ``duration_s``: Job pods finish).
        at_s: Creation time, seconds (counted from the release of ``after`` when set).
        after: Name of a barrier this Job waits for ("" = none).
        measure: Part of the measured phase.
    """

    name: str = "job"
    namespace: str = "default"
    completions: int = 1
    parallelism: int = 1
    backoff_limit: int = 6
    template: PodTemplate = field(default_factory=lambda: PodTemplate(duration_s=Dist.const(30.0)))
    at_s: float = 0.0
    after: str = ""
    measure: bool = False


@dataclass(frozen=True)
class DaemonSetSpec:
    """A DaemonSet: one pod per node whose labels match the template's node selector and whose
    NoSchedule/NoExecute taints its tolerations (plus the DaemonSet ones) tolerate (K1 defaults).

    Attributes:
        name: Name.
        namespace: Namespace.
        template: Pod template (``node_selector``, ``tolerations``).
        max_unavailable: RollingUpdate maxUnavailable, a count or a percentage (K1: 1).
        max_surge: RollingUpdate maxSurge (K1: 0).
        revision_history_limit: Old ControllerRevisions kept (K1: 10).
        at_s: Creation time, seconds (from the release of ``after`` when set).
        delete_at_s: Deletion time, seconds (0: never).
        after: A barrier this DaemonSet waits for ("" = none).
        measure: Part of the measured phase.
    """

    name: str = "daemonset"
    namespace: str = "default"
    template: PodTemplate = field(default_factory=PodTemplate)
    max_unavailable: str = "1"  # K1
    max_surge: str = "0"  # K1
    revision_history_limit: int = 10  # K1
    at_s: float = 0.0
    delete_at_s: float = 0.0
    after: str = ""
    measure: bool = False

    def __post_init__(self) -> None:
        _check_intstr(self.max_unavailable, "max_unavailable")
        _check_intstr(self.max_surge, "max_surge")


POD_MANAGEMENT = ("OrderedReady", "Parallel")


@dataclass(frozen=True)
class StatefulSetSpec:
    """A StatefulSet: pods ``<name>-<ordinal>``, created in order one at a time (OrderedReady) or
    in slow-start batches (Parallel) (K1 defaults; volumes are not modelled).

    Attributes:
        name: Name.
        namespace: Namespace.
        replicas: Desired replicas (K1: 1).
        template: Pod template.
        pod_management: ``OrderedReady`` or ``Parallel`` (K1: OrderedReady).
        revision_history_limit: Old ControllerRevisions kept (K1: 10).
        at_s: Creation time, seconds.
        delete_at_s: Deletion time, seconds (0: never).
        after: A barrier this StatefulSet waits for ("" = none).
        measure: Part of the measured phase.
    """

    name: str = "statefulset"
    namespace: str = "default"
    replicas: int = 1  # K1
    template: PodTemplate = field(default_factory=PodTemplate)
    pod_management: str = "OrderedReady"  # K1
    revision_history_limit: int = 10  # K1
    at_s: float = 0.0
    delete_at_s: float = 0.0
    after: str = ""
    measure: bool = False

    def __post_init__(self) -> None:
        if self.pod_management not in POD_MANAGEMENT:
            raise ConfigError(f"expected one of {', '.join(POD_MANAGEMENT)}, got {self.pod_management!r}",
                              where="pod_management")


@dataclass(frozen=True)
class ServiceSpec:
    """A Service: its EndpointSlices list the ready pods its selector matches.

    Attributes:
        name: Name.
        namespace: Namespace.
        selector: Label selector (matchLabels) of its pods.
        select_prefix: Copy ``i`` selects ``app=<select_prefix>-<i>`` (CL2: Services assigned 1-1 to
            the Deployments of the same index); overrides ``selector``.
        copies: Services made from this spec, ``<name>-<i>`` (1: just ``<name>``).
        namespaces: Make the copies in each of these namespaces (empty: ``namespace``).
        at_s: Creation time, seconds.
        spread_s: Each copy starts at a time drawn uniformly in [0, spread_s) after ``at_s``.
        delete_at_s: Deletion time, seconds (0: never).
        after: A barrier it waits for ("" = none).
    """

    name: str = "service"
    namespace: str = "default"
    selector: dict[str, str] = field(default_factory=dict)
    select_prefix: str = ""
    copies: int = 1
    namespaces: list[str] = field(default_factory=list)
    at_s: float = 0.0
    spread_s: float = 0.0
    delete_at_s: float = 0.0
    after: str = ""


@dataclass(frozen=True)
class NamespaceSpec:
    """Namespaces: creating one writes its ServiceAccount and root CA ConfigMap (K9); deleting one
    deletes its contents per resource with DELETECOLLECTION (K8).

    Attributes:
        name: Name, or the prefix of ``<name>-1..<name>-<count>`` when ``numbered`` or ``count`` > 1.
        count: Namespaces made from this spec.
        numbered: Name them ``<name>-<i>`` even when there is one (the ``createNamespace`` op with a
            ``count``).
        at_s: Creation time, seconds.
        delete_at_s: Deletion time, seconds (0: never).
        after: A barrier it waits for ("" = none).
    """

    name: str = "ns"
    count: int = 1
    numbered: bool = False
    at_s: float = 0.0
    delete_at_s: float = 0.0
    after: str = ""

    def names(self) -> list[str]:
        """The namespaces' names."""
        if self.count == 1 and not self.numbered:
            return [self.name]
        return [f"{self.name}-{i + 1}" for i in range(self.count)]


UPDATE_KINDS = ("deployment", "daemonset", "statefulset")
DELETE_KINDS = ("deployment", "daemonset", "statefulset", "job", "service", "namespace")


@dataclass(frozen=True)
class UpdateSpec:
    """Scale or roll existing objects (the ``scaleDeployment`` and ``rollout`` ops).

    Attributes:
        name: Name of this op (barriers may name it).
        kind: ``deployment``, ``daemonset`` or ``statefulset``.
        target: Object name, or a pattern with ``*`` (``*-deployment``).
        namespace: Namespace, or a pattern (``*``: every namespace).
        replicas: New replicas: a count, or ``{relative: [low, high]}`` (each object's current
            replicas times a factor drawn uniformly in [low, high], rounded: CL2's [X/2, 3X/2]);
            None keeps them.
        rollout: Change the pod template (a new ``kbench/rollout`` label, plus ``template``), so
            the controller rolls to a new revision.
        template: Template fields to change (``image: ...``); implies a rollout.
        at_s: When, seconds (from the release of ``after`` when set).
        spread_s: The updates of the matched objects are spread uniformly over [0, spread_s)
            (CL2's RandomizedScalingTimeLimited); 0 updates them all at ``at_s``.
        after: A barrier it waits for ("" = none).
    """

    name: str = "update"
    kind: str = "deployment"
    target: str = "*"
    namespace: str = "*"
    replicas: Any = None
    rollout: bool = False
    template: dict[str, Any] = field(default_factory=dict)
    at_s: float = 0.0
    spread_s: float = 0.0
    after: str = ""

    def __post_init__(self) -> None:
        if self.kind not in UPDATE_KINDS:
            raise ConfigError(f"expected one of {', '.join(UPDATE_KINDS)}, got {self.kind!r}", where="kind")


@dataclass(frozen=True)
class DeleteSpec:
    """Delete existing objects (the ``delete*`` ops).

    Attributes:
        name: Name of this op (barriers may name it).
        kind: ``deployment``, ``daemonset``, ``statefulset``, ``job``, ``service`` or ``namespace``.
        target: Object name, or a pattern with ``*``.
        namespace: Namespace, or a pattern (``*``: every namespace; ignored for namespaces).
        propagation: Background, Foreground or Orphan (K7; "" = the API default, Background).
        at_s: When, seconds (from the release of ``after`` when set).
        spread_s: Deletions spread uniformly over [0, spread_s) (CL2: over the saturation time).
        after: A barrier it waits for ("" = none).
    """

    name: str = "delete"
    kind: str = "deployment"
    target: str = "*"
    namespace: str = "*"
    propagation: str = ""
    at_s: float = 0.0
    spread_s: float = 0.0
    after: str = ""

    def __post_init__(self) -> None:
        if self.kind not in DELETE_KINDS:
            raise ConfigError(f"expected one of {', '.join(DELETE_KINDS)}, got {self.kind!r}", where="kind")
        if self.propagation and self.propagation not in PROPAGATIONS:
            raise ConfigError(f"expected one of {', '.join(PROPAGATIONS)}, got {self.propagation!r}",
                              where="propagation")
