"""Informers that keep a local cache of object values and call event handlers.

An :class:`Informer` is how an acting component (scheduler, controller, kubelet) sees the cluster:
only through what its LIST and WATCH (or its periodic LIST) delivered, so it can act on stale
state. The sync strategy is per client class (issue 4 item 6):

* ``list-watch`` (the default): LIST, then WATCH from the list's revision with the reflector loop of
  :func:`kbench.cluster.clients.reflector.informer` (re-watch when a watch ends, relist on 410);
  with the ``WatchListClient`` and ``WatchList`` gates on (the 1.35 defaults) the initial LIST is a
  watch-list stream instead (KEP-3157);
* ``watch-list``: the same with the watch-list forced on;
* ``poll:<period>``: LIST every period (with 10 % jitter) and diff against the local cache.

Handlers are called with values (immutable snapshots): ``on_add(new)``, ``on_update(old, new)``,
``on_delete(old)``. The local cache is updated before a handler runs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from kbench.cluster.apiserver.server import Apiserver, Response
from kbench.cluster.apiserver.watchcache import Watcher
from kbench.cluster.clients.client import Client
from kbench.cluster.clients.reflector import InformerStats, informer, poller
from kbench.config.clients import SyncStrategy

Handler = Callable[..., None]


class Informer:
    """A client's informer of one resource.

    Args:
        api: The apiserver.
        client: The client (identity and rate limiter).
        resource: Plural resource.
        strategy: List-watch or polling.
        rng: Random stream (watch timeouts, jitter, backoff).
        partition: Indexed field selector (a kubelet's node name), or None for every object.
        object_bytes: Mean object size, bytes (sizes LIST responses).
        stats: Counters shared by a population of informers.
        on_add: ``f(new)``.
        on_update: ``f(old, new)``.
        on_delete: ``f(old)``.
    """

    def __init__(self, api: Apiserver, client: Client, resource: str, *, strategy: SyncStrategy,
                 rng: np.random.Generator, partition: object = None, object_bytes: int = 2048,
                 stats: InformerStats | None = None, on_add: Handler | None = None,
                 on_update: Handler | None = None, on_delete: Handler | None = None):
        self.api = api
        self.env: simpy.Environment = api.env
        self.client = client
        self.resource = resource
        self.strategy = strategy
        self.rng = rng
        self.partition = partition
        self.object_bytes = object_bytes
        self.stats = stats or InformerStats()
        self.on_add, self.on_update, self.on_delete = on_add, on_update, on_delete
        self.cache: dict[str, object] = {}
        self.synced = False
        self._closed: simpy.Event | None = None
        self._watcher: Watcher | None = None

    # ------------------------------------------------------------------------------------ running
    def start(self, delay_s: float = 0.0) -> simpy.Process:
        """Start the informer's process (after ``delay_s``)."""
        return self.env.process(self._run(delay_s))

    def _run(self, delay_s: float):
        if delay_s > 0:
            yield self.env.timeout(delay_s)
        if self.strategy.kind == "poll":
            yield from poller(self.env, self.api, self.client, period_s=self.strategy.period_s, jitter=0.1,
                              rng=self.rng, list_request=self._poll_request,
                              on_list=lambda resp, _t: self._on_list(resp))
        else:
            gates = self.api.gates
            wl = self.strategy.kind == "watch-list" or (gates["WatchListClient"] and gates["WatchList"])
            yield from informer(self.env, self.api, self.client, self.resource,
                                list_request=self._list_request, rng=self.rng, on_list=self._on_list,
                                connect=self._connect, stats=self.stats, watch_list=wl)

    def _list_request(self):
        return self.client.request("list", self.resource, size_bytes=self.object_bytes,
                                   selector=self.partition is not None, partition=self.partition,
                                   want_items=True)

    def _poll_request(self):
        """What a polling informer sends each period: a consistent LIST (resourceVersion "")
        paginated by the class's page size, as ``kubectl get`` does (I26)."""
        req = self._list_request()
        req.rv, req.limit = "", self.client.cfg.page_size
        return req

    # ---------------------------------------------------------------------------------- handlers
    def _on_list(self, resp: Response) -> None:
        """Replace the cache with a LIST's items, calling handlers for the differences."""
        items = resp.items or {}
        old = self.cache
        self.cache = dict(items)
        self.synced = True
        for key, value in items.items():
            prev = old.get(key)
            if prev is None:
                if self.on_add:
                    self.on_add(value)
            elif prev is not value and self.on_update:
                self.on_update(prev, value)
        for key, prev in old.items():
            if key not in items and self.on_delete:
                self.on_delete(prev)

    def _on_event(self, rec) -> None:
        key = rec.key
        if rec.op == "delete":
            prev = self.cache.pop(key, None)
            if prev is not None and self.on_delete:
                self.on_delete(prev)
            return
        value = rec.value
        prev = self.cache.get(key)
        self.cache[key] = value
        if prev is None:
            if self.on_add:
                self.on_add(value)
        elif self.on_update:
            self.on_update(prev, value)

    def _connect(self, rv: int) -> simpy.Event:
        cache = self.api.cache(self.resource)
        ev = self.env.event()
        self._closed = ev

        def on_close(reason: str) -> None:
            if not ev.triggered:
                ev.succeed((reason, w.rv))

        ccfg = self.client.cfg
        w = Watcher(self.partition, self._on_event, on_close, rv=rv, client=self.client.client_class,
                    process_s=ccfg.watch_event_process_s,
                    buffer=cache.watch_buffer(indexed=self.partition is not None,
                                              trigger=self.partition is not None and cache.partition_fn is not None))
        self._watcher = w
        timeout = self.client.cfg.watch_timeout_min_s * (1.0 + float(self.rng.random()))
        cache.add_watcher(w, timeout, from_rv=rv)
        return ev
