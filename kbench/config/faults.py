"""The fault timeline of a scenario: ``faults: [{at_s: 2m, fault: apiserver-restart, params: {...}}]``.

Each fault has a parameter dataclass; ``params`` is validated against it (unknown names get a
"did you mean") and stored fully resolved as plain data, so the effective config (and its hash)
records every default and round-trips through :func:`kbench.config.loader.from_dict`.
Defaults are kbench choices unless a fact id is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kbench.errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class ApiserverRestartParams:
    """Apiserver restart: every watch dropped, in-flight requests fail.

    Attributes:
        downtime_s: How long the apiserver is down, seconds (kbench default 5 s).
    """

    downtime_s: float = 5.0


@dataclass(frozen=True)
class EtcdLeaderElectionParams:
    """etcd leader election: writes (and linearizable reads) stall.

    Attributes:
        election_timeout_s: Stall, seconds (None: ``etcd.election_timeout_s``, B9: 1 s).
    """

    election_timeout_s: float | None = None


@dataclass(frozen=True)
class EtcdSlowDiskParams:
    """etcd slow disk: every WAL fsync takes ``factor`` times longer for ``duration_s``.

    Attributes:
        factor: fsync latency multiplier (kbench default 20: a 600 us fsync becomes 12 ms).
        duration_s: How long the disk is slow, seconds.
    """

    factor: float = 20.0
    duration_s: float = 30.0


@dataclass(frozen=True)
class NodeFailureParams:
    """Nodes fail (kubelet dead for good) or are partitioned (leases stop, pods keep running).

    Exactly one selection applies, in this order: ``nodes`` (explicit names), ``zone``,
    ``fraction``, ``count``. Random choices come from the seed tree (stream ``faults/<index>``).

    Attributes:
        nodes: Node names.
        zone: Every node of this zone (label ``topology.kubernetes.io/zone``).
        fraction: A random fraction of all nodes, 0..1.
        count: A random number of nodes (default 1).
        duration_s: For a partition, heal after this many seconds (0: never). Ignored for failures.
    """

    nodes: list[str] = field(default_factory=list)
    zone: str = ""
    fraction: float = 0.0
    count: int = 1
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        if self.fraction > 1:
            raise ConfigError(f"must be <= 1, got {self.fraction:g}", where="params.fraction")


@dataclass(frozen=True)
class WatchCacheDisabledParams:
    """The watch cache stops serving LISTs: they go to etcd (quorum range reads) for a period.

    Attributes:
        duration_s: How long, seconds (0: until the end of the run).
    """

    duration_s: float = 60.0


@dataclass(frozen=True)
class SlowWatchersParams:
    """Clients that process watch events slowly join a resource's watch at the fault time.

    They are passive watchers (A21, A22): a full buffer blocks the dispatcher, and a watcher that
    needs more than the budget is terminated and must relist (a LIST through the apiserver) and
    re-watch.

    Attributes:
        clients: Number of slow clients.
        process_s: Processing time per event of each client, seconds.
        resource: The resource they watch.
        duration_s: They disconnect after this many seconds (0: stay until the end).
        client_class: Client class whose QPS/burst their LISTs use.
    """

    clients: int = 50
    process_s: float = 0.05
    resource: str = "pods"
    duration_s: float = 60.0
    client_class: str = "default"


FAULT_PARAMS: dict[str, type] = {
    "apiserver-restart": ApiserverRestartParams,
    "etcd-leader-election": EtcdLeaderElectionParams,
    "etcd-slow-disk": EtcdSlowDiskParams,
    "node-failure": NodeFailureParams,
    "node-partition": NodeFailureParams,
    "watch-cache-disabled": WatchCacheDisabledParams,
    "slow-watchers": SlowWatchersParams,
}


@dataclass(frozen=True)
class FaultConfig:
    """One fault on the timeline.

    Attributes:
        at_s: Virtual time the fault fires, seconds.
        fault: One of :data:`FAULT_PARAMS`.
        params: The fault's parameters (see its params class); stored resolved, with defaults.
    """

    at_s: float = 0.0
    fault: str = "apiserver-restart"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from kbench.config.loader import from_dict, to_dict

        cls = FAULT_PARAMS.get(self.fault)
        if cls is None:
            raise ConfigError(f"unknown fault '{self.fault}'{did_you_mean(self.fault, FAULT_PARAMS)}; expected one "
                              f"of {', '.join(sorted(FAULT_PARAMS))}")
        if not isinstance(self.params, dict):
            raise ConfigError(f"params: expected a mapping, got {type(self.params).__name__}")
        try:
            resolved = from_dict(cls, self.params, "params")
        except ConfigError as err:
            raise ConfigError(f"{self.fault}: {err.where + ': ' if err.where else ''}{err.message}") from None
        object.__setattr__(self, "params", to_dict(resolved))

    def spec(self) -> Any:
        """The typed params (an instance of the fault's params class)."""
        from kbench.config.loader import from_dict

        return from_dict(FAULT_PARAMS[self.fault], self.params)
