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
from simpy.events import URGENT

from kbench.cluster.apiserver import Apiserver, Response
from kbench.cluster.clients import Client
from kbench.cluster.request import Request


@dataclass(eq=False)
class NodeClient(Client):
    """A kubelet's client: while ``gate`` is set (node failed or partitioned) requests wait on it."""

    gate: simpy.Event | None = None

    def call(self, env, api, req, *, rv=0):
        while self.gate is not None:
            yield self.gate
        resp = yield from Client.call(self, env, api, req, rv=rv)
        return resp

    def send(self, env, api, req, done) -> None:
        """:meth:`call` for a write without a process (``Apiserver.submit``): ``done(response)``."""
        if self.gate is not None:
            self.gate.callbacks.append(lambda _e: self.send(env, api, req, done))
            return
        wait = self.limiter.reserve(env.now)
        if wait > 0:
            env.timeout(wait).callbacks.append(lambda _e: api.submit(req, done))
        else:
            api.submit(req, done)

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
              partition: object = None) -> None:
        """``World.write`` without a process: ``done(response)`` is called where it would return.

        Builds the request as ``World.write`` does (the watchers of ``partition`` for the final
        seat estimate, A14) and sends it with :meth:`send`.
        """
        cache = world.api.caches.get(resource)
        watchers = cache.watcher_count(partition) if cache is not None else 0
        req = self.request(verb, resource, name=key, size_bytes=size_bytes, value=value,
                           precondition=precondition, watchers=watchers)
        self.send(world.env, world.api, req, done)


def first_step(env: simpy.Environment, step: Callable[[simpy.Event], None]) -> None:
    """Call ``step(event)`` where a process created now would take its first step.

    ``env.process`` schedules an initialising event at once with urgent priority; this schedules
    the same kind of event with ``step`` as its callback, so whatever ``step`` does happens at the
    same point of the event order as the body of such a process (a callback chain started this
    way gives identical results to the process, without the process's end event).
    """
    ev = simpy.Event(env)
    ev._ok = True
    ev._value = None
    ev.callbacks.append(step)
    env.schedule(ev, URGENT)


def serve_get(api: Apiserver, req: Request, done: Callable[[Response], None]) -> None:
    """Serve one GET of a single object without a SimPy process: ``done(response)`` is called
    where ``Apiserver.request`` would return.

    The steps of ``Apiserver.request`` and ``Apiserver._handle`` for a GET (APF admission, handler
    CPU, the watch cache or a quorum read of etcd, encode CPU, the transfer), with the same events
    in the same order. Keep it in step with them.

    Raises:
        ValueError: ``req`` is not a GET.
    """
    if req.verb != "get":
        raise ValueError(f"serve_get serves GETs only, not {req.verb}")
    env, cfg, stats = api.env, api.cfg, api.stats
    if not api.up:
        key0 = (req.verb, req.resource, req.client, "")

        def refused(_e):
            stats.record_error(key0)
            done(Response(503))

        env.timeout(0.001).callbacks.append(refused)
        return
    gen = api.generation
    t0 = env.now
    req.arrival_s = t0
    api._inflight_change(+1)
    t_disp = t0

    def finish(resp: Response) -> None:  # request()'s finally, then the caller continues
        api._inflight_change(-1)
        api.completed += 1
        api.sojourn_sum_s += env.now - t0
        done(resp)

    def sent(resp: Response, key) -> None:
        t1 = env.now
        wait = t_disp - t0
        stats.record(key, sli_s=t1 - t0 - wait, e2e_s=t1 - t0, wait_s=wait, nbytes=resp.size_bytes)
        finish(resp)

    def handled(resp: Response) -> None:
        api.fc.release(req)
        key = (req.verb, req.resource, req.client, req.level)
        if gen != api.generation:
            stats.record_error(key)
            finish(Response(503))
        elif env.now - t0 > cfg.request_timeout_s:
            stats.record_error(key)
            finish(Response(504))
        elif resp.size_bytes:
            env.timeout(resp.size_bytes / cfg.network_bytes_per_s).callbacks.append(lambda _e: sent(resp, key))
        else:
            sent(resp, key)

    def encode(revision: int, items: object) -> None:
        nbytes = req.size_bytes
        api._cpu(nbytes * cfg.encode_cpu_s_per_byte).callbacks.append(
            lambda _e: handled(Response(200, revision=revision, objects=1, size_bytes=nbytes, items=items)))

    def from_cache(cache) -> None:
        encode(cache.revision, cache.store.get(req.name) if req.want_items else None)

    def read(e: simpy.Event) -> None:
        if not e.ok:
            raise e.value
        revision = e.value
        api._cpu(cfg.list_etcd_cpu_s_per_object).callbacks.append(
            lambda _e: encode(revision, api.etcd.get(req.resource, req.name) if req.want_items else None))

    def admitted(e: simpy.Event) -> None:
        nonlocal t_disp
        if not e.value:
            stats.record_rejected((req.verb, req.resource, req.client, req.level))
            finish(Response(429))
            return
        t_disp = env.now
        cache = api.cache(req.resource) if cfg.watch_cache.enabled else None
        if cache is not None and req.from_cache and env.now >= api.lists_from_etcd_until_s:
            api._cpu(cfg.request_base_cpu_s + cfg.list_cache_cpu_s_per_object).callbacks.append(
                lambda _e: from_cache(cache))
        else:
            api._cpu(cfg.request_base_cpu_s).callbacks.append(
                lambda _e: api.etcd.read(req.resource, objects_scanned=1, bytes_returned=req.size_bytes,
                                         linearizable=True).callbacks.append(read))

    api.fc.admit(req).callbacks.append(admitted)
