"""Exact-trace tests of the etcd model with constant costs.

With the costs below a lone write takes: commit = max(leader fsync 4 ms, follower rtt 1 ms + fsync
4 ms) = 5 ms, then apply 0.1 ms, then the gRPC reply 2 ms: 7.1 ms in all.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.cluster.etcd.records import CommitRecord, EtcdRequestTooLarge
from kbench.cluster.etcd.server import Etcd
from kbench.config import EtcdConfig
from kbench.dist import Dist
from kbench.errors import EtcdQuotaExceeded

RTT, GRPC, FSYNC, APPLY = 0.001, 0.002, 0.004, 0.0001
COMMIT = max(FSYNC, RTT + FSYNC)  # 5 ms
LONE_WRITE = COMMIT + APPLY + GRPC  # 7.1 ms
BASE, PER_OBJ, PER_BYTE = 50e-6, 10e-6, 1e-9


def make(**overrides) -> tuple[simpy.Environment, Etcd]:
    kw = dict(rtt_s=Dist.const(RTT), grpc_rtt_s=Dist.const(GRPC), fsync_s=Dist.const(FSYNC),
              apply_per_entry_s=APPLY, read_base_s=BASE, read_per_object_s=PER_OBJ,
              read_per_byte_s=PER_BYTE, compaction_interval_s=0.0,  # 0: no timer, env.run() ends
              # the size-dependent costs off, so that traces stay the constant ones above
              apply_per_byte_s=0.0, wal_bytes_per_s=1e30, gc_parallel_fraction=0.0, network_bytes_per_s=1e30,
              write_cpu_s=0.0, batch_cpu_s=0.0)  # the write path's CPU: tests/unit/test_etcd_cpu.py
    kw.update(overrides)
    env = simpy.Environment()
    etcd = Etcd(env, EtcdConfig(**kw), np.random.default_rng(0))
    etcd.start()
    return env, etcd


def call(env: simpy.Environment, ev: simpy.Event, log: list, tag: str) -> None:
    """Record (tag, completion time, value or exception type) when ``ev`` completes."""

    def proc():
        try:
            v = yield ev
            log.append((tag, round(env.now, 9), v))
        except Exception as e:  # noqa: BLE001 - the test inspects the type
            log.append((tag, round(env.now, 9), type(e)))

    env.process(proc())


def test_lone_write_latency_and_revision():
    """A write commits after max(fsync, rtt + fsync), applies, and replies one gRPC trip later."""
    env, etcd = make()
    log = []

    def client():
        for i in range(3):
            rev = yield etcd.write("pods", f"p{i}", "create", 100)
            log.append((round(env.now, 9), rev))

    env.process(client())
    env.run()
    assert log == [(round(LONE_WRITE * k, 9), 1 + k) for k in (1, 2, 3)]
    assert etcd.revision == 4
    assert etcd.stats.writes == 3 and etcd.stats.batches == 3 and etcd.stats.entries_committed == 3


def test_group_commit_batches_concurrent_proposals():
    """Proposals made together share one batch; one made mid-batch waits for the next batch."""
    env, etcd = make()
    log = []
    for i in range(5):
        call(env, etcd.write("pods", f"p{i}", "create", 100), log, f"w{i}")

    def late():
        yield env.timeout(0.001)
        call(env, etcd.write("pods", "late", "create", 100), log, "late")

    env.process(late())
    env.run()
    first = round(COMMIT + 5 * APPLY + GRPC, 9)
    assert log[:5] == [(f"w{i}", first, 2 + i) for i in range(5)]
    # The late proposal's batch starts when the first one commits (5 ms).
    assert log[5] == ("late", round(COMMIT + COMMIT + APPLY + GRPC, 9), 7)
    assert etcd.stats.batches == 2


def test_object_count_and_bytes_per_resource():
    """Creates, updates and deletes keep per-resource counts and bytes; superseded versions are history."""
    env, etcd = make()

    def client():
        yield etcd.write("pods", "a", "create", 100)
        yield etcd.write("pods", "b", "create", 200)
        yield etcd.write("leases", "n1", "create", 300)
        yield etcd.write("pods", "a", "update", 150)
        yield etcd.write("pods", "b", "delete", 0)

    env.process(client())
    env.run()
    assert (etcd.object_count("pods"), etcd.resource_bytes("pods")) == (1, 150)
    assert (etcd.object_count("leases"), etcd.resource_bytes("leases")) == (1, 300)
    assert (etcd.object_count("nodes"), etcd.resource_bytes("nodes")) == (0, 0)
    assert etcd.history_bytes == 100 + 200  # old "a" and deleted "b"
    assert etcd.db_size_bytes == 150 + 300 + 300


def test_subscribers_see_commits_in_revision_order():
    """Each committed write is published once, in revision order, when its batch's apply starts
    (the commit time, the apply stage being idle)."""
    env, etcd = make()
    seen: list[CommitRecord] = []
    etcd.subscribe(seen.append)
    etcd.write("pods", "a", "create", 100)
    etcd.write("pods", "a", "update", 120)
    etcd.write("pods", "a", "delete", 0)
    env.run()
    t = round(COMMIT, 9)
    assert [(r.key, r.op, r.revision, r.size_bytes, round(r.time_s, 9)) for r in seen] == [
        ("a", "create", 2, 100, t), ("a", "update", 3, 120, t), ("a", "delete", 4, 120, t)]


def test_quota_exceeded_rejects_writes_but_not_deletes():
    """Above the quota (B8) creates and updates fail after one gRPC trip; deletes still commit."""
    env, etcd = make(quota_bytes=1000)
    log = []

    def client():
        yield etcd.write("configmaps", "a", "create", 600)
        call(env, etcd.write("configmaps", "b", "create", 600), log, "create")
        call(env, etcd.write("configmaps", "a", "update", 500), log, "update")
        call(env, etcd.write("configmaps", "a", "delete", 0), log, "delete")

    env.process(client())
    env.run()
    assert log == [("create", round(LONE_WRITE + GRPC, 9), EtcdQuotaExceeded),
                   ("update", round(LONE_WRITE + GRPC, 9), EtcdQuotaExceeded),
                   ("delete", round(2 * LONE_WRITE, 9), 3)]
    assert etcd.stats.write_errors == 2
    assert etcd.object_count("configmaps") == 0 and etcd.db_size_bytes == 600  # history until compaction
    etcd.compact()
    assert etcd.db_size_bytes == 0


def test_too_large_request_fails():
    """A create above max_request_bytes (B7) fails; a delete of the same key is accepted."""
    env, etcd = make(max_request_bytes=100)
    log = []
    call(env, etcd.write("secrets", "s", "create", 101), log, "big")
    call(env, etcd.write("secrets", "s", "delete", 101), log, "delete")
    env.run()
    assert log == [("big", GRPC, EtcdRequestTooLarge), ("delete", round(LONE_WRITE, 9), 2)]


def test_unknown_op_is_a_programming_error():
    _, etcd = make()
    with pytest.raises(ValueError, match="unknown etcd op"):
        etcd.write("pods", "a", "patch", 10)


def test_compaction_timer_drops_history():
    """Every compaction_interval_s (A24: 5 min) history is dropped and compacted_revision advances."""
    env, etcd = make(compaction_interval_s=300.0)
    etcd.write("pods", "a", "create", 100)
    etcd.write("pods", "a", "update", 100)
    env.run(until=299.0)
    assert (etcd.compacted_revision, etcd.history_bytes, etcd.db_size_bytes) == (0, 100, 200)
    env.run(until=301.0)
    assert (etcd.compacted_revision, etcd.history_bytes, etcd.db_size_bytes) == (3, 0, 100)
    assert etcd.stats.compactions == 1
    env.run(until=601.0)
    assert etcd.stats.compactions == 2


def test_stall_writes_delays_commits():
    """During a leader election (B9) nothing commits; queued and in-flight writes wait it out."""
    env, etcd = make()
    log = []
    etcd.stall_writes(1.0)
    call(env, etcd.write("pods", "a", "create", 100), log, "queued")

    def mid():
        yield env.timeout(2.0)
        call(env, etcd.write("pods", "b", "create", 100), log, "in-flight")
        yield env.timeout(0.001)
        etcd.stall_writes(0.5)  # while b's batch is replicating

    env.process(mid())
    env.run()
    assert log == [("queued", round(1.0 + LONE_WRITE, 9), 2),
                   ("in-flight", round(2.001 + 0.5 + APPLY + GRPC, 9), 3)]


def test_slow_disk_raises_latency_for_its_duration():
    """fsync x factor while the disk is slow, then back to normal."""
    env, etcd = make()
    log = []
    etcd.slow_disk(10.0, 1.0)

    def client():
        for t in (0.0, 2.0):
            yield env.timeout(t - env.now)
            start = env.now
            yield etcd.write("pods", "a", "update", 100)
            log.append(round(env.now - start, 9))

    env.process(client())
    env.run()
    assert log == [round(max(10 * FSYNC, RTT + 10 * FSYNC) + APPLY + GRPC, 9), round(LONE_WRITE, 9)]


def test_linearizable_read_pays_a_read_index_round_trip():
    """Serializable: CPU + gRPC. Linearizable: a quorum round trip first (B5)."""
    env, etcd = make()
    log = []
    call(env, etcd.read("pods", objects_scanned=1, bytes_returned=1000, linearizable=False), log, "ser")
    call(env, etcd.read("pods", objects_scanned=1, bytes_returned=1000), log, "lin")
    env.run()
    cpu = BASE + PER_OBJ + 1000 * PER_BYTE
    assert log == [("ser", round(cpu + GRPC, 9), 1), ("lin", round(RTT + cpu + GRPC, 9), 1)]
    assert etcd.stats.reads == 2


def test_linearizable_read_waits_for_apply_and_election():
    """A linearizable read waits until every write committed before it is applied, and out an election."""
    env, etcd = make()
    log = []
    t0 = LONE_WRITE
    t1 = t0 + COMMIT + 1e-6

    def client():
        yield etcd.write("pods", "a", "create", 100)
        for i in range(100):  # one batch, committed at t0 + COMMIT, applied 10 ms later
            etcd.write("pods", f"b{i}", "create", 100)
        yield env.timeout(t1 - t0)
        call(env, etcd.read("pods", objects_scanned=0, bytes_returned=0), log, "lin")
        yield env.timeout(1.0)
        etcd.stall_writes(1.0)
        call(env, etcd.read("pods", objects_scanned=0, bytes_returned=0), log, "stalled")

    env.process(client())
    env.run()
    assert log == [("lin", round(t0 + COMMIT + 100 * APPLY + BASE + GRPC, 9), 102),
                   ("stalled", round(t1 + 2.0 + BASE + GRPC, 9), 102)]


def test_range_read_cost_grows_with_object_count():
    """A full range (default scan) costs read_per_object_s per stored object and per byte (B13)."""
    env, etcd = make()
    for i in range(100):
        etcd.write("pods", f"p{i}", "create", 1000)
    etcd.write("leases", "l", "create", 1000)
    env.run()
    log = []
    t0 = env.now
    call(env, etcd.read("pods", linearizable=False), log, "pods")
    call(env, etcd.read("leases", linearizable=False), log, "leases")
    env.run()
    # Both start at once on two of the 8 cores; the small range finishes first.
    assert log == [("leases", round(t0 + BASE + PER_OBJ + 1000 * PER_BYTE + GRPC, 9), 102),
                   ("pods", round(t0 + BASE + 100 * PER_OBJ + 100_000 * PER_BYTE + GRPC, 9), 102)]


def test_reads_queue_fcfs_on_the_core_pool():
    """With 2 cores, a third simultaneous read starts when the first core frees."""
    env, etcd = make(cores=2)
    log = []
    for i in range(3):
        call(env, etcd.read("pods", objects_scanned=10, bytes_returned=0, linearizable=False), log, f"r{i}")
    env.run()
    s = BASE + 10 * PER_OBJ
    assert [t for _, t, _ in log] == [round(s + GRPC, 9)] * 2 + [round(2 * s + GRPC, 9)]
    assert etcd.stats.read_cpu_s == pytest.approx(3 * s)


def test_same_seed_same_results_with_default_costs():
    """Random costs come from the given stream only: same seed, same trace."""

    def trace(seed: int) -> list:
        env = simpy.Environment()
        etcd = Etcd(env, EtcdConfig(), np.random.default_rng(seed))
        etcd.start()
        out = []
        for i in range(20):
            call(env, etcd.write("pods", f"p{i % 7}", "update", 100), out, f"w{i}")
            call(env, etcd.read("pods", linearizable=bool(i % 2)), out, f"r{i}")
        env.run(until=10.0)
        return out

    assert trace(1) == trace(1)
    assert trace(1) != trace(2)


def test_stats_snapshot_integrates_in_flight_writes():
    """The in-flight integral equals the sum of latencies once the system is empty again."""
    env, etcd = make()
    for i in range(4):
        etcd.write("pods", f"p{i}", "create", 10)
    env.run()
    s = etcd.snapshot()
    assert s.writes_in_flight == 0
    assert s.write_inflight_area == pytest.approx(s.write_latency_sum_s)
    assert s.write_latency_sum_s == pytest.approx(4 * (COMMIT + 4 * APPLY + GRPC))


def test_rejections_reach_the_waiting_process_intact():
    """SimPy re-creates a failure as type(e)(*e.args) in the waiter: messages and fields survive."""
    env, etcd = make(quota_bytes=100, max_request_bytes=1000)
    caught = []

    def client(size):
        try:
            yield etcd.write("pods", "a", "create", size)
        except (EtcdQuotaExceeded, EtcdRequestTooLarge) as e:
            caught.append(e)

    env.process(client(500))
    env.process(client(5000))
    env.run()
    quota, big = caught
    assert "database space exceeded" in str(quota) and (quota.size_bytes, quota.quota_bytes) == (500, 100)
    assert "request is too large" in str(big) and (big.size_bytes, big.limit_bytes) == (5000, 1000)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["pods", "leases"]), st.sampled_from("abcd"),
                          st.sampled_from(["create", "update", "delete"]), st.integers(0, 500),
                          st.floats(0, 0.02)), max_size=40))
def test_state_matches_a_reference_dict(ops):
    """Invariant: counts, bytes and history match a plain dict replay; revisions are gapless."""
    env, etcd = make()
    seen: list[CommitRecord] = []
    etcd.subscribe(seen.append)

    def client():
        for resource, key, op, size, gap in ops:
            yield env.timeout(gap)
            etcd.write(resource, key, op, size)

    env.process(client())
    env.run()
    ref: dict[str, dict[str, int]] = {"pods": {}, "leases": {}}
    history = 0
    for r in seen:  # commit order is proposal order
        old = ref[r.resource].pop(r.key, None) if r.op == "delete" else ref[r.resource].get(r.key)
        history += old or 0
        if r.op != "delete":
            ref[r.resource][r.key] = r.size_bytes
    assert [r.revision for r in seen] == list(range(2, 2 + len(ops)))
    assert [(r.resource, r.key, r.op) for r in seen] == [o[:3] for o in ops]
    for res, objs in ref.items():
        assert etcd.object_count(res) == len(objs)
        assert etcd.resource_bytes(res) == sum(objs.values())
    assert etcd.history_bytes == history
    assert etcd.db_size_bytes == history + sum(sum(o.values()) for o in ref.values())


def test_preload_creates_initial_objects_without_commits():
    """preload() is the initial state: objects and revisions, but no subscribers, stats or delay."""
    env, etcd = make(quota_bytes=10_000)
    seen: list[CommitRecord] = []
    etcd.subscribe(seen.append)
    etcd.preload("configmaps", [f"c{i}" for i in range(5)], 1000)
    assert (etcd.object_count("configmaps"), etcd.resource_bytes("configmaps")) == (5, 5000)
    assert (etcd.revision, etcd.history_bytes, seen, etcd.stats.entries_committed) == (6, 0, [], 0)
    log = []
    call(env, etcd.write("configmaps", "c0", "update", 1000), log, "w")
    env.run()
    assert log == [("w", round(LONE_WRITE, 9), 7)]
    with pytest.raises(EtcdQuotaExceeded):
        etcd.preload("configmaps", [f"d{i}" for i in range(5)], 1000)


def test_precondition_is_checked_when_the_entry_is_applied():
    """Two writes racing on one key: the second's compare sees the first's value (no lost update)."""
    import simpy as _simpy

    from kbench.cluster.etcd.records import EtcdConflict
    from kbench.config import EtcdConfig as _Cfg

    env = _simpy.Environment()
    etcd = Etcd(env, _Cfg(compaction_interval_s=0), np.random.default_rng(0))
    etcd.start()
    out = []

    def writer(value):
        try:
            yield etcd.write("pods", "p", "update", 10, value, precondition=lambda cur: cur is None)
            out.append(("ok", value))
        except EtcdConflict:
            out.append(("conflict", value))

    env.process(writer("a"))
    env.process(writer("b"))  # proposed in the same instant: both would pass a check made at proposal
    env.run(until=1)
    assert sorted(out) == [("conflict", "b"), ("ok", "a")]
    assert etcd.get("pods", "p") == "a"


def test_write_many_commits_each_entry_in_one_proposal():
    """A multi-entry call joins one raft batch; each entry gets its own revision and record; the
    batch-aware subscriber gets the records at once, a plain one one by one; one reply."""
    env, etcd = make()
    plain, many = [], []
    etcd.subscribe(plain.append)
    etcd.subscribe(lambda rec: pytest.fail("the batch callback must be used"), many.append)
    log: list = []
    call(env, etcd.write_many("leases", "update", 100, [("a", 1), ("b", 2), ("c", 3)]), log, "m")
    env.run()
    rev0 = 1
    assert log == [("m", pytest.approx(COMMIT + 3 * APPLY + GRPC), [rev0 + 1, rev0 + 2, rev0 + 3])]
    assert [r.key for r in plain] == ["a", "b", "c"] and [r.revision for r in plain] == [2, 3, 4]
    assert len(many) == 1 and [r.value for r in many[0]] == [1, 2, 3]
    assert etcd.get("leases", "b") == 2
    s = etcd.snapshot()
    assert (s.writes, s.entries_committed, s.batches, s.writes_in_flight) == (3, 3, 1, 0)
    assert s.write_latency_sum_s == pytest.approx(3 * (COMMIT + 3 * APPLY + GRPC))


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(st.sampled_from("abcdef"), min_size=1, max_size=12),
       preloaded=st.sets(st.sampled_from("abcdef")), size=st.integers(1, 500), op=st.sampled_from(["update", "create"]))
def test_write_many_leaves_the_tables_of_the_same_writes_one_by_one(keys, preloaded, size, op):
    """write_many (one proposal, its entries applied together) against one write per entry: the same
    values, revisions, records, live and superseded bytes, whatever repeats and preloaded keys."""
    def outcome(batched: bool):
        env, etcd = make()
        etcd.preload_values("leases", {k: f"old-{k}" for k in sorted(preloaded)}, 70)
        recs: list = []
        etcd.subscribe(recs.append)
        items = [(k, f"{k}{i}") for i, k in enumerate(keys)]
        if batched:
            etcd.write_many("leases", op, size, items)
        else:
            for k, v in items:
                etcd.write("leases", k, op, size, v)
        env.run()
        state = (etcd.revision, etcd.db_size_bytes, etcd.history_bytes, dict(etcd.values("leases")),
                 [(r.key, r.op, r.revision, r.size_bytes, r.value) for r in recs])
        return state, etcd.compact()  # and the superseded revisions a compaction removes

    assert outcome(True) == outcome(False)


def test_write_many_over_quota_fails_the_whole_call():
    env, etcd = make(quota_bytes=250)
    log: list = []
    call(env, etcd.write_many("leases", "update", 100, [("a", 1), ("b", 2), ("c", 3)]), log, "m")
    env.run()
    assert log == [("m", pytest.approx(GRPC), EtcdQuotaExceeded)]
    assert etcd.snapshot().write_errors == 3 and etcd.get("leases", "a") is None


def test_write_cost_grows_with_value_size_and_wal_bytes():
    """Apply costs apply_per_entry_s + bytes x apply_per_byte_s; the batch's WAL write adds its bytes
    over the WAL bandwidth to the fsync (B4 measured 256-byte values)."""
    env, etcd = make(apply_per_byte_s=1e-8, wal_bytes_per_s=1e6)
    log = []
    call(env, etcd.write("pods", "big", "create", 100_000), log, "w")
    env.run()
    commit = max(FSYNC, RTT + FSYNC) + 100_000 / 1e6  # fsync + 0.1 s of WAL bytes
    apply = APPLY + 100_000 * 1e-8
    assert log == [("w", round(commit + apply + GRPC, 9), 2)]
    assert etcd.stats.write_bytes == 100_000 and etcd.stats.apply_cpu_s == pytest.approx(apply)


def test_compaction_runs_in_batches_that_hold_back_applies():
    """A24, I25: at the compaction timer the superseded revisions (here 2,500) are removed in batches
    of 1,000, each holding the backend for 1,000 x compact_per_key_s with 10 ms between batches; a
    write applied meanwhile waits behind the batch (B6's latency spike)."""
    env, etcd = make(compaction_interval_s=10.0, compact_per_key_s=1e-5)
    for _ in range(2500):
        etcd.write("pods", "same", "update", 10)
    env.run(until=9.0)
    assert etcd.history_bytes > 0
    log = []

    def late():
        yield env.timeout(10.0 - env.now)  # the compaction's first batch starts now: 10 ms of backend
        start = env.now
        yield etcd.write("pods", "x", "create", 10)
        log.append(round(env.now - start, 9))

    env.process(late())
    env.run(until=11.0)
    s = etcd.stats
    assert s.compactions == 1 and s.compaction_keys == 2499
    assert s.compaction_cpu_s == pytest.approx(2499 * 1e-5)
    assert log and log[0] >= COMMIT + APPLY + GRPC  # and no less
    assert log[0] == pytest.approx(max(COMMIT, 1000 * 1e-5) + APPLY + GRPC, abs=1e-6)


def test_a_limited_range_walks_the_rest_of_the_index_for_its_count():
    """I22: etcd's treeIndex.Revisions counts every key of the range, whatever the limit; the
    current-revision request of a consistent read is a limit-1 range of the whole resource."""
    env, etcd = make(index_walk_s_per_key=1e-6, cores=1)
    etcd.preload("pods", [f"p{i}" for i in range(10_000)], 100)
    log = []
    call(env, etcd.current_revision("pods"), log, "rv")
    env.run()
    assert log == [("rv", round(RTT + BASE + PER_OBJ + 9_999 * 1e-6 + GRPC, 9), etcd.revision)]
    assert etcd.stats.current_rv_requests == 1 and etcd.stats.index_keys == 9_999
    assert etcd.stats.range_requests == 0  # not a LIST's range
