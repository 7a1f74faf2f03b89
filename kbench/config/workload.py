"""The workload of a lifecycle scenario (section ``workload:``; the nodes are in
:mod:`kbench.config.cluster`).

Sizes are Kubernetes quantities (``cpu: 3800m``, ``memory: 15Gi``), times are durations. The
workload-spec issue added, all optional with defaults that keep older scenarios unchanged: trace
replay (``workload.traces``, :class:`TraceReplaySpec`, run by :mod:`kbench.workload.replay`),
workload-spec ops with parameter sets (``workload.spec`` / ``workload.ops`` / ``workload.params``,
compiled by :mod:`kbench.workload.compile` into the lists below), synthetic arrival processes and
per-pod distributions on pod groups (``arrival``, ``vary``, :mod:`kbench.workload.synth`), barriers
(``workload.barriers`` and ``after`` on items) and the measured phase (``measure``). Issue 18 added
the apps objects as their controllers see them (Deployments with a rollout strategy and revision
history, DaemonSets, StatefulSets, Services, Namespaces) and the ops on them (``updates``: scale or
roll; ``deletes``: delete with a propagation policy), each with the upstream defaults (K1, K7).

Longer than the ~400-line guide on purpose: it is the one schema of the ``workload:`` section, and
``WorkloadConfig`` must see every spec it lists (a split would make the modules import each other).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kbench.dist import Dist
from kbench.errors import ConfigError


@dataclass(frozen=True)
class ProbeSpec:
    """A readiness probe (core/v1 Probe; API defaults: initialDelaySeconds 0, periodSeconds 10,
    successThreshold 1; kubernetes/kubernetes pkg/apis/core/v1/defaults.go, not in CALIBRATION.md).

    Attributes:
        initial_delay_s: No probe passes before the container has run this long, seconds.
        period_s: Probe period, seconds.
        success_threshold: Consecutive passes that make the container ready.
    """

    initial_delay_s: float = 0.0  # core/v1 default
    period_s: float = 10.0  # core/v1 default
    success_threshold: int = 1  # core/v1 default

    def __post_init__(self) -> None:
        if self.period_s <= 0 or self.success_threshold < 1:
            raise ConfigError("period_s must be > 0 and success_threshold >= 1", where="readiness_probe")


@dataclass(frozen=True)
class PodTemplate:
    """What each pod of a Deployment, Job or pod group asks for and does.

    Attributes:
        cpu_cores: CPU request, cores.
        memory_bytes: Memory request, bytes.
        image: Container image.
        image_bytes: Image size, bytes (pull time = size / registry bandwidth).
        duration_s: Run time once started, seconds; constant 0 means "until deleted".
        priority: Pod priority.
        labels: Extra pod labels.
        node_selector: ``spec.nodeSelector``.
        tolerations: Tolerations as ``key=value:Effect``, ``key:Effect`` or ``key`` (Exists); a
            NoExecute toleration may end in ``=<seconds>`` (tolerationSeconds).
        gpus: GPUs per pod.
        gpu_milli: Share of each GPU in thousandths (GPU sharing).
        gpu_model: Required GPU model.
        fail_probability: Probability that a finished pod Failed instead of Succeeded.
        extended_resources: Extended resources requested by the pod's container, quantity per
            name (``{example.com/foo: 2}``).
        host_ports: Host ports the container binds (NodePorts).
        scheduling_gates: ``spec.schedulingGates`` names (the pod waits until they are removed).
        scheduler_name: ``spec.schedulerName`` ("" = default-scheduler).
        priority_class_name: ``spec.priorityClassName``; the built-in system-cluster-critical
            (2000000000) and system-node-critical (2000001000) set the priority when ``priority``
            is 0.
        spec: A Kubernetes PodSpec subset in upstream's field names (``affinity`` with
            ``podAffinity`` / ``podAntiAffinity`` / ``nodeAffinity``, ``topologySpreadConstraints``,
            ``containers`` and ``initContainers`` with ``resources``, ``ports`` and ``restartPolicy``,
            ``schedulingGates``, ``tolerations``, ``nodeSelector``, ``priorityClassName``,
            ``schedulerName``, ``overhead``), read by the same parser as snapshots
            (:mod:`kbench.cluster.objects.manifest`). With ``containers`` given, they replace the
            shorthand container (``cpu_cores``, ``memory_bytes``, ``image``, GPUs, extended
            resources, host ports); the other shorthands still apply on top.
        readiness_probe: A readiness probe (:class:`ProbeSpec`), or None: ready once running.
        termination_grace_s: ``terminationGracePeriodSeconds``: the longest a deleted pod's
            containers take to stop (core/v1 default 30 s; CL2's pods use 1 s).
    """

    cpu_cores: float = 0.1
    memory_bytes: float = 128 * 2**20
    image: str = "registry.k8s.io/pause:3.9"
    image_bytes: float = 300_000
    duration_s: Dist = Dist.const(0.0)
    priority: int = field(default=0, metadata={"signed": True})
    labels: dict[str, str] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[str] = field(default_factory=list)
    gpus: int = 0
    gpu_milli: int = 0
    gpu_model: str = ""
    fail_probability: float = 0.0
    extended_resources: dict[str, float] = field(default_factory=dict)
    host_ports: list[int] = field(default_factory=list)
    scheduling_gates: list[str] = field(default_factory=list)
    scheduler_name: str = ""
    priority_class_name: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    readiness_probe: ProbeSpec | None = None
    termination_grace_s: float = 30.0  # core/v1 default

    def __post_init__(self) -> None:
        if not 0 <= self.fail_probability <= 1:
            raise ConfigError("must be in [0, 1]", where="fail_probability")
        for p in self.host_ports:
            if not 0 < int(p) <= 65535:
                raise ConfigError(f"must be between 1 and 65535, got {p}", where="host_ports")
        if self.spec and not isinstance(self.spec, dict):
            raise ConfigError("must be a mapping (a PodSpec subset)", where="spec")


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


ARRIVAL_KINDS = ("constant", "poisson", "bursts", "diurnal", "empirical")


@dataclass(frozen=True)
class ArrivalSpec:
    """A synthetic arrival process (drawn from the run's seed tree by :mod:`kbench.workload.synth`).

    Attributes:
        kind: ``constant`` (evenly spaced at ``rate_per_s``), ``poisson`` (exponential gaps of
            mean 1/``rate_per_s``), ``bursts`` (``burst_size`` pods every ``burst_every_s``; within
            a burst evenly spaced at ``rate_per_s``, or all at once when it is 0), ``diurnal``
            (Poisson whose rate follows ``profile`` over ``period_s``; its mean is ``rate_per_s``)
            or ``empirical`` (gaps drawn with replacement from ``gaps_s`` or from the inter-arrival
            gaps of the trace ``trace``, times ``scale``).
        rate_per_s: Mean arrival rate, pods/s.
        burst_size: Pods per burst (bursts).
        burst_every_s: Time from one burst's start to the next, seconds (bursts).
        profile: Relative rate per slice of the period (diurnal; 24 hourly values by default:
            low at night, a morning ramp, a peak in the afternoon).
        period_s: Length of one profile cycle, seconds (diurnal; 86,400 = a day).
        gaps_s: Inter-arrival gaps to draw from, seconds (empirical).
        trace: Trace file whose arrival gaps are drawn from (empirical; relative to the scenario).
        format: The trace's format ("" = detect).
        scale: Multiplies every empirical gap (0.01 = a hundred times faster).
    """

    kind: str = "constant"
    rate_per_s: float = 10.0
    burst_size: int = 10
    burst_every_s: float = 60.0
    profile: list[float] = field(default_factory=list)
    period_s: float = 86_400.0
    gaps_s: list[float] = field(default_factory=list)
    trace: str = ""
    format: str = ""
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ARRIVAL_KINDS:
            raise ConfigError(f"kind: unknown arrival kind {self.kind!r}: expected one of {', '.join(ARRIVAL_KINDS)}")
        if self.kind in ("constant", "poisson", "diurnal") and self.rate_per_s <= 0:
            raise ConfigError("rate_per_s: must be > 0")
        if self.kind == "bursts" and (self.burst_size < 1 or self.burst_every_s <= 0):
            raise ConfigError("burst_size: bursts need burst_size >= 1 and burst_every_s > 0")
        if self.kind == "diurnal" and (self.period_s <= 0 or (self.profile and max(self.profile) <= 0)):
            raise ConfigError("profile: diurnal needs period_s > 0 and a profile with a positive value")
        if self.kind == "empirical" and not self.gaps_s and not self.trace:
            raise ConfigError("gaps_s: empirical arrivals need gaps_s or trace")


@dataclass(frozen=True)
class PodGroupSpec:
    """Bare pods created by a client at a rate (no controller), each deleted after it finishes.

    Attributes:
        name: Name prefix.
        namespace: Namespace.
        count: Number of pods.
        rate_per_s: Creation rate, pods/s (Poisson when ``poisson``, else evenly spaced).
        poisson: Poisson arrivals.
        template: Pod template.
        at_s: First creation, seconds (counted from the release of ``after`` when set).
        arrival: Arrival process (:class:`ArrivalSpec`); None keeps ``rate_per_s`` / ``poisson``.
        vary: Per-pod distributions overriding template fields (``cpu_cores``, ``memory_bytes``,
            ``gpus``, ``gpu_milli``, ``priority``, ``image``, ``duration_s``...): field name ->
            a distribution as :func:`kbench.workload.synth.parse_dist` reads it.
        after: Name of a barrier (``workload.barriers``) this group waits for ("" = none).
        measure: Pods of this group belong to the measured phase (the phase starts when the
            first measured item starts).
    """

    name: str = "pod"
    namespace: str = "default"
    count: int = 1
    rate_per_s: float = 10.0
    poisson: bool = False
    template: PodTemplate = field(default_factory=PodTemplate)
    at_s: float = 0.0
    arrival: ArrivalSpec | None = None
    vary: dict[str, Any] = field(default_factory=dict)
    after: str = ""
    measure: bool = False


@dataclass(frozen=True)
class GenericKindSpec:
    """Extra objects of another kind (ConfigMaps, custom resources) with churn and watchers.

    Attributes:
        resource: Plural resource name (``configmaps``, ``widgets.example.com``).
        objects: Objects at the start.
        object_bytes: Size of each, bytes.
        changes_per_s: Updates per second (Poisson).
        watchers: Clients that keep a cache of all of them (e.g. a CRD controller's replicas).
        sync: ``list-watch`` or ``poll:<period>``.
    """

    resource: str = "configmaps"
    objects: int = 100
    object_bytes: float = 1024
    changes_per_s: float = 1.0
    watchers: int = 1
    sync: str = "list-watch"


@dataclass(frozen=True)
class ProxyRequestSpec:
    """apiserver proxy requests to kubelets (logs, exec, port-forward): long-running requests.

    Attributes:
        rate_per_s: New proxy requests per second (Poisson).
        duration_s: How long each stays open, seconds.
        bytes_per_s: Data streamed while open, bytes/s.
    """

    rate_per_s: float = 0.0
    duration_s: Dist = Dist.exponential(30.0)
    bytes_per_s: float = 1000.0


@dataclass(frozen=True)
class TraceReplaySpec:
    """Replay of a trace file (``workload.traces``; run by :mod:`kbench.workload.replay`).

    Paths are relative to the scenario file (see :func:`kbench.config.params.resolve_path`); string
    fields may use ``${param}`` from ``workload.params``. The steps run in this order: window,
    pod sampling, ``max_pods``, duration cap, compression (these give the *original* pods, from
    which FGD's typical pods are computed), then shuffle, then inflation.

    Attributes:
        name: Name of this replay (stream names, reports).
        file: The pod trace ("" = only nodes).
        format: Its format ("" = detect from the header).
        nodes_file: A node list added to the cluster ("" = none).
        nodes_format: Its format ("" = detect).
        gpu_nodes_only: Keep only nodes with GPUs (FGD.md §1.1).
        max_nodes: Keep the first N nodes (0 = all), before sampling.
        sample_nodes: Fraction of nodes kept, seeded (1 = all).
        window_s: ``[a, b]``: keep pods arriving in [a, b), seconds of the trace; times shift by -a.
        compress: Divide every time and duration by this (100 = a hundred times faster).
        max_pods: Keep the first N pods (0 = all), after the window and sampling.
        sample_pods: Fraction of pods kept, seeded (1 = all).
        cap_duration_s: Longest pod lifetime, seconds of the trace (0 = no cap).
        shuffle: Sort the pods by name and shuffle them, seeded (FGD.md §1.2 step 1).
        inflate_to_pct: Append pods sampled with replacement from the original pods until the
            requests reach this % of the cluster's capacity of ``inflate_resource``; fewer than
            the trace has removes random pods instead (0 = off; FGD.md §1.2 step 2).
        inflate_resource: ``gpu`` or ``cpu``.
        sequential: Create the next pod only once the previous one is bound or has failed an
            attempt (arrival times are ignored).
        departures: Delete pods at their trace deletion time, or finish them after their duration.
        retry_unschedulable: False sets the scheduler's ``retry_unschedulable`` off for the run
            (a pod is given up after its first failed attempt).
        node_order_seed: Seed of the fixed node order used for score ties (``tieBreak: first``);
            None draws it from the run's seed tree (stream ``workload/node-order``), so the order
            changes with the run's seed and is the same for every policy.
        namespace: Namespace of the pods.
        image: Container image of every pod ("" = none, nothing to pull).
        image_bytes: Its size, bytes.
        start_s: Virtual time of the trace's time zero, seconds.
        skip_bad_rows: Skip malformed trace rows (counted) instead of failing.
        end_when_done: End the run ``linger_s`` after the last arrival and departure (it still
            ends at ``duration_s`` at the latest).
        linger_s: Virtual seconds simulated after the replay is done.
        sequential_timeout_s: A sequential replay moves on when a pod has no outcome after this.
    """

    name: str = "trace"
    file: str = ""
    format: str = ""
    nodes_file: str = ""
    nodes_format: str = ""
    gpu_nodes_only: bool = False
    max_nodes: int = 0
    sample_nodes: float = 1.0
    window_s: list[float] = field(default_factory=list)
    compress: float = 1.0
    max_pods: int = 0
    sample_pods: float = 1.0
    cap_duration_s: float = 0.0
    shuffle: bool = False
    inflate_to_pct: float = 0.0
    inflate_resource: str = "gpu"
    sequential: bool = False
    departures: bool = True
    retry_unschedulable: bool = True
    node_order_seed: int | None = None
    namespace: str = "default"
    image: str = ""
    image_bytes: float = 300_000
    start_s: float = 0.0
    skip_bad_rows: bool = False
    end_when_done: bool = True
    linger_s: float = 10.0
    sequential_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if not self.file and not self.nodes_file:
            raise ConfigError("file: a trace replay needs file or nodes_file")
        if self.window_s and (len(self.window_s) != 2 or self.window_s[1] <= self.window_s[0]):
            raise ConfigError("window_s: expected [start, end] with end > start")
        if self.compress <= 0:
            raise ConfigError("compress: must be > 0")
        for name in ("sample_pods", "sample_nodes"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(f"{name}: must be in (0, 1]")
        if self.inflate_resource not in ("gpu", "cpu"):
            raise ConfigError(f"inflate_resource: expected gpu or cpu, got {self.inflate_resource!r}")


BARRIER_UNTIL = ("created", "scheduled", "running", "deleted")


@dataclass(frozen=True)
class BarrierSpec:
    """A synchronisation point in virtual time (compiled from a spec's ``barrier`` / ``wait`` ops).

    The barrier is released ``delay_s`` after every item it names has *finished creating* (a pod
    group: its last create was sent; a Deployment, Job or barrier: it was created or released)
    and, with ``until: scheduled``, every pod created so far is bound (or given up); with
    ``until: running``, every Deployment, DaemonSet and StatefulSet has all its pods available
    (CL2's WaitForControlledPodsRunning); with ``until: deleted``, every object the deletes since
    the previous barrier targeted is gone, pods included. Items whose ``after`` names the barrier
    start their ``at_s`` clock at its release.

    Attributes:
        name: Barrier name.
        after: Items (pod groups, Deployments, Jobs, barriers) it waits for.
        until: ``created``, ``scheduled``, ``running`` or ``deleted``.
        delay_s: Extra wait after the condition holds, seconds (a ``wait`` op).
        timeout_s: Release anyway after this long, seconds (0 = never).
        poll_s: How often ``until: scheduled`` is checked, virtual seconds.
    """

    name: str = "barrier"
    after: list[str] = field(default_factory=list)
    until: str = "created"
    delay_s: float = 0.0
    timeout_s: float = 0.0
    poll_s: float = 1.0

    def __post_init__(self) -> None:
        if self.until not in BARRIER_UNTIL:
            raise ConfigError(f"until: expected one of {', '.join(BARRIER_UNTIL)}, got {self.until!r}")
        if self.poll_s <= 0:
            raise ConfigError("poll_s: must be > 0")


@dataclass(frozen=True)
class WorkloadConfig:
    """What runs on the cluster.

    Attributes:
        deployments: Deployments.
        jobs: Jobs.
        pods: Bare pod groups.
        generic: Extra kinds with churn and watchers.
        proxy: apiserver proxy requests.
        quota_namespaces: Namespaces with a ResourceQuota (admission check and status write per pod).
        traces: Trace replays.
        barriers: Barriers (see :class:`BarrierSpec`).
        spec: A workload spec file (``version: 1``, ``params``, ``labels``, ``ops``) compiled into
            this section at build time (:mod:`kbench.workload.compile`).
        ops: Inline workload-spec ops, compiled the same way.
        params: Parameter values: override the spec's ``params`` and fill ``$name`` / ``${name}``
            in ops and in the string fields of ``traces``.
        labels: Labels of the workload (scheduler_perf style: ``performance``, ``gpu``...).
        fgd_metrics: Record the FGD metrics after every scheduling outcome
            (``gpu.unallocated_pct_at_arrived`` ..., :mod:`kbench.metrics.fgd`).
        daemonsets: DaemonSets.
        statefulsets: StatefulSets.
        services: Services (besides a Deployment's own ``service``).
        namespaces: Namespaces.
        updates: Scale or roll objects at a time.
        deletes: Delete objects at a time.
        end_after: End the run when this item (a barrier, usually the last) is done, ``end_linger_s``
            later ("" = run to ``duration_s``, which stays the upper bound).
        end_linger_s: Virtual seconds simulated after ``end_after`` is done.
        placement_only: Only placement matters: run the scheduler framework over the trace
            replay's pod sequence without the rest of the control plane (:mod:`kbench.experiment.placement`;
            refused, with the reason, when placement could depend on the plane). ``kbench run
            --placement-only`` / ``--full-plane`` force either way.
    """

    deployments: list[DeploymentSpec] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)
    pods: list[PodGroupSpec] = field(default_factory=list)
    generic: list[GenericKindSpec] = field(default_factory=list)
    proxy: ProxyRequestSpec = field(default_factory=ProxyRequestSpec)
    quota_namespaces: list[str] = field(default_factory=list)
    traces: list[TraceReplaySpec] = field(default_factory=list)
    barriers: list[BarrierSpec] = field(default_factory=list)
    spec: str = ""
    ops: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    fgd_metrics: bool = False
    daemonsets: list[DaemonSetSpec] = field(default_factory=list)
    statefulsets: list[StatefulSetSpec] = field(default_factory=list)
    services: list[ServiceSpec] = field(default_factory=list)
    namespaces: list[NamespaceSpec] = field(default_factory=list)
    updates: list[UpdateSpec] = field(default_factory=list)
    deletes: list[DeleteSpec] = field(default_factory=list)
    end_after: str = ""
    end_linger_s: float = 0.0
    placement_only: bool = False  # kbench default: the full plane
