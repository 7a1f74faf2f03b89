"""APF classification and work estimation: a request's level, flow, queues (hand) and seats.

Pure functions of :class:`~kbench.config.FlowControlConfig`; the queuing itself lives in
:mod:`kbench.cluster.apiserver.flowcontrol`.

* **Concurrency** (A3, A10, A11): the server concurrency limit (ServerCL) is
  ``max_requests_inflight + max_mutating_requests_inflight``; a level's NominalCL is
  ``ceil(ServerCL x shares / sum(shares))``, computed in floating point as upstream does
  (kubernetes/apiserver pkg/util/flowcontrol/apf_controller.go, finishQueueSetReconfigsLocked).
* **Classification** (A12): flow schemas are tried in ascending ``(precedence, name)``; the first
  that matches names the level. A schema matches when the subject matches (the user is in
  ``users`` *or* one of the groups is in ``groups``, as upstream ORs its subjects; both empty or a
  ``"*"`` entry match everyone) *and* the verb and resource match (``"*"`` matches any). The flow is
  ``<schema>/<distinguisher>`` where the distinguisher is the user, the namespace or nothing.
* **Seats** (A14, A15, A16): every request takes at least 1 seat. A LIST is charged for the
  objects *stored* (N, the resource's count), not returned, by where it is served
  (:mod:`kbench.cluster.apiserver.readpath`): processed = 1 (by name), N (from the cache), N + L
  (a selector LIST from etcd), else 2L, with L = min(N, limit); seats = ``ceil(processed /
  100)``. With ``SizeBasedListCostEstimate`` (A16): seats = ``ceil(loaded x average object size
  / 100,000)`` with loaded = 1, L (cache, bytes capped at 1,000,000), max(L, N/2) (etcd with a
  selector) or L, under a global cap of 100. A WATCH takes 1 seat, except one asking for initial
  events (``sendInitialEvents``, and with ``WatchInitEventsCharge`` a legacy watch from
  resourceVersion "" or "0"), charged as a LIST from the cache. Mutating requests take 1 seat
  while executing and ``ceil(watchers / 10)`` *final* seats held for
  ``event_additional_duration_s`` afterwards when ``watchers >= 10`` (mutating_work_estimator.go).
  Caps: ``min(per-level cap, global cap)`` where the per-level cap (queuing levels only) is
  ``max(1, min(ceil(0.15 x NominalCL), floor(NominalCL / handSize)))`` (A14, A26). When final
  seats are capped, the additional duration grows so that seats x duration is preserved, as
  upstream does. GET takes 1 seat.

Not modelled: stale object counts (A15: 1e9 objects; kbench counts are live).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

from kbench.cluster.apiserver.request import MUTATING_VERBS, Request
from kbench.config import FlowControlConfig, FlowSchemaConfig, PriorityLevelConfig

EXEMPT, REJECT, QUEUE, LEGACY = range(4)
"""Kinds of priority level (flow control and borrowing)."""

LEGACY_READONLY = "readonly"
LEGACY_MUTATING = "mutating"
LEGACY_LONG_RUNNING = "long-running"
MASTERS_GROUP = "system:masters"


def server_concurrency_limit(cfg: FlowControlConfig) -> int:
    """ServerCL: the two max-inflight flags summed (A3), in seats."""
    return cfg.max_requests_inflight + cfg.max_mutating_requests_inflight


def is_queuing(level: PriorityLevelConfig) -> bool:
    """True for a level that queues (not exempt, not LimitResponse=Reject, at least one queue)."""
    return not level.exempt and not level.reject and level.queues > 0


def nominal_concurrency(cfg: FlowControlConfig) -> dict[str, int]:
    """NominalCL of every level, in seats (A10, A11); 0 for the exempt level (unlimited).

    Example:
        >>> nominal_concurrency(FlowControlConfig())["workload-low"]
        245
    """
    server = server_concurrency_limit(cfg)
    total = float(sum(lv.shares for lv in cfg.levels.values()))
    out: dict[str, int] = {}
    for name, lv in cfg.levels.items():
        if lv.exempt or total <= 0:
            out[name] = 0
        else:
            out[name] = math.ceil(server * lv.shares / total)
    return out


def level_seat_cap(cfg: FlowControlConfig, level: PriorityLevelConfig, nominal_cl: int) -> int:
    """Per-level seat cap (A14, A26); 0 means "no per-level cap" (non-queuing levels).

    Computed in floating point as upstream does (apf_controller.go, priorityLevelMaxSeatsPercent).
    """
    if not is_queuing(level):
        return 0
    return int(max(1, min(math.ceil(nominal_cl * cfg.level_seat_cap_fraction),
                          nominal_cl // max(1, level.hand_size))))


def _any_match(wanted: list[str], value: str) -> bool:
    return "*" in wanted or value in wanted


def schema_matches(schema: FlowSchemaConfig, user: str, groups: tuple[str, ...], verb: str,
                   resource: str) -> bool:
    """Whether ``schema`` matches a request's subject, verb and resource (see module docstring)."""
    if schema.users or schema.groups:
        subject = _any_match(schema.users, user) or "*" in schema.groups or any(
            g in schema.groups for g in groups)
        if not subject:
            return False
    if schema.verbs and not _any_match(schema.verbs, verb):
        return False
    return not schema.resources or _any_match(schema.resources, resource)


