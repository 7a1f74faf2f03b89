"""etcd's CPU on its core pool: what a write request costs, and the raft loop's CPU per batch.

The :class:`~kbench.cluster.etcd.server.Etcd` model keeps one heap of core free-times (``cores``
cores, the member's ``GOMAXPROCS``); range reads already run their CPU there, first come first
served. This mixin puts the write path on the same cores:

* **Write CPU, gated** (``write_cpu_s`` per entry). A write request (gRPC decode and encode, auth,
  the MVCC put, raft proposal bookkeeping) books ``write_cpu_s`` on the earliest free core and is
  proposed when that CPU *starts*: at low load the request's own CPU is part of the measured gRPC
  round trip (``grpc_rtt_s``), so only the wait for a busy core is added. A :meth:`Etcd.write_many`
  call of n entries books ``n x write_cpu_s`` (it stands for n real requests).
* **Batch CPU, on the commit path** (``batch_cpu_s`` per raft batch: the Ready handling, WAL
  encoding and the fsync syscall, peer sends). The raft goroutine competes with the booked request
  CPU the way Go's and Linux's schedulers share cores, not first come first served: with ``n`` jobs
  runnable on ``c`` cores it gets ``min(1, c / (n + 1))`` of a core until they are done
  (processor sharing, :func:`shared_time`), and the fsync starts after its batch CPU. ``n`` is
  estimated from the booked backlog (CPU-seconds not yet done) over the typical job
  (``write_cpu_s``, or ``read_base_s`` when writes cost none), and is at least the number of busy
  cores. The batch's CPU is booked on the pool as well, so it delays the requests behind it.

Why processor sharing for the raft loop (issue 20, docs/CALIBRATE.md): fitted on a real etcd at 1
and 4 clients, first-come-first-served booking starves the raft loop behind every queued request,
its batches grow twice as large as etcd's and the prediction at 16 and 64 clients misses by 20 to
30 %; shared cores reproduce etcd's batch growth (entries per fsync) and its throughput.

With ``write_cpu_s == batch_cpu_s == 0`` the gate and the batch term are skipped entirely, and the
write path is the pre-issue-20 model exactly.
"""

from __future__ import annotations

import heapq

import simpy
from simpy.events import NORMAL


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


def shared_time(cores: list[float], now: float, cpu_s: float, job_s: float) -> float:
    """Wall time, seconds, of ``cpu_s`` of CPU run under processor sharing with the booked work.

    The booked backlog is taken as ``n`` equal jobs of ``s`` seconds (``n`` = backlog / ``job_s``,
    at least one per busy core; ``s`` = backlog / ``n``). With ``c`` cores, while the ``n + 1``
    jobs share them each runs at ``min(1, c / (n + 1))`` of a core; once the booked jobs are done
    the rest of ``cpu_s`` runs on a core of its own.

    Args:
        cores: Heap of core free-times, virtual seconds (not changed).
        now: The current time, virtual seconds.
        cpu_s: The CPU needed, seconds.
        job_s: CPU of a typical booked job, seconds (0: count one job per busy core).
    """
    backlog = 0.0
    busy = 0
    for free in cores:
        if free > now:
            backlog += free - now
            busy += 1
    if not busy:
        return cpu_s
    jobs = backlog / job_s if job_s > 0 else busy
    if jobs < busy:
        jobs = busy
    slowdown = (jobs + 1) / len(cores)
    if slowdown <= 1:
        return cpu_s
    each = backlog / jobs
    if cpu_s <= each:
        return cpu_s * slowdown
    return (backlog + each) / len(cores) + (cpu_s - each)  # = each x slowdown + the rest alone


class EtcdCpu:
    """Mixin of :class:`~kbench.cluster.etcd.server.Etcd`: the write path's CPU on ``_cores``.

    Needs ``env``, ``cfg``, ``stats``, ``_cores`` and ``_propose`` from the class it is mixed into.
    """

    __slots__ = ()

    def _admit(self, ev: simpy.Event, entries: int) -> None:
        """Book the write CPU of a request of ``entries`` entries and propose it when it starts."""
        cpu = self.cfg.write_cpu_s
        if cpu <= 0:
            self._propose(ev)
            return
        env = self.env
        now = env._now
        cost = cpu * entries
        start = book(self._cores, now, cost)
        stats = self.stats
        stats.write_cpu_s += cost
        if start <= now:
            self._propose(ev)
            return
        stats.write_cpu_wait_s += start - now
        later = simpy.Event(env)
        later._ok, later._value = True, ev
        later.callbacks.append(self._propose_booked)
        env.schedule(later, NORMAL, start - now)

    def _propose_booked(self, later: simpy.Event) -> None:
        self._propose(later._value)

    def _batch_cpu(self) -> float:
        """Book the raft loop's CPU for the batch taken now; return its wall time, seconds."""
        cfg = self.cfg
        cpu = cfg.batch_cpu_s
        if cpu <= 0:
            return 0.0
        now = self.env._now
        cores = self._cores
        wall = shared_time(cores, now, cpu, cfg.write_cpu_s or cfg.read_base_s)
        book(cores, now, cpu)
        self.stats.batch_cpu_s += cpu
        return wall
