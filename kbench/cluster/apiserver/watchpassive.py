"""Passive watchers of a watch cache, delivered in bulk with numpy (A21, A22, DESIGN.md decision 2).

Passive watchers are clients that only receive and are measured (thousands of kube-proxies, the
sync experiment's clients). A :class:`PassiveGroup` holds them as arrays, and
:func:`dispatch_passive` computes one event's delivery to every connected member at once: one
SimPy event per change, not one per watcher.

The per-watcher work is booked on the apiserver's core pool (:mod:`.fanout`), after the cacher's
serial dispatcher offered the event to each member in turn, and the bytes leave through the shared
NIC; the client then processes the event.

Slow watchers (A21, A22): a passive watcher consumes events one at a time (``process_s`` each)
from a buffer of ``buffer`` events. When its buffer is full the dispatcher waits for it, paying from
a time budget (:class:`SlowBudget`) that refills 50 ms per second up to 100 ms; a watcher that
would need more than the remaining budget is terminated and must re-watch (or relist). Watchers
that had room got the event at once; the wait delays the dispatcher, so the next events.

:class:`ChangeLog` keeps every committed event of a resource in columns, so that a client's
catch-up after a LIST can be computed by revision range.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kbench.cluster.apiserver.fanout import _arange1, book
from kbench.config import WatchCacheConfig
from kbench.metrics.collect import LogHistogram


@dataclass(eq=False)
class PassiveGroup:
    """Passive watchers of one resource, held as arrays.

    Attributes:
        staleness: Seconds from commit to the end of a watcher's processing of the event.
        on_delivered: Optional ``f(watcher_indices, done_times_s, record)`` called once per event
            with the bulk delivery (kube-proxy rule syncs are computed from it).
        process_s: Per-event processing time of each watcher's client, seconds.
        buffer: Buffer size in events (A21: channels x channel size).
        client: Client class (for the egress ledger).
        opened_s: When each member's current watch began, seconds (bookmarks, A23).
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
    client: str = ""
    opened_s: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.connected = np.zeros(self.n, dtype=bool)
        self.rv = np.zeros(self.n, dtype=np.int64)
        self.backlog_until = np.zeros(self.n)
        self.opened_s = np.zeros(self.n)

    @property
    def slow(self) -> bool:
        """Some member takes time per event (it can fall behind)."""
        return bool(self.process_s.any())

    def members(self, part: int) -> np.ndarray:
        """Indices of the connected members that want an event of partition ``part``."""
        mask = self.connected if self.partition is None else self.connected & (self.partition == part)
        return np.flatnonzero(mask)




class ChangeLog:
    """Every committed event of a resource, columnar: revision, commit time, partition.

    New events are appended to three typed arrays (:mod:`array`: 24 bytes an event, no Python
    object each) and moved into numpy arrays with spare capacity when read, a buffer copy, so a read
    after ``k`` new events costs O(k) at C speed (moving tuples took ~0.6 us an event).
    """

    def __init__(self) -> None:
        # (revision, commit time, partition) of the events not yet in the numpy arrays
        self.new_revs, self.new_commits, self.new_parts = array("q"), array("d"), array("q")
        self._n = 0
        self._rev = np.zeros(0, dtype=np.int64)
        self._commit = np.zeros(0)
        self._part = np.zeros(0, dtype=np.int64)

    def append(self, rev: int, commit_s: float, part: int) -> None:
        self.new_revs.append(rev)
        self.new_commits.append(commit_s)
        self.new_parts.append(part)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(revisions, commit times, partitions)`` of every event so far (views; entries never change once written)."""
        k = len(self.new_revs)
        if k:
            n0, n = self._n, self._n + k
            if n > self._rev.size:
                cap = max(n, 2 * self._rev.size, 1024)
                for name in ("_rev", "_commit", "_part"):
                    old = getattr(self, name)
                    grown = np.zeros(cap, dtype=old.dtype)
                    grown[:n0] = old[:n0]
                    setattr(self, name, grown)
            for dst, src in ((self._rev, self.new_revs), (self._commit, self.new_commits), (self._part, self.new_parts)):
                dst[n0:n] = np.frombuffer(src, dtype=dst.dtype)  # the view is gone before the clear
                del src[:]
            self._n = n
        n = self._n
        return self._rev[:n], self._commit[:n], self._part[:n]

    def revision_at(self, t: float, default: int) -> int:
        """The last revision committed at or before ``t`` (seconds), or ``default`` when none is.

        Searched among the events not yet in the numpy arrays with ``bisect`` when ``t`` falls among
        them (a bookmark's time at a watch's close: recent), so a close makes no numpy call (a lone
        one costs ~15 µs in a run); older times search the arrays. The same answer as
        ``searchsorted(..., side="right")`` on the whole log.
        """
        commits = self.new_commits
        if commits and commits[0] <= t:
            return self.new_revs[bisect_right(commits, t) - 1]
        n = self._n
        i = int(np.searchsorted(self._commit[:n], t, side="right")) if n else 0
        return int(self._rev[i - 1]) if i else default

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
        return self._n + len(self.new_revs)


class SlowBudget:
    """The dispatcher's budget for waiting on full watcher buffers (A22), seconds."""

    def __init__(self, wc: WatchCacheConfig) -> None:
        self.wc = wc
        self.s = wc.slow_budget_max_s
        self.t = 0.0

    def refill(self, t: float) -> None:
        """Refill up to time ``t`` (seconds)."""
        wc = self.wc
        self.s = min(wc.slow_budget_max_s, self.s + (t - self.t) * wc.slow_budget_refill_s_per_s)
        self.t = t