class Classifier:
    """Maps requests to (level, flow schema, distinguisher kind), with a cache.

    Args:
        cfg: The flow-control config.
    """

    def __init__(self, cfg: FlowControlConfig):
        self._schemas = sorted(cfg.flow_schemas.items(), key=lambda kv: (kv[1].precedence, kv[0]))
        fallback = [n for n, s in self._schemas if s.level == "catch-all"]
        self._fallback = fallback[-1] if fallback else (self._schemas[-1][0] if self._schemas else "")
        self._cfg = cfg
        self._cache: dict[tuple, tuple[str, str, str]] = {}
        self._flows: dict[tuple, tuple[str, str]] = {}  # (user, groups, verb, resource, ns) -> level, flow

    def match(self, user: str, groups: tuple[str, ...], verb: str, resource: str) -> tuple[str, str, str]:
        """``(level, schema name, distinguisher)`` of the first matching schema.

        A request that matches nothing falls back to the catch-all schema, as upstream does.
        """
        key = (user, groups, verb, resource)
        hit = self._cache.get(key)
        if hit is None:
            name = self._fallback
            for n, schema in self._schemas:
                if schema_matches(schema, user, groups, verb, resource):
                    name = n
                    break
            if not name:
                raise ValueError("no flow schema configured")
            schema = self._cfg.flow_schemas[name]
            hit = (schema.level, name, schema.distinguisher)
            self._cache[key] = hit
        return hit

    def classify(self, req: Request) -> None:
        """Set ``req.level`` and ``req.flow`` (``<schema>/<user|namespace|"">``)."""
        key = (req.user, req.groups, req.verb, req.resource, req.namespace)
        hit = self._flows.get(key)
        if hit is None:
            level, name, dist = self.match(req.user, req.groups, req.verb, req.resource)
            if dist == "user":
                who = req.user
            elif dist == "namespace":
                who = req.namespace
            else:
                who = ""
            hit = self._flows[key] = (level, f"{name}/{who}")
        req.level, req.flow = hit


def deal_hand(flow: str, deck: int, hand: int) -> tuple[int, ...]:
    """The queues of a flow: ``hand`` distinct indices in ``[0, deck)`` from a hash of ``flow``.

    Mixed-radix digits of a 64-bit blake2b hash pick cards without replacement, the idea of
    shufflesharding.go's Dealer (independent of PYTHONHASHSEED).
    """
    h = int.from_bytes(hashlib.blake2b(flow.encode(), digest_size=8).digest(), "little")
    cards = list(range(deck))
    out = []
    for i in range(min(hand, deck)):
        h, r = divmod(h, deck - i)
        out.append(cards.pop(r))
    return tuple(out)


