"""Kubelet and kube-proxy settings (sections ``kubelet:`` and ``kubeproxy:`` of a scenario).

Every delay is a named :class:`~kbench.dist.Dist` whose default cites its source in CALIBRATION.md
(F, H sections); where CALIBRATION.md has no number the docstring says "kbench default" and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from kbench.dist import Dist
from kbench.errors import ConfigError


@dataclass(frozen=True)
class KubeletConfig:
    """The kubelet's pod startup pipeline, heartbeats and status reporting (F4-F23).

    Attributes:
        lease_renew_interval_s: Node lease renewal period (F6: 10 s).
        lease_renew_jitter: Each renewal waits ``interval x (1 + jitter x U[0,1))`` after the
            previous one finished (upstream lease controller ``JitterUntil(sync, renewInterval,
            0.04, sliding)``; not in CALIBRATION.md).
        lease_retries: Attempts per renewal before giving up until the next period (F6: 5).
        lease_retry_initial_s: First retry delay of a failed renewal (F6: 200 ms, doubling).
        lease_retry_max_s: Retry delay cap (F6: 7 s).
        lease_batch_tick_s: Renewals fall due on a grid of this period, seconds, and those due at
            the same tick are sent as one batch (one APF admission holding a seat per lease, one
            CPU event for k parallel handler bookings, one etcd proposal of k entries, one watch
            delivery): a performance device (issue 8), 0 renews each lease on its own at its exact
            time. With batching, renewal jitter comes from its own random stream (``kubelet/lease``).
            kbench default 0.1 s: 1 % of the 10 s period (F6) and 0.25 % of the 40 s grace period
            (F7), so node health is unchanged (a renewal is sent at most 0.1 s late), while a
            1,500-node fleet renews about 15 leases per tick, so the SimPy events per renewal
            drop about tenfold (leases are ~80 % of the requests of the openb replay).
        node_status_report_s: Full node status post period, GET + PATCH of the Node (F5: 5 min).
        start_spread_s: Kubelets' informers start uniformly in [0, spread) (kbench default 1 s:
            spreads the t = 0 LISTs of a large fleet).
        admission_s: Pod worker dispatch and admission, watch delivery to the sandbox request
            (kbench default: lognormal median 20 ms, p99 390 ms; F19's slow case took 0.39 s).
        sandbox_s: RunPodSandbox including CNI ADD (F17, F18, F23: median 250 ms, p99 1.5 s;
            F18/F19 show 1.5-4.8 s outliers with slow CNI).
        container_start_s: Create + start of one container (F17: median 250 ms, p99 600 ms).
        container_stop_s: Stop + remove of a pod's containers and sandbox (F17: median 250 ms,
            p99 600 ms).
        runtime_parallelism: Runtime operations (sandbox, container start/stop) a node runs at
            once; more queue FIFO (F17: 7-8 containers/s per node at about 250 ms each, i.e.
            about 2 in parallel).
        serialize_image_pulls: Pull one image at a time (F10: true).
        max_parallel_image_pulls: Parallel pulls when not serialized (F10; 0 = unlimited,
            modelled as 16).
        registry_pull_qps: Image pulls started per second per node (F11: 5).
        registry_burst: Pull burst (F11: 10).
        registry_bytes_per_s: Download bandwidth from the registry, bytes/s (kbench default
            50 MB/s; CALIBRATION.md has no number).
        image_pull_latency_s: Fixed part of a pull: resolve, auth, manifest, unpack start (kbench
            default lognormal median 500 ms, p99 2 s; CALIBRATION.md has no number).
        default_image_bytes: Size of an image the kubelet finds in no template, no node list and
            no ``kbench/image-bytes`` annotation (kbench default = PodTemplate's 300 kB pause).
        pleg: ``generic`` (relist every ``pleg_relist_period_s``, F4) or ``evented`` (F20).
        pleg_relist_period_s: Generic PLEG relist period (F4: 1 s); a container start or exit is
            noticed at the node's next relist tick (each node has a random phase).
        evented_pleg_s: CRI event delay with evented PLEG (F20: about 1 ms).
        status_retry_s: A failed status write is retried at the status manager's next sync
            (F16: syncPeriod 10 s).
        retry_after_s: Wait after a 429 before retrying (A28: Retry-After starts at 1 s).
        token_request: Send a TokenRequest (``create serviceaccounts/token``) per pod start, for
            the projected service-account token volume (issue 4 item 2); it stores nothing (J12).
        token_refresh: Request a new token for each running pod once the previous one is older
            than ``token_refresh_fraction x token_expiration_s`` less a random jitter (J13).
        token_refresh_fraction: J13: 0.8 of the requested TTL.
        token_expiration_s: The TTL the projected volume asks for (J13: 3607 s).
        token_jitter_s: Up to this much earlier, uniformly (J13: 10 s).
        token_batch_tick_s: Token refreshes due within one tick go out as one batch (kbench
            default 1 s, a performance device as ``lease_batch_tick_s``).
        status_writes: ``upstream``: the status manager writes Pending at admission, Running at
            the containers' start, Ready when a readiness probe passes, and the terminal phase
            before deleting a pod (J10); ``minimal``: only Running and a natural exit (kbench
            before issue 18, for A/B studies).
        status_get: The status manager's GET of the pod before each sync (J9): ``charged`` books
            its CPU, etcd read and latency without events (a kbench performance device, its APF
            seat is not modelled), ``off`` leaves it out.
        deleted_pod_phase: Terminal phase a deleted running pod reports once its containers
            stopped (upstream: Succeeded when every container exited 0, as a pause or a well-behaved
            server on SIGTERM; kbench default Succeeded, not confirmed for real workloads).
        event_qps: The kubelet's Event client, Events/s (C4: eventRecordQPS 50).
        event_burst: Its burst (C4: eventBurst 100).
    """

    lease_renew_interval_s: float = 10.0  # F6
    lease_renew_jitter: float = 0.04  # upstream lease controller (not in CALIBRATION.md)
    lease_retries: int = 5  # F6
    lease_retry_initial_s: float = 0.2  # F6
    lease_retry_max_s: float = 7.0  # F6
    lease_batch_tick_s: float = 0.1  # kbench default (performance; 0 = exact per-lease path)
    node_status_report_s: float = 300.0  # F5
    start_spread_s: float = 1.0  # kbench default
    admission_s: Dist = Dist.lognormal(0.02, 0.39)  # kbench default; F19 tail
    sandbox_s: Dist = Dist.lognormal(0.25, 1.5)  # F17, F18, F23
    container_start_s: Dist = Dist.lognormal(0.25, 0.6)  # F17
    container_stop_s: Dist = Dist.lognormal(0.25, 0.6)  # F17
    runtime_parallelism: int = 2  # F17 (derived)
    serialize_image_pulls: bool = True  # F10
    max_parallel_image_pulls: int = 0  # F10
    registry_pull_qps: float = 5.0  # F11
    registry_burst: int = 10  # F11
    registry_bytes_per_s: float = 50e6  # kbench default
    image_pull_latency_s: Dist = Dist.lognormal(0.5, 2.0)  # kbench default
    default_image_bytes: float = 300_000  # kbench default
    pleg: str = "generic"  # F4 (evented: F20)
    pleg_relist_period_s: float = 1.0  # F4
    evented_pleg_s: Dist = Dist.const(0.001)  # F20
    status_retry_s: float = 10.0  # F16
    retry_after_s: float = 1.0  # A28
    token_request: bool = True  # issue 4 item 2
    token_refresh: bool = True  # J13
    token_refresh_fraction: float = 0.8  # J13
    token_expiration_s: float = 3607.0  # J13
    token_jitter_s: float = 10.0  # J13
    token_batch_tick_s: float = 1.0  # kbench default (performance)
    status_writes: str = "upstream"  # J10
    status_get: str = "charged"  # J9 (charged: kbench performance device)
    deleted_pod_phase: str = "Succeeded"  # kbench default (J10; exit 0 on SIGTERM)
    event_qps: float = 50.0  # C4
    event_burst: int = 100  # C4

    def __post_init__(self) -> None:
        if self.pleg not in ("generic", "evented"):
            raise ConfigError(f"unknown pleg {self.pleg!r}: expected generic or evented", where="kubelet.pleg")
        for name in ("lease_renew_interval_s", "pleg_relist_period_s", "registry_bytes_per_s",
                     "node_status_report_s"):
            if getattr(self, name) <= 0:
                raise ConfigError("must be > 0", where=f"kubelet.{name}")
        if self.runtime_parallelism < 1:
            raise ConfigError("must be >= 1", where="kubelet.runtime_parallelism")
        if self.lease_batch_tick_s < 0:
            raise ConfigError("must be >= 0", where="kubelet.lease_batch_tick_s")
        if self.lease_retries < 1:
            raise ConfigError("must be >= 1", where="kubelet.lease_retries")
        for name, allowed in (("status_writes", ("upstream", "minimal")), ("status_get", ("charged", "off")),
                              ("deleted_pod_phase", ("Succeeded", "Failed"))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"expected one of {', '.join(allowed)}, got {getattr(self, name)!r}",
                                  where=f"kubelet.{name}")

    @property
    def image_pull_slots(self) -> int:
        """Pulls a node runs at once (F10)."""
        if self.serialize_image_pulls:
            return 1
        return self.max_parallel_image_pulls if self.max_parallel_image_pulls >= 1 else 16


PROXY_MODES = ("iptables", "nftables", "ipvs", "fixed")


@dataclass(frozen=True)
class KubeProxyConfig:
    """kube-proxy's rule sync (H1-H6) and its cost by mode (L1-L6,
    :mod:`kbench.cluster.proxy.synccost`).

    Attributes:
        min_sync_period_s: Minimum interval between rule syncs (H1: 1 s; 0 = sync on every change).
        sync_burst: Syncs allowed back to back before ``min_sync_period_s`` applies (upstream
            iptables proxier ``burstSyncs := 2`` for its BoundedFrequencyRunner; not in
            CALIBRATION.md). Set 1 for a strict ``max(delivery, last sync + min period)``.
        sync_s: The fixed part ``t0`` of one rule sync (kbench default lognormal median 50 ms,
            p99 500 ms); the part that grows with Services and endpoints is added by ``mode``.
        start_spread_s: kube-proxies' first LISTs start uniformly in [0, spread) (kbench default 1 s).
        mode: ``iptables`` (H3: the Linux default), ``nftables`` (L4), ``ipvs`` (deprecated, L6) or
            ``fixed`` (``sync_s`` only, kbench before issue 18).
        partial_sync: Syncs rewrite only what changed (KEP-3453, GA 1.28, L2); off makes every sync
            a full one (before KEP-3453).
        full_sync_period_s: A proxy also does a full sync this long after its last one
            (upstream ``proxyutil.FullSyncPeriod``; kbench default 1 h, the value was not confirmed).
        large_cluster_endpoints: Above this many endpoints kube-proxy is in "large cluster" mode
            (pkg/proxy/iptables/proxier.go @ 092dddd1 ``largeClusterEndpointsThreshold`` 1000).
        skip_full_sync_in_large_cluster: No periodic full sync in large-cluster mode (L3, PR #138571).
        objects_per_service: iptables chains and rules per Service port (kbench reading of L1: 2 + 3).
        objects_per_endpoint: iptables chains and rules per endpoint (kbench reading of L1: 1 + 3).
        iptables_partial_s_per_object: Fitted to L2 (5,000-node CL2, after KEP-3453: NPL p50 13 s).
        iptables_full_s_per_object: Fitted to L2 (the same test before KEP-3453: NPL p50 27 s).
        nftables_partial_s_per_element: Fitted to PR #126013 (141 ms at 10,000 Services x 2 endpoints).
        nftables_full_s_per_element: Fitted to issue #135639 (13 min 15 s at 255,017 elements).
        ipvs_s_per_service: L6 (0.8-1.5 ms per rule, third party): one touched Service per sync.
    """

    min_sync_period_s: float = 1.0  # H1
    sync_burst: int = 2  # upstream proxier burstSyncs (not in CALIBRATION.md)
    sync_s: Dist = Dist.lognormal(0.05, 0.5)  # kbench default
    start_spread_s: float = 1.0  # kbench default
    mode: str = "iptables"  # H3
    partial_sync: bool = True  # L2 (KEP-3453 GA)
    full_sync_period_s: float = 3600.0  # kbench default (proxyutil.FullSyncPeriod, not confirmed)
    large_cluster_endpoints: int = 1000  # proxier.go @ 092dddd1
    skip_full_sync_in_large_cluster: bool = True  # L3
    objects_per_service: float = 5.0  # kbench assumption (L1 rule layout)
    objects_per_endpoint: float = 4.0  # kbench assumption (L1 rule layout)
    iptables_partial_s_per_object: float = 2.02e-5  # L2 (fitted: 7.5 s at O = 369,250)
    iptables_full_s_per_object: float = 4.77e-5  # L2 (fitted: 17.7 s at O = 369,250)
    nftables_partial_s_per_element: float = 3.03e-6  # L4, PR #126013 (fitted)
    nftables_full_s_per_element: float = 3.12e-3  # L4, issue #135639 (fitted)
    ipvs_s_per_service: float = 1.15e-3  # L6 (midpoint, anecdotal)

    def __post_init__(self) -> None:
        if self.sync_burst < 1:
            raise ConfigError("must be >= 1", where="kubeproxy.sync_burst")
        if self.mode not in PROXY_MODES:
            raise ConfigError(f"expected one of {', '.join(PROXY_MODES)}, got {self.mode!r}", where="kubeproxy.mode")
