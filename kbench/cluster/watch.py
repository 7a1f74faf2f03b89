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
        on_event: ``f(revision, key, op, size_bytes, commit_s)`` called at delivery time.
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


@dataclass(eq=False)
class PassiveGroup:
    """Passive watchers of one resource, held as arrays.

    Attributes:
        staleness: Seconds from commit to the end of a watcher's processing of the event.
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
    """

    def __init__(self, env: simpy.Environment, resource: str, cfg: ApiserverConfig,
                 rng: np.random.Generator, charge_cpu: Callable[[float], None]):
        self.env = env
        self.resource = resource
        self.cfg = cfg
        self.wc = cfg.watch_cache
        self._lag = self.wc.etcd_to_cache_s.sampler(rng)
        self._charge_cpu = charge_cpu
        self.revision = 0
        self.history: deque[tuple[int, float]] = deque()  # (revision, cache time)
        self.oldest_rv = 0  # a watch from rv < oldest_rv gets 410 Gone
        self.partition_of: dict[str, int] = {}
        self.log = ChangeLog()
        self.watchers: list[Watcher] = []
        self.passive: list[PassiveGroup] = []
        self._last_arrival = 0.0
        self._dispatch_free_s = 0.0
        self._budget_s = self.wc.slow_budget_max_s
        self._budget_t = 0.0
        self.events_dispatched = 0
        self.deliveries = 0

    # ---------------------------------------------------------------------------- feed from etcd
    def on_commit(self, revision: int, key: str, op: str, size_bytes: int, commit_s: float) -> None:
        """Called for each etcd commit of this resource; the cache sees it after a lag."""
        arrival = max(self._last_arrival, self.env.now + self._lag())
        self._last_arrival = arrival
        ev = self.env.timeout(arrival - self.env.now)
        ev.callbacks.append(lambda _e: self._arrive(revision, key, op, size_bytes, commit_s))

    def _arrive(self, revision: int, key: str, op: str, size_bytes: int, commit_s: float) -> None:
        now = self.env.now
        self.revision = revision
        self.history.append((revision, now))
        self._trim_history(now)
        part = self.partition_of.get(key, -1)
        self.log.append(revision, commit_s, part)
        self._dispatch(revision, key, op, size_bytes, commit_s, part)

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
    def _dispatch(self, revision, key, op, size_bytes, commit_s, part) -> None:
        now = self.env.now
        active = [w for w in self.watchers if w.open and (w.partition is None or w.partition == part)]
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
                ev.callbacks.append(lambda _e, w=w: self._deliver(w, revision, key, op, size_bytes, commit_s))
            self.deliveries += 1
        for g in groups:
            t, used = self._dispatch_passive(g, t, net, revision, commit_s, part)
            cpu += used
        self._dispatch_free_s = t
        self.events_dispatched += 1
        self._charge_cpu(cpu)

    @staticmethod
    def _deliver(w: Watcher, revision, key, op, size_bytes, commit_s) -> None:
        w.pending -= 1
        if w.open:
            w.rv = revision
            w.on_event(revision, key, op, size_bytes, commit_s)

    def _refill_budget(self, t: float) -> None:
        wc = self.wc
        self._budget_s = min(wc.slow_budget_max_s, self._budget_s + (t - self._budget_t) * wc.slow_budget_refill_s_per_s)
        self._budget_t = t

    def _dispatch_passive(self, g: PassiveGroup, t: float, net: float, revision: int, commit_s: float,
                          part: int) -> tuple[float, float]:
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
        self.deliveries += int(idx.size)
        end = float(offered[-1]) if offered.size else t
        return end, send * k

    # ----------------------------------------------------------------------------------- watchers
    def add_watcher(self, w: Watcher, timeout_s: float) -> None:
        """Register an active watcher; it is closed with reason ``timeout`` after ``timeout_s``."""
        self.watchers.append(w)
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
        self.watchers = [x for x in self.watchers if x is not w]
        w.on_close(reason)

    def close_all(self, reason: str) -> None:
        """End every watch (apiserver restart)."""
        for w in list(self.watchers):
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

    def watcher_count(self, partition: object = None) -> int:
        """Watchers that would receive an event of ``partition`` (for A14 final seats)."""
        n = sum(1 for w in self.watchers if w.partition is None or w.partition == partition)
        for g in self.passive:
            if g.partition is None:
                n += int(g.connected.sum())
            else:
                n += int((g.connected & (g.partition == partition)).sum())
        return n
