"""Cluster objects as the scheduler sees them: pods, nodes, taints, selectors (core/v1 in kbench terms).

Units (docs/POLICY_CONTRACT.md): cpu in millicores, memory and storage in bytes, pods and extended
resources (``nvidia.com/gpu``) in counts, GPU share in thousandths of one GPU (``gpu_milli``, 1000 =
a whole GPU). Times in seconds.

Two ways to ask for GPUs:

* the Kubernetes way, an extended resource ``nvidia.com/gpu: 2`` in a container's requests; the
  pod's ``gpu_count`` is then set to 2 with ``gpu_milli`` 1000 so the per-GPU state stays right;
* the GPU-sharing way (Open-Gpu-Share, FGD.md §2): ``gpu_count`` GPUs with ``gpu_milli`` thousandths
  each (a sharing pod has ``gpu_count == 1`` and ``gpu_milli < 1000``), with no extended resource.

:class:`~kbench.cluster.objects.nodetable.NodeTable` (struct of numpy arrays, DESIGN.md decision 3)
holds every node's resources; both are re-exported by :mod:`kbench.cluster.objects`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kbench.cluster.objects.podaffinity import ContainerPort, HostPort, PodAffinity, host_ports_of

CPU = "cpu"
MEMORY = "memory"
PODS = "pods"
GPU = "nvidia.com/gpu"
DEFAULT_MILLI_CPU_REQUEST = 100.0
"""E4: millicores counted for a container that omits a cpu request (non-zero requests)."""
DEFAULT_MEMORY_REQUEST = 200.0 * 1024 * 1024
"""E4: bytes counted for a container that omits a memory request (200 MiB)."""


@dataclass(frozen=True)
class Taint:
    """A node taint. ``effect`` is NoSchedule, PreferNoSchedule or NoExecute."""

    key: str
    value: str = ""
    effect: str = "NoSchedule"


@dataclass(frozen=True)
class Toleration:
    """A pod toleration (``operator`` Equal or Exists; empty effect matches every effect)."""

    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""
    toleration_seconds: float | None = None

    def tolerates(self, taint: Taint) -> bool:
        """Whether this toleration tolerates ``taint`` (upstream ``Toleration.ToleratesTaint``)."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator in ("Equal", ""):
            return self.value == taint.value
        return False


def tolerates_all(tolerations: list[Toleration], taints: list[Taint], effects: tuple[str, ...]) -> bool:
    """Whether every taint whose effect is in ``effects`` is tolerated by some toleration."""
    return all(any(t.tolerates(taint) for t in tolerations) for taint in taints if taint.effect in effects)


@dataclass(frozen=True)
class NodeSelectorRequirement:
    """One node-selector expression. ``operator``: In, NotIn, Exists, DoesNotExist, Gt, Lt."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a node with ``labels`` satisfies the expression (upstream semantics)."""
        op, present = self.operator, self.key in labels
        if op == "In":
            return present and labels[self.key] in self.values
        if op == "NotIn":
            return not present or labels[self.key] not in self.values
        if op == "Exists":
            return present
        if op == "DoesNotExist":
            return not present
        if op in ("Gt", "Lt"):
            if not present or len(self.values) != 1:
                return False
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return have > want if op == "Gt" else have < want
        return False


@dataclass(frozen=True)
class NodeSelectorTerm:
    """Requirements ANDed together. An empty term matches no node (as upstream).

    ``match_fields`` supports only ``metadata.name``, the one field upstream allows.
    """

    match_expressions: tuple[NodeSelectorRequirement, ...] = ()
    match_fields: tuple[NodeSelectorRequirement, ...] = ()

    def matches(self, labels: dict[str, str], node_name: str = "") -> bool:
        """Whether a node with ``labels`` and ``node_name`` satisfies every requirement."""
        if not self.match_expressions and not self.match_fields:
            return False
        if not all(r.matches(labels) for r in self.match_expressions):
            return False
        fields = {"metadata.name": node_name}
        return all(r.matches(fields) for r in self.match_fields)


def selector_matches(selector: dict | None, labels: dict[str, str]) -> bool:
    """Match a Kubernetes LabelSelector (``matchLabels`` / ``matchExpressions``) against labels.

    ``None`` matches nothing; an empty selector ``{}`` matches everything (upstream
    ``metav1.LabelSelectorAsSelector``).
    """
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or ():
        req = NodeSelectorRequirement(expr["key"], expr["operator"], tuple(expr.get("values") or ()))
        if not req.matches(labels):
            return False
    return True


