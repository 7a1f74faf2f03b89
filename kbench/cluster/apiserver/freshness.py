"""Reads waiting for a watch cache to reach a revision, and the progress requests that let it
(I8, I20, A20).

A consistent read from the cache (KEP-2340) asks etcd for its current revision, then waits until
the cache has seen it. The cache learns revisions from its own resource's events; a revision made
by another resource reaches it only through a *progress notification* of its etcd watch. While
reads wait, the cache asks etcd for one every ``progress_request_period_s`` (100 ms; the first at
once after a quiet spell: upstream's ``ConditionalProgressRequester``); the notification comes back
after one etcd round trip and behind the events already on the watch stream. A read still waiting
``block_timeout_s`` (3 s) after it began is served by etcd instead (the delegator's fallback);
waits are checked at each notification, so that fallback is at most one period late.

No event per waiting read: waiters are released in the callback of the cache arrival or the
progress notification that makes them fresh.
"""

from __future__ import annotations

from collections.abc import Callable

from kbench.metrics.collect import LogHistogram
from kbench.simkernel import call_later


class Freshness:
    """The waiting reads of one watch cache and its progress requests.

    Args:
        cache: The watch cache.
        etcd: etcd (its revision and round-trip samplers).

    Attributes:
        progress_rv: Revision of the last progress notification.
        progress_requests: Progress requests sent to etcd.
        fallbacks: Reads that timed out and went to etcd.
        wait_s: How long reads waited, seconds (upstream's ``apiserver_watch_cache_read_wait``).
    """

    def __init__(self, cache, etcd):
        self.cache = cache
        self.etcd = etcd
        self.env = cache.env
        self.waiters: list[tuple[int, float, float, Callable[[bool], None]]] = []  # rv, start, deadline, cb
        self.progress_rv = 0
        self.progress_requests = 0
        self.fallbacks = 0
        self.wait_s = LogHistogram()
        self._last_sent = -1e18
        self._pending = False

    def wait(self, rv: int, cb: Callable[[bool], None]) -> None:
        """Call ``cb(True)`` once the cache has reached ``rv`` (now if it has), ``cb(False)`` if
        it has not after ``block_timeout_s``."""
        cache = self.cache
        if cache.revision >= rv or self.progress_rv >= rv:
            self.wait_s.add(0.0)
            cb(True)
            return
        now = self.env.now
        self.waiters.append((rv, now, now + cache.wc.block_timeout_s, cb))
        self._request()

    def _request(self) -> None:
        if self._pending:
            return
        self._pending = True
        now = self.env.now
        at = max(now, self._last_sent + self.cache.wc.progress_request_period_s)
        call_later(self.env, at - now, self._send, None)

    def _send(self, _arg) -> None:
        etcd = self.etcd
        now = self.env.now
        self._last_sent = now
        self.progress_requests += 1
        rev = etcd.revision
        # one round trip to etcd, and the notification queues behind the events on the stream
        back = max(now + etcd._grpc() + etcd.cfg.read_base_s, self.cache._last_arrival)
        call_later(self.env, back - now, self._progress, rev)

    def _progress(self, rev: int) -> None:
        self._pending = False
        if rev > self.progress_rv:
            self.progress_rv = rev
        self.release()
        if self.waiters:
            self._request()

    def release(self) -> None:
        """Release the waiters the cache has caught up with, and time out the late ones."""
        fresh = max(self.cache.revision, self.progress_rv)
        now = self.env.now
        keep = []
        items, self.waiters = self.waiters, []
        for item in items:
            rv, start, deadline, cb = item
            if rv <= fresh:
                self.wait_s.add(now - start)
                cb(True)
            elif now >= deadline:
                self.fallbacks += 1
                cb(False)
            else:
                keep.append(item)
        self.waiters = keep + self.waiters
