"""etcd's CPU on its core pool: what a write request costs, and the raft loop's CPU per batch.

The :class:`~kbench.cluster.etcd.server.Etcd` model keeps one heap of core free-times (``cores``
cores, the member's GOMAXPROCS); range reads run their CPU there, first come first served, on their
path. This mixin puts the write path on the same cores, shared the way Go's and Linux's schedulers
share them (processor sharing) rather than first come first served:

* **Write CPU** (``write_cpu_s`` per entry: gRPC decode and encode, auth, the MVCC put, raft proposal
  bookkeeping). With ``n`` jobs on the pool's ``c`` cores a request gets ``min(1, c / (n + 1))`` of
  a core until they are done (:func:`shared_time`); it is proposed when its CPU would be done,
  less its own CPU time: at low load the request's CPU is part of the measured gRPC round trip
  (``grpc_rtt_s``), so only the slowdown a busy pool causes is added. A :meth:`Etcd.write_many`
  call of n entries costs ``n x write_cpu_s`` (it stands for n real requests).
* **Batch CPU** (``batch_cpu_s`` per raft batch: the Ready handling, WAL encoding and the fsync
  syscall, peer sends), on the commit path: the raft loop shares the cores the same way, and the
  fsync starts when its batch CPU is done.

Every job's CPU is also booked on the earliest free core (capacity is conserved: the pool does no
more than ``cores`` seconds of work per second, so a saturated pool throttles throughput at ``cores``
over the CPU per request), and its booked end is kept in a heap so that ``n``, the jobs still
running or waiting (reads included), is known at any instant.

Why processor sharing (issue 20, docs/CALIBRATE.md): fitted on a real etcd at 1 and 4 clients,
first-come-first-served booking starved the raft loop behind every queued request, its batches grew
twice as large as etcd's and the prediction at 16 and 64 clients missed by 20 to 30 %; and small
writes waited behind large range reads for seconds, where a goroutine scheduler interleaves them.

With ``write_cpu_s == batch_cpu_s == 0`` nothing here runs (not even the job heap), and the write
path is the pre-issue-20 model exactly.
"""

from __future__ import annotations

import heapq

import simpy

from kbench.simkernel import trigger_in


def book(cores: list[float], now: float, cpu_s: float) -> float:
    """Book ``cpu_s`` seconds on the earliest free core of the heap ``cores``; return the start time.

    Args:
        cores: Heap of core free-times, virtual seconds (changed in place).
        now: The current time, virtual seconds.
        cpu_s: CPU to book, seconds.
    """
    start = cores[0]
    if start < now:
        start = now
    heapq.heapreplace(cores, start + cpu_s)
    return start


def shared_time(cores: list[float], now: float, cpu_s: float, jobs: int) -> float:
    """Wall time, seconds, of ``cpu_s`` of CPU run under processor sharing with ``jobs`` other jobs.

    The other jobs hold the booked backlog (CPU-seconds not yet done, from the core free-times),
    ``s`` = backlog / ``jobs`` each on average. With ``c`` cores, while the ``jobs + 1`` share them
    each runs at ``min(1, c / (jobs + 1))`` of a core; once the others are done the rest of
    ``cpu_s`` runs on a core of its own.

    Args:
        cores: Heap of core free-times, virtual seconds (not changed).
        now: The current time, virtual seconds.
        cpu_s: The CPU needed, seconds.
        jobs: Jobs on the pool besides this one (at least the number of busy cores is used).
    """
    backlog = 0.0
    busy = 0
    for free in cores:
        if free > now:
            backlog += free - now
            busy += 1
    if not busy:
        return cpu_s
    if jobs < busy:
        jobs = busy
    share = (jobs + 1) / len(cores)
    if share <= 1:
        return cpu_s
    each = backlog / jobs
    if cpu_s <= each:
        return cpu_s * share
    return (backlog + each) / len(cores) + (cpu_s - each)  # = each x share + the rest alone


class EtcdCpu:
    """Mixin of :class:`~kbench.cluster.etcd.server.Etcd`: the write path's CPU on ``_cores``.

    Needs ``env``, ``cfg``, ``stats``, ``_cores``, ``_ends`` (a heap of booked jobs' end times) and
    ``_propose`` from the class it is mixed into.
    """

    __slots__ = ()

    def _run(self, now: float, cpu_s: float) -> float:
        """Book ``cpu_s`` and return its wall time under processor sharing, seconds (per write and
        per batch: the common case, fewer jobs than cores, costs no loop over the cores)."""
        ends = self._ends
        while ends and ends[0] <= now:  # jobs done by now
            heapq.heappop(ends)
        cores = self._cores
        wall = cpu_s if len(ends) < len(cores) else shared_time(cores, now, cpu_s, len(ends))
        start = cores[0]
        if start < now:
            start = now
        heapq.heapreplace(cores, start + cpu_s)
        heapq.heappush(ends, start + cpu_s)
        return wall

    def _admit(self, ev: simpy.Event, entries: int) -> None:
        """Run the write CPU of a request of ``entries`` entries and propose it when it is done
        (less its own CPU, which the measured gRPC round trip already holds)."""
        cpu = self.cfg.write_cpu_s
        if cpu <= 0:
            self._propose(ev)
            return
        env = self.env
        now = env.now
        cost = cpu * entries
        wait = self._run(now, cost) - cost
        stats = self.stats
        stats.write_cpu_s += cost
        if wait <= 0:
            self._propose(ev)
            return
        stats.write_cpu_wait_s += wait
        later = simpy.Event(env)
        later.callbacks.append(self._propose_later)
        trigger_in(env, later, wait, True, ev)

    def _propose_later(self, later: simpy.Event) -> None:
        self._propose(later.value)

    def _batch_cpu(self) -> float:
        """Run the raft loop's CPU for the batch taken now; return its wall time, seconds."""
        cpu = self.cfg.batch_cpu_s
        if cpu <= 0:
            return 0.0
        self.stats.batch_cpu_s += cpu
        return self._run(self.env.now, cpu)
