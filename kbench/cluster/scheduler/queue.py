"""kube-scheduler's scheduling queue: activeQ, backoffQ and the unschedulable pool (D1, D2).

Upstream ``pkg/scheduler/backend/queue/scheduling_queue.go`` (PriorityQueue), in kbench's terms:

* **activeQ**: a heap ordered by the profile's QueueSort. PrioritySort (the default) is a key
  ``(-priority, queue timestamp, insertion counter)``; any other QueueSort plugin's ``less`` is
  called on :class:`QueuedPod` objects (which expose the pod spec's attributes and ``queued_s``).
* **backoffQ**: a heap by backoff expiry. A pod's backoff is ``initial x 2^(attempts-1)``, capped
  (D1: 1, 2, 4, 8, 10, 10 ... s), counted from its queue timestamp (the end of its last attempt).
* **unschedulable pool**: pods whose last attempt found no node. A cluster event
  (:meth:`SchedulingQueue.move_all`) moves them all back, to backoffQ if still backing off, else
  to activeQ; a pod left there longer than ``max_unschedulable_s`` (D2: 5 min) is moved by
  :meth:`SchedulingQueue.flush_unschedulable`. As upstream, a pod whose attempt failed after a
  move request arrived during its cycle goes to backoffQ rather than the pool, so the event is
  not lost.

The queue is a plain data structure: every method takes the virtual time ``now`` (seconds) and
nothing here creates SimPy events. The scheduler runs the flush loops (1 s and 30 s, D2) and is
told through ``on_active`` / ``on_waiting`` callbacks when it might need to wake up. Heaps use
lazy deletion (an entry is live only while its ``seq`` matches the pod's), so add, pop, delete
and update are O(log n); a move is O(pods moved).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

ACTIVE, BACKOFF, UNSCHEDULABLE, INFLIGHT = "active", "backoff", "unschedulable", "inflight"


@dataclass(slots=True, eq=False)
class QueuedPod:
    """A pod in the scheduling queue (upstream ``QueuedPodInfo``).

    Attributes:
        key: ``namespace/name``.
        pod: The latest version the scheduler's informer delivered (a ``PodObj``).
        queued_s: Queue timestamp: when it entered the queue, refreshed after each failed attempt
            (PrioritySort's tie-breaker, and the start of the backoff).
        initial_s: When it first entered the queue.
        attempts: Scheduling attempts so far.
        where: ``active``, ``backoff``, ``unschedulable``, ``inflight`` (being scheduled), or ""
            (not in the queue).
        cycle: The scheduling cycle number of its last attempt.
        unschedulable_s: When it entered the unschedulable pool.
        seq: Token of its live heap entry.
    """

    key: str
    pod: object
    queued_s: float
    initial_s: float
    attempts: int = 0
    where: str = ""
    cycle: int = 0
    unschedulable_s: float = 0.0
    seq: int = 0

    @property
    def spec(self):
        """The pod spec (:class:`~kbench.cluster.objects.Pod`)."""
        return self.pod.spec

    @property
    def priority(self) -> int:
        """The pod's priority."""
        return int(self.pod.spec.priority or 0)

    def __getattr__(self, name: str):
        # A QueueSort plugin's less(a, b) may read any pod attribute (namespace, labels...).
        if name == "pod" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.pod.spec, name)


class _Ordered:
    """A heap entry ordered by a QueueSort ``less(a, b)`` (ties: insertion order)."""

    __slots__ = ("info", "less", "seq")

    def __init__(self, info: QueuedPod, seq: int, less: Callable[[QueuedPod, QueuedPod], bool]):
        self.info, self.seq, self.less = info, seq, less

    def __lt__(self, other: _Ordered) -> bool:
        if self.less(self.info, other.info):
            return True
        if self.less(other.info, self.info):
            return False
        return self.seq < other.seq