def legacy_level(req: Request) -> str:
    """The legacy max-inflight class of a request (A1-A3): readonly, mutating or long-running."""
    if req.verb == "watch":
        return LEGACY_LONG_RUNNING
    return LEGACY_MUTATING if req.verb in MUTATING_VERBS else LEGACY_READONLY


class Estimator:
    """Seats of a request (A14, A15), given the level caps.

    Args:
        cfg: The flow-control config.
        seat_caps: Per-level cap by level name (0 = none, use the global cap).
        object_count: Stored objects of a resource, used when ``req.list_objects`` is 0.
    """

    def __init__(self, cfg: FlowControlConfig, seat_caps: dict[str, int],
                 object_count: Callable[[str], int] | None = None,
                 object_bytes: Callable[[str], float] | None = None):
        self._cfg = cfg
        self._caps = seat_caps
        self._count = object_count
        self._bytes = object_bytes
        self.gates: dict[str, bool] = {}

    def _max_seats(self, level: str, global_cap: int) -> int:
        cap = self._caps.get(level, 0)
        return global_cap if cap == 0 or cap > global_cap else cap

    def estimate(self, req: Request) -> None:
        """Set ``req.seats``, ``req.final_seats`` and ``req.additional_s`` (seconds)."""
        cfg = self._cfg
        req.final_seats = 0
        req.additional_s = 0.0
        verb = req.verb
        if verb == "list":
            req.seats = self._list_seats(req)
        elif verb in MUTATING_VERBS:
            req.seats = 1
            watchers = req.watchers
            if watchers >= cfg.watches_per_seat:
                final = math.ceil(watchers / cfg.watches_per_seat)
                work_seat_s = final * cfg.event_additional_duration_s
                final = min(final, self._max_seats(req.level, cfg.max_mutating_seats))
                req.final_seats = final
                req.additional_s = work_seat_s / final
        elif verb == "watch" and (req.send_initial_events or (
                self.gates.get("WatchInitEventsCharge") and req.rv in ("", "0"))):
            req.seats = self._list_seats(req)
        else:
            req.seats = 1

    def _list_seats(self, req: Request, from_cache: bool | None = None) -> int:
        cfg = self._cfg
        if req.name:
            return 1
        n = self._count(req.resource) if self._count is not None else req.list_objects
        if n <= 0:
            n = req.list_objects
        if n <= 0:
            return 1  # unknown resource (A15)
        if from_cache is None:
            rt = req.route
            from_cache = rt is None or rt.where == "cache" or rt.not_ready  # the estimator ignores readiness
        limit = req.limit if 0 < req.limit < n else n  # upstream counts the limit even where the cache ignores it
        selector = req.selector or req.partition is not None or req.match_fraction < 1.0
        if self.gates.get("SizeBasedListCostEstimate"):  # A16
            size = self._bytes(req.resource) / n if self._bytes is not None else 0.0
            if size <= 0:
                size = 1_500_000.0  # unknown: the largest object
            if from_cache:
                loaded_bytes = min(limit * size, 1_000_000.0)
            elif selector:
                loaded_bytes = max(limit, n / 2) * size
            else:
                loaded_bytes = limit * size
            seats = math.ceil(loaded_bytes / 100_000)
            return max(1, min(seats, self._max_seats(req.level, cfg.max_list_seats_size_based)))
        if from_cache:
            processed = n
        elif selector:
            processed = n + limit
        else:
            processed = 2 * limit
        seats = -(-processed // cfg.objects_per_seat)
        return max(1, min(seats, self._max_seats(req.level, cfg.max_list_seats)))