def dispatch_passive(g: PassiveGroup, idx: np.ndarray, api, budget: SlowBudget, off: float, t_enc: float,
                     s: float, link: float, nbytes: float, rec) -> tuple[float, float, int]:
    """Deliver one event to the members ``idx`` of ``g`` (see the module docstring).

    Args:
        api: The apiserver (its core pool, NIC and config).
        off: When the dispatcher reaches this group, seconds.
        t_enc: When the event's shared encoding is done, seconds.
        s: Per-watcher CPU of the event, seconds.
        link: Time on one client's link, seconds.
        nbytes: Bytes per delivery.
        rec: The etcd commit record.

    Returns:
        ``(end, stall, delivered)``: when the dispatcher is done offering to the group, how long it
        then waited on full buffers, seconds, and how many watchers got the event.
    """
    cfg = api.cfg
    k = idx.size
    d = cfg.watch_dispatch_s_per_watcher
    ar = _arange1(k)
    offered = off + d * ar
    end = off + d * k
    stall = 0.0
    if g.slow:
        # Only a client that takes time per event fills its buffer (network queueing is absorbed by
        # the connection's socket buffers): a full buffer frees a slot when the client is done with
        # the event ``buffer`` places back.
        proc = g.process_s[idx]
        wait = np.maximum(g.backlog_until[idx] - (g.buffer - 1) * proc - offered, 0.0)
        if wait.any():
            budget.refill(end)
            too_slow = wait > budget.s
            if too_slow.any():
                dead = idx[too_slow]
                g.connected[dead] = False
                g.terminated_slow += int(dead.size)
                tw = api.terminated_watchers
                tw[g.client] = tw.get(g.client, 0) + int(dead.size)
                if g.on_close is not None:
                    for i in dead.tolist():
                        g.on_close(i, "slow")
            ok = ~too_slow
            stall = float(wait[ok].max()) if ok.any() else float(budget.s)
            budget.s = max(0.0, budget.s - stall)
            offered = offered + np.where(ok, wait, 0.0)
            idx, proc, offered = idx[ok], proc[ok], offered[ok]
            k = idx.size
            if k == 0:
                return end, stall, 0
            ar = _arange1(k)
    else:
        proc = None
    full = k == g.n  # every member: whole arrays instead of gathers and scatters
    sel = slice(None) if full else idx
    start = off if off > t_enc else t_enc
    ends = np.asarray(book(api._cores, start, s, k, cfg.watch_small_fanout), dtype=np.float64)
    done = np.maximum(ends, offered + s)
    step = nbytes / cfg.nic_bytes_per_s
    nic = step * ar + np.maximum(api.nic_free_s, np.maximum.accumulate(done - step * (ar - 1.0)))
    api.nic_free_s = float(nic[-1])
    arrive = np.maximum(done + link, nic)
    backlog = g.backlog_until[sel]
    client_done = np.maximum(arrive, backlog)
    if proc is not None:
        client_done += proc
    g.backlog_until[sel] = client_done
    g.rv[sel] = rec.revision
    g.staleness.add(client_done - rec.time_s)
    if g.on_delivered is not None:
        g.on_delivered(idx, client_done, rec)
    api.traffic.out("watch", rec.resource, g.client, k * nbytes)
    return end, stall, k


def close_members(g: PassiveGroup, idx: np.ndarray, now: float, reason: str, cache) -> None:
    """End the watches of members ``idx`` of ``g`` (timeout, restart): their bookmarks (A23) are
    counted and move each idle member's revision forward; ``on_close`` is told."""
    if idx.size == 0:
        return
    g.connected[idx] = False
    cache.bookmark_members(g, idx, now, reason)
    if g.on_close is not None:
        for i in idx.tolist():
            g.on_close(i, reason)
