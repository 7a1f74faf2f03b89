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
    """

    qps: float = 5.0  # C1
    burst: int = 10  # C1
    backoff_initial_s: float = 0.8  # C7
    backoff_max_s: float = 30.0  # C7
    watch_timeout_min_s: float = 300.0  # A7


def default_client_classes() -> dict[str, ClientClassConfig]:
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


@dataclass(frozen=True)
class SyncStrategy:
    """How a client class keeps its cache: ``list-watch`` or ``poll`` with a period in seconds."""

    kind: str = "list-watch"
    period_s: float = 0.0

    @staticmethod
    def parse(text: str, *, where: str = "sync") -> SyncStrategy:
        """Parse ``list-watch`` or ``poll:10s``."""
        t = str(text).strip()
        if t in ("list-watch", "watch"):
            return SyncStrategy()
        if t.startswith("poll"):
            _, _, period = t.partition(":")
            p = parse_duration(period or "10s", where=where)
            if p <= 0:
                raise ConfigError("poll period must be > 0", where=where)
            return SyncStrategy("poll", p)
        raise ConfigError(f"unknown sync strategy {text!r}: expected list-watch or poll:<period>", where=where)

    def __str__(self) -> str:
        return self.kind if self.kind == "list-watch" else f"poll:{self.period_s:g}s"
