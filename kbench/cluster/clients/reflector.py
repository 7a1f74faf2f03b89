"""The reflector loops of cache-keeping clients: LIST (or a watch-list) then WATCH, or periodic LIST.

:func:`informer` is client-go's reflector (I19):

* the first LIST asks for resourceVersion "0" (any: the watch cache, which ignores the page
  limit); a later relist asks for the last revision it synced, unpaginated so that the cache can
  serve it;
* with WatchList (``WatchListClient`` on the client, KEP-3157) the reflector instead opens a WATCH
  with ``sendInitialEvents`` from resourceVersion "" and keeps its stream; a server that refuses it
  (422) makes it fall back to LIST/WATCH;
* then it watches from the last revision it has. When a watch ends, for any reason (its timeout,
  the server terminating it as a slow watcher, A22), it **re-watches from the last revision it
  received**; it relists only when the server answers 410 Gone (that revision left the cache's
  history, A19) or after a "very short watch" (under 1 s with no event), after backoff (C7).

:func:`poller` LISTs every period, each LIST paginated as ``kubectl get`` does (I26).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy

from kbench.cluster.apiserver.request import Request, Response
from kbench.cluster.apiserver.server import Apiserver
from kbench.cluster.clients.client import Client
from kbench.cluster.clients.ratelimit import Backoff

VERY_SHORT_WATCH_S = 1.0  # reflector.go handleWatch: "very short watch" (I19)


@dataclass(eq=False)
class InformerStats:
    """Counters of one informer population.

    Attributes:
        lists: Successful LISTs (or watch-list initial syncs).
        relists: Of which after the first.
        watches: Watches established.
        errors: Failed requests.
        rewatches: Watches resumed after the server closed one early (slow, restart, partition).
        relists_after_410: Relists because the revision left the cache's history.
        short_watches: Relists after a very short watch.
        watch_lists: Initial syncs done by a watch-list stream.
        fallbacks: Watch-lists refused by the server (fell back to LIST).
    """

    lists: int = 0
    relists: int = 0
    watches: int = 0
    errors: int = 0
    rewatches: int = 0
    relists_after_410: int = 0
    short_watches: int = 0
    watch_lists: int = 0
    fallbacks: int = 0


def informer(env: simpy.Environment, api: Apiserver, client: Client, resource: str, *,
             list_request: Callable[[], Request], rng: np.random.Generator,
             on_list: Callable[[Response], None], connect: Callable[[int], simpy.Event],
             stats: InformerStats, watch_list: bool = False) -> Generator:
    """The reflector loop of one informer (a SimPy process).

    Args:
        list_request: Builds the LIST request (identity, scope, items wanted); the reflector sets
            its resourceVersion and page size.
        on_list: Called with each successful LIST (or watch-list) response.
        connect: Registers the watch at the cache from a revision; returns an event that fires
            with ``(reason, last revision received)`` when the watch ends.
        stats: Counters shared by the population.
        watch_list: Sync with a watch-list stream (WatchListClient) instead of a LIST.
    """
    backoff = Backoff(client.cfg.backoff_initial_s, client.cfg.backoff_max_s, rng)
    synced = 0  # last revision synced (0: never)
    while True:
        resp = None
        streamed = False
        if watch_list:
            req = list_request()
            req.verb, req.send_initial_events, req.rv, req.rv_match = "watch", True, "", "NotOlderThan"
            resp = yield from client.call(env, api, req)
            if resp.code == 422:  # the server does not serve watch-lists: LIST/WATCH from now on
                stats.fallbacks += 1
                watch_list = False
                resp = None
            elif resp.ok:
                stats.watch_lists += 1
                streamed = True
        if resp is None:
            req = list_request()
            if synced:
                req.rv, req.limit = str(synced), 0  # paging off so the cache can serve it (I19)
            else:
                req.rv, req.limit = "0", client.cfg.page_size
            resp = yield from client.list(env, api, req)
        if not resp.ok:
            stats.errors += 1
            yield env.timeout(backoff.next(env.now))
            continue
        stats.lists += 1
        if synced:
            stats.relists += 1
        on_list(resp)
        rv = synced = resp.revision
        while True:
            if streamed:  # the watch-list's stream goes on with live events: no new request
                streamed = False
            else:
                wreq = client.request("watch", resource)
                wreq.rv = str(rv)
                wresp = yield from client.call(env, api, wreq, rv=rv)
                if wresp.code == 410:
                    stats.relists_after_410 += 1
                    break  # resource version too old: relist
                if not wresp.ok:
                    stats.errors += 1
                    yield env.timeout(backoff.next(env.now))
                    continue
            stats.watches += 1
            opened = env.now
            reason, last = yield connect(rv)
            synced = max(synced, last)
            if env.now - opened < VERY_SHORT_WATCH_S and last == rv and reason != "timeout":
                stats.short_watches += 1  # handleWatch's "very short watch" error: relist after backoff
                yield env.timeout(backoff.next(env.now))
                break
            if reason != "timeout":
                stats.rewatches += 1
            rv = last


def poller(env: simpy.Environment, api: Apiserver, client: Client, *, period_s: float, jitter: float,
           rng: np.random.Generator, list_request: Callable[[], Request],
           on_list: Callable[[Response, float], None], open_loop: bool = False) -> Generator:
    """LIST every ``period_s`` x U[1 - jitter, 1 + jitter] seconds (a SimPy process); each LIST is
    paginated by ``list_request().limit`` (:meth:`Client.list`).

    ``on_list(response, done_s)`` is called after each successful LIST. With ``open_loop`` a LIST
    starts every period whether or not the previous one has finished (a fixed LIST rate, as the
    KEP-2340 benchmark drives, I6).
    """
    yield env.timeout(period_s * float(rng.random()))  # clients start out of phase

    def one():
        resp = yield from client.list(env, api, list_request())
        if resp.ok:
            on_list(resp, env.now)

    while True:
        if open_loop:
            env.process(one())
        else:
            yield from one()
        yield env.timeout(period_s * (1.0 + jitter * (2.0 * float(rng.random()) - 1.0)))
