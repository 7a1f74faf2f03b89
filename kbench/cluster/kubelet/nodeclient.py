"""A kubelet's API client, with process-free writes and GETs for the kubelet's hot paths.

:class:`NodeClient` holds a node's requests while the node is cut off (failed or partitioned), and
sends requests without a SimPy process: :meth:`NodeClient.send` (a write, through
``Apiserver.submit``) and :meth:`NodeClient.get` (a GET, through :func:`serve_get`) call
``done(response)`` where ``call`` would return. Each takes the steps of ``call`` and
``Apiserver.request``, waits on the same events and schedules everything in the same order (a
process resumes as a callback of the event it waits on; here the step is that callback), so
results are identical; what is saved is a process (its start and end events) and the generator
frames per request (issue 8).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import simpy

from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.server import Apiserver, Response
from kbench.cluster.apiserver.serving import Serve
from kbench.cluster.clients.client import Client


@dataclass(eq=False)
class NodeClient(Client):
    """A kubelet's client: while ``gate`` is set (node failed or partitioned) requests wait on it."""

    gate: simpy.Event | None = None

    def call(self, env, api, req, *, rv=0):
        while self.gate is not None:
            yield self.gate
        resp = yield from Client.call(self, env, api, req, rv=rv)
        return resp

    def send(self, env, api, req, done, delay_s: float = 0.0, attempt: int = 0) -> None:
        """:meth:`call` for a write without a process (``Apiserver.submit``): ``done(response)``;
        ``delay_s`` is work the kubelet does first (a charged GET); ``attempt``: Retry-After
        retries already made (``Client.send``)."""
        if self.gate is not None:
            self.gate.callbacks.append(lambda _e: self.send(env, api, req, done, delay_s, attempt))
            return
        Client.send(self, env, api, req, done, delay_s, attempt)

    def get(self, env, api, req, done) -> None:
        """:meth:`call` for a GET without a process (:func:`serve_get`): ``done(response)``."""
        if self.gate is not None:
            self.gate.callbacks.append(lambda _e: self.get(env, api, req, done))
            return
        wait = self.limiter.reserve(env.now)
        if wait > 0:
            env.timeout(wait).callbacks.append(lambda _e: serve_get(api, req, done))
        else:
            serve_get(api, req, done)

    def write(self, world, verb: str, resource: str, key: str, value: object, done: Callable[[Response], None],
              *, size_bytes: int = 1024, precondition: Callable[[object], bool] | None = None,
              partition: object = None, delay_s: float = 0.0, **extra) -> None:
        """``World.write`` without a process: ``done(response)`` is called where it would return.

        Builds the request as ``World.write`` does (the watchers of ``partition`` for the final
        seat estimate, A14; ``extra`` request fields) and sends it with :meth:`send` after
        ``delay_s`` seconds of prior work.
        """
        req = world.request(self, verb, resource, key, value, size_bytes, precondition, partition, extra)
        self.send(world.env, world.api, req, done, delay_s)




def serve_get(api: Apiserver, req: Request, done: Callable[[Response], None]) -> None:
    """Serve one GET of a single object without a SimPy process: ``done(response)`` is called
    where ``Apiserver.request`` would return (the apiserver's callback path,
    :class:`~kbench.cluster.apiserver.serving.Serve`: same steps, events and order).

    Raises:
        ValueError: ``req`` is not a GET.
    """
    if req.verb != "get":
        raise ValueError(f"serve_get serves GETs only, not {req.verb}")
    Serve(api, req, 0, done)
