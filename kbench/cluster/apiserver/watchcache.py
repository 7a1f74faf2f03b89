"""The apiserver watch cache (A18-A23, I9, I18).

One :class:`WatchCache` per resource is fed by etcd's commit stream after a small lag. It keeps a
bounded event history (A19) that decides whether a watch can resume from a resource version or
must relist (410 Gone), serves LISTs (consistent ones once fresh, :mod:`.freshness`), and hands
each event to :mod:`.watchdispatch`, which books the fan-out on the apiserver's cores: one encode
per event, then per-watcher work in parallel with request handling. **Active** watchers (a
scheduler, a kubelet) get a callback per event at their delivery time. Delivery to **passive**
watchers (clients that only receive and are measured, such as thousands of kube-proxies or the
sync experiment's clients) is computed in bulk with numpy by :mod:`.watchpassive`: one SimPy
event per change, not one per watcher (DESIGN.md decision 2). Either kind is terminated when its
buffer is full and the dispatcher's time budget runs out (A21, A22).

Bookmarks (A23) cost no event: when a watch closes, the bookmarks it received (one a minute, and
one 2 s before its deadline) are counted in the egress ledger and move an idle watcher's revision
to the cache's revision at the last of them, so idle watchers resume without relisting.

Slightly over the ~400-line guide: the cache's history, its watchers and their closing share one
state (dispatch, passive delivery and freshness are split out).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

from kbench.cluster.apiserver.bookmarks import bookmark_members, bookmarks_received
from kbench.cluster.apiserver.fanout import book_scalar
from kbench.cluster.apiserver.freshness import Freshness
from kbench.cluster.apiserver.traffic import Traffic
from kbench.cluster.apiserver.watcharrival import arrive_keyed, trim_history
from kbench.cluster.apiserver.watchdispatch import dispatch as dispatch_event
from kbench.cluster.apiserver.watchdispatch import dispatch_many
from kbench.cluster.apiserver.watchpassive import ChangeLog, PassiveGroup, SlowBudget, close_members
from kbench.config import ApiserverConfig
from kbench.simkernel import call_later

__all__ = ["ALL", "ChangeLog", "PassiveGroup", "WatchCache", "Watcher"]

ALL = None  # selector matching every object


def _closed(reason: str) -> None:
    """A closed watcher's ``on_close``: it was told already."""


@dataclass(eq=False, slots=True)
class Watcher:
    """An active watcher: gets a callback per event.

    Attributes:
        partition: Selector: ``None`` for every object, else the partition key (e.g. a node name).
        on_event: ``f(record)`` called at delivery time with the etcd
            :class:`~kbench.cluster.etcd.server.CommitRecord` (revision, key, op, size_bytes, time_s, value).
        on_close: ``f(reason)`` called when the watch ends (``timeout``, ``slow``, ``restart``).
        rv: Last revision delivered (or bookmarked).
        client: Client class (for the egress ledger and the terminated-watcher counts).
        process_s: Time the client takes per event, seconds (0: never falls behind).
        buffer: Events that fit between the dispatcher and the client (A21, I18).
        backlog_until: When the client has processed every event it got, seconds.
        opened_s: When the watch began, seconds.
        deadline_s: When it times out, seconds.
        sent_bytes: Watch-event bytes sent to it not yet in the egress ledger (counted in its
            ``watch`` total already; folded in per client class when it closes).
    """

    partition: object
    on_event: Callable | None
    on_close: Callable[[str], None]
    rv: int = 0
    open: bool = True
    pending: int = 0
    timeout_event: object = None
    wid: int = -1
    client: str = ""
    process_s: float = 0.0
    buffer: int = 20
    backlog_until: float = 0.0
    opened_s: float = 0.0
    deadline_s: float = math.inf
    sent_bytes: float = 0.0


