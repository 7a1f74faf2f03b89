"""Kubernetes version and feature gates (``kubernetes_version:`` and ``feature_gates:`` of a scenario).

A scenario names the Kubernetes release it models; each gate's default follows that release
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
"""

from __future__ import annotations

from kbench.errors import ConfigError, did_you_mean

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
}
"""Versioned defaults of every gate kbench models; before its first version a gate is off."""


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
