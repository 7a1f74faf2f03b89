"""Watch fan-out on the apiserver's core pool (I17, I18), slow active watchers terminated by the A22
rule and what their clients do next (I19), bookmarks (A23)."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.cluster.apiserver.fanout import book_fill, book_scalar
from kbench.cluster.apiserver.watchcache import PassiveGroup, WatchCache, Watcher
from kbench.cluster.controlplane import ControlPlane
from kbench.cluster.etcd.records import CommitRecord
from kbench.config import ApiserverConfig, WatchCacheConfig, scenario_from_dict
from kbench.dist import Dist


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 5), min_size=1, max_size=16), st.floats(0, 5), st.floats(1e-6, 1), st.integers(1, 400))
def test_water_filling_conserves_work_and_never_beats_the_pool(frees, start, s, k):
    """Property: k jobs of s seconds from ``start`` on C cores: the water level equals the time the
    pool's capacity from ``start`` reaches k x s (no work lost or made up); job j ends no earlier
    than ``start + (j + 1) s / C`` (a fluid pool at full speed) and ends are non-decreasing."""
    cores = list(frees)
    heapq.heapify(cores)
    c = len(cores)
    capacity_before = [max(f, start) for f in cores]
    ends = book_fill(cores, start, s, k)
    level = float(ends[-1])
    assert np.all(np.diff(ends) >= -1e-12)
    assert np.all(ends >= start + s * np.arange(1, k + 1) / c - 1e-9)
    used = sum(max(0.0, level - f) for f in capacity_before)
    assert used == pytest.approx(k * s, rel=1e-9, abs=1e-9)
    assert sorted(cores) == cores and all(x >= level - 1e-9 or x in capacity_before for x in cores)


def test_water_filling_matches_fcfs_for_many_equal_jobs():
    """1,000 jobs of 10 us on 16 free cores: FCFS ends at ceil(1000/16) x 10 us = 630 us, the fluid
    fill at 1000 x 10 / 16 = 625 us."""
    fcfs = [0.0] * 16
    fluid = [0.0] * 16
    last = book_scalar(fcfs, 0.0, 10e-6, 1000)[-1]
    assert last == pytest.approx(630e-6)
    assert book_fill(fluid, 0.0, 10e-6, 1000)[-1] == pytest.approx(625e-6)


def _cache(env, **wc) -> WatchCache:
    cfg = ApiserverConfig(watch_cache=WatchCacheConfig(etcd_to_cache_s=Dist.const(0.001), **wc))
    return WatchCache(env, "pods", cfg, np.random.default_rng(0), None, lambda v: v)


def test_a_big_fanout_is_parallel_on_the_pool_not_serial():
    """5,000 passive watchers of one event: the per-watcher sends (10.6 us each, I17) run on 16
    cores, so the last is done after about 5000 x 10.6 us / 16 = 3.3 ms, not 53 ms; the dispatcher
    itself is busy 5000 x 0.2 us = 1 ms."""
    env = simpy.Environment()
    cache = WatchCache(env, "cm", ApiserverConfig(watch_cache=WatchCacheConfig(etcd_to_cache_s=Dist.const(0.0))),
                       np.random.default_rng(0))
    g = PassiveGroup(5000, np.zeros(5000), buffer=20)
    g.connected[:] = True
    cache.passive.append(g)
    cache.on_commit(CommitRecord("cm", "a", "update", 2, 0, 0.0))
    env.run(until=1)
    cfg = cache.cfg
    send = cfg.watch_send_cpu_s
    assert g.backlog_until.max() == pytest.approx(cfg.watch_event_encode_cpu_s + 5000 * send / 16, rel=0.02)
    assert cache._dispatch_free_s == pytest.approx(5000 * cfg.watch_dispatch_s_per_watcher)
    assert cache.api.traffic.by_kind["watch"] == 5000 * cfg.watch_event_frame_bytes


def _slow_watcher(env, cache, process_s: float, log: list, closed: list) -> Watcher:
    w = Watcher("n1", lambda rec: log.append(rec.revision), lambda reason: closed.append(reason),
                client="kubelet", process_s=process_s, buffer=cache.watch_buffer(indexed=True, trigger=True))
    cache.add_watcher(w, 1e6)
    return w


def _burst(env, cache, n: int, rate: float, start_rev: int = 2) -> None:
    def writer():
        for i in range(n):
            cache.on_commit(CommitRecord("pods", f"p{i}", "update", start_rev + i, 100, env.now, "n1"))
            yield env.timeout(1 / rate)
    env.process(writer())


def test_a_slow_active_watcher_is_terminated_when_its_buffer_stays_full():
    """T6.1: a kubelet that needs 50 ms per event (20/s) with 2 x 10 events of buffer (A21: pods by
    node, I18), offered 100 events at 200/s: the buffer fills after ~0.11 s, each blocked offer waits
    up to 50 ms from a 100 ms budget refilled at 50 ms/s (A22): the watcher is terminated at about
    0.12 s, having processed the ~2 events it had time for (20/s); the ~20 still buffered are lost
    with the connection (a non-graceful close, I18)."""
    env = simpy.Environment()
    cache = _cache(env)
    log, closed = [], []
    w = _slow_watcher(env, cache, 0.05, log, closed)
    assert w.buffer == 20
    _burst(env, cache, 100, 200.0)
    env.run(until=10)
    assert closed == ["slow"]
    assert cache.terminated_slow == 1 and cache.api.terminated_watchers == {"kubelet": 1}
    assert 1 <= len(log) <= 4
    assert log == list(range(2, 2 + len(log)))  # in order, once each
    assert w.rv == log[-1]


def _informer_run(history_max: int, fresh_s: float):
    """A kubelet-like informer (50 ms per event) of one node's pods, 100 pod updates at 200/s."""
    sc = scenario_from_dict({"name": "t", "seed": 1, "kubernetes_version": "1.34",
                             "clients": {"kubelet": {"watch_event_process_s": 0.05}},
                             "apiserver": {"watch_cache": {"history_events_min": min(100, history_max),
                                                           "history_events_max": history_max,
                                                           "fresh_duration_s": fresh_s}}})
    plane = ControlPlane.build(sc)
    from kbench.cluster.clients.informer import Informer
    from kbench.config.clients import SyncStrategy
    env, api = plane.env, plane.api
    api.cache("pods", lambda v: v)
    got = []
    client = plane.client("kubelet-n1", "kubelet", "system:node:n1", ("system:nodes",))
    inf = Informer(api, client, "pods", strategy=SyncStrategy(), rng=np.random.default_rng(1), partition="n1",
                   on_add=lambda v: got.append(("add", v)), on_update=lambda o, n: got.append(("upd", n)))
    plane.start()
    inf.start()
    writer = plane.client("w", "default", "system:serviceaccount:x:w", ("system:serviceaccounts",))
    writer.limiter.qps = 0

    def writes():
        yield env.timeout(1.0)
        for i in range(100):
            env.process(writer.call(env, api, writer.request("update", "pods", name=f"p{i % 10}", value="n1",
                                                             size_bytes=1000)))
            yield env.timeout(0.005)

    env.process(writes())
    env.run(until=40)
    return inf, api


