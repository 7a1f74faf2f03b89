"""One API client: identity (user, groups, class) plus a token-bucket limiter.

:class:`Client` ``call`` sends one request through the apiserver after the limiter's wait.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import simpy

from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.server import Apiserver, Response
from kbench.cluster.clients.ratelimit import TokenBucket
from kbench.config import ClientClassConfig


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

    def send(self, env: simpy.Environment, api: Apiserver, req: Request, done, delay_s: float = 0.0) -> None:
        """:meth:`call` for a write without a process (``Apiserver.submit``): ``done(response)``
        where ``call`` would return; ``delay_s`` is work the sender does first (a charged GET)."""
        wait = self.limiter.reserve(env.now)
        req.lead_s = delay_s  # a charged GET before it: no event of its own
        if wait > 0:
            env.timeout(wait).callbacks.append(lambda _e: api.submit(req, done))
        else:
            api.submit(req, done)
