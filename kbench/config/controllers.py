"""kube-controller-manager settings (section ``controllers:`` of a scenario).

Defaults cite CALIBRATION.md fact ids; where the calibration has no entry the source is named
(kubernetes/kubernetes defaults files) or the value is marked as a kbench default.
"""

from __future__ import annotations

from dataclasses import dataclass

from kbench.errors import ConfigError


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
        namespace_recheck_s: How often a terminating namespace checks that its pods are gone,
            seconds (kbench default 5 s).
        requeue_initial_s: First per-item retry delay after a failed sync (client-go
            ``DefaultControllerRateLimiter``: 5 ms, doubling).
        requeue_max_s: Cap of the per-item retry delay (client-go: 1000 s).
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

    def __post_init__(self) -> None:
        for name in ("replicaset_workers", "job_workers", "endpointslice_workers", "resourcequota_workers",
                     "namespace_workers", "burst_replicas"):
            if getattr(self, name) < 1:
                raise ConfigError("must be >= 1", where=f"controllers.{name}")
        if not 1 <= self.max_endpoints_per_slice <= 1000:  # H4: valid range 1-1000
            raise ConfigError("must be in [1, 1000]", where="controllers.max_endpoints_per_slice")
        for name in ("node_monitor_grace_period_s", "node_monitor_period_s"):
            if getattr(self, name) <= 0:
                raise ConfigError("must be > 0", where=f"controllers.{name}")
        if not 0 < self.unhealthy_zone_threshold <= 1:
            raise ConfigError("must be in (0, 1]", where="controllers.unhealthy_zone_threshold")
