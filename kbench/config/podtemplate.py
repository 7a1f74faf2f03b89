"""The pod template every workload object shares (``template:`` of Deployments, Jobs, DaemonSets,
StatefulSets and pod groups) and its readiness probe; part of the ``workload:`` section
(:mod:`kbench.config.workload`)."""

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
