"""client-go's event correlation, in the order upstream applies it (no SimPy here).

**core/v1** (``k8s.io/client-go/tools/record``; the kubelet and kube-controller-manager's
controllers): :meth:`CoreCorrelator.correlate` runs ``EventCorrelator.EventCorrelate``
(kubernetes/client-go tools/record/events_cache.go @ 928244b13ad2eb19a8a910669ec0bbb498cb74c1;
CALIBRATION J2-J4):

1. *aggregate* (``EventAggregator.EventAggregate``): events that differ only in their message are
   similar (aggregate key: source, involved object, type, reason); a record of the distinct
   messages seen restarts when more than ``aggregate_interval_s`` (600 s) passed since the last
   similar event; below ``aggregate_max_events`` (10) distinct messages the event passes unchanged,
   from then on it is replaced by one aggregate Event ``"(combined from similar events): <msg>"``
   keyed by the aggregate key (one message is popped from the record: Go's ``PopAny`` picks at
   random, kbench the oldest, so runs stay deterministic; the write count is the same);
2. *observe* (``eventLogger.eventObserve``): an event whose key was seen before takes the cached
   name and ``count + 1`` and becomes a PATCH (the cache is updated before the spam filter runs);
3. *spam filter* (``EventSourceObjectSpamFilter.Filter``): a token bucket per source and
   involved object (``getSpamKey``: source component and host, the object's kind, namespace, name,
   UID and apiVersion; not the type, although CALIBRATION J4 says "+ type": the code at the commit
   above has none) of ``spam_burst`` (25) refilled at ``spam_qps`` (1/300 s); an event over budget
   is dropped.

**events.k8s.io/v1** (``k8s.io/client-go/tools/events``; kube-scheduler, J5-J6):
:class:`SeriesCache` follows ``eventBroadcasterImpl.recordToSink`` (kubernetes/kubernetes
staging/src/k8s.io/client-go/tools/events/event_broadcaster.go @
015189e7cb3606ff399b4a96f12d7d37c62753aa): the first event of an isomorphic key (regarding,
reason, action, type, reporting controller; not the note) is a CREATE; the second sets
``series.count = 2`` and is a PATCH; later ones only bump the in-memory count; ``finish`` (every
6 min) PATCHes series idle for more than 6 min and forgets them, and forgets singletons older than
6 min; ``refresh`` (every 30 min) PATCHes every open series. No aggregation, no spam filter.

State is kept per involved object (``obj``: a hashable identity, e.g. ``("Pod", uid)``), so that
:meth:`CoreCorrelator.forget` can drop an object's entries when it is gone (it emits nothing any
more, so decisions do not change); the LRU caps (``lru_entries``, 4096 per cache upstream) are
enforced on whole objects, least recently used first, over the entries of all three caches.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

COMBINED = "(combined from similar events): "


@dataclass(frozen=True)
class CorrelatorConfig:
    """The constants of events_cache.go (see :class:`kbench.config.events.EventsConfig`)."""

    aggregate_max_events: int = 10
    aggregate_interval_s: float = 600.0
    spam_burst: int = 25
    spam_qps: float = 1.0 / 300.0
    lru_entries: int = 4096


class CoreCorrelator:
    """``EventCorrelator`` of one event source (or of a fleet of them: ``capacity`` scales the cap).

    Each object's state is one dict: ``("a", type, reason) -> (last_s, messages)`` for the
    aggregator, the event key (or ``("a", type, reason)`` for an aggregate Event) ``-> (count,
    name)`` for the logger, ``"spam" -> (tokens, t)`` for the spam filter; values are tuples, so the
    garbage collector of the Python process does not track them.

    Args:
        cfg: The constants.
        capacity: Sources sharing this correlator (the cap is ``lru_entries x capacity``).
    """

    def __init__(self, cfg: CorrelatorConfig, capacity: int = 1):
        self.cfg = cfg
        self.cap = max(1, cfg.lru_entries * max(1, capacity))
        self._objs: OrderedDict = OrderedDict()
        self._entries = 0

    def correlate(self, obj, etype: str, reason: str, message: str, field_path: str, now: float,
                  namer, namespace: str, name: str) -> tuple[str, str, int, bool] | None:
        """One emitted event.

        Args:
            obj: Identity of the involved object (with its source when shared).
            etype: ``Normal`` or ``Warning``.
            reason: The reason (``Pulled``, ``SuccessfulCreate``...).
            message: The message.
            field_path: ``spec.containers{main}`` or "".
            now: Virtual time, seconds.
            namer: ``namer(namespace, name) -> str``: the key of a new Event object.
            namespace: The involved object's namespace.
            name: The involved object's name.

        Returns:
            ``(verb, key, count, aggregated)`` with verb ``create`` or ``patch``, or None when the
            spam filter drops it.
        """
        cfg = self.cfg
        objs = self._objs
        d = objs.get(obj)
        if d is None:
            d = objs[obj] = {}
        else:
            objs.move_to_end(obj)
        before = len(d)
        akey = ("a", etype, reason)
        rec = d.get(akey)
        if rec is None or now - rec[0] > cfg.aggregate_interval_s:
            msgs: tuple = (message,)
        else:
            msgs = rec[1] if message in rec[1] else (*rec[1], message)
        combined = len(msgs) >= cfg.aggregate_max_events
        if combined:
            msgs = msgs[1:]  # PopAny, made deterministic
            key = akey + ("",)
        else:
            key = (etype, reason, field_path, message)
        d[akey] = (now, msgs)
        seen = d.get(key)
        if seen is None:
            count, ev = 1, namer(namespace, name)
        else:
            count, ev = seen[0] + 1, seen[1]
        d[key] = (count, ev)
        bucket = d.get("spam")
        burst = cfg.spam_burst
        if bucket is None:
            tokens = float(burst)
        else:
            tokens = bucket[0] + (now - bucket[1]) * cfg.spam_qps
            if tokens > burst:
                tokens = float(burst)
        if tokens < 1.0:
            d["spam"] = (tokens, now)
            verdict = None
        else:
            d["spam"] = (tokens - 1.0, now)
            verdict = ("patch" if count > 1 else "create", ev, count, combined or count > 1)
        added = len(d) - before
        if added:
            self._entries += added
            while self._entries > self.cap and len(objs) > 1:
                _, old = objs.popitem(last=False)
                self._entries -= len(old)
        return verdict

    def forget(self, obj) -> None:
        """Drop the state of an object that emits nothing any more (deleted)."""
        d = self._objs.pop(obj, None)
        if d is not None:
            self._entries -= len(d)

    def __len__(self) -> int:
        return self._entries


class SeriesCache:
    """``eventBroadcasterImpl``'s isomorphic-event cache (events.k8s.io/v1).

    Entries are ``(event_s, count, last_s, name)`` by isomorphic key; ``count`` 1 is a singleton.
    """

    def __init__(self, finish_s: float = 360.0):
        self.finish_s = finish_s
        self.entries: dict = {}

    def record(self, key, now: float, namer, namespace: str, name: str) -> tuple[str, str, int] | None:
        """One emitted event: ``("create", key, 1)``, ``("patch", key, 2)`` (the series starts)
        or None (counted in memory only); ``namer(namespace, name)`` names a new Event."""
        entries = self.entries
        e = entries.get(key)
        if e is None:
            ev = namer(namespace, name)
            entries[key] = (now, 1, now, ev)
            return ("create", ev, 1)
        count = e[1] + 1
        entries[key] = (e[0], count, now, e[3])
        if count == 2:
            return ("patch", e[3], 2)
        return None

    def finish(self, now: float) -> list[tuple[str, int, tuple]]:
        """``finishSeries``: the ``(name, count, key)`` of series idle for more than ``finish_s``
        (each gets a last PATCH), forgotten with the singletons older than ``finish_s``."""
        out = []
        limit = now - self.finish_s
        for key in [k for k, e in self.entries.items() if (e[2] if e[1] > 1 else e[0]) < limit]:
            e = self.entries.pop(key)
            if e[1] > 1:
                out.append((e[3], e[1], key))
        return out

    def refresh(self) -> list[tuple[str, int, tuple]]:
        """``refreshExistingEventSeries``: the ``(name, count, key)`` of every open series."""
        return [(e[3], e[1], k) for k, e in self.entries.items() if e[1] > 1]
