"""The scenario schema: typed, frozen, with units in field names and defaults from CALIBRATION.md.

Each default names its source fact id (``# A1``) in a comment. Fields without a fact are documented
choices ("kbench default") and say so. ``load_scenario(path)`` reads a YAML file; the effective config
(every default resolved) is what :func:`kbench.configload.to_dict` returns, and it goes into every
run's manifest together with :func:`kbench.configload.config_hash`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kbench.configload import from_dict, load_yaml
from kbench.configs.controllers import ControllersConfig
from kbench.configs.faults import FaultConfig
from kbench.configs.kubelet import KubeletConfig, KubeProxyConfig
from kbench.configs.scheduler import SchedulerConfig
from kbench.configs.workload import ClusterConfig, WorkloadConfig
from kbench.dist import Dist
from kbench.errors import ConfigError, KbenchError

# ----------------------------------------------------------------------------------------- etcd


@dataclass(frozen=True)
class EtcdConfig:
    """etcd: raft commit with group-committed fsync, MVCC reads, compaction, quota.

    Attributes:
        members: Cluster members (3 in B3/B4).
        rtt_s: Member-to-member round trip, seconds (B19: ~300 us).
        grpc_rtt_s: Client (apiserver) to leader gRPC round trip, seconds (B19: ~300 us).
        fsync_s: WAL fdatasync of one batch, seconds (B19: ~600 us; B1: p99 < 10 ms).
        apply_per_entry_s: Serial per-entry raft/apply/MVCC cost on the leader, seconds. Sets the
            saturated write throughput: 1/22.5 us ~ 44k writes/s (B4, B6).
        max_batch_entries: Most proposals committed by one fsync (kbench default; B16 bounds a
            batch at 1 MiB per append message).
        read_base_s: Fixed CPU per range read, seconds (B5: 1-client serializable read 0.3 ms
            including RTT; 8 cores / 185k reads/s ~ 43 us of CPU each).
        read_per_object_s: CPU per object scanned, seconds (I7: ~13 us per stored 1 KB object).
        read_per_byte_s: CPU per byte returned, seconds (kbench default: 1 ns/B).
        cores: CPU cores serving reads in parallel (B4's VMs have 8 vCPU).
        compaction_interval_s: apiserver-driven compaction period, seconds (A24, B11).
        quota_bytes: Backend quota; writes fail above it (B8: 2 GiB).
        election_timeout_s: Writes stall this long during a leader election (B9: 1 s).
        max_request_bytes: Largest request etcd accepts (B7: 1.5 MiB).
    """

    members: int = 3  # B3
    rtt_s: Dist = Dist.lognormal(300e-6, 1e-3)  # B19
    grpc_rtt_s: Dist = Dist.lognormal(300e-6, 1e-3)  # B19
    fsync_s: Dist = Dist.lognormal(600e-6, 3e-3)  # B19, B1
    apply_per_entry_s: float = 22.5e-6  # B4 (1/44,341 writes/s), B6
    max_batch_entries: int = 10_000  # kbench default (B17's batch limit)
    read_base_s: float = 43e-6  # B5
    read_per_object_s: float = 13e-6  # I7
    read_per_byte_s: float = 1e-9  # kbench default
    cores: int = 8  # B4 setup (8 vCPU)
    compaction_interval_s: float = 300.0  # A24
    quota_bytes: float = 2 * 2**30  # B8
    election_timeout_s: float = 1.0  # B9
    max_request_bytes: float = 1.5 * 2**20  # B7

    def __post_init__(self) -> None:
        if self.members < 1:
            raise ConfigError("must be >= 1", where="etcd.members")
        if self.cores < 1:
            raise ConfigError("must be >= 1", where="etcd.cores")
        if self.max_batch_entries < 1:
            raise ConfigError("must be >= 1", where="etcd.max_batch_entries")


# ------------------------------------------------------------------------------------------ APF


@dataclass(frozen=True)
class PriorityLevelConfig:
    """One APF priority level (A8, A9).

    Attributes:
        shares: nominalConcurrencyShares.
        lendable_percent: lendablePercent (borrowing is not modelled yet; kept for the record).
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
        buffer_min: Smallest per-watcher buffer (A21: 10).
        buffer_max_indexed: Largest buffer for indexed watches such as pods by node (A21: 10... 1000).
        buffer_max: Largest buffer for unindexed watches (A21: 100).
        slow_budget_refill_s_per_s: Blocked-dispatch budget refill rate (A22: 50 ms per s).
        slow_budget_max_s: Budget cap (A22: 100 ms).
        bookmark_interval_s: Bookmark frequency (A23: 1 min).
        block_timeout_s: Longest wait for the cache to reach a revision (A20: 3 s).
    """

    enabled: bool = True  # A18
    history_events_min: int = 100  # A19
    history_events_max: int = 102_400  # A19
    fresh_duration_s: float = 75.0  # A19
    etcd_to_cache_s: Dist = Dist.lognormal(0.005, 0.05)  # F23, I8
    buffer_min: int = 10  # A21
    buffer_max_indexed: int = 1000  # A21 (indexed without trigger)
    buffer_max: int = 100  # A21
    slow_budget_refill_s_per_s: float = 0.05  # A22
    slow_budget_max_s: float = 0.1  # A22
    bookmark_interval_s: float = 60.0  # A23
    block_timeout_s: float = 3.0  # A20


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
        encode_cpu_s_per_byte: Serialization cost per response byte (kbench default ~2.5 ms/MB).
        list_cache_cpu_s_per_object: LIST from the watch cache, per object scanned (I7: 1.8 us).
        list_etcd_cpu_s_per_object: LIST from etcd, per object scanned (I7: 26 us per 1 KB object).
        watch_event_encode_cpu_s: One encode per watch event, shared by all watchers (I9).
        watch_send_cpu_s: Per-watcher send cost of one event (I9: small; kbench default 5 us).
        network_bytes_per_s: Bandwidth between the apiserver and a client, bytes/s (kbench
            default 1.25 GB/s = 10 Gbit/s).
        webhook_enabled: Call an admission webhook on every mutating request.
        webhook_s: The webhook's round trip, seconds (kbench default lognormal 5 ms / 50 ms).
        request_timeout_s: Handler timeout (A4: 60 s).
        min_request_timeout_s: Watch timeout base for clients that send none (A5: 1800 s).
        flowcontrol: APF or max-inflight.
        watch_cache: The watch cache.
    """

    cores: int = 16  # kbench default, cf. I14
    request_base_cpu_s: float = 300e-6  # kbench default, cf. I12
    admission_cpu_s: float = 200e-6  # kbench default
    encode_cpu_s_per_byte: float = 2.5e-9  # kbench default
    list_cache_cpu_s_per_object: float = 1.8e-6  # I7
    list_etcd_cpu_s_per_object: float = 26e-6  # I7
    watch_event_encode_cpu_s: float = 50e-6  # I9 (one encode per event), kbench default value
    watch_send_cpu_s: float = 5e-6  # I9, kbench default value
    network_bytes_per_s: float = 1.25e9  # kbench default
    webhook_enabled: bool = False
    webhook_s: Dist = Dist.lognormal(0.005, 0.05)  # kbench default
    request_timeout_s: float = 60.0  # A4
    min_request_timeout_s: float = 1800.0  # A5
    flowcontrol: FlowControlConfig = field(default_factory=FlowControlConfig)
    watch_cache: WatchCacheConfig = field(default_factory=WatchCacheConfig)

    def __post_init__(self) -> None:
        if self.cores < 1:
            raise ConfigError("must be >= 1", where="apiserver.cores")


# -------------------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class ClientClassConfig:
    """Rate limits and retry behaviour of one client class.

    Attributes:
        qps: Token-bucket refill rate, requests/s (C1: 5).
        burst: Token-bucket size (C1: 10).
        backoff_initial_s: First retry delay after an error or 429 (C7: 800 ms).
        backoff_max_s: Retry delay cap (C7: 30 s).
        watch_timeout_min_s: Informer watch timeout lower bound; the actual timeout is uniform in
            [min, 2 x min) (A7: 5 min).
    """

    qps: float = 5.0  # C1
    burst: int = 10  # C1
    backoff_initial_s: float = 0.8  # C7
    backoff_max_s: float = 30.0  # C7
    watch_timeout_min_s: float = 300.0  # A7


def _default_client_classes() -> dict[str, ClientClassConfig]:
    C = ClientClassConfig
    return {
        "default": C(),  # C1
        "scheduler": C(qps=50, burst=100),  # C2
        "controller-manager": C(qps=20, burst=30),  # C3
        "kubelet": C(qps=50, burst=100),  # C4
        "kube-proxy": C(qps=5, burst=10),  # C5
    }


# ------------------------------------------------------------------------------ sync experiment


@dataclass(frozen=True)
class SyncConfig:
    """The List vs List-Watch experiment (DESIGN.md).

    Attributes:
        strategies: ``poll`` and/or ``list-watch``; each is run separately on the same seed.
        clients: Number of clients, each keeping a cache of the objects.
        objects: Number of objects of the kind.
        object_bytes: Size of one object, bytes (I2: most objects are <= 20 KB; kbench default 1 KB).
        changes_per_s: Updates per second across all objects (Poisson).
        poll_period_s: LIST period of a polling client, seconds.
        poll_jitter: Each polling interval is period x U[1 - j, 1 + j].
        resource: The resource the clients read.
        scope: ``all``: every client caches every object; ``partitioned``: objects are split evenly
            among clients and each client lists and watches only its own (like pods by node).
        client_class: The client class whose QPS/burst applies.
        user_group: APF group the clients belong to (service accounts go to workload-low, A12).
        start_spread_s: Informers start uniformly over this window, seconds (kbench default 10 s).
        apiserver_restart_at_s: Restart the apiserver at this virtual time, seconds (0: never).
        apiserver_downtime_s: How long a restarted apiserver is down, seconds (kbench default 5 s).
    """

    strategies: list[str] = field(default_factory=lambda: ["poll", "list-watch"])
    clients: int = 100
    objects: int = 1000
    object_bytes: float = 1024.0
    changes_per_s: float = 10.0
    poll_period_s: float = 10.0
    poll_jitter: float = 0.1
    resource: str = "configmaps"
    scope: str = "all"
    client_class: str = "default"
    user_group: str = "system:serviceaccounts"
    start_spread_s: float = 10.0
    apiserver_restart_at_s: float = 0.0
    apiserver_downtime_s: float = 5.0

    def __post_init__(self) -> None:
        for s in self.strategies:
            if s not in ("poll", "list-watch"):
                raise ConfigError(f"unknown strategy '{s}': expected poll or list-watch", where="sync.strategies")
        if self.scope not in ("all", "partitioned"):
            raise ConfigError(f"unknown scope '{self.scope}': expected all or partitioned", where="sync.scope")
        if self.poll_period_s <= 0:
            raise ConfigError("must be > 0", where="sync.poll_period_s")
        if self.poll_jitter > 1:
            raise ConfigError("must be <= 1", where="sync.poll_jitter")


# ------------------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class MetricsConfig:
    """Metric collection.

    Attributes:
        series_interval_s: Time-series sampling grid step, seconds.
        latency_buckets_s: Upper bounds of the request-latency histogram, seconds.
    """

    series_interval_s: float = 1.0
    latency_buckets_s: list[float] = field(default_factory=lambda: [
        0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0,
        8.0, 15.0, 30.0, 60.0])


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file.

    Attributes:
        version: Schema version of the file (1).
        name: Scenario name, used in run ids and reports.
        seed: Master seed of the seed tree.
        duration_s: Virtual time to simulate, seconds.
        warmup_s: Virtual time at the start excluded from steady-state figures, seconds.
        etcd: etcd.
        apiserver: kube-apiserver.
        clients: Client classes by name.
        sync: The List vs List-Watch experiment.
        metrics: Metric collection.
        cluster: Nodes (lifecycle runs).
        workload: Deployments, Jobs, pods, extra kinds (lifecycle runs).
        scheduler: kube-scheduler.
        kubelet: Kubelets.
        kubeproxy: kube-proxies.
        controllers: kube-controller-manager.
        sync_strategies: Per client class, ``list-watch`` (default) or ``poll:<period>``
            (``kubelet: poll:10s``); classes: scheduler, controller-manager, kubelet, kube-proxy,
            generic.
        faults: The fault timeline (``[{at_s, fault, params}]``, see :mod:`kbench.configs.faults`).
    """

    version: int = 1
    name: str = "scenario"
    seed: int = 1
    duration_s: float = 600.0
    warmup_s: float = 0.0
    etcd: EtcdConfig = field(default_factory=EtcdConfig)
    apiserver: ApiserverConfig = field(default_factory=ApiserverConfig)
    clients: dict[str, ClientClassConfig] = field(default_factory=_default_client_classes)
    sync: SyncConfig = field(default_factory=SyncConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    workload: WorkloadConfig = field(default_factory=WorkloadConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    kubelet: KubeletConfig = field(default_factory=KubeletConfig)
    kubeproxy: KubeProxyConfig = field(default_factory=KubeProxyConfig)
    controllers: ControllersConfig = field(default_factory=ControllersConfig)
    sync_strategies: dict[str, str] = field(default_factory=dict)
    faults: list[FaultConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.version != 1:
            raise ConfigError(f"unsupported version {self.version}: expected 1", where="version")
        if self.duration_s <= 0:
            raise ConfigError("must be > 0", where="duration_s")
        from kbench.cluster.informer import SyncStrategy
        for cls, text in self.sync_strategies.items():
            SyncStrategy.parse(text, where=f"sync_strategies.{cls}")

    def sync_strategy(self, client_class: str):
        """The :class:`~kbench.cluster.informer.SyncStrategy` of ``client_class``."""
        from kbench.cluster.informer import SyncStrategy
        text = self.sync_strategies.get(client_class)
        return SyncStrategy.parse(text) if text else SyncStrategy()

    def client_class(self, name: str) -> ClientClassConfig:
        """The config of client class ``name`` (falling back to ``default``)."""
        return self.clients.get(name) or self.clients.get("default") or ClientClassConfig()


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario YAML file.

    Raises:
        KbenchError: The file is missing or malformed; the message names the file and field.
    """
    data = load_yaml(path)
    try:
        return scenario_from_dict(data)
    except KbenchError as err:
        raise type(err)(err.message, source=str(path), where=err.where) from None


def scenario_from_dict(data: dict) -> Scenario:
    """Build a :class:`Scenario` from plain data (merging client classes over the defaults)."""
    data = dict(data)
    clients = data.get("clients")
    if isinstance(clients, dict):
        merged = {k: _client_dict(v) for k, v in _default_client_classes().items()}
        for k, v in clients.items():
            merged[str(k)] = {**merged.get(str(k), {}), **(v or {})} if isinstance(v, dict) else v
        data["clients"] = merged
    return from_dict(Scenario, data)


def _client_dict(c: ClientClassConfig) -> dict:
    from kbench.configload import to_dict
    return to_dict(c)
