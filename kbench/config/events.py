"""Events (section ``events:`` of a scenario): who emits them, how client-go correlates and
sends them, how long the apiserver keeps them and in which etcd (CALIBRATION J1-J8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kbench.config.etcd import EtcdConfig
from kbench.errors import ConfigError

COMPONENTS = ("scheduler", "kubelet", "controllers")
SCHEDULER_APIS = ("events.k8s.io", "core")


@dataclass(frozen=True)
class EventsConfig:
    """Events as the components emit them and the apiserver stores them.

    Attributes:
        enabled: Components emit Events (J8); off removes every Event write.
        components: Which emit: ``scheduler``, ``kubelet``, ``controllers``.
        scheduler_api: ``events.k8s.io`` (the scheduler's series recorder, J6) or ``core`` (the
            core/v1 correlator, as the other components).
        ttl_s: ``--event-ttl``: an Event is deleted this long after its last write (J7: 1 h;
            0 = never).
        lease_reuse_s: ``--lease-reuse-duration-seconds``: the apiserver attaches Events written
            within this window to one etcd lease (J7: 60 s).
        lease_reuse_fraction: ...but at most this fraction of the TTL (upstream lease manager
            ``newDefaultLeaseManager(client, 60, 0.05)``, kubernetes/kubernetes
            staging/src/k8s.io/apiserver/pkg/storage/etcd3/lease_manager.go @ 11fcde5e).
        lease_max_objects: A new lease after this many attached objects (later lease_manager.go
            copies, ``LeaseManagerConfig.MaxObjectCount`` 1000).
        event_bytes: Size of a stored Event, bytes (kbench default 1 KB: metadata, involved object,
            source, timestamps, message; not measured).
        patch_bytes: Body of a PATCH of an Event (count, lastTimestamp, message), bytes (kbench
            default 250).
        separate_etcd: Store Events in their own etcd (``--etcd-servers-overrides=/events#...``,
            J7).
        etcd: That etcd's settings (None: the ``etcd:`` section's).
        aggregate_max_events: Distinct messages of similar events before they are combined (J2: 10).
        aggregate_interval_s: Window of that aggregation (J2: 600 s).
        spam_burst: Events per source and involved object before the spam filter drops (J4: 25).
        spam_qps: Refill of that budget, events/s (J4: 1/300).
        lru_entries: Entries of each correlator cache (J4: 4096).
        queue_length: Events queued per broadcaster before new ones are dropped (J1: 1000).
        max_tries: Attempts per Event write (J1: 12).
        retry_s: Sleep between attempts (J1: 10 s; the first a random fraction of it).
        series_finish_s: events.k8s.io: a series idle this long gets its last PATCH (J5: 6 min).
        series_refresh_s: events.k8s.io: every open series is PATCHed this often (J5: 30 min).
        series_retry_jitter: events.k8s.io: retries wait ``retry_s x (1 + U(0, jitter))`` (J5: 0.25).
        flush_tick_s: Event writes due in one tick of this period go out as one batch per verb
            (one APF admission of k seats, one etcd proposal, as lease renewals; the clients' limits
            apply per member): a performance device (kbench default 0.1 s; 0 sends each alone).
        store_values: Keep a small value per Event in etcd (reason, count; for tests); off stores
            sizes only (kbench default: memory).
    """

    enabled: bool = True  # J8
    components: list[str] = field(default_factory=lambda: list(COMPONENTS))
    scheduler_api: str = "events.k8s.io"  # J6
    ttl_s: float = 3600.0  # J7
    lease_reuse_s: float = 60.0  # J7
    lease_reuse_fraction: float = 0.05  # lease_manager.go @ 11fcde5e
    lease_max_objects: int = 1000  # later lease_manager.go copies
    event_bytes: int = 1000  # kbench default
    patch_bytes: int = 250  # kbench default
    separate_etcd: bool = False  # J7
    etcd: EtcdConfig | None = None
    aggregate_max_events: int = 10  # J2
    aggregate_interval_s: float = 600.0  # J2
    spam_burst: int = 25  # J4
    spam_qps: float = 1.0 / 300.0  # J4
    lru_entries: int = 4096  # J4
    queue_length: int = 1000  # J1
    max_tries: int = 12  # J1
    retry_s: float = 10.0  # J1
    series_finish_s: float = 360.0  # J5
    series_refresh_s: float = 1800.0  # J5
    series_retry_jitter: float = 0.25  # J5
    flush_tick_s: float = 0.1  # kbench default (performance)
    store_values: bool = False  # kbench default

    def __post_init__(self) -> None:
        for c in self.components:
            if c not in COMPONENTS:
                raise ConfigError(f"unknown component {c!r}: expected one of {', '.join(COMPONENTS)}",
                                  where="events.components")
        if self.scheduler_api not in SCHEDULER_APIS:
            raise ConfigError(f"expected one of {', '.join(SCHEDULER_APIS)}, got {self.scheduler_api!r}",
                              where="events.scheduler_api")
        for name in ("aggregate_max_events", "spam_burst", "lru_entries", "queue_length", "max_tries"):
            if getattr(self, name) < 1:
                raise ConfigError("must be >= 1", where=f"events.{name}")
        if self.series_finish_s <= 0 or self.series_refresh_s <= 0:
            raise ConfigError("must be > 0", where="events.series_finish_s")

    def emits(self, component: str) -> bool:
        """Whether ``component`` (scheduler, kubelet, controllers) emits Events."""
        return self.enabled and component in self.components
