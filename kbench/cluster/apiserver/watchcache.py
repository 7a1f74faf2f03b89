"""The apiserver watch cache and watch fan-out (A18-A23, I9).

One :class:`WatchCache` per resource is fed by etcd's commit stream after a small lag. It keeps a
bounded event history (A19) that decides whether a watch can resume from a resource version or
must relist (410 Gone), and dispatches each event to the watchers whose selector matches.

Dispatch cost follows I9: one encode per event, then a small per-watcher send cost, done serially
by the cache's dispatcher, so watcher *k* in line gets the event ``encode + k x send`` after the
cache does. **Active** watchers (a scheduler, a kubelet) get a callback per event at their delivery
time. Delivery to **passive** watchers (clients that only receive and are measured, such as
thousands of kube-proxies or the sync experiment's clients) is computed in bulk with numpy by
:mod:`kbench.cluster.apiserver.watchpassive`: one SimPy event per change, not one per watcher (DESIGN.md
decision 2), with the slow-watcher buffers and budget of A21 and A22.

Arrivals and deliveries are scheduled with :mod:`kbench.cluster.apiserver.watchevents` (no Timeout object
or closure per delivery; the same times and order as one timeout per delivery).

Slightly over the ~400-line guide: the cache's history, its watchers and the dispatch of one event
share one state (passive bulk delivery is already split out to :mod:`.watchpassive`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import NORMAL

from kbench.cluster.apiserver.watchevents import Fanout, call_later
from kbench.cluster.apiserver.watchpassive import ChangeLog, PassiveGroup, SlowBudget, dispatch_passive
from kbench.config import ApiserverConfig

__all__ = ["ALL", "ChangeLog", "PassiveGroup", "WatchCache", "Watcher"]

ALL = None  # selector matching every object


@dataclass(eq=False, slots=True)
class Watcher:
    """An active watcher: gets a callback per event.

    Attributes:
        partition: Selector: ``None`` for every object, else the partition key (e.g. a node name).
        on_event: ``f(record)`` called at delivery time with the etcd
            :class:`~kbench.cluster.etcd.server.CommitRecord` (revision, key, op, size_bytes, time_s, value).
        on_close: ``f(reason)`` called when the watch ends (``timeout``, ``slow``, ``restart``).
        rv: Last revision delivered (or bookmarked).
    """

    partition: object
    on_event: Callable | None
    on_close: Callable[[str], None]
    rv: int = 0
    open: bool = True
    pending: int = 0
    timeout_event: object = None
    wid: int = -1


class WatchCache:
    """The watch cache of one resource.

    Args:
        env: The environment.
        resource: Resource name.
        cfg: Apiserver config (watch cache settings and dispatch costs).
        rng: Random stream for the etcd-to-cache lag.
        charge_cpu: ``f(seconds)`` accounting apiserver CPU used by dispatch.
        partition_fn: ``f(value) -> partition`` for indexed watches (pods by ``spec.nodeName``);
            when None, partitions come from :attr:`partition_of` (key -> partition).

    Attributes:
        store: Current objects as the cache has them (key -> value), what a cached LIST returns.
    """

    def __init__(self, env: simpy.Environment, resource: str, cfg: ApiserverConfig,
                 rng: np.random.Generator, charge_cpu: Callable[[float], None],
                 partition_fn: Callable[[object], object] | None = None):
        self.env = env
        self.resource = resource
        self.cfg = cfg
        self.wc = cfg.watch_cache
        self._lag = self.wc.etcd_to_cache_s.sampler(rng)
        self._charge_cpu = charge_cpu
        self.revision = 0
        self.history: deque[tuple[int, float, object, object]] = deque()  # (rev, cache time, record, partition)
        self.oldest_rv = 0  # a watch from rv < oldest_rv gets 410 Gone
        self.partition_of: dict[str, int] = {}
        self.partition_fn = partition_fn
        self.store: dict[str, object] = {}
        self.index: dict[object, dict[str, object]] = {}
        self._part_of_key: dict[str, object] = {}
        self.log = ChangeLog()
        self._log_rows = self.log.rows
        self._all: dict[int, Watcher] = {}  # watchers of every object, in registration order
        self._all_list: tuple[Watcher, ...] = ()  # _all's values, rebuilt when it changes
        self._by_part: dict[object, dict[int, Watcher]] = {}  # indexed watchers per partition
        self._n_by_part = 0  # watchers in _by_part
        self._next_id = 0
        self.passive: list[PassiveGroup] = []
        self._last_arrival = 0.0
        self._dispatch_free_s = 0.0
        self._budget = SlowBudget(self.wc)
        self.events_dispatched = 0
        self.deliveries = 0

    # ---------------------------------------------------------------------------- feed from etcd
    def on_commit(self, rec) -> None:
        """Called for each etcd commit of this resource; the cache sees it after a lag."""
        now = self.env.now
        arrival = max(self._last_arrival, now + self._lag())
        self._last_arrival = arrival
        call_later(self.env, arrival - now, self._arrive, rec)

    def on_commit_many(self, recs: list) -> None:
        """Called for the records of one multi-entry etcd call (batched lease renewals): the cache
        sees them together after one lag and delivers them to each active watcher in one event."""
        now = self.env.now
        arrival = max(self._last_arrival, now + self._lag())
        self._last_arrival = arrival
        call_later(self.env, arrival - now, self._arrive_many, recs)

    def _arrive_many(self, recs: list) -> None:
        if self.passive:  # passive groups take the exact per-event path
            for rec in recs:
                self._arrive(rec)
            return
        parts = [self._arrive(rec, dispatch=False) for rec in recs]
        self._dispatch_many(recs, parts)

    def _arrive(self, rec, dispatch: bool = True):
        now = self.env._now
        key = rec.key
        value = rec.value
        rev = self.revision = rec.revision
        fn = self.partition_fn
        if fn is not None:
            obj = value if value is not None else self.store.get(key)
            part = fn(obj) if obj is not None else None
        else:
            part = self.partition_of.get(key, -1)
        h = self.history
        h.append((rev, now, rec, part))
        wc = self.wc
        lo, hi = wc.history_events_min, wc.history_events_max
        if len(h) > lo or len(h) > hi:
            fresh = wc.fresh_duration_s
            while len(h) > hi or (len(h) > lo and now - h[0][1] > fresh):
                self.oldest_rv = h.popleft()[0]
        if rec.op == "delete":
            self.store.pop(key, None)
            value = None
        else:
            self.store[key] = value
        if fn is not None:
            # the index entry moves (re-inserted last in its bucket, as LISTs return it)
            old = self._part_of_key.pop(key, None)
            if old is not None:
                bucket = self.index.get(old)
                if bucket is not None:
                    bucket.pop(key, None)
            if value is not None:
                self._part_of_key[key] = part  # part == fn(value) here
                bucket = self.index.get(part)
                if bucket is None:
                    bucket = self.index[part] = {}
                bucket[key] = value
        self._log_rows.append((rev, rec.time_s, part if isinstance(part, int) else -1))
        if dispatch:
            self._dispatch(rec, part)
        return part

    def _index_move(self, key: str, value: object, part: object) -> None:
        old = self._part_of_key.pop(key, None)
        if old is not None:
            bucket = self.index.get(old)
            if bucket is not None:
                bucket.pop(key, None)
        if value is not None:
            new = self.partition_fn(value)
            self._part_of_key[key] = new
            self.index.setdefault(new, {})[key] = value

    def rebuild_index(self) -> None:
        """Rebuild the partition index from :attr:`store`."""
        self.index = {}
        self._part_of_key = {}
        if self.partition_fn is not None:
            for key, value in self.store.items():
                if value is not None:
                    self._index_move(key, value, None)

    def snapshot(self, partition: object = None) -> dict:
        """The objects a cached LIST returns: all, or one partition's (a copy)."""
        if partition is None:
            return dict(self.store)
        if self.partition_fn is not None:
            return dict(self.index.get(partition, {}))
        return {k: v for k, v in self.store.items() if self.partition_of.get(k, -1) == partition}

    def reset(self) -> None:
        """Forget history (apiserver restart): watches must resume from the current revision."""
        self.history.clear()
        self.oldest_rv = self.revision

    def can_resume(self, rv: int) -> bool:
        """Whether a watch from ``rv`` can be served from history (else 410 Gone: relist).

        The history keeps between ``history_events_min`` and ``history_events_max`` events and
        drops, at each arrival, those older than ``fresh_duration_s`` (A19).
        """
        return rv >= self.oldest_rv

    # ----------------------------------------------------------------------------------- dispatch
    def _dispatch(self, rec, part) -> None:
        active = self._all_list
        if part is not None:
            bucket = self._by_part.get(part)
            if bucket:
                active = (*active, *bucket.values())
        groups = self.passive
        if not active and not groups:
            return
        env = self.env
        now = env._now
        cfg = self.cfg
        revision = rec.revision
        start = self._dispatch_free_s
        t = (now if now > start else start) + cfg.watch_event_encode_cpu_s
        cpu = cfg.watch_event_encode_cpu_s
        send = cfg.watch_send_cpu_s
        net = rec.size_bytes / cfg.network_bytes_per_s
        eid = env._eid
        f = None
        for w in active:
            t += send
            cpu += send
            if w.on_event is None:
                w.rv = revision
            else:
                w.pending += 1
                if f is None:
                    f = Fanout(env, rec)
                    ws, entries = f.watchers, f.entries
                ws.append(w)
                entries.append((now + (t + net - now), NORMAL, next(eid), f))
        if f is not None:
            f.start()
        self.deliveries += len(active)
        if groups:
            ipart = part if isinstance(part, int) else -1
            budget = self._budget
            for g in groups:
                t, used, delivered = dispatch_passive(g, budget, send, t, net, rec, ipart)
                cpu += used
                self.deliveries += delivered
        self._dispatch_free_s = t
        self.events_dispatched += 1
        self._charge_cpu(cpu)

    def _dispatch_many(self, recs: list, parts: list) -> None:
        """:meth:`_dispatch` for several events at once (active watchers only): the dispatcher's
        work is the same (one encode per event, one send per watcher and event); each watcher gets
        its events in one delivery, at the time its last one would have arrived."""
        now = self.env.now
        cfg = self.cfg
        encode, send, bw = cfg.watch_event_encode_cpu_s, cfg.watch_send_cpu_s, cfg.network_bytes_per_s
        t = max(now, self._dispatch_free_s)
        cpu = 0.0
        batches: dict[Watcher, list] = {}
        dispatched = False
        by_part = self._by_part
        for rec, part in zip(recs, parts, strict=True):
            active = self._all_list
            if part is not None:
                bucket = by_part.get(part)
                if bucket:
                    active = (*active, *bucket.values())
            if not active:
                continue
            dispatched = True
            t += encode
            cpu += encode
            net = rec.size_bytes / bw
            for w in active:
                t += send
                cpu += send
                if w.on_event is None:
                    w.rv = rec.revision
                else:
                    b = batches.get(w)
                    if b is None:
                        b = batches[w] = [0.0, w]
                    b[0] = t + net
                    b.append(rec)
            self.deliveries += len(active)
            self.events_dispatched += 1
        if not dispatched:
            return
        for w, b in batches.items():
            w.pending += 1
            call_later(self.env, b[0] - now, self._deliver_many, b)
        self._dispatch_free_s = t
        self._charge_cpu(cpu)

    @staticmethod
    def _deliver_one(wr: tuple) -> None:
        w, rec = wr
        w.pending -= 1
        if w.open:
            w.rv = rec.revision
            w.on_event(rec)

    @staticmethod
    def _deliver_many(b: list) -> None:
        """Deliver a batch ``[time, watcher, record...]`` of :meth:`_dispatch_many`."""
        w = b[1]
        w.pending -= 1
        on_event = w.on_event
        for i in range(2, len(b)):
            if not w.open:
                return
            rec = b[i]
            w.rv = rec.revision
            on_event(rec)

    # ----------------------------------------------------------------------------------- watchers
    def add_watcher(self, w: Watcher, timeout_s: float, from_rv: int | None = None) -> None:
        """Register an active watcher; it is closed with reason ``timeout`` after ``timeout_s``.

        With ``from_rv``, events after that revision still in the history are replayed first (the
        caller checked :meth:`can_resume`).
        """
        w.wid = self._next_id
        self._next_id += 1
        if w.partition is None:
            self._all[w.wid] = w
            self._all_list = tuple(self._all.values())
        else:
            self._by_part.setdefault(w.partition, {})[w.wid] = w
            self._n_by_part += 1
        if from_rv is not None and w.on_event is not None and self.history and self.history[-1][0] > from_rv:
            now = self.env.now
            t = now
            for rev, _t, rec, part in self.history:
                if rev > from_rv and (w.partition is None or w.partition == part):
                    t += self.cfg.watch_send_cpu_s
                    w.pending += 1
                    call_later(self.env, t - now, self._deliver_one, (w, rec))
        ev = self.env.timeout(timeout_s)
        w.timeout_event = ev
        ev.callbacks.append(lambda _e: self.close(w, "timeout"))

    def close(self, w: Watcher, reason: str) -> None:
        """End a watch; the client's ``on_close`` is told why."""
        if not w.open:
            return
        w.open = False
        if self.wc.bookmark_interval_s > 0 and w.pending == 0:
            # Bookmarks (A23) keep an idle watcher's rv current once it has seen all its events.
            w.rv = max(w.rv, self.revision)
        if w.partition is None:
            self._all.pop(w.wid, None)
            self._all_list = tuple(self._all.values())
        else:
            bucket = self._by_part.get(w.partition)
            if bucket is not None and bucket.pop(w.wid, None) is not None:
                self._n_by_part -= 1
        w.on_close(reason)

    def close_all(self, reason: str) -> None:
        """End every watch (apiserver restart)."""
        for w in self.watchers:
            self.close(w, reason)
        for g in self.passive:
            dead = np.flatnonzero(g.connected)
            g.connected[:] = False
            if self.wc.bookmark_interval_s > 0:  # A23, as in close()
                idle = dead[g.backlog_until[dead] <= self.env.now]
                g.rv[idle] = np.maximum(g.rv[idle], self.revision)
            if g.on_close is not None:
                for i in dead.tolist():
                    g.on_close(i, reason)

    @property
    def watchers(self) -> list[Watcher]:
        """Every open active watcher (a new list)."""
        out = list(self._all.values())
        for bucket in self._by_part.values():
            out.extend(bucket.values())
        return out

    def watcher_total(self) -> int:
        """Every open watcher, active and passive."""
        n = len(self._all) + self._n_by_part  # sampled every few seconds: no walk over 10^4 buckets
        return n + sum(int(g.connected.sum()) for g in self.passive)

    def watcher_count(self, partition: object = None) -> int:
        """Watchers that would receive an event of ``partition`` (for A14 final seats)."""
        n = len(self._all)
        if partition is not None:
            n += len(self._by_part.get(partition, ()))
        for g in self.passive:
            if g.partition is None:
                n += int(g.connected.sum())
            else:
                n += int((g.connected & (g.partition == partition)).sum())
        return n
