"""Where kube-apiserver serves a read, and how much work one LIST page is (I13, I20, I27, A15).

:func:`route` is upstream's ``shouldDelegateList`` (cacher/delegator.go, I20) as a pure function of
the request, the feature gates and the cache's state; the apiserver's handler and APF's work
estimate both use it, as upstream's list work estimator mirrors the delegator ("keep in sync"):

* ``resourceVersionMatch=Exact`` → etcd; ``NotOlderThan`` → the cache, after it reached the RV;
* a continue token → etcd, unless ``ListFromCacheSnapshot`` keeps a snapshot of its RV;
* a limit with a resourceVersion other than ``""``/``"0"`` → etcd (an exact legacy read);
* ``resourceVersion=""`` (consistent) → etcd, or with ``ConsistentListFromCache`` the cache once
  it caught up with etcd's current revision (asked from etcd, then progress notifications, I8);
* ``resourceVersion="0"`` → the cache, ignoring the limit; any other RV → the cache, after it.

A GET by name with ``resourceVersion=""`` always goes to etcd (J9). The watch cache disabled, for
every resource or for one (``watch_cache.disabled_resources``: events, as upstream's
``DefaultWatchCacheSizes``), or the ``watch-cache-disabled`` fault, send every read to etcd (a
WatchList's initial state too; live watch events still come from the cache).

While a cache (re)initializes after an apiserver restart, with ``ResilientWatchCacheInitialization``
(KEP-4568; apiserver storage/cacher delegator.go ``GetList`` and ``shouldDelegateListOnNotReadyCache``):
a WATCH gets 429 (Retry-After 1 s), a GET goes to etcd, a LIST that would be delegated anyway goes to
etcd, one with a limit and no selector is delegated to etcd (its limit honoured), any other gets 429.
Such routes keep ``not_ready`` so that APF's estimate, which does not look at readiness, sees the
cache route it would have seen.

:func:`list_work` turns a LIST page into counts: objects stored in scope (``N``, what A15 and I13
charge for), keys scanned (a label selector scans every stored object; an indexed field selector
served by the cache only its bucket), objects returned, bytes, and for etcd the number of range
requests and index entries walked: etcd's index walks the whole rest of a limited range to return
its total count (``treeIndex.Revisions``, I22), and the apiserver's etcd3 store doubles the range
limit while a selector leaves a page short (store.go ``GetList``, I27). Matches of a selector are
spread evenly over the key space, so pages are exact: the objects returned over all pages equal
the matching objects.
"""

from __future__ import annotations

from dataclasses import dataclass

CACHE, ETCD, REJECT = "cache", "etcd", "reject"
METADATA_OBJECT_BYTES = 400
"""One object of a metadata-only LIST (``PartialObjectMetadata``: name, namespace, uid, labels,
owners, finalizers, timestamps), bytes (kbench default)."""
NOT_READY_RETRY_AFTER_S = 1.0  # "storage is (re)initializing", Retry-After 1 s (KEP-4568)


@dataclass(slots=True)
class Route:
    """Where a read is served.

    Attributes:
        where: ``cache`` or ``etcd``.
        consistent: A consistent read from the cache: etcd's current revision is fetched first and
            the cache must reach it (I8, A20).
        wait_rv: The cache must reach this revision first (0: no wait).
        ignore_limit: ``resourceVersion="0"`` from the cache returns everything in one page.
        snapshot: A continuation page served from a cache snapshot (``ListFromCacheSnapshot``).
        not_ready: Re-routed because the cache is initializing (``where`` is etcd or reject).
    """

    where: str
    consistent: bool = False
    wait_rv: int = 0
    ignore_limit: bool = False
    snapshot: bool = False
    not_ready: bool = False


@dataclass(slots=True)
class ListWork:
    """The work of one LIST page.

    Attributes:
        stored: Objects stored of the resource (A15's N).
        matching: Objects of the scope the selector matches (the LIST's answer over all pages).
        scanned: Keys this page visits (etcd: keys read; cache: objects scanned).
        returned: Objects this page returns.
        object_bytes: Average stored object size, bytes.
        next_from: Position of the next page (-1: this is the last).
        ranges: etcd range requests of this page (0 from the cache).
        keys_read: Keys etcd reads for this page (``scanned``, or more when the last range of
            a selector page overshoots: the store stops using keys once the page is full).
        walked: etcd index entries walked to count the rest of limited ranges.
        limit: The effective ``limit`` (0: none).
        sent_object_bytes: Bytes of one returned object when it is not the stored object (a
            metadata-only LIST: ``PartialObjectMetadata``), bytes; negative: ``object_bytes``.
    """

    stored: int
    matching: int
    scanned: int
    returned: int
    object_bytes: float
    next_from: int = -1
    ranges: int = 0
    keys_read: int = 0
    walked: int = 0
    limit: int = 0
    sent_object_bytes: float = -1.0

    @property
    def read_bytes(self) -> float:
        """Bytes of the keys etcd reads and sends to the apiserver, bytes."""
        return self.keys_read * self.object_bytes

    @property
    def returned_bytes(self) -> float:
        """Bytes of the objects returned, bytes."""
        each = self.sent_object_bytes
        return self.returned * (self.object_bytes if each < 0.0 else each)


