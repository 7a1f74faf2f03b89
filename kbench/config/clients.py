"""API clients (section ``clients:``), how each class syncs (``sync_strategies:``), and the
List vs List-Watch experiment (section ``sync:``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kbench.errors import ConfigError
from kbench.quantity import parse_duration

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
        max_retries: Retries of a 429 that carries Retry-After (I16: rest.NewRequest's 10).
        page_size: Page size of a reflector's paginated LIST (I26: client-go pager's 500).
        watch_event_process_s: Time the client's handler takes per watch event, seconds (kbench
            default 0: never falls behind; > 0 makes slow watchers that A22 terminates).
        disable_compression: Do not ask for gzip responses (client-go's
            ``rest.Config.DisableCompression``; false by default, so Go's transport sends
            ``Accept-Encoding: gzip``). kube-scheduler and kube-controller-manager set it (I29).
    """

    qps: float = 5.0  # C1
    burst: int = 10  # C1
    backoff_initial_s: float = 0.8  # C7
    backoff_max_s: float = 30.0  # C7
    watch_timeout_min_s: float = 300.0  # A7
    max_retries: int = 10  # I16
    page_size: int = 500  # I26
    watch_event_process_s: float = 0.0  # kbench default
    disable_compression: bool = False  # client-go default (I29)


def default_client_classes() -> dict[str, ClientClassConfig]:
    C = ClientClassConfig
    return {
        "default": C(),  # C1
        "scheduler": C(qps=50, burst=100, disable_compression=True),  # C2; I29
        "controller-manager": C(qps=20, burst=30, disable_compression=True),  # C3; I29
        "kubelet": C(qps=50, burst=100),  # C4
        "kube-proxy": C(qps=5, burst=10),  # C5
    }


# ------------------------------------------------------------------------------ sync experiment

STRATEGIES = ("poll", "list-watch", "watch-list")


@dataclass(frozen=True)
class SyncConfig:
    """The List vs List-Watch experiment (DESIGN.md).

    Attributes:
        strategies: ``poll``, ``list-watch`` and/or ``watch-list``; each is run separately on the
            same seed.
        clients: Number of clients, each keeping a cache of the objects.
        objects: Number of objects of the kind.
        object_bytes: Size of one object, bytes (I2: most objects are <= 20 KB; kbench default 1 KB).
        changes_per_s: Updates per second across all objects (Poisson; 0: no writer).
        poll_period_s: LIST period of a polling client, seconds.
        poll_jitter: Each polling interval is period x U[1 - j, 1 + j].
        poll_list_limit: Page size of a poll (I26: ``kubectl get --chunk-size`` 500; 0: one page).
        poll_resource_version: resourceVersion a poll sends (U6: ``kubectl get`` sends none, "":
            a consistent read; "0": any, served by the cache).
        poll_open_loop: Start a LIST every period even when the previous one has not finished (a
            fixed LIST rate, as KEP-2340's benchmark, I6).
        selector_match_fraction: Fraction of the objects a poll's label selector matches (1: no
            selector; 0: one that matches nothing, I6).
        resource: The resource the clients read.
        scope: ``all``: every client caches every object; ``partitioned``: objects are split evenly
            among clients and each client lists and watches only its own (like pods by node).
        client_class: The client class whose QPS/burst applies.
        user_group: APF group the clients belong to (service accounts go to workload-low, A12).
        start_spread_s: Informers start uniformly over this window, seconds (kbench default 10 s).
        apiserver_restart_at_s: Restart the apiserver at this virtual time, seconds (0: never).
        apiserver_downtime_s: How long a restarted apiserver is down, seconds (kbench default 5 s).
    """

    strategies: list[str] = field(default_factory=lambda: ["poll", "list-watch", "watch-list"])
    clients: int = 100
    objects: int = 1000
    object_bytes: float = 1024.0
    changes_per_s: float = 10.0
    poll_period_s: float = 10.0
    poll_jitter: float = 0.1
    poll_list_limit: int = 500  # I26
    poll_resource_version: str = ""  # kubectl get sends none
    poll_open_loop: bool = False
    selector_match_fraction: float = 1.0
    resource: str = "configmaps"
    scope: str = "all"
    client_class: str = "default"
    user_group: str = "system:serviceaccounts"
    start_spread_s: float = 10.0
    apiserver_restart_at_s: float = 0.0
    apiserver_downtime_s: float = 5.0

    def __post_init__(self) -> None:
        for s in self.strategies:
            if s not in STRATEGIES:
                raise ConfigError(f"unknown strategy '{s}': expected poll, list-watch or watch-list",
                                  where="sync.strategies")
        if not 0.0 <= self.selector_match_fraction <= 1.0:
            raise ConfigError("must be in [0, 1]", where="sync.selector_match_fraction")
        if self.poll_resource_version not in ("", "0"):
            raise ConfigError("expected \"\" (consistent) or \"0\" (any)", where="sync.poll_resource_version")
        if self.scope not in ("all", "partitioned"):
            raise ConfigError(f"unknown scope '{self.scope}': expected all or partitioned", where="sync.scope")
        if self.poll_period_s <= 0:
            raise ConfigError("must be > 0", where="sync.poll_period_s")
        if self.poll_jitter > 1:
            raise ConfigError("must be <= 1", where="sync.poll_jitter")


@dataclass(frozen=True)
class SyncStrategy:
    """How a client class keeps its cache: ``list-watch`` (a watch-list first where the gates say
    so), ``watch-list`` (always), or ``poll`` with a period in seconds."""

    kind: str = "list-watch"
    period_s: float = 0.0

    @staticmethod
    def parse(text: str, *, where: str = "sync") -> SyncStrategy:
        """Parse ``list-watch``, ``watch-list`` or ``poll:10s``."""
        t = str(text).strip()
        if t in ("list-watch", "watch"):
            return SyncStrategy()
        if t == "watch-list":
            return SyncStrategy("watch-list")
        if t.startswith("poll"):
            _, _, period = t.partition(":")
            p = parse_duration(period or "10s", where=where)
            if p <= 0:
                raise ConfigError("poll period must be > 0", where=where)
            return SyncStrategy("poll", p)
        raise ConfigError(f"unknown sync strategy {text!r}: expected list-watch, watch-list or poll:<period>",
                          where=where)

    def __str__(self) -> str:
        return f"poll:{self.period_s:g}s" if self.kind == "poll" else self.kind
