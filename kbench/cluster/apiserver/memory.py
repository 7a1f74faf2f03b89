"""The apiserver's live heap as a ledger: what a LIST storm does to a real one (I10, I23).

``M(t) = base + watch cache + watchers + LIST transients + WatchList streams``:

* **watch cache**: the stored objects and the events in the cache's history, decoded into Go
  objects ``object_inflation`` times their serialized size (KEP-3157: "much bigger, even by an
  order of magnitude");
* **watchers**: ``per_watcher_bytes`` per open watch (goroutines, buffers; I23: 50-100 KiB);
* **LIST transients**: a LIST from etcd holds ``etcd_list_factor`` times what etcd returned until
  the response is written (I10: "O(5 x the response from etcd)"); a LIST from the cache without
  streaming encoding builds the whole response in one buffer (``cache_list_factor`` x its bytes,
  KEP-5116's motivation), with ``StreamingCollectionEncoding`` at most ``stream_bytes``;
* **WatchList streams**: ``stream_bytes`` per stream while it sends its initial events (I10:
  "O(watchers x constant), constant around 2 MB").

The transients change at events the request path has anyway (no event of its own); the slowly
moving parts (cache, watchers) are brought up to date at each sample of the time series and
whenever a transient changes, so the peak is exact for transients and within one sampling step
for the rest. Above ``limit_bytes`` (when set) the apiserver is killed out of memory.
"""

from __future__ import annotations

from collections.abc import Callable

TRANSIENT = ("list_transient", "watchlist_streams")
COMPONENTS = ("base", "watch_cache", "watchers") + TRANSIENT


class Memory:
    """The heap ledger of one apiserver.

    Args:
        base_bytes: Process baseline, bytes.
        limit_bytes: Out-of-memory limit, bytes (0: none).
        slow: ``f() -> (watch_cache_bytes, watchers_bytes)``, the slowly moving parts.
        oom: Called once when the limit is exceeded (the apiserver restarts).
        clock: ``f() -> now``, seconds.

    Attributes:
        current: Bytes by component now.
        peak: Largest total seen, bytes.
        peak_at_s: When it was seen, seconds.
        peak_by: Largest value of each component, bytes.
        transient_peak: Largest LIST transients + WatchList streams seen together, bytes.
        oom_kills: Times the limit was exceeded.
    """

    def __init__(self, base_bytes: float, limit_bytes: float, slow: Callable[[], tuple[float, float]],
                 oom: Callable[[], None], clock: Callable[[], float]):
        self.current: dict[str, float] = dict.fromkeys(COMPONENTS, 0.0)
        self.current["base"] = float(base_bytes)
        self.limit = float(limit_bytes)
        self._slow = slow
        self._oom = oom
        self._clock = clock
        self.peak = float(base_bytes)
        self.peak_at_s = 0.0
        self.peak_by: dict[str, float] = dict(self.current)
        self.oom_kills = 0
        self.transient_peak = 0.0
        self._area = 0.0
        self._t = 0.0
        self._total = float(base_bytes)

    def refresh(self) -> float:
        """Bring the slow parts up to date; return the total, bytes."""
        cache, watchers = self._slow()
        cur = self.current
        cur["watch_cache"] = cache
        cur["watchers"] = watchers
        return self._note()

    def add(self, component: str, nbytes: float) -> None:
        """A transient ``component`` grows (or shrinks, negative) by ``nbytes`` bytes."""
        cur = self.current
        cur[component] = max(cur[component] + nbytes, 0.0)
        if nbytes > 0:
            self.refresh()
        else:
            self._note()

    def _note(self) -> float:
        cur = self.current
        trans = cur["list_transient"] + cur["watchlist_streams"]
        total = cur["base"] + cur["watch_cache"] + cur["watchers"] + trans
        if trans > self.transient_peak:
            self.transient_peak = trans
        now = self._clock()
        self._area += self._total * (now - self._t)
        self._t, self._total = now, total
        if total > self.peak:
            self.peak, self.peak_at_s = total, now
        pb = self.peak_by
        for k, v in cur.items():
            if v > pb[k]:
                pb[k] = v
        if self.limit > 0 and total > self.limit:
            self.oom_kills += 1
            self._oom()
        return total

    @property
    def transient(self) -> float:
        """LIST transients and WatchList streams now, bytes."""
        return self.current["list_transient"] + self.current["watchlist_streams"]

    def mean(self, horizon_s: float) -> float:
        """Time-average total over [0, horizon_s], bytes."""
        area = self._area + self._total * (horizon_s - self._t)
        return area / horizon_s if horizon_s > 0 else self._total
