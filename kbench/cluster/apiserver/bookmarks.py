"""Bookmarks (A23) without an event per watcher: counted when a watch closes.

A watch open ``T`` seconds received ``floor(T / bookmark_interval_s)`` periodic bookmarks, and one
``bookmark_before_deadline_s`` before its deadline when it timed out. They cost egress (counted at the
close) and move an idle watcher's revision (one with nothing buffered at its last bookmark) to the
last revision of its resource committed by then, so an idle watcher resumes without a 410 after a
5-10 minute watch although the history holds 75 s (A19).
"""

from __future__ import annotations

import numpy as np

from kbench.config import WatchCacheConfig


def bookmarks_received(wc: WatchCacheConfig, opened_s: float, now: float, reason: str) -> tuple[int, float]:
    """How many bookmarks a watch open since ``opened_s`` got by ``now`` and when it got the last."""
    if wc.bookmark_interval_s <= 0:
        return 0, 0.0
    span = now - opened_s
    n = int(span // wc.bookmark_interval_s)
    t_last = opened_s + n * wc.bookmark_interval_s
    if reason == "timeout" and span > wc.bookmark_before_deadline_s:
        n += 1
        t_last = now - wc.bookmark_before_deadline_s
    return n, t_last


def bookmark_members(cache, g, idx: np.ndarray, now: float, reason: str) -> None:
    """The bookmarks of members ``idx`` of passive group ``g`` whose watches close now (vectorized)."""
    wc = cache.wc
    if wc.bookmark_interval_s <= 0 or idx.size == 0:
        return
    if idx.size == 1:  # one member (its own timeout): scalar
        i = int(idx[0])
        n, t_last = bookmarks_received(wc, float(g.opened_s[i]), now, reason)
        if n:
            cache.bookmarks_sent += n
            cache.api.traffic.out("bookmark", cache.resource, g.client, n * cache.cfg.bookmark_bytes)
            if g.backlog_until[i] <= t_last:
                g.rv[i] = max(int(g.rv[i]), cache.revision_at(t_last))
        return
    span = now - g.opened_s[idx]
    n = np.floor(span / wc.bookmark_interval_s)
    t_last = g.opened_s[idx] + n * wc.bookmark_interval_s
    if reason == "timeout":
        late = span > wc.bookmark_before_deadline_s
        n = n + late
        t_last = np.where(late, now - wc.bookmark_before_deadline_s, t_last)
    total = int(n.sum())
    if not total:
        return
    cache.bookmarks_sent += total
    cache.api.traffic.out("bookmark", cache.resource, g.client, total * cache.cfg.bookmark_bytes)
    idle = (n > 0) & (g.backlog_until[idx] <= t_last)
    if idle.any():
        revs, commits, _ = cache.log.arrays()
        pos = np.searchsorted(commits, t_last[idle], side="right")
        at = np.where(pos > 0, revs[np.maximum(pos - 1, 0)], cache.oldest_rv)
        sel = idx[idle]
        g.rv[sel] = np.maximum(g.rv[sel], at)
