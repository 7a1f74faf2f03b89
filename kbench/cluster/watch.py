"""The apiserver watch cache and watch fan-out (A18-A23, I9).

One :class:`WatchCache` per resource is fed by etcd's commit stream after a small lag. It keeps a
bounded event history (A19) that decides whether a watch can resume from a resource version or
must relist (410 Gone), and dispatches each event to the watchers whose selector matches.

Dispatch cost follows I9: one encode per event, then a small per-watcher send cost, done serially
by the cache's dispatcher, so watcher *k* in line gets the event ``encode + k x send`` after the
cache does. Delivery to **passive** watchers (clients that only receive and are measured, such as
thousands of kube-proxies or the sync experiment's clients) is computed in bulk with numpy: one
SimPy event per change, not one per watcher (DESIGN.md decision 2). **Active** watchers (a
scheduler, a kubelet) get a callback per event at their delivery time.

Slow watchers (A21, A22): a passive watcher consumes events one at a time (``process_s`` each)
from a buffer of ``buffer`` events. When its buffer is full the dispatcher waits for it, paying from
a time budget that refills 50 ms per second up to 100 ms; a watcher that would need more than the
remaining budget is terminated and must re-watch (or relist).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from kbench.config import ApiserverConfig
from kbench.metrics.collect import LogHistogram

ALL = None  # selector matching every object


@dataclass(eq=False)
class Watcher:
    """An active watcher: gets a callback per event.

    Attributes:
        partition: Selector: ``None`` for every object, else the partition key (e.g. a node name).
        on_event: ``f(record)`` called at delivery time with the etcd
            :class:`~kbench.cluster.etcd.CommitRecord` (revision, key, op, size_bytes, time_s, value).
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


@dataclass(eq=False)
class PassiveGroup:
    """Passive watchers of one resource, held as arrays.

    Attributes:
        staleness: Seconds from commit to the end of a watcher's processing of the event.
        on_delivered: Optional ``f(watcher_indices, done_times_s, record)`` called once per event
            with the bulk delivery (kube-proxy rule syncs are computed from it).
        process_s: Per-event processing time of each watcher's client, seconds.
        buffer: Buffer size in events (A21).
    """

    n: int
    process_s: np.ndarray
    buffer: int
    partition: np.ndarray | None = None  # per watcher partition key (int), None: all objects
    connected: np.ndarray = field(init=False)
    rv: np.ndarray = field(init=False)
    backlog_until: np.ndarray = field(init=False)
    staleness: LogHistogram = field(default_factory=LogHistogram)
    on_close: Callable[[int, str], None] | None = None
    on_delivered: Callable[[np.ndarray, np.ndarray, object], None] | None = None
    terminated_slow: int = 0

    def __post_init__(self) -> None:
        self.connected = np.zeros(self.n, dtype=bool)
        self.rv = np.zeros(self.n, dtype=np.int64)
        self.backlog_until = np.zeros(self.n)