def test_a_terminated_informer_rewatches_from_its_last_revision():
    """T6.1 (client side, I19): after the termination the reflector re-watches from the last revision
    it received; the history still holds the rest, so no relist, and the cache ends complete."""
    inf, api = _informer_run(10_000, 75.0)
    assert api.terminated_watchers.get("kubelet", 0) >= 1
    assert inf.stats.rewatches >= api.terminated_watchers["kubelet"]
    assert inf.stats.relists == 0
    assert sorted(inf.cache) == [f"p{i}" for i in range(10)]


def test_a_terminated_informer_relists_when_its_revision_left_the_history():
    """T6.2: with a 10-event history the missed revisions are gone: the re-watch gets 410 and the
    informer relists (I19)."""
    inf, api = _informer_run(10, 0.1)
    assert api.terminated_watchers.get("kubelet", 0) >= 1
    assert inf.stats.relists_after_410 >= 1 and inf.stats.relists >= 1
    assert sorted(inf.cache) == [f"p{i}" for i in range(10)]


def test_bookmarks_are_counted_when_a_watch_closes_and_move_idle_watchers_forward():
    """A23: a watch open 150 s then timing out got 2 periodic bookmarks plus one 2 s before its
    deadline; an idle watcher's revision moves to the last commit before that bookmark."""
    env = simpy.Environment()
    cache = _cache(env)
    w = Watcher(None, None, lambda reason: None)
    cache.add_watcher(w, 150.0)
    other = Watcher("x", lambda r: None, lambda r: None)  # gets nothing: the events are another partition's
    cache.add_watcher(other, 150.0)
    cache.on_commit(CommitRecord("pods", "a", "update", 7, 0, 10.0, "y"))
    env.run(until=200)
    assert cache.bookmarks_sent == 6  # 3 per watcher
    assert cache.api.traffic.by_kind["bookmark"] == 6 * cache.cfg.bookmark_bytes
    assert other.rv == 7  # the bookmark at 148 s carried the cache's revision


def _missed_by_walking_the_history(cache, partition, from_rv):
    out = [rec for rev, _t, rec, part in cache.history if rev > from_rv and (partition is None or part == partition)]
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["update", "delete"]),
                          st.sampled_from([0.0, 0.5, 1.0, 7.5])), min_size=1, max_size=300),
       st.integers(0, 5), st.integers(0, 320), st.booleans())
def test_a_partitioned_resume_replays_what_walking_the_history_finds(events, node, from_rv, restart):
    """The per-partition index (kbench/cluster/apiserver/watchcache.py _missed) gives exactly the
    events the whole history holds for the partition after ``from_rv``, in order, through history
    trimming by count and age and an apiserver restart's clear."""
    env = simpy.Environment()
    cache = _cache(env, history_events_min=5, history_events_max=40, fresh_duration_s=20.0)
    for i, (n, op, dt) in enumerate(events):
        if dt:
            env.run(until=env.now + dt)
        if restart and i == len(events) // 2:  # as ControlPlane's restart does to each cache
            cache.history.clear()
            cache.oldest_rv = cache.revision + 1
        cache._arrive(CommitRecord("pods", f"p{i % 7}", op, 2 + i, 100, env.now, f"n{n}"))
    for part in (f"n{node}", None):
        want = _missed_by_walking_the_history(cache, part, from_rv)
        assert cache._missed(part, from_rv) == want


def test_a_quiet_partition_resumes_without_the_events_the_history_dropped():
    """n1 and n2 write 150 events, then only n0 (history of 40): n1's index still holds entries the
    history dropped; a resume of n1 from revision 0 gets none of them (the history has none of n1)."""
    env = simpy.Environment()
    cache = _cache(env, history_events_min=5, history_events_max=40, fresh_duration_s=20.0)
    for i in range(300):
        cache._arrive(CommitRecord("pods", f"p{i % 7}", "update", 2 + i, 100, env.now, f"n{i % 3 if i < 150 else 0}"))
    assert cache._missed("n1", 0) == _missed_by_walking_the_history(cache, "n1", 0) == []
    assert [r.revision for r in cache._missed("n0", 290)] == list(range(291, 302))