class SchedulingQueue:
    """activeQ + backoffQ + unschedulable pool.

    Args:
        less: The QueueSort ``less(a, b)`` on :class:`QueuedPod` objects, or None for PrioritySort
            (priority descending, then queue timestamp ascending).
        initial_backoff_s: Backoff after the first failed attempt (D1: 1 s).
        max_backoff_s: Backoff cap (D1: 10 s).
        max_unschedulable_s: Longest stay in the unschedulable pool (D2: 300 s).
        on_active: Called (no arguments) when a pod is pushed into activeQ.
        on_waiting: Called (no arguments) when a pod enters backoffQ or the unschedulable pool.

    Attributes:
        cycle: Scheduling cycles started (pops).
        moved: Pods moved out of the unschedulable pool by events and flushes.
    """

    def __init__(self, less: Callable[[QueuedPod, QueuedPod], bool] | None = None, *,
                 initial_backoff_s: float = 1.0, max_backoff_s: float = 10.0,
                 max_unschedulable_s: float = 300.0, on_active: Callable[[], None] | None = None,
                 on_waiting: Callable[[], None] | None = None):
        self.less = less
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_unschedulable_s = max_unschedulable_s
        self.on_active = on_active
        self.on_waiting = on_waiting
        self.pods: dict[str, QueuedPod] = {}
        self._active: list = []
        self._backoff: list = []
        self._unsched: dict[str, QueuedPod] = {}  # insertion order = time order
        self._counts = {ACTIVE: 0, BACKOFF: 0}
        self._seq = itertools.count(1)
        self.cycle = 0
        self._move_request_cycle = -1
        self.moved = 0

    # ------------------------------------------------------------------------------- sizes
    def __len__(self) -> int:
        """Pods held (active, backing off, unschedulable, or being scheduled)."""
        return len(self.pods)

    def __contains__(self, key: str) -> bool:
        return key in self.pods

    @property
    def active_len(self) -> int:
        """Pods in activeQ."""
        return self._counts[ACTIVE]

    @property
    def backoff_len(self) -> int:
        """Pods in backoffQ."""
        return self._counts[BACKOFF]

    @property
    def unschedulable_len(self) -> int:
        """Pods in the unschedulable pool."""
        return len(self._unsched)

    def get(self, key: str) -> QueuedPod | None:
        """The queued pod ``key``, or None."""
        return self.pods.get(key)

    # ----------------------------------------------------------------------------- backoff
    def backoff_duration(self, attempts: int) -> float:
        """Backoff after ``attempts`` failed attempts: initial x 2^(attempts-1), capped (D1)."""
        d = self.initial_backoff_s
        for _ in range(1, max(attempts, 1)):
            d *= 2
            if d >= self.max_backoff_s:
                return self.max_backoff_s
        return min(d, self.max_backoff_s)

    def backoff_expiry(self, info: QueuedPod) -> float:
        """When ``info``'s backoff ends, virtual seconds."""
        return info.queued_s + self.backoff_duration(info.attempts)

    def is_backing_off(self, info: QueuedPod, now: float) -> bool:
        """Whether ``info`` is still in its backoff at ``now``."""
        return info.attempts > 0 and self.backoff_expiry(info) > now

    # ------------------------------------------------------------------------------ pushes
    def _push_active(self, info: QueuedPod) -> None:
        info.where = ACTIVE
        info.seq = seq = next(self._seq)
        self._counts[ACTIVE] += 1
        if self.less is None:
            heapq.heappush(self._active, (-info.priority, info.queued_s, seq, info))
        else:
            heapq.heappush(self._active, _Ordered(info, seq, self.less))
        if self.on_active is not None:
            self.on_active()

    def _push_backoff(self, info: QueuedPod) -> None:
        info.where = BACKOFF
        info.seq = seq = next(self._seq)
        self._counts[BACKOFF] += 1
        heapq.heappush(self._backoff, (self.backoff_expiry(info), seq, info))
        if self.on_waiting is not None:
            self.on_waiting()

    def _push_unschedulable(self, info: QueuedPod, now: float) -> None:
        info.where = UNSCHEDULABLE
        info.unschedulable_s = now
        self._unsched[info.key] = info
        if self.on_waiting is not None:
            self.on_waiting()

    def _unlink(self, info: QueuedPod) -> None:
        """Take ``info`` out of wherever it is (heap entries go stale)."""
        where = info.where
        if where in self._counts:
            self._counts[where] -= 1
        elif where == UNSCHEDULABLE:
            self._unsched.pop(info.key, None)
        info.where = ""
        info.seq = 0

    # ------------------------------------------------------------------------------ public
    def add(self, pod, now: float) -> QueuedPod:
        """A new pending pod (informer add) goes to activeQ; a known one is updated instead.

        Args:
            pod: The ``PodObj`` (``key`` and ``spec`` are read).
            now: Virtual time, seconds.
        """
        info = self.pods.get(pod.key)
        if info is not None:
            info.pod = pod
            return info
        info = QueuedPod(pod.key, pod, now, now)
        self.pods[pod.key] = info
        self._push_active(info)
        return info

    def update(self, pod) -> bool:
        """Replace the stored version of a queued pod (its place in the queue is kept).

        Returns:
            Whether the pod was in the queue.
        """
        info = self.pods.get(pod.key)
        if info is None:
            return False
        info.pod = pod
        return True

    def delete(self, key: str) -> QueuedPod | None:
        """Forget pod ``key`` (deleted, or bound by someone else); returns its entry if held."""
        info = self.pods.pop(key, None)
        if info is not None:
            self._unlink(info)
        return info

    def pop(self, now: float) -> QueuedPod | None:
        """Take the head of activeQ for a scheduling cycle (None when activeQ is empty).

        The pod stays registered (``where == "inflight"``) until :meth:`done`,
        :meth:`add_unschedulable` or :meth:`add_backoff`. Its ``attempts`` and ``cycle`` are
        incremented here.
        """
        heap = self._active
        while heap:
            entry = heapq.heappop(heap)
            info, seq = (entry[3], entry[2]) if self.less is None else (entry.info, entry.seq)
            if info.seq != seq or info.where != ACTIVE:
                continue  # stale entry
            self._counts[ACTIVE] -= 1
            info.where = INFLIGHT
            info.seq = 0
            info.attempts += 1
            self.cycle += 1
            info.cycle = self.cycle
            return info
        return None

    def done(self, key: str) -> None:
        """The pod was scheduled (assumed): it leaves the queue."""
        info = self.pods.pop(key, None)
        if info is not None:
            self._unlink(info)

    def add_unschedulable(self, info: QueuedPod, now: float) -> None:
        """After a failed attempt that found no node: to the unschedulable pool, or to backoffQ
        when a move request arrived during the pod's cycle (upstream
        ``AddUnschedulableIfNotPresent``). The queue timestamp becomes ``now``."""
        if self.pods.get(info.key) is not info:
            return  # deleted while being scheduled
        self._unlink(info)
        info.queued_s = now
        if self._move_request_cycle >= info.cycle:
            self._push_backoff(info)
        else:
            self._push_unschedulable(info, now)

    def add_backoff(self, info: QueuedPod, now: float) -> None:
        """After an error (or a failed binding): to backoffQ; the queue timestamp becomes ``now``.

        A pod that already left the queue (a failed binding) is registered again.
        """
        held = self.pods.get(info.key)
        if held is not None and held is not info:
            return  # a newer entry exists
        self.pods[info.key] = info
        self._unlink(info)
        info.queued_s = now
        self._push_backoff(info)

    def move_all(self, now: float) -> int:
        """A cluster event (pod deleted or finished, node added or more schedulable): every pod
        in the unschedulable pool goes to backoffQ if still backing off, else to activeQ.

        Returns:
            Pods moved.
        """
        self._move_request_cycle = self.cycle
        if not self._unsched:
            return 0
        infos = list(self._unsched.values())
        self._unsched.clear()
        for info in infos:
            info.where = ""
            self._requeue(info, now)
        self.moved += len(infos)
        return len(infos)

    def _requeue(self, info: QueuedPod, now: float) -> None:
        if self.is_backing_off(info, now):
            self._push_backoff(info)
        else:
            self._push_active(info)

    def flush_backoff(self, now: float) -> int:
        """Move pods whose backoff has ended to activeQ (upstream ``flushBackoffQCompleted``).

        Returns:
            Pods moved.
        """
        heap = self._backoff
        moved = 0
        while heap and heap[0][0] <= now:
            _, seq, info = heapq.heappop(heap)
            if info.seq != seq or info.where != BACKOFF:
                continue
            self._counts[BACKOFF] -= 1
            self._push_active(info)
            moved += 1
        return moved

    def flush_unschedulable(self, now: float) -> int:
        """Move pods that stayed in the unschedulable pool longer than ``max_unschedulable_s``
        (upstream ``flushUnschedulablePodsLeftover``).

        Returns:
            Pods moved.
        """
        limit = now - self.max_unschedulable_s
        old = []
        for info in self._unsched.values():  # oldest first
            if info.unschedulable_s >= limit:
                break
            old.append(info)
        for info in old:
            del self._unsched[info.key]
            info.where = ""
            self._requeue(info, now)
        self.moved += len(old)
        return len(old)

    def next_backoff_expiry(self) -> float | None:
        """The earliest backoff expiry in backoffQ (None when it is empty)."""
        heap = self._backoff
        while heap and (heap[0][2].seq != heap[0][1] or heap[0][2].where != BACKOFF):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pending(self) -> list[QueuedPod]:
        """Every pod held, in no particular order."""
        return list(self.pods.values())
