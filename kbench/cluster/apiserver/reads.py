"""The read steps of a request served by the apiserver: LIST, GET and WATCH (a mixin of
:class:`~kbench.cluster.apiserver.serving.Serve`).

A read goes where :func:`~kbench.cluster.apiserver.readpath.route` sends it:

* **watch cache**: the handler scans the objects in scope (``list_cache_cpu_s_per_object`` each,
  I7), then encodes and sends what matched. A consistent read first asks etcd for its current
  revision and waits until the cache has reached it (progress notifications every 100 ms, at most
  3 s, then it falls back to etcd: I8, I20, A20); a read at a given revision waits for that one.
* **etcd**: etcd's ranges read every key in scope (I13, I22), the bytes cross to the apiserver,
  which decodes and filters them (``list_etcd_cpu_s_per_object`` per key and
  ``list_etcd_cpu_s_per_byte``, a share of the byte work on Go's GC workers beside the request),
  then encodes and sends what matched.

The heap a LIST holds while it is built and sent is booked on the memory ledger (I10, KEP-5116).
A WATCH with ``sendInitialEvents`` (WatchList, KEP-3157) streams the objects in scope from the
cache, each encoded for this watcher alone, holding its seats until the stream ends (A15).
"""

from __future__ import annotations

from simpy.events import Timeout

from kbench.cluster.apiserver.readpath import CACHE, ETCD, NOT_READY_RETRY_AFTER_S, REJECT, Route, list_work
from kbench.cluster.apiserver.request import Response


