"""The scheduling queue's parts that hold pods: :class:`QueuedPod` and the unschedulable pool.

The pool keeps its pods in entry order (the 5-minute flush takes the oldest first, D2) and indexes
them by the plugins that rejected them, so that a cluster event visits only the pods whose
rejecting plugins registered it (:mod:`kbench.cluster.scheduler.hints`), in entry order: the same
pods, in the same order, that upstream's scan of the whole pool would move.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass


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
        rejectors: Plugins that rejected it in its last attempt (or the PreEnqueue plugin gating it).
        pending: Plugins that returned Pending.
        pool_seq: Order of entry into the pool (events visit pods in this order).
        errored: Its last attempt ended in an error or a failed binding (its backoff is kept even
            when activeQ is empty).
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
    rejectors: frozenset = frozenset()
    pending: frozenset = frozenset()
    pool_seq: int = 0
    errored: bool = False

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



class UnschedulablePool:
    """Pods whose last attempt found no node, in entry order, indexed by rejecting plugin."""

    def __init__(self) -> None:
        self.pods: dict[str, QueuedPod] = {}  # insertion order = time order
        self._by_plugin: dict[str, dict[str, QueuedPod]] = {}
        self._open: dict[str, QueuedPod] = {}  # pods without a recorded rejector
        self._seq = itertools.count(1)

    def __len__(self) -> int:
        return len(self.pods)

    def __bool__(self) -> bool:
        return bool(self.pods)

    def add(self, info: QueuedPod, now: float) -> None:
        """Enter ``info`` (its ``rejectors`` / ``pending`` set) at virtual time ``now``."""
        info.unschedulable_s = now
        info.pool_seq = next(self._seq)
        self.pods[info.key] = info
        self._index(info, True)

    def remove(self, info: QueuedPod) -> None:
        """Take ``info`` out (no error when absent)."""
        if self.pods.pop(info.key, None) is not None:
            self._index(info, False)

    def _index(self, info: QueuedPod, add: bool) -> None:
        names = info.rejectors | info.pending
        if not names:
            if add:
                self._open[info.key] = info
            else:
                self._open.pop(info.key, None)
            return
        for name in names:
            if add:
                self._by_plugin.setdefault(name, {})[info.key] = info
            else:
                self._by_plugin.get(name, {}).pop(info.key, None)

    def concerned(self, plugins: set[str] | None) -> list[QueuedPod]:
        """Pods rejected by one of ``plugins`` or by nothing recorded (every pod for None), in
        entry order."""
        if plugins is None:
            return list(self.pods.values())
        found = dict(self._open)
        for name in plugins:
            found.update(self._by_plugin.get(name, {}))
        return sorted(found.values(), key=lambda i: i.pool_seq)

    def older_than(self, limit: float) -> list[QueuedPod]:
        """Pods that entered before ``limit`` (virtual seconds), oldest first."""
        old = []
        for info in self.pods.values():
            if info.unschedulable_s >= limit:
                break
            old.append(info)
        return old
