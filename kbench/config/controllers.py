"""kube-controller-manager settings (section ``controllers:`` of a scenario).

Defaults cite CALIBRATION.md fact ids; where the calibration has no entry the source is named
(kubernetes/kubernetes defaults files) or the value is marked as a kbench default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kbench.errors import ConfigError

NAMESPACED = ["pods", "services", "endpointslices", "configmaps", "serviceaccounts", "resourcequotas", "events",
              "deployments", "replicasets", "daemonsets", "statefulsets", "controllerrevisions", "jobs"]
"""kbench's namespaced resource types (the namespace controller's DELETECOLLECTIONs)."""
EXTRA_NAMESPACED = ["secrets", "endpoints", "limitranges", "persistentvolumeclaims", "podtemplates",
                    "replicationcontrollers", "horizontalpodautoscalers", "cronjobs", "leases", "ingresses",
                    "networkpolicies", "poddisruptionbudgets", "roles", "rolebindings",
                    "csistoragecapacities"]
"""Namespaced kinds a real cluster serves that hold nothing in kbench (kbench default list of 15;
the exact set depends on the cluster's API groups)."""


@dataclass(frozen=True)
class ControllersConfig:
    """Controllers of kube-controller-manager.

    Attributes:
        node_monitor_grace_period_s: A node without a lease renewal this long is NotReady (F7: 50 s).
        node_monitor_period_s: How often the node lifecycle controller checks leases, seconds
            (F7: 5 s).
        node_eviction_rate_per_s: Nodes per second whose pods may be evicted (NoExecute taints
            added) in a healthy zone (F7: 0.1).
        secondary_node_eviction_rate_per_s: The same in a partially disrupted zone of a large
            cluster (F7: 0.01).
        unhealthy_zone_threshold: Fraction of NotReady nodes (at least 3) that makes a zone
            partially disrupted (kube-controller-manager ``--unhealthy-zone-threshold`` 0.55).
        large_cluster_size_threshold: A zone of at most this many nodes stops evicting when
            partially disrupted instead of using the secondary rate
            (``--large-cluster-size-threshold`` 50).
        default_toleration_s: Toleration of ``node.kubernetes.io/unreachable:NoExecute`` for pods
            that declare none, seconds (F8: 300, added by the DefaultTolerationSeconds admission).
        replicaset_workers: ``--concurrent-replicaset-syncs`` (5; kubernetes/kubernetes
            pkg/apis/componentconfig/v1alpha1/defaults.go, ConcurrentRSSyncs).
        job_workers: ``--concurrent-job-syncs`` (5; same file, ConcurrentJobSyncs; flag added in
            kubernetes/kubernetes PR #117138).
        endpointslice_workers: ``--concurrent-service-endpoint-syncs`` (5;
            RecommendedDefaultEndpointSliceControllerConfiguration).
        resourcequota_workers: ``--concurrent-resource-quota-syncs`` (5; defaults.go).
        namespace_workers: ``--concurrent-namespace-syncs`` (10; defaults.go).
        burst_replicas: Pods a ReplicaSet creates or deletes per sync (500;
            pkg/controller/replicaset ``BurstReplicas``), in slow-start batches 1, 2, 4, ...
        max_endpoints_per_slice: ``--max-endpoints-per-slice`` (H4: 100).
        job_sync_batch_s: Pod events of a Job are batched this long before a sync
            (pkg/controller/job ``syncJobBatchPeriod`` 1 s).
        job_backoff_initial_s: Delay before re-creating a failed Job pod, doubling per failure
            (pkg/controller/job ``DefaultJobPodFailureBackOff`` 10 s).
        job_backoff_max_s: Cap of that delay (``MaxJobPodFailureBackOff`` 10 min).
        namespace_recheck_s: Not used since issue 18 (a terminating namespace is requeued after
            ``estimate / 2 + 1`` s, K8); accepted so that older scenarios still load.
        requeue_initial_s: First per-item retry delay after a failed sync (client-go
            ``DefaultControllerRateLimiter``: 5 ms, doubling).
        requeue_max_s: Cap of the per-item retry delay (client-go: 1000 s).
        deployment_workers: ``--concurrent-deployment-syncs`` (K2: 5).
        daemonset_workers: ``--concurrent-daemonset-syncs`` (K2: 2).
        statefulset_workers: ``--concurrent-statefulset-syncs`` (K2: 5).
        gc_workers: ``--concurrent-gc-syncs`` (K2, K6: 20).
        serviceaccount_workers: ``--concurrent-serviceaccount-token-syncs`` (K2: 5).
        daemonset_burst_replicas: Pods a DaemonSet creates or deletes per sync (K4: 250).
        garbage_collector: Run the garbage collector (K6); off leaves dependents of deleted owners.
        podgc: Run PodGC (K5).
        terminated_pod_gc_threshold: ``--terminated-pod-gc-threshold`` (K2: 12,500).
        podgc_period_s: PodGC's pass period (K5: gcCheckPeriod 20 s).
        podgc_quarantine_s: How long a node must be missing before its pods are orphans (K5: 40 s).
        namespace_deletion_delay_s: A terminating namespace is synced this long after it is seen
            (K8: namespaceDeletionGracePeriod 5 s).
        namespace_resource_types: The namespaced types the namespace controller empties with one
            DELETECOLLECTION each (K8; kbench's kinds).
        namespace_extra_resource_types: More types it walks that hold nothing in kbench (LIST,
            DELETECOLLECTION, LIST each: K8's "2-3 calls per type"; kbench default 15, not confirmed).
    """

    node_monitor_grace_period_s: float = 50.0  # F7
    node_monitor_period_s: float = 5.0  # F7
    node_eviction_rate_per_s: float = 0.1  # F7
    secondary_node_eviction_rate_per_s: float = 0.01  # F7
    unhealthy_zone_threshold: float = 0.55  # kube-controller-manager reference
    large_cluster_size_threshold: int = 50  # kube-controller-manager reference
    default_toleration_s: float = 300.0  # F8
    replicaset_workers: int = 5  # ConcurrentRSSyncs
    job_workers: int = 5  # ConcurrentJobSyncs
    endpointslice_workers: int = 5  # H4 / ConcurrentServiceEndpointSyncs
    resourcequota_workers: int = 5  # ConcurrentResourceQuotaSyncs
    namespace_workers: int = 10  # ConcurrentNamespaceSyncs
    burst_replicas: int = 500  # replicaset BurstReplicas
    max_endpoints_per_slice: int = 100  # H4
    job_sync_batch_s: float = 1.0  # job syncJobBatchPeriod
    job_backoff_initial_s: float = 10.0  # DefaultJobPodFailureBackOff
    job_backoff_max_s: float = 600.0  # MaxJobPodFailureBackOff
    namespace_recheck_s: float = 5.0  # kbench default
    requeue_initial_s: float = 0.005  # client-go DefaultControllerRateLimiter
    requeue_max_s: float = 1000.0  # client-go DefaultControllerRateLimiter
    deployment_workers: int = 5  # K2
    daemonset_workers: int = 2  # K2
    statefulset_workers: int = 5  # K2
    gc_workers: int = 20  # K2, K6
    serviceaccount_workers: int = 5  # K2
    daemonset_burst_replicas: int = 250  # K4
    garbage_collector: bool = True  # K6
    podgc: bool = True  # K5
    terminated_pod_gc_threshold: int = 12_500  # K2
    podgc_period_s: float = 20.0  # K5
    podgc_quarantine_s: float = 40.0  # K5
    namespace_deletion_delay_s: float = 5.0  # K8
    namespace_resource_types: list[str] = field(default_factory=lambda: list(NAMESPACED))  # K8 (kbench kinds)
    namespace_extra_resource_types: list[str] = field(default_factory=lambda: list(EXTRA_NAMESPACED))  # kbench default

    def __post_init__(self) -> None:
        for name in ("replicaset_workers", "job_workers", "endpointslice_workers", "resourcequota_workers",
                     "namespace_workers", "burst_replicas", "deployment_workers", "daemonset_workers",
                     "statefulset_workers", "gc_workers", "serviceaccount_workers", "daemonset_burst_replicas"):
            if getattr(self, name) < 1:
                raise ConfigError("must be >= 1", where=f"controllers.{name}")
        if not 1 <= self.max_endpoints_per_slice <= 1000:  # H4: valid range 1-1000
            raise ConfigError("must be in [1, 1000]", where="controllers.max_endpoints_per_slice")
        for name in ("node_monitor_grace_period_s", "node_monitor_period_s", "podgc_period_s"):
            if getattr(self, name) <= 0:
                raise ConfigError("must be > 0", where=f"controllers.{name}")
        if not 0 < self.unhealthy_zone_threshold <= 1:
            raise ConfigError("must be in (0, 1]", where="controllers.unhealthy_zone_threshold")
