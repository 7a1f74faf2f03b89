"""The etcd write path's CPU on the core pool (kbench/cluster/etcd/cpu.py): exact traces, the
processor-sharing rule of the raft loop, saturation and Little's law.

Costs as in tests/unit/test_etcd.py: a lone write with no CPU takes commit 5 ms (max of the leader's
fsync 4 ms and a follower's rtt 1 ms + fsync 4 ms), apply 0.1 ms, gRPC reply 2 ms = 7.1 ms.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.cluster.etcd.cpu import book, shared_time
from kbench.cluster.etcd.server import Etcd
from kbench.config import EtcdConfig
from kbench.dist import Dist

RTT, GRPC, FSYNC, APPLY = 0.001, 0.002, 0.004, 0.0001
COMMIT = max(FSYNC, RTT + FSYNC)  # 5 ms
LONE_WRITE = COMMIT + APPLY + GRPC  # 7.1 ms


def make(**overrides) -> tuple[simpy.Environment, Etcd]:
    kw = dict(rtt_s=Dist.const(RTT), grpc_rtt_s=Dist.const(GRPC), fsync_s=Dist.const(FSYNC),
              apply_per_entry_s=APPLY, compaction_interval_s=0.0, write_cpu_s=0.0, batch_cpu_s=0.0,
              # the size-dependent costs off (issue 16), so that traces stay the constant ones above
              apply_per_byte_s=0.0, wal_bytes_per_s=1e30, gc_parallel_fraction=0.0, network_bytes_per_s=1e30)
    kw.update(overrides)
    env = simpy.Environment()
    etcd = Etcd(env, EtcdConfig(**kw), np.random.default_rng(0))
    etcd.start()
    return env, etcd


def closed_loop_writers(env, etcd, n: int) -> None:
    """``n`` writers, each writing its own key again as soon as the last write returns."""

    def writer(i):
        while True:
            yield etcd.write("pods", f"p{i}", "update", 100)

    for i in range(n):
        env.process(writer(i))


def writes_at(env, etcd, times: list[float]) -> list:
    """One write per entry of ``times`` (virtual seconds); returns the log of (tag, done s)."""
    log: list = []

    def writer(i, t):
        yield env.timeout(t)
        yield etcd.write("pods", f"p{i}", "create", 100)
        log.append((f"w{i}", round(env.now, 9)))

    for i, t in enumerate(times):
        env.process(writer(i, t))
    env.run()
    return sorted(log, key=lambda e: e[0])


def test_write_cpu_gates_the_second_of_two_concurrent_writes_on_one_core():
    """One core, 1 ms of CPU per write: w0 is proposed at 0, w1 waits for the core until 1 ms, misses
    w0's batch (taken at 0) and commits in the next one, which starts when w0's commits (5 ms)."""
    env, etcd = make(cores=1, write_cpu_s=0.001)
    log = writes_at(env, etcd, [0.0, 0.0])
    assert log == [("w0", round(LONE_WRITE, 9)), ("w1", round(2 * COMMIT + APPLY + GRPC, 9))]
    assert etcd.stats.write_cpu_s == pytest.approx(0.002)
    assert etcd.stats.write_cpu_wait_s == pytest.approx(0.001)
    assert etcd.stats.batches == 2


def test_write_cpu_on_an_idle_core_adds_no_latency():
    """The request's own CPU is inside the measured gRPC round trip: with a free core, no wait."""
    env, etcd = make(cores=2, write_cpu_s=0.001)
    log = writes_at(env, etcd, [0.0, 0.0])
    assert log == [(f"w{i}", round(COMMIT + 2 * APPLY + GRPC, 9)) for i in range(2)]  # one batch
    assert etcd.stats.write_cpu_wait_s == 0.0 and etcd.stats.batches == 1


def test_batch_cpu_runs_before_the_fsync_on_a_free_core():
    """Idle cores: the raft loop's 0.5 ms per batch comes before the commit delay, once per batch."""
    env, etcd = make(batch_cpu_s=0.0005)
    log = writes_at(env, etcd, [0.0, 0.0, 0.0])
    assert log == [(f"w{i}", round(0.0005 + COMMIT + 3 * APPLY + GRPC, 9)) for i in range(3)]
    assert etcd.stats.batch_cpu_s == pytest.approx(0.0005)


def test_batch_cpu_shares_a_busy_core():
    """One core booked by a 1 ms write: the raft loop shares it with that one job (2 jobs on 1 core),
    so its 0.2 ms of CPU takes 0.4 ms; then the fsync."""
    env, etcd = make(cores=1, write_cpu_s=0.001, batch_cpu_s=0.0002)
    log = writes_at(env, etcd, [0.0])
    assert log == [("w0", round(0.0004 + COMMIT + APPLY + GRPC, 9))]


@pytest.mark.parametrize("free, now, cpu, jobs, expected", [
    # cores' free times, now, cpu, other jobs -> wall time, worked out:
    ([0.0, 0.0], 1.0, 0.2, 0, 0.2),     # nothing booked: a core of its own
    # backlog 1 s on one busy core, 10 jobs of 0.1 s; 11 jobs on 2 cores share at 2/11 each until
    # the others end (0.1 x 11/2 = 0.55 s, 0.1 s of ours done), then 0.1 s alone: 0.65 s
    ([2.0, 0.0], 1.0, 0.2, 10, 0.65),
    ([1.5, 1.5], 1.0, 0.05, 2, 0.075),  # 2 jobs of 0.5 s on 2 cores: 3 share 2 cores, x 1.5
    ([1.5, 1.5], 1.0, 0.05, 0, 0.075),  # fewer jobs than busy cores: one per busy core, the same
    ([1.5], 1.0, 0.05, 1, 0.1),         # 1 job on 1 core: half a core, x 2
])
def test_shared_time_table(free, now, cpu, jobs, expected):
    assert shared_time(sorted(free), now, cpu, jobs) == pytest.approx(expected)


