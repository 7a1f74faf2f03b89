"""One API request served by the apiserver as a chain of event callbacks (no SimPy process).

:class:`Serve` takes a request through the layers of :class:`~kbench.cluster.apiserver.server.Apiserver`:
APF admission, the handler's CPU on the core pool (decode, authentication, authorization,
admission; an optional webhook round trip), storage (an etcd write or read, or the watch cache),
encoding of the response, its transfer, and the request statistics. Each step is the callback of
the event the previous step scheduled, so a request costs the events the model needs and no
process resumptions. ``done(response)`` is called at the end (in the callback of the last event).

The events (issue 8: each costs Python work, so steps that cannot be separated by anything share
one): an APF admission that dispatches at once is none (the handler starts in the same step; a
queued request waits for its dispatch); the handler's CPU is one; the storage step is etcd's reply
(writes: the raft batch's commit is shared by its proposals) or, for reads from etcd, its reply and
the scan's CPU; the encoding CPU and the transfer that follows it are one timeout, at whose end the
seats are freed (APF holds them until the handler has written the response). A cached GET or LIST is
two events, a write four plus its share of the commit.

A client process waits on a :class:`Reply`: an event that is never scheduled but fired in place by
``done``, so the process resumes in the callback of the request's last event, exactly where a
process that had waited on each step itself would have returned (same events, same order).
"""

from __future__ import annotations

from collections.abc import Callable

import simpy
from simpy.events import Timeout

from kbench.cluster.apiserver.collection import collection_items
from kbench.cluster.apiserver.readpath import route
from kbench.cluster.apiserver.reads import ReadSteps, select
from kbench.cluster.apiserver.request import MUTATING_VERBS, Request, Response
from kbench.cluster.apiserver.storage import NONE, decide, storage_of
from kbench.cluster.etcd.records import EtcdConflict
from kbench.errors import EtcdQuotaExceeded
from kbench.simkernel import fire

__all__ = ["Reply", "Response", "Serve", "select"]


class Reply(simpy.Event):
    """The event a client process waits on for its response: never scheduled; calling it with the
    response fires it in place (its callbacks, the waiting process's resumption, run now)."""

    def __call__(self, resp: Response) -> None:
        fire(self, resp)


