"""Passive watchers of a watch cache, delivered in bulk with numpy (A21, A22, DESIGN.md decision 2).

Passive watchers are clients that only receive and are measured (thousands of kube-proxies, the
sync experiment's clients). A :class:`PassiveGroup` holds them as arrays, and
:func:`dispatch_passive` computes one event's delivery to every connected member at once: one
SimPy event per change, not one per watcher.

Slow watchers (A21, A22): a passive watcher consumes events one at a time (``process_s`` each)
from a buffer of ``buffer`` events. When its buffer is full the dispatcher waits for it, paying from
a time budget (:class:`SlowBudget`) that refills 50 ms per second up to 100 ms; a watcher that
would need more than the remaining budget is terminated and must re-watch (or relist).

:class:`ChangeLog` keeps every committed event of a resource in columns, so that a client's
catch-up after a LIST can be computed by revision range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

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
    """Every committed event of a resource, columnar: revision, commit time, partition.

    New events are appended to :attr:`rows` (one tuple each, the watch cache's hot path) and moved
    into numpy arrays with spare capacity when read, so a read after ``k`` new events costs O(k).
    """

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, int]] = []  # (revision, commit time, partition) not yet in arrays
        self._n = 0
        self._rev = np.zeros(0, dtype=np.int64)
        self._commit = np.zeros(0)
        self._part = np.zeros(0, dtype=np.int64)

    def append(self, rev: int, commit_s: float, part: int) -> None:
        self.rows.append((rev, commit_s, part))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(revisions, commit times, partitions)`` of every event so far (views; entries never change once written)."""
        rows = self.rows
        if rows:
            n0, n = self._n, self._n + len(rows)
            if n > self._rev.size:
                cap = max(n, 2 * self._rev.size, 1024)
                for name in ("_rev", "_commit", "_part"):
                    old = getattr(self, name)
                    grown = np.zeros(cap, dtype=old.dtype)
                    grown[:n0] = old[:n0]
                    setattr(self, name, grown)
            revs, commits, parts = zip(*rows, strict=True)
            self._rev[n0:n] = revs
            self._commit[n0:n] = commits
            self._part[n0:n] = parts
            self._n = n
            rows.clear()
        n = self._n
        return self._rev[:n], self._commit[:n], self._part[:n]

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
        return self._n + len(self.rows)


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


def dispatch_passive(g: PassiveGroup, budget: SlowBudget, send: float, t: float, net: float, rec,
                     part: int) -> tuple[float, float, int]:
    """Deliver one event to the connected members of ``g`` that want partition ``part``.

    Args:
        send: Per-watcher send CPU, seconds.
        t: When the dispatcher starts on this group, seconds.
        net: Network time of the event, seconds.
        rec: The etcd commit record.

    Returns:
        ``(end, cpu, delivered)``: when the dispatcher is done with the group, the CPU seconds it
        used and how many watchers got the event.
    """
    revision, commit_s = rec.revision, rec.time_s
    mask = g.connected if g.partition is None else g.connected & (g.partition == part)
    idx = np.flatnonzero(mask)
    k = idx.size
    if k == 0:
        return t, 0.0, 0
    offered = t + send * np.arange(1, k + 1)
    proc = g.process_s[idx]
    free_slot_at = g.backlog_until[idx] - (g.buffer - 1) * proc
    wait = np.maximum(free_slot_at - offered, 0.0)
    delivered = offered
    if wait.any():
        budget.refill(t)
        too_slow = wait > budget.s
        if too_slow.any():
            dead = idx[too_slow]
            g.connected[dead] = False
            g.terminated_slow += int(dead.size)
            if g.on_close is not None:
                for i in dead.tolist():
                    g.on_close(i, "slow")
        ok = ~too_slow
        waited = float(wait[ok].max()) if ok.any() else float(budget.s)
        budget.s = max(0.0, budget.s - waited)
        delivered = offered + np.where(ok, wait, 0.0)
        idx, proc, delivered = idx[ok], proc[ok], delivered[ok]
    arrive = delivered + net
    done = np.maximum(arrive, g.backlog_until[idx]) + proc
    g.backlog_until[idx] = done
    g.rv[idx] = revision
    g.staleness.add(done - commit_s)
    if g.on_delivered is not None:
        g.on_delivered(idx, done, rec)
    end = float(offered[-1]) if offered.size else t
    return end, send * k, int(idx.size)
