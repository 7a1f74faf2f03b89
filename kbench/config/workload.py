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

The section is split in three modules: :mod:`kbench.config.podtemplate` (the pod template and its
probe), :mod:`kbench.config.apps` (the apps objects and their ops) and this one (pod groups, trace
replay, arrivals, barriers and :class:`WorkloadConfig`, which lists them all); the names of the other
two are re-exported here.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kbench.config.apps import (  # noqa: F401  (re-exported: the section's one import place)
    DELETE_KINDS,
    POD_MANAGEMENT,
    PROPAGATIONS,
    STRATEGIES,
    UPDATE_KINDS,
    DaemonSetSpec,
    DeleteSpec,
    DeploymentSpec,
    JobSpec,
    NamespaceSpec,
    ServiceSpec,
    StatefulSetSpec,
    UpdateSpec,
)
from kbench.config.podtemplate import PodTemplate, ProbeSpec  # noqa: F401  (re-exported)
from kbench.dist import Dist
from kbench.errors import ConfigError

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


@dataclass(frozen=True)
class ApplySpec:
    """Kubernetes manifests created as ``kubectl apply -f`` creates them (``kbench run --apply``):
    Deployments, Jobs, DaemonSets, StatefulSets, Services and Namespaces become the specs above
    (:mod:`kbench.workload.apply` says which fields are read and what is left out).

    Attributes:
        file: The manifests (multi-document YAML or a ``kind: List``); relative to the scenario.
        at_s: When its objects are created, seconds (counted from the release of ``after``).
        after: A barrier the objects wait for ("" = none).
    """

    file: str = ""
    at_s: float = 0.0
    after: str = ""

    def __post_init__(self) -> None:
        if not self.file:
            raise ConfigError("apply needs a file", where="file")


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
        gather: CL2's "Collecting measurements" step: the ``cl2`` block's API-responsiveness
            checks read the request latencies recorded until this barrier is released (CL2
            gathers them before its own namespace cleanup); without one, the whole run.
    """

    name: str = "barrier"
    after: list[str] = field(default_factory=list)
    until: str = "created"
    delay_s: float = 0.0
    timeout_s: float = 0.0
    poll_s: float = 1.0
    gather: bool = False

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
        apply: Manifest files created as their objects (:class:`ApplySpec`; ``kbench run --apply``).
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
    apply: list[ApplySpec] = field(default_factory=list)
    placement_only: bool = False  # kbench default: the full plane