@dataclass(frozen=True)
class TopologySpreadConstraint:
    """A pod topology spread constraint (``when_unsatisfiable``: DoNotSchedule or ScheduleAnyway).

    ``label_selector`` is a Kubernetes LabelSelector dict (``{"matchLabels": {...}}``); see
    :func:`selector_matches`.
    """

    max_skew: int
    topology_key: str
    when_unsatisfiable: str = "DoNotSchedule"
    label_selector: dict | None = None
    match_label_keys: tuple[str, ...] = ()
    min_domains: int | None = None
    node_affinity_policy: str = "Honor"
    node_taints_policy: str = "Ignore"


@dataclass
class Container:
    """A container: only explicitly set requests are present in ``requests`` (units above).

    Attributes:
        ports: Its ports (``host_port`` > 0 binds a port on the node).
        restart_policy: ``"Always"`` makes an init container a sidecar (restartable); None otherwise.
    """

    name: str
    image: str = ""
    requests: dict[str, float] = field(default_factory=dict)
    ports: tuple[ContainerPort, ...] = ()
    restart_policy: str | None = None


def _add(into: dict[str, float], reqs: dict[str, float]) -> None:
    for k, v in reqs.items():
        into[k] = into.get(k, 0.0) + v


def _sum_max(containers: list[Container], init: list[Container], overhead: dict[str, float],
             nonzero: bool) -> dict[str, float]:
    """E6 with sidecars (component-helpers ``PodRequests``): the larger of the app containers plus
    the restartable init containers (sidecars) and, per init container, its request plus the
    sidecars started before it; then + overhead, per resource."""

    def reqs(c: Container) -> dict[str, float]:
        if not nonzero:
            return c.requests
        r = dict(c.requests)
        r.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
        r.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
        return r

    total: dict[str, float] = {}
    for c in containers:
        _add(total, reqs(c))
    sidecars: dict[str, float] = {}
    init_max: dict[str, float] = {}
    for c in init:
        own = reqs(c)
        if c.restart_policy == "Always":
            _add(total, own)
            _add(sidecars, own)
            peak = sidecars
        else:
            peak = dict(own)
            _add(peak, sidecars)
        for k, v in peak.items():
            if v > init_max.get(k, 0.0):
                init_max[k] = v
    for k, v in init_max.items():
        if v > total.get(k, 0.0):
            total[k] = v
    if containers or init:
        for k, v in overhead.items():
            total[k] = total.get(k, 0.0) + v
    return total