class ReadSteps:
    """Read steps of :class:`~kbench.cluster.apiserver.serving.Serve` (uses its slots)."""

    __slots__ = ()

    def _read(self) -> None:
        api, req = self.api, self.req
        cfg = api.cfg
        rt = req.route
        if rt.where == REJECT:  # the cache is initializing (KEP-4568): 429, retry after 1 s
            api._cpu(cfg.request_base_cpu_s).callbacks.append(
                lambda _e: self._handled(Response(429, retry_after_s=NOT_READY_RETRY_AFTER_S)))
        elif req.verb == "watch":
            api._cpu(cfg.request_base_cpu_s).callbacks.append(self._watch)
        elif rt.where == ETCD:
            api._cpu(cfg.request_base_cpu_s).callbacks.append(self._etcd_read)
        elif rt.consistent:
            api._cpu(cfg.request_base_cpu_s).callbacks.append(self._current_rv)
        elif rt.wait_rv:
            api._cpu(cfg.request_base_cpu_s).callbacks.append(lambda _e: self._wait(rt.wait_rv))
        else:  # the common case: one CPU step for the handler and the scan
            self.work = w = list_work(req, rt, api, api.etcd_for(req.resource).cfg.max_range_keys)
            scan = w.scanned * cfg.list_cache_cpu_s_per_object
            api.cpu_list_s += scan
            api._cpu(cfg.request_base_cpu_s + scan).callbacks.append(self._cached)

    # ------------------------------------------------------------------- consistency and waits
    def _current_rv(self, _e) -> None:
        self.api.etcd_for(self.req.resource).current_revision(self.req.resource).callbacks.append(self._got_rv)

    def _got_rv(self, e) -> None:
        self._wait(e.value)

    def _wait(self, rv: int) -> None:
        self.cache.fresh.wait(rv, self._fresh)

    def _fresh(self, ok: bool) -> None:
        api, req = self.api, self.req
        if not ok:  # the cache did not catch up in time: served by etcd (delegator fallback)
            req.route = Route(ETCD)
            self._etcd_read(None)
            return
        if req.verb == "watch":
            self._stream()
            return
        self.work = w = list_work(req, req.route, api, api.etcd_for(req.resource).cfg.max_range_keys)
        scan = w.scanned * api.cfg.list_cache_cpu_s_per_object
        api.cpu_list_s += scan
        api._cpu(scan).callbacks.append(self._cached)

    # ------------------------------------------------------------------------------- from cache
    def _cached(self, _e) -> None:
        req, cache, api = self.req, self.cache, self.api
        w = self.work
        items = None
        last = w.next_from < 0
        if req.want_items and last:
            items = cache.snapshot(req.partition) if req.verb == "list" else cache.store.get(req.name)
        revision = req.continue_rv if req.route.snapshot else cache.read_rv()
        if req.name and req.size_bytes:
            nbytes = float(req.size_bytes)
        else:
            nbytes = w.returned_bytes
        mc = api.cfg.memory
        if req.verb != "list":
            transient = 0.0
        elif api.gates["StreamingCollectionEncoding"]:
            transient = min(nbytes, api.cfg.watchlist_stream_bytes)
        else:
            transient = nbytes * mc.cache_list_factor
        self._respond(_response(200, revision, w.returned, nbytes, items, w.next_from), transient)

    # -------------------------------------------------------------------------------- from etcd
    def _etcd_read(self, _e) -> None:
        api, req = self.api, self.req
        rt = req.route if req.route is not None and req.route.where == ETCD else Route(ETCD)
        self.work = w = list_work(req, rt, api, api.etcd_for(req.resource).cfg.max_range_keys)
        if req.name:
            w.keys_read, w.ranges = w.scanned, 1
            nbytes = float(req.size_bytes) if req.size_bytes else w.object_bytes
        else:
            nbytes = w.read_bytes
        api.etcd_for(req.resource).read(req.resource, objects_scanned=w.keys_read, bytes_returned=nbytes, linearizable=True,
                      ranges=w.ranges, walked=w.walked, op=req.verb).callbacks.append(self._etcd_scanned)

    def _etcd_scanned(self, e) -> None:
        api, req, w = self.api, self.req, self.work
        self.revision = req.continue_rv if req.continue_from >= 0 else e.value
        cfg = api.cfg
        byte_work = w.read_bytes * cfg.list_etcd_cpu_s_per_byte
        gc = byte_work * cfg.list_gc_parallel_fraction
        serial = w.keys_read * cfg.list_etcd_cpu_s_per_object + byte_work - gc
        if gc > 0.0:
            api._cpu_delay(gc)  # Go's GC workers: charged to a core, not waited for
        api.cpu_list_s += serial + gc
        if req.verb == "list":
            held = w.read_bytes * cfg.memory.etcd_list_factor
            self.mem_held = held
            api.mem.add("list_transient", held)
        api._cpu(serial).callbacks.append(self._etcd_items)

    def _etcd_items(self, _e) -> None:
        req, w = self.req, self.work
        etcd = self.api.etcd_for(req.resource)
        if req.verb == "watch":  # a WatchList's initial state read from etcd: now stream it
            self._stream()
            return
        items = None
        if req.want_items and w.next_from < 0:
            items = (select(etcd.values(req.resource), req.partition, self.cache) if req.verb == "list"
                     else etcd.get(req.resource, req.name))
        nbytes = float(req.size_bytes) if req.name and req.size_bytes else w.returned_bytes
        self._respond(_response(200, self.revision, w.returned, nbytes, items, w.next_from), 0.0)

    # ------------------------------------------------------------------------------------ watch
    def _watch(self, _e) -> None:
        cache, req = self.cache, self.req
        if cache is None:
            self._handled(_response(200, self.rv))
        elif req.send_initial_events:
            if not self.api.gates["WatchList"]:
                self._handled(_response(422, 0))  # the client falls back to LIST (I19)
            elif req.route.where == ETCD:
                self._etcd_read(None)
            elif req.route.consistent:
                self._current_rv(None)
            else:
                self._wait(int(req.rv or 0))
        elif not cache.can_resume(self.rv):
            self._handled(_response(410, cache.revision))
        else:
            self._handled(_response(200, cache.read_rv()))

    def _stream(self) -> None:
        """The initial events of a WatchList: every object in scope encoded and sent for this
        watcher (not shared, KEP-3157), then the bookmark; one pool job and one transfer."""
        api, req, cache = self.api, self.req, self.cache
        cfg = api.cfg
        from_etcd = req.route.where == ETCD
        w = self.work if from_etcd else list_work(req, Route(CACHE, ignore_limit=True), api,
                                                    api.etcd_for(req.resource).cfg.max_range_keys)
        self.work = w
        b = w.object_bytes
        m = w.returned
        per = (cfg.watch_event_encode_cpu_s + b * cfg.encode_cpu_s_per_byte
               + cfg.watch_send_cpu_s + b * cfg.watch_send_cpu_s_per_byte)
        cpu = (0.0 if from_etcd else w.scanned * cfg.list_cache_cpu_s_per_object) + m * per
        api.cpu_watch_s += cpu
        nbytes = m * (b + cfg.watch_event_frame_bytes) + cfg.bookmark_bytes
        api.traffic.out("initial", req.resource, req.client, nbytes)
        delay = api._cpu_delay(cpu)
        sent = api._send_delay(0.0, nbytes)
        if not from_etcd:
            self.revision = cache.read_rv()
        held = cfg.watchlist_stream_bytes
        self.mem_held = held
        api.mem.add("watchlist_streams", held)
        Timeout(api.env, delay if delay > sent else sent).callbacks.append(self._stream_end)

    def _stream_end(self, _e) -> None:
        api, req = self.api, self.req
        if self.gen == api.generation:
            api.mem.add("watchlist_streams", -self.mem_held)
        self.mem_held = 0.0
        items = None
        if req.want_items:
            items = (select(api.etcd_for(req.resource).values(req.resource), req.partition, self.cache) if req.route.where == ETCD
                     else self.cache.snapshot(req.partition))
        self._handled(_response(200, self.revision, self.work.returned, 0, items))


def _response(code, revision, objects=0, size_bytes=0.0, items=None, continue_from=-1) -> Response:
    return Response(code, revision, objects, size_bytes, items, continue_from)


def select(values: dict, partition, cache) -> dict:
    """A LIST from etcd: every value, or those of one partition (the selector is applied after the
    full range read, as I13 says)."""
    if partition is None or cache is None:
        return dict(values)
    if cache.partition_fn is None:
        part = cache.partition_of
        return {k: v for k, v in values.items() if part.get(k, -1) == partition}
    fn = cache.partition_fn
    return {k: v for k, v in values.items() if v is not None and fn(v) == partition}
