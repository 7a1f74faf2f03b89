"""client-go's work queue in virtual time, and the worker loop that drains it.

A controller's informer handlers only *enqueue keys*; a small, fixed number of worker processes
take keys off the queue and run the controller's ``sync(key)``. As in client-go
(``k8s.io/client-go/util/workqueue``):

* a key is queued at most once (*dirty* set): a burst of events for one object costs one sync;
* a key is never processed by two workers at once (*processing* set); a key added while it is
  being processed is queued again when its sync is done;
* ``add_after`` delays a key (the delaying queue keeps the earliest of several pending times);
* ``add_rate_limited`` delays a key after a failed sync by ``initial x 2^failures`` up to a cap
  (``DefaultControllerRateLimiter``'s per-item exponential part: 5 ms doubling to 1000 s; its
  overall 10 qps bucket is not modelled), ``forget`` resets the count after a success.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator

import simpy


class WorkQueue:
    """A de-duplicating FIFO of keys.

    Args:
        env: The environment.
        name: Name (metrics).
        initial_s: First per-item retry delay, seconds.
        max_s: Cap of the per-item retry delay, seconds.

    Attributes:
        adds: Keys actually enqueued (after de-duplication).
        max_depth: Largest queue length seen.
    """

    def __init__(self, env: simpy.Environment, name: str = "", initial_s: float = 0.005, max_s: float = 1000.0):
        self.env = env
        self.name = name
        self.initial_s = initial_s
        self.max_s = max_s
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiters: deque[simpy.Event] = deque()
        self._delayed: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self.adds = 0
        self.max_depth = 0

    def __len__(self) -> int:
        return len(self._queue)

    # ------------------------------------------------------------------------------------ adding
    def add(self, key: str) -> None:
        """Queue ``key`` unless it is already queued (or queue it after its current sync)."""
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self.adds += 1
        if self._waiters:
            self._hand(key, self._waiters.popleft())
            return
        self._queue.append(key)
        if len(self._queue) > self.max_depth:
            self.max_depth = len(self._queue)

    def add_after(self, key: str, delay_s: float) -> None:
        """Queue ``key`` after ``delay_s`` seconds (the earliest of several pending times wins)."""
        if delay_s <= 0:
            self.add(key)
            return
        due = self.env.now + delay_s
        pending = self._delayed.get(key)
        if pending is not None and pending <= due:
            return
        self._delayed[key] = due
        self.env.timeout(delay_s).callbacks.append(lambda _e: self._fire(key, due))

    def _fire(self, key: str, due: float) -> None:
        if self._delayed.get(key) == due:
            del self._delayed[key]
            self.add(key)

    def add_rate_limited(self, key: str) -> None:
        """Queue ``key`` after its per-item exponential backoff (a failed sync)."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        self.add_after(key, min(self.initial_s * 2.0**n, self.max_s))

    def forget(self, key: str) -> None:
        """Reset ``key``'s failure count (a successful sync)."""
        self._failures.pop(key, None)

    def failures(self, key: str) -> int:
        """Consecutive failed syncs of ``key``."""
        return self._failures.get(key, 0)

    # ---------------------------------------------------------------------------------- getting
    def get(self) -> simpy.Event:
        """An event that fires with the next key (at once when one is queued)."""
        ev = self.env.event()
        if self._queue:
            self._hand(self._queue.popleft(), ev)
        else:
            self._waiters.append(ev)
        return ev

    def _hand(self, key: str, ev: simpy.Event) -> None:
        self._dirty.discard(key)
        self._processing.add(key)
        ev.succeed(key)

    def done(self, key: str) -> None:
        """Mark ``key``'s sync finished; a key added meanwhile is queued again."""
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)


def run_workers(env: simpy.Environment, queue: WorkQueue, workers: int,
                sync: Callable[[str], Generator], ready: Callable[[], bool]) -> list[simpy.Process]:
    """Start ``workers`` processes that drain ``queue`` with ``sync``.

    ``sync(key)`` is a generator returning True on success; False (or an exception-free failure)
    re-queues the key with its rate limit. Workers wait until ``ready()`` (the informers synced,
    client-go's ``WaitForCacheSync``), polling every 100 ms (upstream ``PodStoreSyncedPollPeriod``).
    """

    def worker():
        while not ready():
            yield env.timeout(0.1)
        while True:
            key = yield queue.get()
            try:
                ok = yield from sync(key)
            finally:
                queue.done(key)
            if ok is False:
                queue.add_rate_limited(key)
            else:
                queue.forget(key)

    return [env.process(worker()) for _ in range(workers)]