@dataclass(eq=False)
class Pod:
    """A pod as the scheduler sees it. Compared and hashed by identity.

    Args:
        name: Pod name.
        namespace: Namespace.
        uid: Unique id ("" if unknown).
        labels: Pod labels.
        containers: App containers.
        init_containers: Init containers.
        overhead: Pod overhead per resource (cpu millicores, memory bytes).
        priority: Pod priority (higher schedules first, may preempt).
        node_selector: ``spec.nodeSelector``.
        required_affinity: Terms of ``requiredDuringSchedulingIgnoredDuringExecution`` (ORed), or
            None when the pod has no required node affinity.
        preferred_affinity: ``(weight, term)`` pairs of ``preferredDuringScheduling...``.
        tolerations: Tolerations.
        topology_spread: Topology spread constraints.
        node_name: ``spec.nodeName`` (bound or pinned node), or None.
        gpu_count: GPUs requested (k). Set to 1 automatically when only ``gpu_milli`` is given.
        gpu_milli: Share of each GPU in thousandths (u, 1..1000). 1000 when only ``gpu_count`` is
            given; capped at 1000.
        gpu_model: Required GPU model, or None for any.
        owner: Owner reference as ``"Kind/name"`` (e.g. ``"ReplicaSet/web-5d9"``), or None.
        duration_s: Run time in seconds once started (workloads), or None for forever.
        scheduler_name: ``spec.schedulerName``.
        annotations: Pod annotations.
        gpu_indices: GPU indices on ``node_name`` a bound pod holds (snapshots); empty = unknown.
        terminating: True when the pod has a deletion timestamp.
        pod_affinity: Inter-pod affinity and anti-affinity terms, or None.
        scheduling_gates: ``spec.schedulingGates`` names (a gated pod is not scheduled).
        priority_class_name: ``spec.priorityClassName`` ("" when unset).
    """

    name: str
    namespace: str = "default"
    uid: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    containers: list[Container] = field(default_factory=list)
    init_containers: list[Container] = field(default_factory=list)
    overhead: dict[str, float] = field(default_factory=dict)
    priority: int = 0
    node_selector: dict[str, str] = field(default_factory=dict)
    required_affinity: list[NodeSelectorTerm] | None = None
    preferred_affinity: list[tuple[int, NodeSelectorTerm]] = field(default_factory=list)
    tolerations: list[Toleration] = field(default_factory=list)
    topology_spread: list[TopologySpreadConstraint] = field(default_factory=list)
    node_name: str | None = None
    gpu_count: int = 0
    gpu_milli: int = 0
    gpu_model: str | None = None
    owner: str | None = None
    duration_s: float | None = None
    scheduler_name: str = "default-scheduler"
    annotations: dict[str, str] = field(default_factory=dict)
    gpu_indices: tuple[int, ...] = ()
    terminating: bool = False
    pod_affinity: PodAffinity | None = None
    scheduling_gates: tuple[str, ...] = ()
    priority_class_name: str = ""

    def __post_init__(self) -> None:
        self.gpu_count, self.gpu_milli = int(self.gpu_count), int(min(self.gpu_milli, 1000))
        if self.gpu_count > 0 and self.gpu_milli <= 0:
            self.gpu_milli = 1000
        elif self.gpu_milli > 0 and self.gpu_count <= 0:
            self.gpu_count = 1

    @property
    def key(self) -> str:
        """``namespace/name``."""
        return f"{self.namespace}/{self.name}"

    def requests(self) -> dict[str, float]:
        """Effective request per resource (E6), as explicitly set; a fresh dict.

        Computed once: treat containers as immutable after the first call.
        """
        got = self.__dict__.get("_requests")
        if got is None:  # no functools.cached_property: on 3.11 its lock costs more than the sum, once per pod
            got = self.__dict__["_requests"] = _sum_max(self.containers, self.init_containers, self.overhead,
                                                        nonzero=False)
        return dict(got)

    def nonzero_requests(self) -> dict[str, float]:
        """E4 requests: a container omitting cpu / memory counts 100 millicores / 200 MiB."""
        got = self.__dict__.get("_nonzero")
        if got is None:
            got = self.__dict__["_nonzero"] = _sum_max(self.containers, self.init_containers, self.overhead,
                                                       nonzero=True)
        return dict(got)

    def is_best_effort(self) -> bool:
        """True when no container (app or init) requests cpu or memory (QoS BestEffort)."""
        return not any(c.requests.get(CPU, 0) or c.requests.get(MEMORY, 0)
                       for c in (*self.containers, *self.init_containers))

    @property
    def host_ports(self) -> tuple[HostPort, ...]:
        """Host ports of app and sidecar containers (computed once; containers are immutable)."""
        got = self.__dict__.get("_host_ports")
        if got is None:  # no functools.cached_property: its lock costs more than the common ()
            got = self.__dict__["_host_ports"] = host_ports_of(self.containers, self.init_containers)
        return got

    def images(self) -> list[str]:
        """Images of init and app containers, in that order (empty names left out)."""
        return [c.image for c in (*self.init_containers, *self.containers) if c.image]

    @property
    def gpu_total_milli(self) -> int:
        """Total GPU request in thousandths (k × u)."""
        return self.gpu_count * self.gpu_milli

    def __repr__(self) -> str:
        return f"Pod({self.key!r})"


@dataclass(eq=False)
class Node:
    """A node as the scheduler sees it.

    Args:
        name: Node name.
        allocatable: Allocatable per resource (cpu millicores, memory bytes, pods count, ...).
        labels: Node labels.
        taints: Node taints.
        unschedulable: ``spec.unschedulable`` (cordoned).
        images: Image name → size in bytes (every name of an image listed separately).
        gpu_count: Number of GPUs (per-GPU state is tracked in the table).
        gpu_model: GPU model (e.g. "V100M16"), or None.
    """

    name: str
    allocatable: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Taint] = field(default_factory=list)
    unschedulable: bool = False
    images: dict[str, int] = field(default_factory=dict)
    gpu_count: int = 0
    gpu_model: str | None = None

    def __repr__(self) -> str:
        return f"Node({self.name!r})"