class WatchCache:
    """The watch cache of one resource.

    Args:
        env: The environment.
        resource: Resource name.
        cfg: Apiserver config (watch cache settings and dispatch costs).
        rng: Random stream for the etcd-to-cache lag.
        api: The apiserver (its core pool, NIC, traffic ledger and etcd); a standalone cache
            (tests) gets a pool of its own.
        partition_fn: ``f(value) -> partition`` for indexed watches (pods by ``spec.nodeName``);
            when None, partitions come from :attr:`partition_of` (key -> partition).

    Attributes:
        store: Current objects as the cache has them (key -> value), what a cached LIST returns.
        history_bytes: Bytes of the events in the history (they pin old versions in memory).
        terminated_slow: Watchers of this cache closed for falling behind (A22).
        bookmarks_sent: Bookmark events sent (counted when watches close).
    """

    def __init__(self, env: simpy.Environment, resource: str, cfg: ApiserverConfig,
                 rng: np.random.Generator, api=None,
                 partition_fn: Callable[[object], object] | None = None):
        self.env = env
        self.resource = resource
        self.cfg = cfg
        self.wc = cfg.watch_cache
        self._lag = self.wc.etcd_to_cache_s.sampler(rng)
        self.api = api if api is not None and not callable(api) else _StandalonePool(cfg)
        etcd = self.api.etcd_for(resource) if hasattr(self.api, "etcd_for") else getattr(self.api, "etcd", None)
        self.fresh = Freshness(self, etcd) if etcd is not None else None
        self.history_bytes = 0.0
        self.terminated_slow = 0
        self.bookmarks_sent = 0
        self.ready = True  # False while (re)initializing from etcd after an apiserver restart (KEP-4568)
        self._part_counts: dict[object, int] | None = None
        self._part_counts_n = -1
        self.revision = 0
        self.history: deque[tuple[int, float, object, object]] = deque()  # (rev, cache time, record, partition)
        # (rev, record) of each partition's events, oldest first: a partitioned watch resumes in O(its
        # own missed events) instead of walking every partition's history back to its revision (a
        # kubelet re-watching at 5,000 nodes walked ~4,000 entries). Entries older than the
        # history's first (gone from it) are dropped lazily, at the partition's next append or resume;
        # the history is in revision order (arrivals are FIFO in commit order).
        self._part_history: dict[object, deque[tuple[int, object]]] = {}
        self.oldest_rv = 0  # a watch from rv < oldest_rv gets 410 Gone
        self.partition_of: dict[str, int] = {}
        self.partition_fn = partition_fn
        self.store: dict[str, object] = {}
        self.index: dict[object, dict[str, object]] = {}
        self._part_of_key: dict[str, object] = {}
        self.log = ChangeLog()
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
        fresh = self.fresh
        if self.partition_fn is not None or (fresh is not None and fresh.waiters):
            parts = [self._arrive(rec, dispatch=False) for rec in recs]
        else:
            parts = arrive_keyed(self, recs)
        dispatch_many(self, recs, parts)

    def _arrive(self, rec, dispatch: bool = True):
        now = self.env.now
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
        if part is not None and part != -1:
            ph = self._part_history.get(part)
            if ph is None:
                ph = self._part_history[part] = deque()
            else:
                first = h[0][0]
                while ph and ph[0][0] < first:
                    ph.popleft()
            ph.append((rev, rec))
        self.history_bytes = trim_history(self, now, self.history_bytes + rec.size_bytes)
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
        log = self.log
        log.new_revs.append(rev)
        log.new_commits.append(rec.time_s)
        log.new_parts.append(part if isinstance(part, int) else -1)
        if dispatch:
            dispatch_event(self, rec, part)
        fresh = self.fresh
        if fresh is not None and fresh.waiters:
            fresh.release()
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

    def partition_count(self, partition: object) -> int:
        """Objects the cache holds in ``partition`` (an indexed field selector's bucket)."""
        if self.partition_fn is not None:
            return len(self.index.get(partition, ()))
        if self._part_counts_n != len(self.partition_of):
            counts: dict[object, int] = {}
            for p in self.partition_of.values():
                counts[p] = counts.get(p, 0) + 1
            self._part_counts, self._part_counts_n = counts, len(self.partition_of)
        return self._part_counts.get(partition, 0)

    def read_rv(self) -> int:
        """The revision a read from the cache is served at: its last event, or the last progress
        notification if later (I20)."""
        fresh = self.fresh
        if fresh is not None and fresh.progress_rv > self.revision:
            return fresh.progress_rv
        return self.revision

    def revision_at(self, t: float) -> int:
        """The last revision of this resource committed at or before ``t`` (seconds), or the
        revision the cache started from."""
        return self.log.revision_at(t, self.oldest_rv)

    def watch_buffer(self, indexed: bool = False, trigger: bool = False) -> int:
        """Events a watcher's buffers hold: ``channels_per_watcher`` channels of
        clamp(ceil(capacity / 75 s), min, max for the kind) (A21, I18); the history length stands
        for the capacity (at least the 100-event lower bound)."""
        wc = self.wc
        top = wc.buffer_max_indexed_trigger if trigger else (wc.buffer_max_indexed if indexed else wc.buffer_max)
        cap = max(len(self.history), wc.history_events_min)
        size = min(max(math.ceil(cap / wc.fresh_duration_s), wc.buffer_min), top)
        return wc.channels_per_watcher * size

    def reset(self) -> None:
        """Forget history (apiserver restart): watches must resume from the current revision."""
        self.history.clear()
        self._part_history.clear()
        self.history_bytes = 0.0
        self.oldest_rv = self.revision

    def can_resume(self, rv: int) -> bool:
        """Whether a watch from ``rv`` can be served from history (else 410 Gone: relist).

        The history keeps between ``history_events_min`` and ``history_events_max`` events and
        drops, at each arrival, those older than ``fresh_duration_s`` (A19).
        """
        return rv >= self.oldest_rv

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
        caller checked :meth:`can_resume`): their per-watcher work is one job on the core pool
        and they arrive together.
        """
        env = self.env
        now = env.now
        w.wid = self._next_id
        self._next_id += 1
        w.opened_s = now
        w.deadline_s = now + timeout_s
        w.backlog_until = now
        if w.partition is None:
            self._all[w.wid] = w
            self._all_list = tuple(self._all.values())
        else:
            self._by_part.setdefault(w.partition, {})[w.wid] = w
            self._n_by_part += 1
        if from_rv is not None and w.on_event is not None and self.history and self.history[-1][0] > from_rv:
            missed = self._missed(w.partition, from_rv)
            if missed:
                self._replay(w, missed)
        ev = env.timeout(timeout_s)
        w.timeout_event = ev
        ev.callbacks.append(lambda _e: self.close(w, "timeout"))

    def _missed(self, partition, from_rv: int) -> list:
        """The history's events after ``from_rv`` of ``partition`` (every event when None), oldest first."""
        missed = []  # newest first, from the end: O(missed), not O(history)
        if partition is None or partition == -1:
            for rev, _t, rec, part in reversed(self.history):
                if rev <= from_rv:
                    break
                if partition is None or partition == part:
                    missed.append(rec)
        else:
            ph = self._part_history.get(partition)
            if ph and self.history:
                first = self.history[0][0]
                while ph and ph[0][0] < first:
                    ph.popleft()
                for rev, rec in reversed(ph):
                    if rev <= from_rv:
                        break
                    missed.append(rec)
        missed.reverse()
        return missed

    def _replay(self, w: Watcher, recs: list) -> None:
        cfg, api = self.cfg, self.api
        nbytes = sum(r.size_bytes for r in recs) + len(recs) * cfg.watch_event_frame_bytes
        cpu = len(recs) * cfg.watch_send_cpu_s + (nbytes * (cfg.watch_send_cpu_s_per_byte
                                                            + cfg.encode_cpu_s_per_byte))
        now = self.env.now
        end = book_scalar(api._cores, now, cpu, 1)[0]
        api.cpu_s += cpu
        api.cpu_watch_s += cpu
        api.traffic.out("initial", self.resource, w.client, nbytes)
        done = now + api._send_delay(end - now, nbytes)
        w.pending += 1
        call_later(self.env, done - now, self._deliver_many, [done, w, *recs])

    def replay_passive(self, g: PassiveGroup, n: int) -> None:
        """A member of ``g`` resumed ``n`` events behind: their per-watcher work and bytes (the
        history replayed to it, counted as ``initial`` egress)."""
        cfg, api = self.cfg, self.api
        h = self.history
        b = self.history_bytes / len(h) if h else 0.0
        nbytes = n * (b + cfg.watch_event_frame_bytes)
        cpu = n * cfg.watch_send_cpu_s + nbytes * (cfg.watch_send_cpu_s_per_byte + cfg.encode_cpu_s_per_byte)
        book_scalar(api._cores, self.env.now, cpu, 1)
        api.cpu_s += cpu
        api.cpu_watch_s += cpu
        api.traffic.out("initial", self.resource, g.client, nbytes)

    def terminate(self, w: Watcher) -> None:
        """Close ``w`` for falling behind (A22): the events still buffered for it are lost."""
        self.terminated_slow += 1
        tw = self.api.terminated_watchers
        tw[w.client] = tw.get(w.client, 0) + 1
        self.close(w, "slow")

    def flush_traffic(self) -> None:
        """Fold the open active watchers' watch bytes into the egress ledger's per-client keys."""
        for w in self.watchers:
            self._fold(w)

    def _fold(self, w: Watcher) -> None:
        if w.sent_bytes:
            e = self.api.traffic.egress
            key = ("watch", self.resource, w.client)
            e[key] = e.get(key, 0.0) + w.sent_bytes
            w.sent_bytes = 0.0

    def close(self, w: Watcher, reason: str) -> None:
        """End a watch; the client's ``on_close`` is told why."""
        if not w.open:
            return
        w.open = False
        self._fold(w)
        now = self.env.now
        n, t_last = self._bookmarks(w.opened_s, now, reason)
        if n:
            self.bookmarks_sent += n
            self.api.traffic.out("bookmark", self.resource, w.client, n * self.cfg.bookmark_bytes)
            if w.pending == 0 and w.backlog_until <= t_last:  # idle at its last bookmark
                w.rv = max(w.rv, self.revision_at(t_last))
        if w.partition is None:
            self._all.pop(w.wid, None)
            self._all_list = tuple(self._all.values())
        else:
            bucket = self._by_part.get(w.partition)
            if bucket is not None and bucket.pop(w.wid, None) is not None:
                self._n_by_part -= 1
        on_close, w.on_close = w.on_close, _closed  # a client's callback may refer back to w: no cycle left
        on_close(reason)

    def _bookmarks(self, opened_s: float, now: float, reason: str) -> tuple[int, float]:
        return bookmarks_received(self.wc, opened_s, now, reason)

    def bookmark_members(self, g: PassiveGroup, idx: np.ndarray, now: float, reason: str) -> None:
        """:meth:`close`'s bookmarks for members ``idx`` of a passive group."""
        bookmark_members(self, g, idx, now, reason)

    def close_all(self, reason: str) -> None:
        """End every watch (apiserver restart)."""
        for w in self.watchers:
            self.close(w, reason)
        now = self.env.now
        for g in self.passive:
            close_members(g, np.flatnonzero(g.connected), now, reason, self)

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


class _StandalonePool:
    """What a watch cache needs of an apiserver, for a cache built on its own (tests)."""

    def __init__(self, cfg: ApiserverConfig):
        self.cfg = cfg
        self._cores = [0.0] * cfg.cores
        heapq.heapify(self._cores)
        self.cpu_s = 0.0
        self.cpu_watch_s = 0.0
        self.nic_free_s = 0.0
        self.traffic = Traffic()
        self.terminated_watchers: dict[str, int] = {}

    def _send_delay(self, ready: float, nbytes: float) -> float:
        return ready + nbytes / self.cfg.network_bytes_per_s
