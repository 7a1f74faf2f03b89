"""The reflector loops of cache-keeping clients: LIST then WATCH, or periodic LIST.

* :func:`informer`: the reflector loop: LIST, then WATCH from the list's revision, re-watch on
  timeout (A7), relist on 410 Gone or when the watch was terminated for being slow.
* :func:`poller`: LIST every period with jitter.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy

from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.server import Apiserver, Response
from kbench.cluster.clients.client import Client
from kbench.cluster.clients.ratelimit import Backoff


@dataclass(eq=False)
class InformerStats:
    """Counters of one informer population."""

    lists: int = 0
    relists: int = 0
    watches: int = 0
    errors: int = 0


def informer(env: simpy.Environment, api: Apiserver, client: Client, resource: str, *,
             list_request: Callable[[], Request], rng: np.random.Generator,
             on_list: Callable[[Response], None], connect: Callable[[int], simpy.Event],
             stats: InformerStats) -> Generator:
    """The reflector loop of one informer (a SimPy process).

    Args:
        list_request: Builds the LIST request (objects in scope, bytes, cache or etcd).
        on_list: Called with each successful LIST response (the client's cache is replaced).
        connect: Registers the watch at the cache from a revision; returns an event that fires
            with the close reason (``timeout``, ``slow``, ``restart``).
        stats: Counters shared by the population.
    """
    backoff = Backoff(client.cfg.backoff_initial_s, client.cfg.backoff_max_s, rng)
    first = True
    while True:
        resp = yield from client.call(env, api, list_request())
        if not resp.ok:
            stats.errors += 1
            yield env.timeout(backoff.next(env.now))
            continue
        stats.lists += 1
        if not first:
            stats.relists += 1
        first = False
        on_list(resp)
        rv = resp.revision
        while True:
            wresp = yield from client.call(env, api, client.request("watch", resource), rv=rv)
            if wresp.code == 410:
                break  # resource version too old: relist
            if not wresp.ok:
                stats.errors += 1
                yield env.timeout(backoff.next(env.now))
                continue
            stats.watches += 1
            closed = connect(rv)
            reason = yield closed
            rv = reason[1]
            if reason[0] == "slow":
                break  # terminated as a slow watcher: the reflector relists


def poller(env: simpy.Environment, api: Apiserver, client: Client, *, period_s: float, jitter: float,
           rng: np.random.Generator, list_request: Callable[[], Request],
           on_list: Callable[[Response, float], None]) -> Generator:
    """LIST every ``period_s`` x U[1 - jitter, 1 + jitter] seconds (a SimPy process).

    ``on_list(response, done_s)`` is called after each successful LIST.
    """
    yield env.timeout(period_s * float(rng.random()))  # clients start out of phase
    while True:
        resp = yield from client.call(env, api, list_request())
        if resp.ok:
            on_list(resp, env.now)
        yield env.timeout(period_s * (1.0 + jitter * (2.0 * float(rng.random()) - 1.0)))
