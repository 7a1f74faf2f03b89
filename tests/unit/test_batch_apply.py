"""The batch paths of a multi-entry etcd call (the lease renewals of one tick) against the
per-entry paths they replace: etcd's object tables (``MvccStore._store_updates`` against
``_store`` per key) and the watch cache's arrival (``watcharrival.arrive_keyed`` against ``WatchCache._arrive``
per record), the same state after any sequence."""

from __future__ import annotations

import numpy as np
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.cluster.apiserver.watcharrival import arrive_keyed
from kbench.cluster.apiserver.watchcache import WatchCache
from kbench.cluster.etcd.mvcc import MvccStore
from kbench.cluster.etcd.records import CommitRecord
from kbench.config import ApiserverConfig, WatchCacheConfig
from kbench.dist import Dist

_KEYS = st.sampled_from([f"n{i}" for i in range(6)])


def _mvcc() -> MvccStore:
    m = MvccStore.__new__(MvccStore)
    m._init_store()
    return m


def _tables(m: MvccStore) -> tuple:
    return (m._objects, m._bytes, m._live_bytes, m._history_bytes, m._history_revs)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(_KEYS, max_size=8), st.integers(1, 4096), st.booleans()), max_size=8))
def test_store_updates_equals_store_per_key(batches):
    """Property: batches of updates (repeated keys included) interleaved with single deletes leave
    the same object tables, byte counts and superseded-version counts as ``_store`` per key."""
    one, many = _mvcc(), _mvcc()
    for keys, size, delete_first in batches:
        if delete_first and keys:
            one._store("leases", keys[0], "delete", size)
            many._store("leases", keys[0], "delete", size)
        for key in keys:
            one._store("leases", key, "update", size)
        many._store_updates("leases", keys, size)
        assert _tables(one) == _tables(many)


def _cache(lo: int, hi: int, fresh_s: float) -> WatchCache:
    wc = WatchCacheConfig(etcd_to_cache_s=Dist.const(0.0), history_events_min=lo, history_events_max=hi,
                          fresh_duration_s=fresh_s)
    return WatchCache(simpy.Environment(), "leases", ApiserverConfig(watch_cache=wc), np.random.default_rng(0))


def _state(c: WatchCache) -> tuple:
    return (list(c.history), c.store, c.history_bytes, c.oldest_rv, c.revision, [a.tolist() for a in c.log.arrays()],
            {p: list(h) for p, h in c._part_history.items()})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_KEYS, st.sampled_from(["create", "update", "delete"]), st.integers(0, 4096)),
                min_size=1, max_size=60),
       st.integers(1, 8), st.integers(0, 12), st.sampled_from([0.0, 0.5, 75.0]), st.booleans())
def test_arrive_keyed_equals_arrive_per_record(entries, batch, lo_extra, fresh_s, partitioned):
    """Property: records arriving in batches through ``arrive_keyed`` leave the cache's history
    (trimmed by count and age), store, byte count, oldest revision, change log and per-partition
    histories exactly as ``_arrive`` record by record; the partitions returned are the same."""
    lo = 1 + lo_extra // 3
    hi = lo + lo_extra
    one, many = _cache(lo, hi, fresh_s), _cache(lo, hi, fresh_s)
    if partitioned:
        for c in (one, many):
            c.partition_of.update({"n1": 0, "n2": 1, "n4": 1})
    recs = [CommitRecord("leases", key, op, rev, size, 0.25 * rev, None if op == "delete" else (key, rev))
            for rev, (key, op, size) in enumerate(entries, 2)]
    for i in range(0, len(recs), batch):
        group = recs[i:i + batch]
        t = 0.3 * i  # the clock moves between arrivals: the age trim takes effect
        for c in (one, many):
            if t > c.env.now:
                c.env.run(until=t)
        parts = [one._arrive(rec, dispatch=False) for rec in group]
        assert arrive_keyed(many, group) == parts
        assert _state(one) == _state(many)
