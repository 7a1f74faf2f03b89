"""Where the apiserver serves a read (shouldDelegateList, I20) and what one LIST page costs
(objects stored, pages, etcd ranges; I13, I22, I27): table-driven, exact."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from kbench.cluster.apiserver.flowcontrol import FlowControl
from kbench.cluster.apiserver.readpath import CACHE, ETCD, METADATA_OBJECT_BYTES, Route, list_work, route
from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.server import Apiserver
from kbench.cluster.etcd.server import Etcd
from kbench.config import ApiserverConfig, EtcdConfig, FlowControlConfig
from kbench.config.features import resolve
from kbench.metrics.collect import RequestStats


def _api(version: str = "1.35", n: int = 2000, size: int = 1024, **gates) -> Apiserver:
    env = simpy.Environment()
    etcd = Etcd(env, EtcdConfig(), np.random.default_rng(0))
    etcd.preload("configmaps", [f"c{i:05d}" for i in range(n)], size)
    fc = FlowControl(env, FlowControlConfig(), np.random.default_rng(0))
    api = Apiserver(env, ApiserverConfig(), etcd, fc, np.random.default_rng(0), RequestStats([1.0]),
                    gates=resolve(version, gates))
    api.cache("configmaps")
    return api


@pytest.mark.parametrize("version,gates,kw,expected", [
    # RV "" (consistent): etcd before ConsistentListFromCache (1.31), the cache once fresh after
    ("1.30", {}, dict(rv=""), Route(ETCD)),
    ("1.31", {}, dict(rv=""), Route(CACHE, consistent=True)),
    ("1.35", {"ConsistentListFromCache": False}, dict(rv=""), Route(ETCD)),
    # RV "0": the cache, ignoring the limit (KEP-2340 table)
    ("1.30", {}, dict(rv="0", limit=500), Route(CACHE, ignore_limit=True)),
    # an exact RV with a limit: etcd (legacy exact semantics); without a limit: the cache, after it
    ("1.35", {}, dict(rv="42", limit=500), Route(ETCD)),
    ("1.35", {}, dict(rv="42"), Route(CACHE, wait_rv=42)),
    ("1.35", {}, dict(rv="42", rv_match="NotOlderThan", limit=500), Route(CACHE, wait_rv=42)),
    ("1.35", {}, dict(rv="42", rv_match="Exact"), Route(ETCD)),
    # a continuation: etcd, unless ListFromCacheSnapshot (1.34) still has the snapshot
    ("1.33", {}, dict(rv="", limit=500, continue_from=500, continue_rv=10**9), Route(ETCD)),
    ("1.34", {}, dict(rv="", limit=500, continue_from=500, continue_rv=10**9), Route(CACHE, snapshot=True)),
    ("1.34", {}, dict(rv="", limit=500, continue_from=500, continue_rv=0), Route(ETCD)),  # snapshot gone
])
def test_list_routing(version, gates, kw, expected):
    api = _api(version, **gates)
    assert route(Request("list", "configmaps", **kw), api) == expected


def test_gets_and_the_cache_fault():
    api = _api()
    assert route(Request("get", "configmaps", name="c1", rv=""), api) == Route(ETCD)  # J9
    assert route(Request("get", "configmaps", name="c1", rv="0"), api) == Route(CACHE)
    api.disable_watch_cache_lists(0)
    assert route(Request("list", "configmaps", rv="0"), api) == Route(ETCD)
    assert route(Request("watch", "configmaps", rv="5"), api) == Route(CACHE)  # watches stay on the cache


def _pages(api, req, rt, max_keys=10_000):
    """Every page of a LIST: (scanned, returned, ranges, walked, keys_read) per page."""
    out, start = [], -1
    while True:
        req.continue_from = start
        w = list_work(req, rt, api, max_keys)
        out.append((w.scanned, w.returned, w.ranges, w.walked, w.keys_read))
        if w.next_from < 0:
            return out
        start = w.next_from


def test_pages_from_etcd_read_every_stored_key_once():
    """2,000 objects by pages of 500 from etcd: 4 ranges of 500 keys; each limited range walks the
    rest of the index for its count (1500 + 1000 + 500 + 0, I22)."""
    api = _api()
    pages = _pages(api, Request("list", "configmaps", limit=500), Route(ETCD))
    assert pages == [(500, 500, 1, 1500, 500), (500, 500, 1, 1000, 500), (500, 500, 1, 500, 500),
                     (500, 500, 1, 0, 500)]


def test_a_selector_page_scans_until_full_and_etcd_doubles_its_ranges():
    """A selector matching 10 % of 2,000: a page of 50 needs 500 keys; etcd asks 50, 100, 200, 400
    (store.go doubling, I27): 4 ranges reading 750 keys (the last range overshoots)."""
    api = _api()
    req = Request("list", "configmaps", limit=50, selector=True, match_fraction=0.1)
    first = _pages(api, req, Route(ETCD))[0]
    assert first[:2] == (500, 50)
    assert first[2] == 4 and first[4] == 750
    pages = _pages(api, Request("list", "configmaps", limit=50, selector=True, match_fraction=0.1), Route(ETCD))
    assert sum(p[0] for p in pages) == 2000 and sum(p[1] for p in pages) == 200  # every key once, every match


def test_a_selector_matching_nothing_scans_everything_returns_nothing():
    api = _api(n=300)
    w = list_work(Request("list", "configmaps", selector=True, match_fraction=0.0), Route(ETCD), api, 10_000)
    assert (w.stored, w.scanned, w.returned, w.ranges, w.walked) == (300, 300, 0, 1, 0)


def test_a_namespace_scoped_list_reads_and_returns_only_its_namespace():
    """A LIST in one namespace is a key-prefix range: etcd reads only that namespace's keys and the
    watch cache's B-tree scans only them (store_btree.go ``ListPrefix``); APF's estimate still counts
    the whole resource (A15). A metadata-only LIST (the namespace deleter's) returns
    ``PartialObjectMetadata``: whole objects read, their metadata sent."""
    api = _api(n=0)
    api.etcd.preload("configmaps", [f"a/c{i:05d}" for i in range(300)] + [f"b/c{i:05d}" for i in range(1700)], 1024)
    req = Request("list", "configmaps", namespace="a")
    cw = list_work(req, Route(CACHE), api, 10_000)
    ew = list_work(req, Route(ETCD), api, 10_000)
    assert (cw.stored, cw.matching, cw.scanned, cw.returned) == (2000, 300, 300, 300)
    assert (ew.scanned, ew.returned, ew.keys_read) == (300, 300, 300)
    assert cw.returned_bytes == ew.read_bytes == 300 * 1024
    assert list_work(Request("list", "configmaps", namespace="c"), Route(ETCD), api, 10_000).returned == 0
    meta = list_work(Request("list", "configmaps", namespace="a", metadata_only=True), Route(ETCD), api, 10_000)
    assert meta.read_bytes == 300 * 1024 and meta.returned_bytes == 300 * METADATA_OBJECT_BYTES
    fc = FlowControl(api.env, FlowControlConfig(), np.random.default_rng(0), object_count=api.etcd.object_count,
                     object_bytes=api.etcd.resource_bytes, gates=api.gates)
    scoped, whole = Request("list", "configmaps", namespace="a", rv=""), Request("list", "configmaps", rv="")
    fc.estimate(scoped)
    fc.estimate(whole)
    assert scoped.seats == whole.seats > 1


def test_an_indexed_selector_scans_only_its_bucket_in_the_cache():
    """A kubelet's LIST of its pods: the cache uses the nodeName index (scans the bucket); etcd reads
    every stored pod (I13)."""
    api = _api(n=0)
    cache = api.cache("configmaps")
    for i in range(1000):
        cache.partition_of[f"c{i:05d}"] = i % 10
    api.etcd.preload("configmaps", [f"c{i:05d}" for i in range(1000)], 2000)
    req = Request("list", "configmaps", partition=3, selector=True)
    cw = list_work(req, Route(CACHE), api, 10_000)
    ew = list_work(req, Route(ETCD), api, 10_000)
    assert (cw.stored, cw.scanned, cw.returned) == (1000, 100, 100)
    assert (ew.scanned, ew.returned, ew.keys_read) == (1000, 100, 1000)
    assert cw.returned_bytes == 100 * 2000


def test_a_consistent_read_of_an_idle_resource_waits_for_a_progress_notification():
    """I20: etcd's revision moved by another resource; the idle cache learns it only from a progress
    notification, asked at once after a quiet spell and every 100 ms while reads wait; the read is
    released by it (no fallback to etcd)."""
    api = _api(n=100)
    env, etcd = api.env, api.etcd
    etcd.start()
    for i in range(5):
        etcd.write("leases", f"l{i}", "create", 300)  # moves the global revision, not configmaps
    env.run(until=1.0)
    cache = api.caches["configmaps"]
    assert cache.revision < etcd.revision
    got = []
    cache.fresh.wait(etcd.revision, lambda ok: got.append((ok, env.now)))
    assert got == []
    env.run(until=2.0)
    assert got and got[0][0] is True and got[0][1] - 1.0 < 0.05  # one round trip, not the 3 s timeout
    assert cache.fresh.progress_requests == 1 and cache.fresh.fallbacks == 0
    assert cache.read_rv() == etcd.revision


# --- KEP-4568 (ResilientWatchCacheInitialization): while a restarted cache initializes --------------
_NOT_READY_CASES = [
    (Request("watch", "configmaps", rv="5"), "reject"),
    (Request("watch", "configmaps", rv="", send_initial_events=True), "reject"),  # a WatchList too
    (Request("get", "configmaps", name="c1", rv="0"), ETCD),
    (Request("list", "configmaps", rv="0", limit=500), ETCD),  # a limit and no selector: etcd, paged
    (Request("list", "configmaps", rv="0"), "reject"),  # no limit: unbounded from etcd, so 429
    (Request("list", "configmaps", rv="0", limit=500, selector=True, match_fraction=0.01), "reject"),
    (Request("list", "configmaps", rv="42", rv_match="NotOlderThan", limit=500), ETCD),
    (Request("list", "configmaps", rv="42", rv_match="Exact"), ETCD),  # delegated anyway
]


@pytest.mark.parametrize("req,where", _NOT_READY_CASES)
def test_an_initializing_cache_rejects_or_delegates(req, where):
    api = _api()
    api.caches["configmaps"].ready = False
    rt = route(req, api)
    assert rt.where == where
    assert rt.not_ready == (where == "reject" or route_when_ready(req) == CACHE)


def route_when_ready(req):
    return route(req, _api()).where


def test_before_1_31_an_initializing_cache_serves_as_before():
    api = _api("1.30")
    api.caches["configmaps"].ready = False
    assert route(Request("watch", "configmaps", rv="5"), api) == Route(CACHE)
    assert route(Request("list", "configmaps", rv="0"), api) == Route(CACHE, ignore_limit=True)


def test_a_restarted_cache_is_ready_when_its_etcd_list_is_decoded():
    """30,000 ConfigMaps of 1 KiB: the restarted cache lists them from etcd and decodes them (I22's
    per-object and per-byte CPU) before it serves again; meanwhile a WATCH is answered 429 with
    Retry-After 1 s and a paged LIST goes to etcd; afterwards both are the cache's."""
    api = _api(n=30_000)
    env = api.env
    env.run(until=1.0)
    api.restart(downtime_s=0.5)
    cache = api.caches["configmaps"]
    assert not cache.ready
    cfg = api.cfg
    decode_s = 30_000 * cfg.list_etcd_cpu_s_per_object + 30_000 * 1024 * cfg.list_etcd_cpu_s_per_byte
    env.run(until=1.5 + 1e-3)  # back up, the cache's LIST from etcd under way
    watch, page = api.serve(Request("watch", "configmaps", rv="5")), api.serve(Request("list", "configmaps", rv="0",
                                                                                          limit=500))
    env.run(until=1.5 + decode_s / 2)
    assert not cache.ready
    assert watch.triggered and watch.value.code == 429 and watch.value.retry_after_s == 1.0
    assert page.triggered and page.value.ok and page.value.continue_from == 500  # from etcd, paged
    env.run(until=1.5 + decode_s + 1.0)
    assert cache.ready
    later = api.serve(Request("list", "configmaps", rv="0", limit=500))
    env.run(until=env.now + 1.0)
    assert later.value.ok and later.value.continue_from < 0 and later.value.objects == 30_000  # the cache