def test_a_small_write_is_not_stuck_behind_large_reads():
    """Two 0.5 s range reads hold both cores; a write's 1 ms of CPU shares them (3 jobs on 2 cores:
    1.5 ms) instead of waiting 0.5 s for a free core, as etcd's goroutines interleave."""
    env, etcd = make(cores=2, write_cpu_s=0.001, read_base_s=0.5, read_per_object_s=0.0, read_per_byte_s=0.0)
    log = []
    for i in range(2):
        call_done(env, etcd.read("pods", objects_scanned=1, bytes_returned=0, linearizable=False), log, f"r{i}")
    call_done(env, etcd.write("pods", "p", "create", 100), log, "w")
    env.run()
    assert ("w", round(0.0005 + LONE_WRITE, 9)) in log  # 1.5 ms of sharing - its own 1 ms
    assert etcd.stats.write_cpu_wait_s == pytest.approx(0.0005)


def test_a_reads_gc_share_is_a_job_of_the_pool():
    """One 0.5 s range read whose per-byte CPU is half GC: 0.25 s on a core, its GC share 0.25 s on the
    other (issue 16's read path); both are jobs of issue 20's pool, so a write's 1 ms of CPU shares
    2 cores with 2 jobs (1.5 ms) instead of finding a free core."""
    env, etcd = make(cores=2, write_cpu_s=0.001, read_base_s=0.0, read_per_object_s=0.0, read_per_byte_s=1e-6,
                     gc_parallel_fraction=0.5)
    log = []
    call_done(env, etcd.read("pods", objects_scanned=1, bytes_returned=500_000, linearizable=False), log, "r")
    call_done(env, etcd.write("pods", "p", "create", 100), log, "w")
    env.run()
    assert ("w", round(0.0005 + LONE_WRITE, 9)) in log
    assert ("r", round(0.25 + GRPC, 9)) in log  # the GC share is charged, not waited for
    assert etcd.stats.read_cpu_s == pytest.approx(0.5)


def call_done(env, ev, log, tag):
    def proc():
        yield ev
        log.append((tag, round(env.now, 9)))

    env.process(proc())


def test_saturation_throughput_is_cores_over_write_cpu():
    """Many closed-loop writers: throughput -> cores / write_cpu_s (2 cores x 1 ms: 2000/s)."""
    env, etcd = make(cores=2, write_cpu_s=0.001, rtt_s=Dist.const(1e-4), grpc_rtt_s=Dist.const(1e-4),
                     fsync_s=Dist.const(2e-4), apply_per_entry_s=1e-6)
    closed_loop_writers(env, etcd, 64)
    env.run(until=1.0)
    a = etcd.snapshot()
    env.run(until=6.0)
    b = etcd.snapshot()
    x = (b.writes - a.writes) / 5.0
    assert x == pytest.approx(2000.0, rel=0.01)
    # Little's law still holds with writes waiting at the gate: L = X W
    w = (b.write_latency_sum_s - a.write_latency_sum_s) / (b.writes - a.writes)
    assert (b.write_inflight_area - a.write_inflight_area) / 5.0 == pytest.approx(x * w, rel=0.01)


def _entries_per_batch(**cfg) -> float:
    """Entries per raft batch with 16 closed-loop writers (the gRPC trip random, so that they spread)."""
    env, etcd = make(rtt_s=Dist.const(1e-4), grpc_rtt_s=Dist.lognormal(2e-4, 1e-3), fsync_s=Dist.const(3e-4),
                     apply_per_entry_s=1e-6, write_cpu_s=2e-4, **cfg)
    closed_loop_writers(env, etcd, 16)
    env.run(until=2.0)
    return etcd.stats.entries_committed / etcd.stats.batches


def test_batches_grow_when_the_cores_are_busy():
    """The raft loop's CPU stretches when it shares busy cores, so more proposals wait for each batch
    (as etcd's entries per fsync grow under load): 0.2 ms of batch CPU grows batches by far more on
    2 busy cores than on 64 idle ones."""
    busy = _entries_per_batch(cores=2, batch_cpu_s=2e-4) / _entries_per_batch(cores=2, batch_cpu_s=0.0)
    idle = _entries_per_batch(cores=64, batch_cpu_s=2e-4) / _entries_per_batch(cores=64, batch_cpu_s=0.0)
    assert busy > 1.5
    assert idle < 1.2


def test_write_many_books_one_cpu_per_entry():
    env, etcd = make(cores=1, write_cpu_s=0.001)
    log = []

    def client():
        yield etcd.write_many("leases", "create", 100, [(f"l{i}", None) for i in range(5)])
        log.append(round(env.now, 9))

    env.process(client())
    env.run()
    assert log == [round(LONE_WRITE + 4 * APPLY, 9)]
    assert etcd.stats.write_cpu_s == pytest.approx(0.005)


@settings(max_examples=60, deadline=None)
@given(free=st.lists(st.floats(0.0, 0.01), min_size=1, max_size=8),
       cpu=st.floats(1e-6, 1e-3), jobs=st.integers(0, 10_000))
def test_shared_time_bounds(free, cpu, jobs):
    """Never faster than a core of its own; never slower than waiting for every booked job first."""
    cores = sorted(free)
    wall = shared_time(cores, 0.0, cpu, jobs)
    assert wall >= cpu * (1 - 1e-12)
    assert wall <= sum(cores) + cpu + 1e-12
    before = list(cores)
    start = book(cores, 0.0, cpu)
    assert start == before[0]
    assert sum(cores) == pytest.approx(sum(before) + cpu)
