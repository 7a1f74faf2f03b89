"""kube-scheduler's scheduling queue: activeQ, backoffQ and the unschedulable pool (D1, D2).

Upstream ``pkg/scheduler/backend/queue/scheduling_queue.go`` (PriorityQueue), in kbench's terms:

* **activeQ**: a heap ordered by the profile's QueueSort. PrioritySort (the default) is a key
  ``(-priority, queue timestamp, insertion counter)``; any other QueueSort plugin's ``less`` is
  called on :class:`QueuedPod` objects (which expose the pod spec's attributes and ``queued_s``).
* **backoffQ**: a heap by backoff expiry. A pod's backoff is ``initial x 2^(attempts-1)``, capped
  (D1: 1, 2, 4, 8, 10, 10 ... s), counted from its queue timestamp (the end of its last attempt).
* **unschedulable pool**: pods whose last attempt found no node, with the plugins that rejected
  them. A cluster event (:meth:`SchedulingQueue.on_event`) moves only the pods whose rejecting
  plugins registered it and whose hints answer Queue (:mod:`kbench.cluster.scheduler.hints`), to
  backoffQ if still backing off, else to activeQ; a pod left there longer than
  ``max_unschedulable_s`` (D2: 5 min) is moved by :meth:`SchedulingQueue.flush_unschedulable`. A
  pod whose attempt failed is checked against the events that arrived during its cycle (hints on),
  or goes to backoffQ when any event arrived then (hints off), so the event is not lost;
* **gated pods** (a PreEnqueue plugin rejected them: scheduling gates) wait apart, untouched by
  cluster events and flushes, until an update of the pod lets them through;
* with the SchedulerPopFromBackoffQ gate (on upstream), a pop from an empty activeQ takes the
  backoffQ pod whose backoff ends first, among those that got there by an unschedulable attempt (a
  pod backing off after an error or a failed binding keeps its backoff: kbench's reading of
  KEP-5142, not confirmed).

Longer than the ~400-line guide on purpose: one data structure (activeQ, backoffQ, the pool and the
gated pods) whose invariant, a pod in exactly one place with a live heap entry only while its
``seq`` matches, every method maintains; :class:`QueuedPod` and the pool live in
:mod:`kbench.cluster.scheduler.pool`, the hint logic in :mod:`kbench.cluster.scheduler.hints`.

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

from kbench.cluster.scheduler import hints as qh
from kbench.cluster.scheduler.pool import QueuedPod, UnschedulablePool

__all__ = ["QueuedPod", "SchedulingQueue"]
from kbench.policy.events import UNSCHEDULABLE_TIMEOUT, ClusterEvent

ACTIVE, BACKOFF, UNSCHEDULABLE, INFLIGHT, GATED = "active", "backoff", "unschedulable", "inflight", "gated"


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
        hint_maps: schedulerName → :class:`~kbench.cluster.scheduler.hints.HintMap`; None keeps the
            pre-hint behaviour (every event of any kind moves every pool pod).
        hints_enabled: The SchedulerQueueingHints gate (decides how a failed attempt uses the events
            of its cycle).
        pre_enqueue: ``f(spec) -> Status | None``: the PreEnqueue plugins (None = none).
        pop_from_backoff: The SchedulerPopFromBackoffQ gate.

    Attributes:
        cycle: Scheduling cycles started (pops).
        moved: Pods moved out of the unschedulable pool by events and flushes.
        work: Queue work since the last :meth:`drain_work` (``queue_op``, ``event_scan``, ``hint``,
            ``point_call`` for PreEnqueue), for the cycle cost.
    """

    def __init__(self, less: Callable[[QueuedPod, QueuedPod], bool] | None = None, *,
                 initial_backoff_s: float = 1.0, max_backoff_s: float = 10.0,
                 max_unschedulable_s: float = 300.0, on_active: Callable[[], None] | None = None,
                 on_waiting: Callable[[], None] | None = None, hint_maps: dict | None = None,
                 hints_enabled: bool = True, pre_enqueue: Callable | None = None, pop_from_backoff: bool = False):
        self.less = less
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_unschedulable_s = max_unschedulable_s
        self.on_active = on_active
        self.on_waiting = on_waiting
        self.pods: dict[str, QueuedPod] = {}
        self._active: list = []
        self._backoff: list = []
        self._unsched = UnschedulablePool()
        self._counts = {ACTIVE: 0, BACKOFF: 0}
        self._seq = itertools.count(1)
        self.cycle = 0
        self._move_request_cycle = -1
        self.moved = 0
        self.hint_maps = hint_maps
        self.hints_enabled = hints_enabled
        self.pre_enqueue = pre_enqueue
        self.pop_from_backoff = pop_from_backoff
        self._gated: dict[str, QueuedPod] = {}
        self._inflight_events: list | None = None
        self._hint_calls = [0]
        self._interest: dict = {}
        self.work: dict[str, float] = {}

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

    @property
    def gated_len(self) -> int:
        """Pods held back by a PreEnqueue plugin (scheduling gates)."""
        return len(self._gated)

    def _count(self, kind: str, amount: float = 1.0) -> None:
        self.work[kind] = self.work.get(kind, 0.0) + amount

    def drain_work(self) -> dict[str, float]:
        """The queue work since the last call (and reset it)."""
        work, self.work = self.work, {}
        if self._hint_calls[0]:
            work["hint"] = work.get("hint", 0.0) + self._hint_calls[0]
            self._hint_calls[0] = 0
        return work

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
        self._unsched.add(info, now)
        if self.on_waiting is not None:
            self.on_waiting()

    def _unlink(self, info: QueuedPod) -> None:
        """Take ``info`` out of wherever it is (heap entries go stale)."""
        where = info.where
        if where in self._counts:
            self._counts[where] -= 1
        elif where == UNSCHEDULABLE:
            self._unsched.remove(info)
        elif where == GATED:
            self._gated.pop(info.key, None)
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
        self._count("queue_op")
        if not self._gate(info):
            self._push_active(info)
        return info

    def _gate(self, info: QueuedPod) -> bool:
        """Run PreEnqueue; a rejected pod waits in the gated set (True)."""
        if self.pre_enqueue is None:
            return False
        self._count("point_call")
        st = self.pre_enqueue(info.pod.spec)
        if st is None:
            return False
        info.where = GATED
        info.rejectors = frozenset((st.plugin,))
        self._gated[info.key] = info
        return True

    def update(self, pod) -> bool:
        """Replace the stored version of a queued pod (its place in the queue is kept).

        Returns:
            Whether the pod was in the queue.
        """
        info = self.pods.get(pod.key)
        if info is None:
            return False
        spec_changed = info.pod.spec is not pod.spec
        info.pod = pod
        if info.where == GATED and spec_changed:  # e.g. its scheduling gates were removed
            self._gated.pop(info.key, None)
            info.where = ""
            if not self._gate(info):
                info.rejectors = frozenset()
                self._push_active(info)
        elif info.where == UNSCHEDULABLE and spec_changed:  # upstream isPodUpdated: retry it
            self._unlink(info)
            self._requeue(info, info.queued_s)
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
            self._inflight_events = [] if self.hints_enabled else None
            self._count("queue_op")
            return info
        if self.pop_from_backoff and self._counts[BACKOFF]:
            head = self._pop_backoff_head()
            if head is not None:
                self._push_active(head)
                return self.pop(now)
        return None

    def _pop_backoff_head(self) -> QueuedPod | None:
        heap, kept, found = self._backoff, [], None
        while heap:
            entry = heapq.heappop(heap)
            info = entry[2]
            if info.seq != entry[1] or info.where != BACKOFF:
                continue
            if info.errored:
                kept.append(entry)
                continue
            self._counts[BACKOFF] -= 1
            info.where = ""
            found = info
            break
        for entry in kept:
            heapq.heappush(heap, entry)
        return found

    def done(self, key: str) -> None:
        """The pod was scheduled (assumed): it leaves the queue."""
        info = self.pods.pop(key, None)
        self._inflight_events = None
        if info is not None:
            self._unlink(info)

    def add_unschedulable(self, info: QueuedPod, now: float, rejectors: frozenset = frozenset(),
                          pending: frozenset = frozenset()) -> None:
        """After a failed attempt that found no node (upstream ``AddUnschedulableIfNotPresent``).

        Hints on: the events that arrived during the pod's cycle decide (as if they arrived now);
        hints off: to backoffQ when a move request arrived during the cycle, else to the pool. The
        queue timestamp becomes ``now``; ``rejectors`` / ``pending`` are remembered for later events.
        """
        if self.pods.get(info.key) is not info:
            return  # deleted while being scheduled
        self._unlink(info)
        info.queued_s = now
        info.errored = False
        info.rejectors, info.pending = frozenset(rejectors), frozenset(pending)
        self._count("queue_op")
        events, self._inflight_events = self._inflight_events, None
        if self.hint_maps is not None and self.hints_enabled:
            strategy = qh.SKIP if (rejectors or pending) else qh.BACKOFF
            hints = self._hints_of(info)
            for event, old, new in events or ():
                if strategy != qh.SKIP:
                    break
                strategy = qh.worth_requeuing(hints, info.spec, info.rejectors, info.pending, event, old, new,
                                              self._hint_calls)
            if strategy == qh.SKIP:
                self._push_unschedulable(info, now)
            else:
                self._requeue(info, now, strategy == qh.ACTIVE)
        elif self._move_request_cycle >= info.cycle:
            self._push_backoff(info)
        else:
            self._push_unschedulable(info, now)

    def _hints_of(self, info: QueuedPod):
        maps = self.hint_maps or {}
        return maps.get(info.spec.scheduler_name) or next(iter(maps.values()), qh.HintMap())

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
        info.errored = True
        self._inflight_events = None
        self._count("queue_op")
        self._push_backoff(info)

    def move_all(self, now: float) -> int:
        """Every pod in the unschedulable pool goes to backoffQ if still backing off, else to
        activeQ (a wildcard event).

        Returns:
            Pods moved.
        """
        return self.on_event(UNSCHEDULABLE_TIMEOUT, None, None, now)

    def on_event(self, event: ClusterEvent, old, new, now: float) -> int:
        """A cluster event (:mod:`kbench.policy.events`): move the pool pods it concerns (module
        docstring). Without hint maps every event moves every pool pod, as before hints.

        Returns:
            Pods moved.
        """
        maps = self.hint_maps
        if maps is not None and not event.is_wildcard:
            interested = self._interest.get(event)
            if interested is None:
                interested = self._interest[event] = frozenset().union(*(m.plugins_for(event) for m in maps.values()))
            if not interested:
                return 0  # no plugin registered it (upstream isEventOfInterest)
        if self._inflight_events is not None:
            self._inflight_events.append((event, old, new))
        self._move_request_cycle = self.cycle
        if not self._unsched:
            return 0
        self._count("event_scan", len(self._unsched))  # upstream visits every pool pod
        candidates = self._unsched.concerned(None if maps is None or event.is_wildcard else interested)
        moved = 0
        for info in candidates:
            strategy = qh.BACKOFF
            if maps is not None:
                strategy = qh.worth_requeuing(self._hints_of(info), info.spec, info.rejectors, info.pending,
                                              event, old, new, self._hint_calls)
                if strategy == qh.SKIP:
                    continue
            self._unlink(info)
            self._requeue(info, now, strategy == qh.ACTIVE)
            moved += 1
        self.moved += moved
        return moved

    def _requeue(self, info: QueuedPod, now: float, immediately: bool = False) -> None:
        self._count("queue_op")
        if not immediately and self.is_backing_off(info, now):
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
        old = self._unsched.older_than(now - self.max_unschedulable_s)
        for info in old:
            self._unlink(info)
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