class ChangeLog:
    """Every committed event of a resource, columnar: revision, commit time, cache time, partition."""

    def __init__(self) -> None:
        self._rev: list[int] = []
        self._commit: list[float] = []
        self._part: list[int] = []
        self._frozen: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def append(self, rev: int, commit_s: float, part: int) -> None:
        self._rev.append(rev)
        self._commit.append(commit_s)
        self._part.append(part)
        self._frozen = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._frozen is None:
            self._frozen = (np.asarray(self._rev, dtype=np.int64), np.asarray(self._commit),
                            np.asarray(self._part, dtype=np.int64))
        return self._frozen

    def between(self, rv_after: int, rv_upto: int, part: int | None = None) -> np.ndarray:
        """Commit times of events with ``rv_after < revision <= rv_upto`` (optionally one partition)."""
        revs, commits, parts = self.arrays()
        lo = np.searchsorted(revs, rv_after, side="right")
        hi = np.searchsorted(revs, rv_upto, side="right")
        if part is None:
            return commits[lo:hi]
        sl = parts[lo:hi]
        return commits[lo:hi][sl == part]

    def __len__(self) -> int:
        return len(self._rev)


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
        self._all: dict[int, Watcher] = {}  # watchers of every object, in registration order
        self._by_part: dict[object, dict[int, Watcher]] = {}  # indexed watchers per partition
        self._n_by_part = 0  # watchers in _by_part
        self._next_id = 0
        self.passive: list[PassiveGroup] = []
        self._last_arrival = 0.0
        self._dispatch_free_s = 0.0
        self._budget_s = self.wc.slow_budget_max_s
        self._budget_t = 0.0
        self.events_dispatched = 0
        self.deliveries = 0

    # ---------------------------------------------------------------------------- feed from etcd
    def on_commit(self, rec) -> None:
        """Called for each etcd commit of this resource; the cache sees it after a lag."""
        arrival = max(self._last_arrival, self.env.now + self._lag())
        self._last_arrival = arrival
        ev = self.env.timeout(arrival - self.env.now)
        ev.callbacks.append(lambda _e: self._arrive(rec))

    def on_commit_many(self, recs: list) -> None:
        """Called for the records of one multi-entry etcd call (batched lease renewals): the cache
        sees them together after one lag and delivers them to each active watcher in one event."""
        arrival = max(self._last_arrival, self.env.now + self._lag())
        self._last_arrival = arrival
        self.env.timeout(arrival - self.env.now).callbacks.append(lambda _e: self._arrive_many(recs))

    def _arrive_many(self, recs: list) -> None:
        if self.passive:  # passive groups take the exact per-event path
            for rec in recs:
                self._arrive(rec)
            return
        parts = [self._arrive(rec, dispatch=False) for rec in recs]
        self._dispatch_many(recs, parts)

    def _arrive(self, rec, dispatch: bool = True):
        now = self.env.now
        key = rec.key
        self.revision = rec.revision
        if self.partition_fn is not None:
            obj = rec.value if rec.value is not None else self.store.get(key)
            part = self.partition_fn(obj) if obj is not None else None
        else:
            part = self.partition_of.get(key, -1)
        self.history.append((rec.revision, now, rec, part))
        self._trim_history(now)
        if rec.op == "delete":
            self.store.pop(key, None)
        else:
            self.store[key] = rec.value
        if self.partition_fn is not None:
            self._index_move(key, rec.value if rec.op != "delete" else None, part)
        self.log.append(rec.revision, rec.time_s, part if isinstance(part, int) else -1)
        if not dispatch:
            return part
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

    def _trim_history(self, now: float) -> None:
        h = self.history
        lo, hi = self.wc.history_events_min, self.wc.history_events_max
        while len(h) > hi or (len(h) > lo and now - h[0][1] > self.wc.fresh_duration_s):
            self.oldest_rv = h.popleft()[0]

    def reset(self) -> None:
        """Forget history (apiserver restart): watches must resume from the current revision."""
        self.history.clear()
        self.oldest_rv = self.revision

    def can_resume(self, rv: int) -> bool:
        """Whether a watch from ``rv`` can be served from history (else 410 Gone: relist)."""
        return rv >= self.oldest_rv

    # ----------------------------------------------------------------------------------- dispatch
    def _dispatch(self, rec, part) -> None:
        now = self.env.now
        revision, size_bytes = rec.revision, rec.size_bytes
        active = list(self._all.values())
        bucket = self._by_part.get(part) if part is not None else None
        if bucket:
            active.extend(bucket.values())
        groups = self.passive
        if not active and not groups:
            return
        cfg = self.cfg
        start = max(now, self._dispatch_free_s)
        t = start + cfg.watch_event_encode_cpu_s
        cpu = cfg.watch_event_encode_cpu_s
        net = size_bytes / cfg.network_bytes_per_s
        for w in active:
            t += cfg.watch_send_cpu_s
            cpu += cfg.watch_send_cpu_s
            if w.on_event is None:
                w.rv = revision
            else:
                w.pending += 1
                ev = self.env.timeout(t + net - now)
                ev.callbacks.append(lambda _e, w=w: self._deliver(w, rec))
            self.deliveries += 1
        ipart = part if isinstance(part, int) else -1
        for g in groups:
            t, used = self._dispatch_passive(g, t, net, rec, ipart)
            cpu += used
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
        for rec, part in zip(recs, parts, strict=True):
            active = list(self._all.values())
            bucket = self._by_part.get(part) if part is not None else None
            if bucket:
                active.extend(bucket.values())
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
                        b = batches[w] = [0.0]
                    b[0] = t + net
                    b.append(rec)
                self.deliveries += 1
            self.events_dispatched += 1
        if not dispatched:
            return
        for w, b in batches.items():
            w.pending += 1
            self.env.timeout(b[0] - now).callbacks.append(lambda _e, w=w, b=b: self._deliver_many(w, b))
        self._dispatch_free_s = t
        self._charge_cpu(cpu)

    @staticmethod
    def _deliver_many(w: Watcher, b: list) -> None:
        w.pending -= 1
        for rec in b[1:]:
            if not w.open:
                return
            w.rv = rec.revision
            w.on_event(rec)

    @staticmethod
    def _deliver(w: Watcher, rec) -> None:
        w.pending -= 1
        if w.open:
            w.rv = rec.revision
            w.on_event(rec)

    def _refill_budget(self, t: float) -> None:
        wc = self.wc
        self._budget_s = min(wc.slow_budget_max_s, self._budget_s + (t - self._budget_t) * wc.slow_budget_refill_s_per_s)
        self._budget_t = t

    def _dispatch_passive(self, g: PassiveGroup, t: float, net: float, rec, part: int) -> tuple[float, float]:
        revision, commit_s = rec.revision, rec.time_s
        mask = g.connected if g.partition is None else g.connected & (g.partition == part)
        idx = np.flatnonzero(mask)
        k = idx.size
        if k == 0:
            return t, 0.0
        send = self.cfg.watch_send_cpu_s
        offered = t + send * np.arange(1, k + 1)
        proc = g.process_s[idx]
        free_slot_at = g.backlog_until[idx] - (g.buffer - 1) * proc
        wait = np.maximum(free_slot_at - offered, 0.0)
        delivered = offered
        if wait.any():
            self._refill_budget(t)
            too_slow = wait > self._budget_s
            if too_slow.any():
                dead = idx[too_slow]
                g.connected[dead] = False
                g.terminated_slow += int(dead.size)
                if g.on_close is not None:
                    for i in dead.tolist():
                        g.on_close(i, "slow")
            ok = ~too_slow
            waited = float(wait[ok].max()) if ok.any() else float(self._budget_s)
            self._budget_s = max(0.0, self._budget_s - waited)
            delivered = offered + np.where(ok, wait, 0.0)
            idx, proc, delivered = idx[ok], proc[ok], delivered[ok]
        arrive = delivered + net
        done = np.maximum(arrive, g.backlog_until[idx]) + proc
        g.backlog_until[idx] = done
        g.rv[idx] = revision
        g.staleness.add(done - commit_s)
        if g.on_delivered is not None:
            g.on_delivered(idx, done, rec)
        self.deliveries += int(idx.size)
        end = float(offered[-1]) if offered.size else t
        return end, send * k

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
                    self.env.timeout(t - now).callbacks.append(lambda _e, rec=rec: self._deliver(w, rec))
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
