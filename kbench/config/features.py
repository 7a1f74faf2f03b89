"""Kubernetes version and feature gates: the scenario's ``kubernetes_version:`` and
``feature_gates:`` (apiserver and client-go gates, versioned) and the scheduler's gates
(``--feature-gates``, scheduler_perf's ``featureGates``, a scenario's ``scheduler.feature_gates``).

**Version-resolved gates.** A scenario names the Kubernetes release it models; each gate's default follows that release
(the versioned specs of upstream's ``kube_features.go`` and client-go's ``known_features.go``, I21
in docs/VALIDATION.md) and ``feature_gates`` overrides single gates. The resolved map is what
components read and what a run prints in its effective config.

Gates kbench reads (names as upstream, except where said):

* ``ConsistentListFromCache``: a LIST with resourceVersion unset is served from the watch cache
  after it caught up with etcd (KEP-2340, I8), else from etcd.
* ``ListFromCacheSnapshot``: continuation pages of a LIST are served from a cache snapshot.
* ``WatchList``: the server accepts ``sendInitialEvents`` (KEP-3157, I10).
* ``WatchListClient``: client-go informers start with a watch-list instead of a LIST.
* ``StreamingCollectionEncoding``: LIST responses are encoded item by item (KEP-5116; upstream's
  ``StreamingCollectionEncodingToJSON`` and ``...ToProtobuf`` as one switch).
* ``SizeBasedListCostEstimate``: APF LIST seats from bytes (A16).
* ``APIResponseCompression``: gzip of large responses (I3; kbench also needs ``apiserver.gzip``).
* ``WatchInitEventsCharge``: a legacy watch with resourceVersion unset or "0" is charged like a
  LIST from the cache (A15; a kbench name for a change that has no gate upstream).

**Scheduler gates** (:class:`FeatureGates`). Their defaults follow the scenario's
``kubernetes_version`` (:data:`SCHEDULER_GATES`, from the scheduler's versioned gate table: v1.37-era
copy, code index id 61706514746, docs/VALIDATION.md "Sources") for InterPodAffinityHostnameFastPath
(alpha v1.37, off), MatchLabelKeysInPodTopologySpread (on from v1.27),
NodeInclusionPolicyInPodTopologySpread (on from v1.26), SchedulerAsyncAPICalls (beta v1.34, off),
SchedulerPopFromBackoffQ (on from v1.33), OpportunisticBatching (on from v1.35) and
DynamicResourceAllocation (on from v1.34); a gate is off before its first version. Without a version
(explain, scheduler_perf) they are the v1.35 ones (:data:`DEFAULTS`). SchedulerQueueingHints (GA in
v1.34, CALIBRATION M8), MatchLabelKeysInPodAffinity (beta and on since v1.31),
MinDomainsInPodTopologySpread and SidecarContainers (GA) are kbench defaults taken as on at every
version (not in that table; not confirmed from ``pkg/features/kube_features.go``).

Gates kbench does not know are accepted and reported as ignored by the caller (upstream has
hundreds); a known gate given a value that is not true/false is an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from kbench.errors import ConfigError, did_you_mean

DEFAULTS: dict[str, bool] = {
    "SchedulerQueueingHints": True,  # M8 (GA v1.34)
    "MatchLabelKeysInPodAffinity": True,  # kbench default (beta on since v1.31, not confirmed)
    "MatchLabelKeysInPodTopologySpread": True,  # scheduler gate table (beta, on)
    "NodeInclusionPolicyInPodTopologySpread": True,  # scheduler gate table (GA)
    "MinDomainsInPodTopologySpread": True,  # kbench default (GA, not confirmed)
    "SidecarContainers": True,  # kbench default (GA, not confirmed)
    "PodSchedulingReadiness": True,  # kbench default (scheduling gates, GA, not confirmed)
    "InterPodAffinityHostnameFastPath": False,  # scheduler gate table (alpha v1.37, off)
    "SchedulerPopFromBackoffQ": True,  # scheduler gate table (beta v1.33, on)
    "SchedulerAsyncAPICalls": False,  # scheduler gate table (beta v1.34, off)
    "OpportunisticBatching": True,  # scheduler gate table (beta v1.35, on); kbench/policy/batching.py
    "DynamicResourceAllocation": True,  # scheduler gate table (GA); not modelled
}
"""Gate → upstream default (see the module docstring for each source)."""

NOT_MODELLED = frozenset({"SchedulerAsyncAPICalls"})
"""Known gates whose mechanism kbench does not model: listed as ignored whenever they are on
(DynamicResourceAllocation has no effect without ResourceClaims, which kbench pods never have)."""


class FeatureGates(Mapping):
    """An immutable gate → bool mapping over :data:`DEFAULTS` (unknown names kept in ``unknown``)."""

    def __init__(self, overrides: Mapping[str, bool] | None = None, *, version: str | None = None):
        self._defaults = scheduler_defaults(version) if version is not None else DEFAULTS
        self.version = version
        self._values = dict(self._defaults)
        self.unknown: dict[str, bool] = {}
        for name, value in (overrides or {}).items():
            if name in DEFAULTS:
                self._values[name] = bool(value)
            else:
                self.unknown[name] = bool(value)

    @staticmethod
    def parse(text: str, where: str = "--feature-gates") -> FeatureGates:
        """``"A=true,B=false"`` (as kube-scheduler's flag).

        Raises:
            ConfigError: A malformed item or a value that is not true/false.
        """
        out: dict[str, bool] = {}
        for item in (p.strip() for p in text.split(",")):
            if not item:
                continue
            name, eq, value = item.partition("=")
            if not eq or value.lower() not in ("true", "false"):
                raise ConfigError(f"expected Name=true|false, got {item!r}"
                                  + (did_you_mean(name, DEFAULTS) if name not in DEFAULTS else ""), where=where)
            out[name.strip()] = value.lower() == "true"
        return FeatureGates(out)

    def with_(self, overrides: Mapping[str, bool]) -> FeatureGates:
        """A copy with ``overrides`` applied on top."""
        merged = {**{k: v for k, v in self._values.items() if v != self._defaults[k]}, **self.unknown, **overrides}
        return FeatureGates(merged, version=self.version)

    def ignored(self) -> list[str]:
        """What a run cannot honour: unknown gates and gates of unmodelled mechanisms set on."""
        out = [f"feature gate {n}={str(v).lower()} is not known to kbench" for n, v in sorted(self.unknown.items())]
        out += [f"feature gate {n}=true: the mechanism is not modelled" for n in sorted(NOT_MODELLED)
                if self._values[n]]
        return out

    def __getitem__(self, name: str) -> bool:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._values.items() if v != self._defaults[k]}
        return f"FeatureGates({changed!r})"


DEFAULT_VERSION = "1.35"  # the newest release in CALIBRATION.md (A15 cites v1.35)

GATES: dict[str, tuple[tuple[str, bool], ...]] = {  # name: ((from version, default), ...) (I21)
    "ConsistentListFromCache": (("1.28", False), ("1.31", True)),
    "ListFromCacheSnapshot": (("1.33", False), ("1.34", True)),
    "WatchList": (("1.27", False), ("1.32", True), ("1.33", False), ("1.34", True)),
    "WatchListClient": (("1.30", False), ("1.35", True)),
    "StreamingCollectionEncoding": (("1.33", True),),
    "SizeBasedListCostEstimate": (("1.34", True),),  # A16
    "APIResponseCompression": (("1.16", True),),  # I3
    "WatchInitEventsCharge": (("1.35", True),),  # A15
    # KEP-4568: beta on from 1.31, GA (locked on) from 1.34 (kubernetes/website feature-gates
    # ResilientWatchCacheInitialization.md); before 1.31 kbench serves from the cache at once
    "ResilientWatchCacheInitialization": (("1.31", True),),
}
"""Versioned defaults of every gate kbench models; before its first version a gate is off."""

SCHEDULER_GATES: dict[str, tuple[tuple[str, bool], ...]] = {  # name: ((from version, default), ...)
    # kube-scheduler's versioned gate table (pkg/scheduler features, index copy 61706514746, a
    # v1.37-era file: docs/VALIDATION.md "Sources")
    "InterPodAffinityHostnameFastPath": (("1.37", False),),
    "MatchLabelKeysInPodTopologySpread": (("1.25", False), ("1.27", True)),
    "NodeInclusionPolicyInPodTopologySpread": (("1.25", False), ("1.26", True)),
    "OpportunisticBatching": (("1.35", True),),
    "SchedulerAsyncAPICalls": (("1.34", False),),
    "SchedulerPopFromBackoffQ": (("1.33", True),),
    "DynamicResourceAllocation": (("1.26", False), ("1.34", True)),
}
"""Scheduler gates whose default follows ``kubernetes_version`` (off before their first version); the
other scheduler gates keep their :data:`DEFAULTS` at every version (their history is not in that table)."""


def scheduler_defaults(version: str = DEFAULT_VERSION) -> dict[str, bool]:
    """The scheduler gates' defaults at ``version`` (:data:`SCHEDULER_GATES`, else :data:`DEFAULTS`).

    Raises:
        ConfigError: Not a version kbench knows.
    """
    v = parse_version(version)
    out = dict(DEFAULTS)
    for name, specs in SCHEDULER_GATES.items():
        value = False
        for since, default in specs:
            if tuple(int(x) for x in since.split(".")) <= v:  # may be newer than kbench's versions
                value = default
        out[name] = value
    return out


def parse_version(text: str, *, where: str = "kubernetes_version") -> tuple[int, int]:
    """``"1.33"`` (or ``"v1.33"``, ``"1.33.2"``) as ``(1, 33)``.

    Raises:
        ConfigError: Not a ``1.<minor>`` release kbench knows (1.16 to 1.35).
    """
    t = str(text).strip().lstrip("v")
    parts = t.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise ConfigError(f"expected a version like 1.33, got {text!r}", where=where) from None
    if major != 1 or not 16 <= minor <= 35:
        raise ConfigError(f"kbench models Kubernetes 1.16 to 1.35, got {text!r}", where=where)
    return major, minor


def resolve(version: str, overrides: dict[str, bool] | None = None) -> dict[str, bool]:
    """Every gate's value at ``version`` with ``overrides`` applied (a new dict, sorted by name).

    Raises:
        ConfigError: Bad version, unknown gate name (with "did you mean") or a non-boolean value.
    """
    v = parse_version(version)
    out: dict[str, bool] = {}
    for name, specs in sorted(GATES.items()):
        value = False
        for since, default in specs:
            if parse_version(since) <= v:
                value = default
        out[name] = value
    for name, value in (overrides or {}).items():
        if name not in GATES:
            raise ConfigError(f"unknown feature gate '{name}'{did_you_mean(name, GATES)}",
                              where=f"feature_gates.{name}")
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", where=f"feature_gates.{name}")
        out[name] = value
    return out


def parse_gates(text: str, *, where: str = "--feature-gates") -> dict[str, bool]:
    """``"A=true,B=false"`` (the kube-apiserver flag's syntax) as a dict.

    Raises:
        ConfigError: Malformed entry, unknown gate or value other than true/false.
    """
    out: dict[str, bool] = {}
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip().lower()
        if not sep or value not in ("true", "false"):
            raise ConfigError(f"expected NAME=true|false, got {item!r}", where=where)
        if name not in GATES:
            raise ConfigError(f"unknown feature gate '{name}'{did_you_mean(name, GATES)}", where=where)
        out[name] = value == "true"
    return out
