"""The cluster's nodes and the workload of a lifecycle scenario (sections ``cluster:`` and
``workload:``).

Sizes are Kubernetes quantities (``cpu: 3800m``, ``memory: 15Gi``), times are durations. This is
the minimal workload of the pod-lifecycle issue; the workload-spec issue adds ops, parameter sets
and trace replay on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kbench.dist import Dist
from kbench.errors import ConfigError


@dataclass(frozen=True)
class NodeGroup:
    """A group of identical nodes.

    Attributes:
        count: Number of nodes.
        name_prefix: Nodes are named ``<prefix>-<i>``.
        cpu_cores: Allocatable CPU, cores (``3800m`` = 3.8).
        memory_bytes: Allocatable memory, bytes.
        pods: Allocatable pods (F9: 110).
        gpus: GPUs per node.
        gpu_model: GPU model label.
        labels: Extra node labels.
        taints: Taints as ``key=value:Effect``.
        zones: Nodes are spread round-robin over ``zone-0 .. zone-(zones-1)``
            (label ``topology.kubernetes.io/zone``).
        images: Pre-pulled images: name -> size in bytes.
    """

    count: int = 1
    name_prefix: str = "node"
    cpu_cores: float = 4.0
    memory_bytes: float = 16 * 2**30
    pods: int = 110  # F9
    gpus: int = 0
    gpu_model: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[str] = field(default_factory=list)
    zones: int = 1
    images: dict[str, float] = field(default_factory=dict)


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
        tolerations: Tolerations as ``key=value:Effect``, ``key:Effect`` or ``key`` (Exists).
        gpus: GPUs per pod.
        gpu_milli: Share of each GPU in thousandths (GPU sharing).
        gpu_model: Required GPU model.
        fail_probability: Probability that a finished pod Failed instead of Succeeded.
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

    def __post_init__(self) -> None:
        if not 0 <= self.fail_probability <= 1:
            raise ConfigError("must be in [0, 1]", where="fail_probability")


@dataclass(frozen=True)
class DeploymentSpec:
    """A Deployment (one ReplicaSet; rolling updates are not modelled).

    Attributes:
        name: Name.
        namespace: Namespace.
        replicas: Desired replicas.
        template: Pod template.
        at_s: Creation time, seconds.
        delete_at_s: Deletion time, seconds (0: never).
        service: Create a Service selecting its pods (EndpointSlices, kube-proxy syncs).
    """

    name: str = "deploy"
    namespace: str = "default"
    replicas: int = 1
    template: PodTemplate = field(default_factory=PodTemplate)
    at_s: float = 0.0
    delete_at_s: float = 0.0
    service: bool = False


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
        at_s: Creation time, seconds.
    """

    name: str = "job"
    namespace: str = "default"
    completions: int = 1
    parallelism: int = 1
    backoff_limit: int = 6
    template: PodTemplate = field(default_factory=lambda: PodTemplate(duration_s=Dist.const(30.0)))
    at_s: float = 0.0


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
        at_s: First creation, seconds.
    """

    name: str = "pod"
    namespace: str = "default"
    count: int = 1
    rate_per_s: float = 10.0
    poisson: bool = False
    template: PodTemplate = field(default_factory=PodTemplate)
    at_s: float = 0.0


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
class ClusterConfig:
    """The nodes.

    Attributes:
        nodes: Node groups.
    """

    nodes: list[NodeGroup] = field(default_factory=list)


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
    """

    deployments: list[DeploymentSpec] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)
    pods: list[PodGroupSpec] = field(default_factory=list)
    generic: list[GenericKindSpec] = field(default_factory=list)
    proxy: ProxyRequestSpec = field(default_factory=ProxyRequestSpec)
    quota_namespaces: list[str] = field(default_factory=list)
