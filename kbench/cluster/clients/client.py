"""One API client: identity (user, groups, class) plus a token-bucket limiter.

:meth:`Client.call` sends one request through the apiserver after the limiter's wait and, as
client-go's ``rest`` client does (I16), retries a 429 that carries Retry-After: it sleeps that
long, takes a token again and resends, up to ``max_retries`` (10) times, then returns the 429.
:meth:`Client.list` fetches every page of a paginated LIST (client-go's pager, or ``kubectl get``
with ``--chunk-size``, I26): one request per page, each through the limiter and APF, chained by the
continue token.
"""

from __future__ import annotations

import copy
from collections.abc import Generator
from dataclasses import dataclass

import simpy

from kbench.cluster.apiserver.request import Request, Response
from kbench.cluster.apiserver.server import Apiserver
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
        retries: Shared counter of retries after 429, by client class (None: not counted).
    """

    name: str
    client_class: str
    user: str
    groups: tuple[str, ...]
    limiter: TokenBucket
    cfg: ClientClassConfig
    retries: dict[str, int] | None = None

    def request(self, verb: str, resource: str, **kw) -> Request:
        """A request from this client."""
        return Request(verb, resource, user=self.user, groups=self.groups, client=self.client_class,
                       accept_gzip=not self.cfg.disable_compression, **kw)

    def call(self, env: simpy.Environment, api: Apiserver, req: Request, *, rv: int = 0
             ) -> Generator[simpy.Event, object, Response]:
        """Send one request after the rate limiter allows it; retry 429s with Retry-After (I16)."""
        attempt = 0
        while True:
            wait = self.limiter.reserve(env.now)
            if wait > 0:
                yield env.timeout(wait)
            resp = yield api.serve(req, rv)  # api.request without its generator frame
            if not self._retries_429(resp, attempt):
                return resp
            attempt += 1
            yield env.timeout(resp.retry_after_s)
            req = _fresh_copy(req)

    def _retries_429(self, resp: Response, attempt: int) -> bool:
        """Whether client-go retries ``resp`` after ``attempt`` retries (a 429 with Retry-After,
        I16); counts the retry when it does."""
        if resp.code != 429 or resp.retry_after_s <= 0 or attempt >= self.cfg.max_retries:
            return False
        if self.retries is not None:
            self.retries[self.client_class] = self.retries.get(self.client_class, 0) + 1
        return True

    def send(self, env: simpy.Environment, api: Apiserver, req: Request, done, delay_s: float = 0.0,
             attempt: int = 0) -> None:
        """:meth:`call` for a write without a process (``Apiserver.submit``): ``done(response)``
        where ``call`` would return, after the same Retry-After retries of a 429 (I16);
        ``delay_s`` is work the sender does first (a charged GET, not repeated by a retry)."""
        wait = self.limiter.reserve(env.now)
        req.lead_s = delay_s  # a charged GET before it: no event of its own

        def answered(resp: Response) -> None:
            if not self._retries_429(resp, attempt):
                done(resp)
                return
            env.timeout(resp.retry_after_s).callbacks.append(
                lambda _e: self.send(env, api, _fresh_copy(req), done, 0.0, attempt + 1))

        if wait > 0:
            env.timeout(wait).callbacks.append(lambda _e: api.submit(req, answered))
        else:
            api.submit(req, answered)

    def list(self, env: simpy.Environment, api: Apiserver, req: Request
             ) -> Generator[simpy.Event, object, Response]:
        """Every page of a LIST (``req.limit`` per page): the first page's revision, the objects
        and bytes of all pages, the items of the last; the first failing page's response."""
        resp = yield from self.call(env, api, req)
        if not resp.ok or resp.continue_from < 0:
            return resp
        objects, nbytes, rev = resp.objects, resp.size_bytes, resp.revision
        while resp.ok and resp.continue_from >= 0:
            page = _fresh_copy(req)
            page.continue_from, page.continue_rv, page.rv, page.rv_match = resp.continue_from, rev, "", ""
            resp = yield from self.call(env, api, page)
            if not resp.ok:
                return resp
            objects += resp.objects
            nbytes += resp.size_bytes
        return Response(200, rev, objects, nbytes, resp.items)


def _fresh_copy(req: Request) -> Request:
    """The request to send again: what the server set on it (level, seats, route) cleared."""
    r = copy.copy(req)
    r.level = r.flow = r.reject_reason = ""
    r.seats, r.final_seats, r.additional_s = 1, 0, 0.0
    r.arrival_s = r.dispatched_s = r.retry_after_s = 0.0
    r.route = None
    return r