class Serve(ReadSteps):
    """One request in flight (see the module docstring); starts on construction.

    Args:
        api: The apiserver.
        req: The request.
        rv: For WATCH, the resource version to resume from.
        done: Called with the response where the request completes.
    """

    __slots__ = ("api", "req", "rv", "done", "t0", "t_disp", "gen", "key", "cache", "revision", "resp",
                 "work", "mem_held", "store", "tries")

    def __init__(self, api, req: Request, rv: int, done: Callable[[Response], None]):
        self.api, self.req, self.rv, self.done = api, req, rv, done
        env = api.env
        if not api.up:
            env.timeout(0.001).callbacks.append(self._refused)  # connection refused, after a round trip
            return
        self.gen = api.generation
        self.t0 = t0 = env.now
        self.mem_held = 0.0
        req.arrival_s = t0
        if req.lead_s:  # a charged GET first: admitted now, measured from when the GET is done
            self.t0 = t0 + req.lead_s
        # Apiserver._inflight_change(+1), inlined
        api._inflight_area += api.inflight * (t0 - api._inflight_t)
        api._inflight_t = t0
        api.inflight += 1
        if req.verb not in MUTATING_VERBS:
            req.route = route(req, api)  # APF's estimate and the handler follow the same route
        ev = api.fc.admit(req, immediate=True)
        if ev is None:  # admitted at once: no event, the handler starts in this step
            self._dispatched()
        else:
            ev.callbacks.append(self._admitted)

    def _refused(self, _e) -> None:
        req = self.req
        self.api.stats.record_error((req.verb, req.resource, req.client, ""))
        self.done(Response(503))

    def _finish(self, resp: Response) -> None:
        api = self.api
        now = api.env.now
        api._inflight_area += api.inflight * (now - api._inflight_t)
        api._inflight_t = now
        api.inflight -= 1
        api.completed += 1
        api.sojourn_sum_s += now - self.t0
        self.done(resp)

    def _admitted(self, e: simpy.Event) -> None:
        if not e.value:
            req = self.req
            self.key = (req.verb, req.resource, req.client, req.level)
            self.api.stats.record_rejected(self.key, flow_schema=req.flow.partition("/")[0], reason=req.reject_reason)
            self._finish(Response(429, retry_after_s=req.retry_after_s))
            return
        self._dispatched()

    def _dispatched(self) -> None:
        api, req = self.api, self.req
        self.key = (req.verb, req.resource, req.client, req.level)
        env, cfg = api.env, api.cfg
        self.t_disp = now = env.now
        verb = req.verb
        if verb in MUTATING_VERBS:
            store = self.store = req.store or storage_of(verb, req.resource)
            tr = api.traffic  # Traffic.inn, inlined
            key = (req.resource, req.client)
            tr.ingress[key] = tr.ingress.get(key, 0.0) + req.size_bytes
            tr.ingress_total += req.size_bytes
            cpu = cfg.request_base_cpu_s + cfg.admission_cpu_s
            if store[1] == NONE:  # TokenRequest: signing a token instead of storing (J12)
                cpu += cfg.token_sign_cpu_s
            self.tries = 0
            delay = api._cpu_delay(cpu)
            if self.t0 > now:  # its charged GET is not done yet
                self.t_disp = self.t0
                delay += self.t0 - now
            Timeout(env, delay).callbacks.append(self._webhook if cfg.webhook_enabled else self._store)
            return
        wc = cfg.watch_cache  # a resource without a cache gets none for its reads, only for its watches
        self.cache = api.cache(req.resource) if wc.enabled and (
            verb == "watch" or req.resource not in wc.disabled_resources) else None
        self._read()

    # ----------------------------------------------------------------------------------- writes
    def _webhook(self, _e) -> None:
        self.api.env.timeout(self.api._webhook()).callbacks.append(self._store)

    def _store(self, _e) -> None:
        api, req = self.api, self.req
        resource, op = self.store
        etcd = api.etcds.get(resource) or api.etcd
        if op == NONE:
            self._nonpersisted(etcd, resource)
            return
        if op == "deletecollection":
            self._collection(etcd, resource)
            return
        cur = etcd.get(resource, req.name)
        pre = req.precondition
        if pre is not None and not pre(cur):
            self._handled(Response(409))
            return
        size = req.stored_bytes or req.size_bytes
        if op == "delete" or req.mutate is not None:
            decided = decide(req, resource, op, cur)
            if decided is None:
                self._handled(Response(409))
                return
            op, value = decided
            if op == "skip":
                self._respond(Response(200, revision=etcd.revision, objects=1, size_bytes=min(size, 4096)))
                return
            if op != "delete" or cur is not None:  # compare-and-swap on the version read
                pre = _absent if cur is None else (lambda v, c=cur: v is c)
        else:
            value = req.value
            if op == "create" and pre is None:  # AlreadyExists
                if cur is not None:
                    self._handled(Response(409))
                    return
                pre = _absent
        etcd.write(resource, req.name, op, size, value, pre).callbacks.append(self._written)

    def _written(self, e: simpy.Event) -> None:
        if not e.ok:
            e.defused = True
            err = e.value
            if isinstance(err, EtcdConflict):
                req = self.req
                if (req.mutate is not None or req.verb == "delete") and req.precondition is None and self.tries < 5:
                    self.tries += 1  # GuaranteedUpdate: read again and retry
                    self._store(None)
                    return
                self._handled(Response(409))
                return
            if isinstance(err, EtcdQuotaExceeded) or type(err).__name__.startswith("Etcd"):
                self._handled(Response(500))  # quota, request too large
                return
            raise err
        out = self.req.size_bytes
        if out > 4096:
            out = 4096
        self._respond(Response(200, revision=e.value, objects=1, size_bytes=out))

    def _collection(self, etcd, resource: str) -> None:
        """DELETECOLLECTION (:mod:`kbench.cluster.apiserver.collection`): the items one after the
        other on ``delete_collection_workers`` workers, each its admission CPU then its own etcd
        write (a removal, or a deletion-timestamp update), as upstream's ``DeleteCollection``
        calls ``Delete`` per item."""
        api, req = self.api, self.req
        keys = api.namespaces.keys(resource, req.namespace)
        items = collection_items(req, etcd, resource, keys)
        req.items = [k for _, k, _ in items]
        n = len(items)
        if n == 0:
            self._respond(Response(200, revision=etcd.revision, objects=0, size_bytes=0))
            return
        size = req.stored_bytes or req.size_bytes
        admission = api.cfg.admission_cpu_s
        todo = iter(items)
        workers = [min(api.cfg.delete_collection_workers, n)]

        def next_item(e: simpy.Event | None = None) -> None:
            if e is not None and not e.ok:
                e.defused = True  # upstream goes on past NotFound; a failed item is left as it is
            item = next(todo, None)
            if item is None:
                workers[0] -= 1
                if workers[0] == 0:
                    self._respond(Response(200, revision=etcd.revision, objects=n, size_bytes=n * req.size_bytes))
                return
            op, key, value = item
            api._cpu(admission).callbacks.append(
                lambda _c: etcd.write(resource, key, op, size, value).callbacks.append(next_item))

        for _ in range(workers[0]):
            next_item()

    def _nonpersisted(self, etcd, resource: str) -> None:
        """A create that stores nothing (TokenRequest, J12): it reads the ServiceAccount and the
        pod from etcd (resourceVersion "": a quorum read of 2 objects), and answers with the
        token; no etcd write, no watch event."""
        cfg = self.api.cfg
        etcd.read(resource, objects_scanned=2, bytes_returned=2 * cfg.token_read_bytes,
                  linearizable=True, op="get").callbacks.append(self._token_read)

    def _token_read(self, e: simpy.Event) -> None:
        self._respond(Response(200, revision=e.value, objects=1, size_bytes=self.api.cfg.token_response_bytes))

    # ------------------------------------------------------------------------------------- reply
    def _respond(self, resp: Response, transient: float = 0.0) -> None:
        """Encode ``resp`` on a core and transfer it, as one timeout: the transfer starts when
        the encoding ends and nothing can come between them, and the request holds its seats
        until the response is written, as APF does (the handler returns after writing).
        ``transient`` bytes of heap are held until then (a LIST being built, I10)."""
        api = self.api
        cfg = api.cfg
        size = resp.size_bytes
        cpu = size * cfg.encode_cpu_s_per_byte
        if size > cfg.gzip.threshold_bytes:  # gzip (I3, I29-I31)
            size, zcpu = api.compressed(self.req, size)
            resp.size_bytes = size
            cpu += zcpu
        delay = api._send_delay(api._cpu_delay(cpu), size)
        if transient > 0.0:
            self.mem_held += transient
            api.mem.add("list_transient", transient)
        self.resp = resp
        Timeout(api.env, delay).callbacks.append(self._responded)

    def _responded(self, _e) -> None:
        held = self.mem_held
        if held:
            self.mem_held = 0.0
            if self.gen == self.api.generation:
                self.api.mem.add("list_transient", -held)
        if not self._released_failed():
            self._send_done(self.resp)

    def _released_failed(self) -> bool:
        """Free the seats; if the server restarted (503) or the handler timed out (504) meanwhile,
        finish with that error and return True."""
        api = self.api
        api.fc.release(self.req)
        if self.gen != api.generation:
            code = 503
        elif api.env.now - self.t0 > api.cfg.request_timeout_s:
            # A4: the handler timed out. The model lets the work finish (it used the CPU and
            # storage anyway) and reports the timeout when it does.
            code = 504
        else:
            return False
        api.stats.record_error(self.key)
        self._finish(Response(code))
        return True

    def _handled(self, resp: Response) -> None:
        """The handler returned: free the seats, then send the response."""
        if self._released_failed():
            return
        api = self.api
        if resp.size_bytes:
            self.resp = resp
            api.env.timeout(api._send_delay(0.0, resp.size_bytes)).callbacks.append(self._sent)
        else:
            self._send_done(resp)

    def _sent(self, _e) -> None:
        self._send_done(self.resp)

    def _send_done(self, resp: Response) -> None:
        api = self.api
        if resp.code != 200:
            api.stats.record_error(self.key)
        else:
            t0 = self.t0
            t1 = api.env.now
            wait = self.t_disp - t0
            api.stats.record(self.key, sli_s=t1 - t0 - wait, e2e_s=t1 - t0, wait_s=wait, nbytes=resp.size_bytes)
            nbytes = resp.size_bytes
            req = self.req
            if nbytes:  # Traffic.out, inlined
                tr = api.traffic
                key = ("response", req.resource, req.client)
                e = tr.egress
                e[key] = e.get(key, 0.0) + nbytes
                tr.by_kind["response"] += nbytes
            if req.verb in MUTATING_VERBS:
                api.writes.add(req.component or req.client, req.verb, req.resource)
        self._finish(resp)


def _absent(cur: object) -> bool:
    return cur is None
