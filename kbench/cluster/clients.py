"""API clients: rate limiting, retry backoff, informers (LIST then WATCH) and polling clients.

* :class:`TokenBucket`: client-go's QPS/burst limiter (C1-C5) as arithmetic: a reservation
  returns how long to wait, no process per token.
* :class:`Backoff`: the reflector's exponential backoff (C7: 800 ms doubling to 30 s, jitter 1.0,
  reset after 2 min without errors).
* :class:`Client`: identity (user, groups, class) plus a limiter; ``call`` sends one request.
* :func:`informer`: the reflector loop: LIST, then WATCH from the list's revision, re-watch on
  timeout (A7), relist on 410 Gone or when the watch was terminated for being slow.
* :func:`poller`: LIST every period with jitter.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy

from kbench.cluster.apiserver import Apiserver, Response
from kbench.cluster.request import Request
from kbench.config import ClientClassConfig


class TokenBucket:
    """Token bucket with reservations (client-go ``flowcontrol.NewTokenBucketRateLimiter``).

    Args:
        qps: Refill rate, tokens per second.
        burst: Bucket size, tokens.
    """

    def __init__(self, qps: float, burst: int):
        self.qps = qps
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.t = 0.0

    def reserve(self, now: float) -> float:
        """Take one token; return the wait in seconds before the request may be sent."""
        if self.qps <= 0:
            return 0.0
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.qps)
        self.t = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.qps


class Backoff:
    """Exponential backoff with jitter (C7).

    Args:
        initial_s: First delay, seconds.
        max_s: Cap, seconds.
        rng: Random stream for jitter.
        reset_s: A quiet period after which the delay starts again from ``initial_s``.
    """

    def __init__(self, initial_s: float, max_s: float, rng: np.random.Generator, reset_s: float = 120.0):
        self.initial_s = initial_s
        self.max_s = max_s
        self.rng = rng
        self.reset_s = reset_s
        self.current = 0.0
        self.last = -1e18

    def next(self, now: float) -> float:
        """The next delay in seconds (jitter 1.0: uniform in [d, 2d))."""
        if now - self.last > self.reset_s:
            self.current = 0.0
        self.current = self.initial_s if self.current == 0 else min(self.max_s, self.current * 2)
        self.last = now
        return self.current * (1.0 + float(self.rng.random()))


@dataclass(eq=False)
class Client:
    """One client of the apiserver.

    Attributes:
        name: Client instance name (for flows).
        client_class: Class name for metrics (``sync``, ``kubelet``...).
        user: Authenticated user.
        groups: Groups of the user.
        limiter: Its token bucket.
        cfg: Its class config.
    """

    name: str
    client_class: str
    user: str
    groups: tuple[str, ...]
    limiter: TokenBucket
    cfg: ClientClassConfig

    def request(self, verb: str, resource: str, **kw) -> Request:
        """A request from this client."""
        return Request(verb, resource, user=self.user, groups=self.groups, client=self.client_class, **kw)

    def call(self, env: simpy.Environment, api: Apiserver, req: Request, *, rv: int = 0
             ) -> Generator[simpy.Event, object, Response]:
        """Send one request after the rate limiter allows it."""
        wait = self.limiter.reserve(env.now)
        if wait > 0:
            yield env.timeout(wait)
        resp = yield api.serve(req, rv)  # api.request without its generator frame
        return resp


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
