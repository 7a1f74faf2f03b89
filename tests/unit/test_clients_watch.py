"""Rate limiter, backoff, watch-cache history and bulk fan-out, results store."""

import json

import numpy as np
import pytest
import simpy

from kbench.cluster.apiserver.watchcache import PassiveGroup, WatchCache, Watcher
from kbench.cluster.clients.ratelimit import Backoff, TokenBucket
from kbench.cluster.etcd.records import CommitRecord
from kbench.config import ApiserverConfig, WatchCacheConfig
from kbench.dist import Dist
from kbench.results.store import RunWriter, load


def test_token_bucket_allows_burst_then_qps():
    tb = TokenBucket(qps=20, burst=30)  # C3
    waits = [tb.reserve(0.0) for _ in range(40)]
    assert waits[:30] == [0.0] * 30
    assert waits[30] == pytest.approx(1 / 20)
    assert waits[39] == pytest.approx(10 / 20)


def test_backoff_doubles_to_cap_with_jitter_and_resets():
    b = Backoff(0.8, 30.0, np.random.default_rng(0))  # C7
    delays = [b.next(float(i)) for i in range(8)]
    base = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    for d, lo in zip(delays, base, strict=True):
        assert lo <= d < 2 * lo
    assert 0.8 <= b.next(1000.0) < 1.6  # quiet for > 2 min: starts again


def _cache(env, **wc):
    cfg = ApiserverConfig(watch_cache=WatchCacheConfig(etcd_to_cache_s=Dist.const(0.001), **wc))
    return WatchCache(env, "pods", cfg, np.random.default_rng(0), lambda s: None)


def test_history_is_bounded_and_old_versions_get_gone():
    env = simpy.Environment()
    cache = _cache(env, history_events_min=5, history_events_max=10, fresh_duration_s=1.0)
    for rev in range(1, 21):
        cache.on_commit(CommitRecord("pods", f"p{rev}", "create", rev, 100, env.now))
        env.run(until=env.now + 2.0)
    assert len(cache.history) == 5  # all stale: trimmed to the lower bound
    assert not cache.can_resume(10)
    assert cache.can_resume(16)


def test_active_watchers_get_events_in_dispatch_order_with_send_cost():
    """One encode shared by 3 watchers (I9), then each watcher's send on its own core of the pool
    (in parallel, I18); the bytes leave the shared NIC one after the other."""
    env = simpy.Environment()
    cache = _cache(env)
    log = []
    for i in range(3):
        w = Watcher(None, lambda rec, i=i: log.append((i, rec.revision, env.now)), lambda r: None)
        cache.add_watcher(w, 1000)
    cache.on_commit(CommitRecord("pods", "p", "update", 7, 0, 0.0))
    env.run(until=1)
    cfg = cache.cfg
    assert [(i, rev) for i, rev, _ in log] == [(0, 7), (1, 7), (2, 7)]
    arrival = 0.001  # etcd -> cache lag
    sent = arrival + cfg.watch_event_encode_cpu_s + cfg.watch_send_cpu_s  # sends start once encoded
    frame = cfg.watch_event_frame_bytes / cfg.nic_bytes_per_s  # 40 B each through the NIC, in turn
    expect = [sent + (k + 1) * frame for k in range(3)]
    assert [t for *_, t in log] == pytest.approx(expect, abs=1e-12)
    api = cache.api
    assert api.cpu_watch_s == pytest.approx(cfg.watch_event_encode_cpu_s + 3 * (
        cfg.watch_send_cpu_s + cfg.watch_dispatch_s_per_watcher))
    assert api.traffic.by_kind["watch"] == 3 * cfg.watch_event_frame_bytes


def test_partitioned_watchers_only_get_their_objects():
    env = simpy.Environment()
    cache = _cache(env)
    got = {0: [], 1: []}
    for part in (0, 1):
        cache.add_watcher(Watcher(part, lambda rec, part=part: got[part].append(rec.revision), lambda r: None), 1000)
    cache.partition_of.update({"a": 0, "b": 1})
    cache.on_commit(CommitRecord("pods", "a", "update", 2, 0, 0.0))
    cache.on_commit(CommitRecord("pods", "b", "update", 3, 0, 0.0))
    env.run(until=1)
    assert got == {0: [2], 1: [3]}


def test_passive_group_delivers_in_bulk_and_terminates_slow_watchers():
    env = simpy.Environment()
    cache = _cache(env, buffer_max=100)
    proc = np.array([0.0, 0.0, 1.0])  # the third client needs 1 s per event
    g = PassiveGroup(3, proc, buffer=2)
    g.connected[:] = True
    closed = []
    g.on_close = lambda i, reason: closed.append((i, reason))
    cache.passive.append(g)
    for rev in range(1, 6):
        cache.on_commit(CommitRecord("pods", "x", "update", rev, 0, env.now))
        env.run(until=env.now + 0.01)
    assert closed == [(2, "slow")]  # its 2-event buffer filled and the 100 ms budget ran out
    assert g.terminated_slow == 1
    assert g.connected.tolist() == [True, True, False]
    assert g.staleness.count == 5 + 5 + 2


def test_run_writer_is_atomic(tmp_path):
    w = RunWriter(tmp_path, "run-1", {"seed": 3})
    w.json("summary", {"a": np.float64(1.5)})
    assert not (tmp_path / "run-1").exists()  # not visible until finished
    path = w.finish("complete")
    assert path == tmp_path / "run-1" and not any(p.name.startswith(".tmp") for p in tmp_path.iterdir())
    data = load(path)
    assert data["summary"] == {"a": 1.5}
    assert data["manifest"]["status"] == "complete" and data["manifest"]["schema_version"] == 2
    assert json.loads((path / "manifest.json").read_text())["seed"] == 3