_CACHE = Route(CACHE)  # shared: routes are never changed once made (a read gets a new one instead)
_ETCD = Route(ETCD)
_CACHE_ANY = Route(CACHE, ignore_limit=True)
_CACHE_CONSISTENT = Route(CACHE, consistent=True)
_NOT_READY_ETCD = Route(ETCD, not_ready=True)
_NOT_READY_REJECT = Route(REJECT, not_ready=True)


def route(req, api) -> Route:
    """Where ``req`` (a GET, LIST or WATCH) is served (see the module docstring)."""
    rt = _route(req, api)
    if rt.where == CACHE:
        cache = api.caches.get(req.resource)
        if cache is not None and not cache.ready and api.gates["ResilientWatchCacheInitialization"]:
            return _not_ready(req)
    return rt


def _not_ready(req) -> Route:
    """KEP-4568's route for a read the initializing cache would have served."""
    if req.verb == "watch":
        return _NOT_READY_REJECT
    if req.verb == "get" or req.name:
        return _NOT_READY_ETCD
    no_selector = not req.selector and req.match_fraction >= 1.0 and req.partition is None
    return _NOT_READY_ETCD if no_selector and req.limit > 0 else _NOT_READY_REJECT


def _route(req, api) -> Route:
    wc = api.cfg.watch_cache
    cache_ok = wc.enabled and api.env.now >= api.lists_from_etcd_until_s and req.resource not in wc.disabled_resources
    gates = api.gates
    rv = req.rv
    if req.verb == "watch":
        if req.send_initial_events:
            if not cache_ok:  # the initial state comes from storage when the cache does not serve
                return _ETCD
            return _CACHE_CONSISTENT if rv == "" else _CACHE
        return _CACHE
    if not cache_ok:
        return _ETCD
    if req.verb == "get" or req.name:
        return _ETCD if rv == "" else _CACHE
    match = req.rv_match
    if match == "Exact":
        return _ETCD
    if match == "NotOlderThan":
        return Route(CACHE, wait_rv=int(rv or 0))
    if req.continue_from >= 0:
        cache = api.caches.get(req.resource)
        if gates["ListFromCacheSnapshot"] and cache is not None and req.continue_rv >= cache.oldest_rv:
            return Route(CACHE, snapshot=True)
        return _ETCD
    if rv == "":
        return _CACHE_CONSISTENT if gates["ConsistentListFromCache"] else _ETCD
    if rv == "0":
        return _CACHE_ANY
    if req.limit > 0:
        return _ETCD
    return Route(CACHE, wait_rv=int(rv))


def list_work(req, rt: Route, api, max_range_keys: int) -> ListWork:
    """The work of one LIST page of ``req`` served as ``rt`` (see the module docstring).

    Args:
        max_range_keys: Largest etcd range the store's doubling asks for (I27).
    """
    etcd = api.etcd_for(req.resource)
    n = etcd.object_count(req.resource)
    size = etcd.resource_bytes(req.resource) / n if n else float(req.size_bytes or 0)
    cache = api.caches.get(req.resource)
    part = req.partition
    if req.name:
        m = 1 if n else 0
        return ListWork(n, m, m, m, size)
    # a namespace's objects are one key prefix: etcd ranges over it and the watch cache's B-tree
    # scans only it (store_btree.go ListPrefix); APF's estimate still counts the resource (A15)
    scope = api.namespaces.count(req.resource, req.namespace) if req.namespace else n
    if part is not None and cache is not None:
        m = cache.partition_count(part)
    elif req.selector or req.match_fraction < 1.0:
        m = int(scope * req.match_fraction)
    else:
        m = scope
    indexed = part is not None and rt.where == CACHE
    domain, hits = (m, m) if indexed else (scope, m)  # keys walked over, and matches among them
    start = req.continue_from if req.continue_from > 0 else 0
    limit = req.limit if req.limit > 0 and not rt.ignore_limit else 0
    before = start * hits // domain if domain else 0
    if limit == 0 or hits == 0:
        end = domain
    else:
        end = min(domain, -(-(before + limit) * domain // hits))
    end = max(end, start)
    returned = (end * hits // domain if domain else 0) - before
    w = ListWork(n, m, end - start, returned, size, end if end < domain else -1, limit=limit,
                 sent_object_bytes=min(size, METADATA_OBJECT_BYTES) if req.metadata_only else -1.0)
    if rt.where == ETCD:
        _etcd_ranges(w, start, domain, limit, req.selector or req.match_fraction < 1.0 or part is not None,
                     max_range_keys)
    return w


def _etcd_ranges(w: ListWork, start: int, domain: int, limit: int, filtered: bool, max_keys: int) -> None:
    """etcd range requests and index walk of one page (store.go GetList's loop, I27, I22)."""
    w.keys_read = w.scanned
    if limit == 0:
        w.ranges = 1
        return
    pos, size, ranges, walked = start, limit, 0, 0
    end = start + w.scanned
    while True:
        take = min(size, domain - pos)
        ranges += 1
        walked += domain - pos - take  # the count walks the rest of the range (I22)
        pos += take
        if pos >= end or not filtered:
            break
        size = min(size * 2, max_keys)
    w.ranges = ranges
    w.walked = walked
    w.keys_read = pos - start
