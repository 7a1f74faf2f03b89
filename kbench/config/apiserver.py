"""kube-apiserver settings (section ``apiserver:``): handler costs, APF, the watch cache.

Each default names its source fact id (``# A11``) from CALIBRATION.md sections A and I, or says
"kbench default" where the calibration has no entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kbench.dist import Dist
from kbench.errors import ConfigError

# ------------------------------------------------------------------------------------------ APF


@dataclass(frozen=True)
class PriorityLevelConfig:
    """One APF priority level (A8, A9).

    Attributes:
        shares: nominalConcurrencyShares.
        lendable_percent: lendablePercent: the share of NominalCL other levels may borrow (A10).
        borrowing_limit_percent: borrowingLimitPercent: how far above NominalCL this level may
            borrow; None (the default of every shipped level, A8) lets it borrow up to ServerCL.
        queues: Number of queues; 0 with ``reject`` means no queuing.
        hand_size: Shuffle-sharding hand size.
        queue_length_limit: Requests per queue before 429.
        reject: LimitResponse=Reject (catch-all): excess requests get 429 at once.
        exempt: Never limited (the exempt level).
    """

    shares: int = 30
    lendable_percent: int = 0
    queues: int = 64
    hand_size: int = 6
    queue_length_limit: int = 50
    reject: bool = False
    exempt: bool = False
    borrowing_limit_percent: int | None = None  # A8, A10 (unset)


def _default_levels() -> dict[str, PriorityLevelConfig]:
    P = PriorityLevelConfig
    return {  # A8 (shares, lendable %), A9 (queues, handSize, queueLengthLimit)
        "exempt": P(shares=0, queues=0, hand_size=1, queue_length_limit=0, exempt=True),
        "system": P(30, 33, 64, 6, 50),
        "node-high": P(40, 25, 64, 6, 50),
        "leader-election": P(10, 0, 16, 4, 50),
        "workload-high": P(40, 50, 128, 6, 50),
        "workload-low": P(100, 90, 128, 6, 50),
        "global-default": P(20, 50, 128, 6, 50),
        "catch-all": P(5, 0, 0, 1, 0, reject=True),
    }


@dataclass(frozen=True)
class FlowSchemaConfig:
    """One APF FlowSchema (A12), matched in ascending ``precedence``.

    A request matches when its user is in ``users`` or one of its groups is in ``groups`` (subjects
    are OR-ed, as upstream; ``*`` in groups matches everyone), and its verb and resource match
    ``verbs`` and ``resources`` (``*`` matches anything). Clients in kbench
    carry a user, groups, verb and resource (kube-scheduler is user ``system:kube-scheduler``,
    kubelets are ``system:node:<name>`` in group ``system:nodes``, and so on).

    Attributes:
        level: Priority level name.
        precedence: matchingPrecedence (lower wins).
        users: Matching user names.
        groups: Matching groups.
        verbs: Matching verbs (``get list watch create update patch delete``).
        resources: Matching resources (``pods``, ``leases``, ``nodes``, ``*``).
        distinguisher: ``user``, ``namespace`` or ``none``: what makes a flow.
    """

    level: str = "global-default"
    precedence: int = 9900
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=lambda: ["*"])
    resources: list[str] = field(default_factory=lambda: ["*"])
    distinguisher: str = "user"


def _default_flow_schemas() -> dict[str, FlowSchemaConfig]:
    F = FlowSchemaConfig
    return {  # A12 (current bootstrap set)
        "exempt": F("exempt", 1, groups=["system:masters"], distinguisher="none"),
        "system-leader-election": F("leader-election", 100,
                                    users=["system:kube-controller-manager", "system:kube-scheduler"],
                                    verbs=["get", "create", "update"], resources=["leases"]),
        "system-node-high": F("node-high", 400, groups=["system:nodes"],
                              resources=["nodes", "nodes/status", "leases"]),
        "system-nodes": F("system", 500, groups=["system:nodes"]),
        "kube-controller-manager": F("workload-high", 800, users=["system:kube-controller-manager"],
                                     distinguisher="namespace"),
        "kube-scheduler": F("workload-high", 800, users=["system:kube-scheduler"],
                            distinguisher="namespace"),
        "kube-system-service-accounts": F("workload-high", 900, groups=["system:serviceaccounts:kube-system"],
                                          distinguisher="namespace"),
        "service-accounts": F("workload-low", 9000, groups=["system:serviceaccounts"]),
        "global-default": F("global-default", 9900, groups=["system:authenticated", "system:unauthenticated"]),
        "catch-all": F("catch-all", 10000, groups=["*"]),
    }


@dataclass(frozen=True)
class FlowControlConfig:
    """API Priority and Fairness, or the legacy max-inflight limits.

    Attributes:
        enabled: APF on (the default since 1.20); off means legacy max-inflight (A3).
        max_requests_inflight: Read-only limit (A1: 400).
        max_mutating_requests_inflight: Mutating limit (A2: 200). With APF the two are summed
            into the server concurrency limit (A3: 600 seats).
        levels: Priority levels by name (A8, A9).
        flow_schemas: Flow schemas by name (A12).
        objects_per_seat: LIST work estimate (A14: 100).
        watches_per_seat: Extra final seat per this many watchers of a mutated object (A14: 10).
        event_additional_duration_s: How long final seats are held after a mutating request
            (A14: 5 ms).
        max_mutating_seats: Global cap on seats of a mutating request (A14: 10).
        max_list_seats: Global cap on seats of a LIST (A14: 10; 100 with size-based estimates).
        level_seat_cap_fraction: Per-level cap = max(1, min(ceil(f x NominalCL),
            floor(NominalCL / handSize))) (A14: 0.15).
        queue_wait_limit_s: A queued request is rejected after waiting this long (A25: 60 s / 4).
        fq_estimated_service_s: Service time fair queuing charges per seat at dispatch, corrected
            by the actual time at completion, seconds (upstream constant estimatedServiceDuration
            3 ms in kubernetes/apiserver queueset.go; no CALIBRATION fact).
        borrowing: Levels lend and borrow seats (A10, A27, I15); off keeps every level at its
            NominalCL (for comparison runs).
        borrowing_period_s: How often the limits are recomputed (I15: borrowingAdjustmentPeriod 10 s).
        demand_smoothing: Seat-demand smoothing coefficient per period (I15: 0.977).
        max_list_seats_size_based: Global cap on LIST seats with SizeBasedListCostEstimate (A14: 100).
        retry_after_max_s: Largest Retry-After of a 429 (A28: 32 s).
    """

    enabled: bool = True  # A3
    max_requests_inflight: int = 400  # A1
    max_mutating_requests_inflight: int = 200  # A2
    levels: dict[str, PriorityLevelConfig] = field(default_factory=_default_levels)
    flow_schemas: dict[str, FlowSchemaConfig] = field(default_factory=_default_flow_schemas)
    objects_per_seat: int = 100  # A14
    watches_per_seat: int = 10  # A14
    event_additional_duration_s: float = 0.005  # A14
    max_mutating_seats: int = 10  # A14
    max_list_seats: int = 10  # A14
    level_seat_cap_fraction: float = 0.15  # A14
    queue_wait_limit_s: float = 15.0  # A25
    fq_estimated_service_s: float = 0.003  # upstream queueset.go estimatedServiceDuration (no fact id)
    borrowing: bool = True  # A10, A27, I15
    borrowing_period_s: float = 10.0  # I15
    demand_smoothing: float = 0.977  # I15
    max_list_seats_size_based: int = 100  # A14, A16
    retry_after_max_s: float = 32.0  # A28

    def __post_init__(self) -> None:
        for name, schema in self.flow_schemas.items():
            if schema.level not in self.levels:
                raise ConfigError(f"flow schema '{name}' names unknown level '{schema.level}'",
                                  where=f"apiserver.flowcontrol.flow_schemas.{name}.level")


# ------------------------------------------------------------------------------------ apiserver


@dataclass(frozen=True)
class WatchCacheConfig:
    """The apiserver watch cache (A18-A23).

    Attributes:
        enabled: Serve LIST and WATCH from the cache (A18: on).
        history_events_min: Lower bound of the event history (A19: 100).
        history_events_max: Upper bound of the event history (A19: 102,400).
        fresh_duration_s: History the cache aims to keep (A19: 75 s).
        etcd_to_cache_s: Delay from etcd commit to the cache seeing the event, seconds
            (F23, I8: well under 100 ms; kbench default lognormal 5 ms median, 50 ms p99).
        buffer_min: Smallest per-watcher channel (A21: 10).
        buffer_max_indexed_trigger: Largest channel for an indexed watch with a trigger, pods by
            node (A21: 10).
        buffer_max_indexed: Largest channel for other indexed watches (A21: 1000).
        buffer_max: Largest channel for unindexed watches (A21: 100).
        channels_per_watcher: Channels of that size between the dispatcher and the connection
            (I18: ``input`` and ``result`` of cache_watcher.go: 2).
        slow_budget_refill_s_per_s: Blocked-dispatch budget refill rate (A22: 50 ms per s).
        slow_budget_max_s: Budget cap (A22: 100 ms).
        bookmark_interval_s: Bookmark frequency (A23: 1 min).
        bookmark_before_deadline_s: A last bookmark this long before a watch's deadline (A23: 2 s).
        block_timeout_s: Longest wait for the cache to reach a revision (A20: 3 s).
        progress_request_period_s: While reads wait, the cache asks etcd for progress this often
            (I8, I20: 100 ms).
        disabled_resources: Resources kube-apiserver keeps no watch cache for: their GETs and
            LISTs are served by etcd whatever their resourceVersion (upstream: events, in
            ``DefaultWatchCacheSizes``, kubernetes/kubernetes
            pkg/kubeapiserver/default_storage_factory_builder.go at 0260c7d, "switching on Cacher
            for events will lead to too high memory consumption"; ``--watch-cache-sizes=R#0``
            adds one). kbench still serves their WATCHes from a cache, where upstream opens an
            etcd watch per request (the run's ``ignored`` list says so when it happens).
    """

    enabled: bool = True  # A18
    history_events_min: int = 100  # A19
    history_events_max: int = 102_400  # A19
    fresh_duration_s: float = 75.0  # A19
    etcd_to_cache_s: Dist = Dist.lognormal(0.005, 0.05)  # F23, I8
    buffer_min: int = 10  # A21
    buffer_max_indexed_trigger: int = 10  # A21
    buffer_max_indexed: int = 1000  # A21 (indexed without trigger)
    buffer_max: int = 100  # A21
    channels_per_watcher: int = 2  # I18
    slow_budget_refill_s_per_s: float = 0.05  # A22
    slow_budget_max_s: float = 0.1  # A22
    bookmark_interval_s: float = 60.0  # A23
    bookmark_before_deadline_s: float = 2.0  # A23
    block_timeout_s: float = 3.0  # A20
    progress_request_period_s: float = 0.1  # I8, I20
    disabled_resources: tuple[str, ...] = ("events",)  # DefaultWatchCacheSizes (upstream, 0260c7d)


@dataclass(frozen=True)
class GzipConfig:
    """Compression of large responses (I3, I24, I29-I31).

    The apiserver gzips a GET or LIST response (a LIST page) above the threshold at level 1 when the
    client accepts gzip, as every client-go client does unless it sets ``DisableCompression``
    (kube-scheduler and kube-controller-manager do: ``clients.<class>.disable_compression``, I29).
    Watch events are never compressed. One ratio and one CPU cost per byte stand for every kind of
    object (upstream's depend on the content; the run's ``ignored`` says so).

    Attributes:
        enabled: Compress responses above the threshold for clients that accept gzip (upstream:
            on while the APIResponseCompression gate is, the default).
        threshold_bytes: Smallest response compressed (I3: 128 KiB).
        ratio: Uncompressed / compressed size (I30: a node LIST at the apiserver's level 1, ~5 MB
            to ~1 MB).
        cpu_s_per_byte: Compression CPU per uncompressed byte, seconds (I31: 5 ns/B).
    """

    enabled: bool = True  # upstream default (APIResponseCompression, I24)
    threshold_bytes: float = 131072  # I3
    ratio: float = 5.0  # I30
    cpu_s_per_byte: float = 5e-9  # I31


@dataclass(frozen=True)
class MemoryConfig:
    """The apiserver heap model (:mod:`kbench.cluster.apiserver.memory`).

    Attributes:
        base_bytes: Process baseline, bytes (kbench default 200 MiB).
        object_inflation: Decoded object in the watch cache / its serialized size (kbench default
            3; KEP-3157: "much bigger, even by an order of magnitude").
        per_watcher_bytes: Heap per open watch (I23: 50-100 KiB per watch; 64 KiB).
        etcd_list_factor: Heap of a LIST from etcd / the bytes etcd returned (I10: 5).
        cache_list_factor: Heap of a LIST from the cache without streaming encoding / its response
            bytes (kbench default 2: one buffer grown by doubling, KEP-5116).
        limit_bytes: The apiserver dies out of memory above this, bytes (0: no limit).
        oom_restart_s: Downtime of an out-of-memory restart, seconds (kbench default 30 s).
    """

    base_bytes: float = 200 * 2**20  # kbench default
    object_inflation: float = 3.0  # kbench default, cf. KEP-3157
    per_watcher_bytes: float = 64 * 2**10  # I23
    etcd_list_factor: float = 5.0  # I10
    cache_list_factor: float = 2.0  # kbench default, cf. KEP-5116
    limit_bytes: float = 0.0  # off
    oom_restart_s: float = 30.0  # kbench default


@dataclass(frozen=True)
class ApiserverConfig:
    """kube-apiserver: handler CPU on a pool of cores, timeouts, admission webhooks, APF, watch.

    CPU costs are per request, in seconds of one core. CALIBRATION.md has LIST costs (I7) and
    latencies (I11, I12) but no absolute CPU per GET or write ("not confirmed"); the fixed costs
    below are kbench defaults chosen so that a cached GET takes ~1 ms at low load (I12).

    Attributes:
        cores: Cores for request handling (kbench default 16; SIG Scalability's 5000-node master
            has 64 cores in all, I14).
        request_base_cpu_s: Decode, authentication, RBAC authorization, per request (kbench default).
        admission_cpu_s: Built-in admission chain, per mutating request (kbench default).
        delete_collection_workers: ``--delete-collection-workers``: a DELETECOLLECTION deletes its
            items one at a time on this many workers, each item a DELETE of its own (default 1:
            apiserver pkg/server/options/etcd.go @ 00f2690d; registry/generic/registry/store.go
            ``DeleteCollection`` @ 0021a864).
        encode_cpu_s_per_byte: Serialization cost per response byte (kbench default ~2.5 ms/MB;
            cross-check: 2.5 ns/B x a 2 KB Pod = 5 us vs 4.8 us per protobuf encode, I17).
        list_cache_cpu_s_per_object: LIST from the watch cache, per object scanned (I7: 1.8 us).
        list_etcd_cpu_s_per_object: LIST from etcd, decode and filter per key read (I22: 16.3 us,
            fitted with the per-byte cost on I6; I7's 26 us per 1 KB object is both together).
        list_etcd_cpu_s_per_byte: LIST from etcd, decode per byte read (I22: 10.1 ns/B, I6's
            1 MB objects).
        list_gc_parallel_fraction: Share of that per-byte work done by Go's concurrent GC workers,
            charged to the pool but not on the request's path (I22: 0.74, fitted on I6's 1 MB
            LIST latency).
        watch_event_encode_cpu_s: Fixed part of the one encode per watch event shared by all its
            watchers (I9); the per-byte part is ``encode_cpu_s_per_byte`` (kbench default 1 us).
        watch_send_cpu_s: Per-watcher work per event with the serialization cached (I17: 10.6 us,
            BenchmarkWatchCachingObjectProtobuf of PR #120300, an upper bound: client decode in
            the same process).
        watch_send_cpu_s_per_byte: Per-watcher work per event byte (copy and TLS; kbench default
            1 ns/B).
        watch_dispatch_s_per_watcher: The cacher's serial dispatcher, per watcher (a non-blocking
            channel send, I18; kbench default 0.2 us).
        watch_small_fanout: Fan-outs up to this many watchers are booked one job at a time, larger
            ones water-filled in numpy (an implementation threshold, not a model parameter).
        watch_event_frame_bytes: Framing of one watch event (type, envelope, length; kbench
            default 40 B).
        bookmark_bytes: One bookmark event (kbench default 150 B).
        watchlist_stream_bytes: Heap of one WatchList stream or streamed LIST (I10: ~2 MB).
        network_bytes_per_s: Bandwidth between the apiserver and one client, bytes/s (kbench
            default 1.25 GB/s = 10 Gbit/s).
        nic_bytes_per_s: The apiserver's shared egress, bytes/s (kbench default 10 Gbit/s).
        webhook_enabled: Call an admission webhook on every mutating request.
        webhook_s: The webhook's round trip, seconds (kbench default lognormal 5 ms / 50 ms).
        token_sign_cpu_s: CPU of signing one service-account token (a TokenRequest), seconds
            (kbench default 1 ms: an RS256 signature with a 2048-bit key; not measured upstream).
        token_read_bytes: Size of each of the two objects a TokenRequest reads from etcd (the
            ServiceAccount and the pod, J12), bytes (kbench default 1 KB).
        token_response_bytes: Size of a TokenRequest response (the JWT and status), bytes (kbench
            default 1,200).
        request_timeout_s: Handler timeout (A4: 60 s).
        min_request_timeout_s: Watch timeout base for clients that send none (A5: 1800 s).
        flowcontrol: APF or max-inflight.
        watch_cache: The watch cache.
        gzip: Response compression (:class:`GzipConfig`).
        memory: The heap model and the optional out-of-memory limit.
    """

    cores: int = 16  # kbench default, cf. I14
    request_base_cpu_s: float = 300e-6  # kbench default, cf. I12
    admission_cpu_s: float = 200e-6  # kbench default
    delete_collection_workers: int = 1  # --delete-collection-workers default (options/etcd.go @ 00f2690d)
    encode_cpu_s_per_byte: float = 2.5e-9  # kbench default
    list_cache_cpu_s_per_object: float = 1.8e-6  # I7
    list_etcd_cpu_s_per_object: float = 16.3e-6  # I22 (fit on I6)
    list_etcd_cpu_s_per_byte: float = 10.1e-9  # I22 (fit on I6)
    list_gc_parallel_fraction: float = 0.74  # I22 (fit on I6)
    watch_event_encode_cpu_s: float = 1e-6  # I9 (one encode per event), kbench default value
    watch_send_cpu_s: float = 10.6e-6  # I17
    watch_send_cpu_s_per_byte: float = 1e-9  # kbench default
    watch_dispatch_s_per_watcher: float = 0.2e-6  # I18 structure, kbench default value
    watch_small_fanout: int = 16  # implementation threshold
    watch_event_frame_bytes: float = 40  # kbench default
    bookmark_bytes: float = 150  # kbench default
    watchlist_stream_bytes: float = 2 * 2**20  # I10
    network_bytes_per_s: float = 1.25e9  # kbench default
    nic_bytes_per_s: float = 1.25e9  # kbench default
    webhook_enabled: bool = False
    webhook_s: Dist = Dist.lognormal(0.005, 0.05)  # kbench default
    token_sign_cpu_s: float = 0.001  # kbench default (J12: TokenRequest signs, stores nothing)
    token_read_bytes: int = 1024  # kbench default
    token_response_bytes: int = 1200  # kbench default
    request_timeout_s: float = 60.0  # A4
    min_request_timeout_s: float = 1800.0  # A5
    flowcontrol: FlowControlConfig = field(default_factory=FlowControlConfig)
    watch_cache: WatchCacheConfig = field(default_factory=WatchCacheConfig)
    gzip: GzipConfig = field(default_factory=GzipConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)

    def __post_init__(self) -> None:
        if self.cores < 1:
            raise ConfigError("must be >= 1", where="apiserver.cores")
        if self.delete_collection_workers < 1:
            raise ConfigError("must be >= 1", where="apiserver.delete_collection_workers")
        if not 0.0 <= self.list_gc_parallel_fraction < 1.0:
            raise ConfigError("must be in [0, 1)", where="apiserver.list_gc_parallel_fraction")
        for name in ("network_bytes_per_s", "nic_bytes_per_s"):
            if getattr(self, name) <= 0:
                raise ConfigError("must be > 0", where=f"apiserver.{name}")
