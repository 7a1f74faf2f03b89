"""What an etcd call hands back: its errors, commit records, counters, and the events it completes.

:class:`Call` and :class:`BatchCall` are a request's completion events, triggered in place at
their completion time by :func:`kbench.simkernel.trigger_in` (no helper event, as ``simpy.Timeout`` schedules itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

OPS = ("create", "update", "delete")


class EtcdRequestTooLarge(Exception):
    """etcd rejected a request larger than ``max_request_bytes`` (B7).

    A model event, not a user-input error: clients see it as a failed request.

    Args:
        size_bytes: The request's size, bytes.
        limit_bytes: The configured limit, bytes.
    """

    def __init__(self, size_bytes: int, limit_bytes: int):
        super().__init__(size_bytes, limit_bytes)  # SimPy copies failures as type(e)(*e.args)
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes

    def __str__(self) -> str:
        return f"etcdserver: request is too large ({self.size_bytes} > {self.limit_bytes} bytes)"


class EtcdConflict(Exception):
    """A transaction's compare failed: the key's current value did not satisfy the precondition."""

    def __init__(self, resource: str, key: str):
        super().__init__(resource, key)
        self.resource = resource
        self.key = key

    def __str__(self) -> str:
        return f"etcdserver: compare failed for {self.resource}/{self.key}"


@dataclass(slots=True)
class CommitRecord:
    """One committed write, as published to subscribers (the watch cache); read-only by
    convention (not frozen: a frozen dataclass costs several times more to build, issue 8).

    Attributes:
        resource: Plural resource (``pods``).
        key: Object key within the resource.
        op: ``create``, ``update`` or ``delete``.
        revision: The revision the write created.
        size_bytes: Stored size of the new version (of the deleted object for a delete), bytes.
        time_s: Commit (apply) time, virtual seconds.
        value: The stored object (the caller's immutable snapshot), None for deletes or when the
            caller stores sizes only.
    """

    resource: str
    key: str
    op: str
    revision: int
    size_bytes: int
    time_s: float
    value: object = None


@dataclass(slots=True)
class EtcdStats:
    """Counters and time integrals of one :class:`Etcd`.

    Little's law on the write path: over a window, ``diff(write_inflight_area) / duration`` (mean
    writes in flight) equals ``diff(writes) / duration * diff(write_latency_sum) / diff(writes)``.
    Take consistent copies with :meth:`Etcd.snapshot`.

    Attributes:
        writes: Writes completed (reply delivered).
        write_errors: Writes rejected (quota, size).
        write_latency_sum_s: Sum of completed writes' latencies, seconds.
        writes_in_flight: Accepted writes not yet replied to.
        write_inflight_area: Integral of ``writes_in_flight`` over time, request-seconds.
        reads: Reads completed.
        read_latency_sum_s: Sum of completed reads' latencies, seconds.
        reads_in_flight: Reads not yet replied to.
        read_inflight_area: Integral of ``reads_in_flight`` over time, request-seconds.
        read_cpu_s: CPU-seconds spent serving reads (the parallel GC share included).
        range_requests: Range requests served (a paged or doubling LIST makes several; the
            current-revision requests of consistent reads are counted apart).
        range_keys: Keys whose values ranges read.
        range_bytes: Bytes ranges read and sent to the apiserver.
        index_keys: Index entries walked to count the rest of limited ranges (I22).
        current_rv_requests: Current-revision requests (a range with limit 1 over the
            resource, what a consistent read from the watch cache asks first, I20).
        write_bytes: Bytes of the values applied.
        apply_cpu_s: CPU-seconds of the serial apply stage.
        write_cpu_s: CPU-seconds booked by write requests (``write_cpu_s`` per entry).
        write_cpu_wait_s: Summed waits of write requests for a free core, seconds.
        batch_cpu_s: CPU-seconds of the raft loop (``batch_cpu_s`` per batch).
        batches: Raft batches committed.
        entries_committed: Entries applied (equals revisions created).
        compactions: Compactions run.
        compaction_keys: Revisions removed by compactions.
        compaction_cpu_s: CPU-seconds of compaction batches.
        time_s: Virtual time the integrals are accounted up to, seconds.
    """

    writes: int = 0
    write_errors: int = 0
    write_latency_sum_s: float = 0.0
    writes_in_flight: int = 0
    write_inflight_area: float = 0.0
    reads: int = 0
    read_latency_sum_s: float = 0.0
    reads_in_flight: int = 0
    read_inflight_area: float = 0.0
    read_cpu_s: float = 0.0
    range_requests: int = 0
    range_keys: int = 0
    range_bytes: float = 0.0
    index_keys: int = 0
    current_rv_requests: int = 0
    write_bytes: float = 0.0
    apply_cpu_s: float = 0.0
    write_cpu_s: float = 0.0
    write_cpu_wait_s: float = 0.0
    batch_cpu_s: float = 0.0
    batches: int = 0
    entries_committed: int = 0
    compactions: int = 0
    compaction_keys: int = 0
    compaction_cpu_s: float = 0.0
    time_s: float = 0.0

    @property
    def cpu_s(self) -> float:
        """CPU-seconds of reads, applies and compactions together."""
        return self.read_cpu_s + self.apply_cpu_s + self.compaction_cpu_s


class Call(simpy.Event):
    """A request's completion event, remembering when the request was made."""

    __slots__ = ("start_s", "args")

    def __init__(self, env: simpy.Environment):
        self.env = env  # simpy.Event.__init__, inlined
        self.callbacks: list = []
        self.start_s = env.now
        self.args: tuple = ()


class BatchCall(Call):
    """Several entries of one resource proposed together (:meth:`Etcd.write_many`); succeeds with the
    list of their revisions."""

    __slots__ = ("n",)


