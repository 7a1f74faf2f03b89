"""kube-apiserver in virtual time: flow control, handler CPU on a pool of cores, storage, watch.

A request passes the layers the real server has: API Priority and Fairness (or max-inflight),
the handler (decode, authentication, RBAC authorization, admission; an optional admission
webhook round trip), the registry and storage (etcd, or the watch cache for reads), encoding of
the response and its transfer to the client. Latency is recorded twice: the SLI as Kubernetes
defines it (G4: from receipt to the last byte, excluding the APF queue wait) and end to end.

CPU is modelled as a FCFS pool of ``cores`` servers computed from a heap of core free times,
so a request costs a few heap operations instead of a SimPy resource round trip.

:meth:`Apiserver.request` is a generator for a client process (``yield from``);
:meth:`Apiserver.submit` serves a write through the same steps without a process, for fleet-level
senders such as the kubelets' lease renewals (issue 8: a process per lease was a hot path), and
:meth:`Apiserver.submit_many` serves the renewals due at one tick as batches (one admission, one
CPU booking, one etcd proposal, one watch arrival per batch: events, not requests, were the cost).
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy

from kbench.cluster.etcd import Etcd, EtcdConflict
from kbench.cluster.flowcontrol import FlowControl
from kbench.cluster.request import Request
from kbench.cluster.watch import WatchCache
from kbench.config import ApiserverConfig
from kbench.errors import EtcdQuotaExceeded
from kbench.metrics.collect import RequestStats


@dataclass(slots=True)
class Response:
    """What a client gets back.

    Attributes:
        code: HTTP-like status: 200, 410 (resource version too old), 429, 500, 503 (unavailable),
            504 (timeout).
        revision: The resource version of the response (writes: the committed revision).
        objects: Objects returned (LIST), 1 for single-object requests.
        size_bytes: Response size, bytes.
        items: For LIST, the objects (key -> value) as of ``revision``; for GET, the value.
    """

    code: int
    revision: int = 0
    objects: int = 0
    size_bytes: int = 0
    items: object = None

    @property
    def ok(self) -> bool:
        return self.code == 200


class Apiserver:
    """One kube-apiserver.

    Args:
        env: The environment.
        cfg: Apiserver config.
        etcd: The storage backend.
        flowcontrol: APF (or max-inflight) in front of the handlers.
        rng: Random stream (``apiserver``).
        stats: Where request aggregates go.
    """

    def __init__(self, env: simpy.Environment, cfg: ApiserverConfig, etcd: Etcd,
                 flowcontrol: FlowControl, rng: np.random.Generator, stats: RequestStats):
        self.env = env
        self.cfg = cfg
        self.etcd = etcd
        self.fc = flowcontrol
        self.rng = rng
        self.stats = stats
        self.caches: dict[str, WatchCache] = {}
        self._cores = [0.0] * cfg.cores
        heapq.heapify(self._cores)
        self._webhook = cfg.webhook_s.sampler(rng)
        self.cpu_s = 0.0
        self.up = True
        self.generation = 0
        self.restarts = 0
        self.lists_from_etcd_until_s = 0.0  # fault: the watch cache does not serve LISTs until then
        self.inflight = 0
        self._inflight_area = 0.0
        self._inflight_t = 0.0
        self.completed = 0
        self.sojourn_sum_s = 0.0
        etcd.subscribe(self._on_commit, self._on_commit_many)

    # --------------------------------------------------------------------------------- plumbing
    def cache(self, resource: str, partition_fn=None) -> WatchCache:
        """The watch cache of ``resource`` (created on first use, with ``partition_fn`` as its
        index, e.g. pods by node name)."""
        c = self.caches.get(resource)
        if c is None:
            c = WatchCache(self.env, resource, self.cfg, self.rng, self._charge, partition_fn)
            c.store.update(self.etcd.values(resource))
            c.rebuild_index()
            c.revision = self.etcd.revision
            c.oldest_rv = self.etcd.revision
            self.caches[resource] = c
        return c

    def _on_commit(self, rec) -> None:
        c = self.caches.get(rec.resource)
        if c is not None:
            c.on_commit(rec)

    def _on_commit_many(self, recs: list) -> None:
        c = self.caches.get(recs[0].resource)
        if c is not None:
            c.on_commit_many(recs)

    def _charge(self, seconds: float) -> None:
        self.cpu_s += seconds

    def _cpu(self, seconds: float) -> simpy.Event:
        """Book ``seconds`` of one core, FCFS; the event fires when the work is done."""
        now = self.env.now
        free = heapq.heappop(self._cores)
        finish = max(now, free) + seconds
        heapq.heappush(self._cores, finish)
        self.cpu_s += seconds
        return self.env.timeout(finish - now)

    def _cpu_many(self, k: int, seconds: float) -> simpy.Event:
        """Book ``k`` jobs of ``seconds`` each on the core pool, each FCFS on its own core as
        :meth:`_cpu` would (so a batch runs in parallel as its requests would); one event fires
        when the last is done."""
        now = self.env.now
        cores = self._cores
        last = now
        for _ in range(k):
            finish = max(now, heapq.heappop(cores)) + seconds
            heapq.heappush(cores, finish)
            if finish > last:
                last = finish
        self.cpu_s += k * seconds
        return self.env.timeout(last - now)

    def _inflight_change(self, delta: int) -> None:
        now = self.env.now
        self._inflight_area += self.inflight * (now - self._inflight_t)
        self._inflight_t = now
        self.inflight += delta

    def inflight_mean(self, horizon_s: float) -> float:
        """Time-average number of requests inside the apiserver over [0, horizon_s]."""
        self._inflight_change(0)
        return self._inflight_area / horizon_s if horizon_s > 0 else 0.0

    # ---------------------------------------------------------------------------------- serving
    def request(self, req: Request, *, rv: int = 0) -> Generator[simpy.Event, object, Response]:
        """Serve one request (a generator for ``yield from`` inside a client process).

        Args:
            req: The request. For LIST/GET, ``req.from_cache`` chooses the watch cache (the
                client asked for resourceVersion="0" or any) or etcd (a consistent read).
            rv: For WATCH, the resource version to resume from.

        Returns:
            The response. WATCH only initialises here (1 seat, A15); the caller registers the
            watcher with the cache when the response is 200.
        """
        env = self.env
        key = (req.verb, req.resource, req.client, "")
        if not self.up:
            yield env.timeout(0.001)  # connection refused, after a round trip
            self.stats.record_error(key)
            return Response(503)
        gen = self.generation
        t0 = env.now
        req.arrival_s = t0
        self._inflight_change(+1)
        try:
            admitted = yield self.fc.admit(req)
            key = (req.verb, req.resource, req.client, req.level)
            if not admitted:
                self.stats.record_rejected(key)
                return Response(429)
            t_disp = env.now
            try:
                resp = yield from self._handle(req, rv)
            finally:
                self.fc.release(req)
            if gen != self.generation:
                self.stats.record_error(key)
                return Response(503)
            if env.now - t0 > self.cfg.request_timeout_s:
                # A4: the handler timed out. The model lets the work finish (it used the CPU and
                # storage anyway) and reports the timeout when it does.
                self.stats.record_error(key)
                return Response(504)
            if resp.size_bytes:
                yield env.timeout(resp.size_bytes / self.cfg.network_bytes_per_s)
            if not resp.ok:
                self.stats.record_error(key)
                return resp
            t1 = env.now
            wait = t_disp - t0
            self.stats.record(key, sli_s=t1 - t0 - wait, e2e_s=t1 - t0, wait_s=wait, nbytes=resp.size_bytes)
            return resp
        finally:
            self._inflight_change(-1)
            self.completed += 1
            self.sojourn_sum_s += env.now - t0

    def _handle(self, req: Request, rv: int) -> Generator[simpy.Event, object, Response]:
        cfg = self.cfg
        verb = req.verb
        if req.mutating:
            yield self._cpu(cfg.request_base_cpu_s + cfg.admission_cpu_s)
            if cfg.webhook_enabled:
                yield self.env.timeout(self._webhook())
            if req.precondition is not None and not req.precondition(self.etcd.get(req.resource, req.name)):
                return Response(409)
            try:
                rev = yield self.etcd.write(req.resource, req.name, "delete" if verb == "delete" else
                                            ("create" if verb == "create" else "update"), req.size_bytes,
                                            req.value, req.precondition)
            except EtcdConflict:
                return Response(409)
            except EtcdQuotaExceeded:
                return Response(500)
            except Exception as err:  # a model error from storage (request too large, ...)
                if type(err).__name__.startswith("Etcd"):
                    return Response(500)
                raise
            out = min(req.size_bytes, 4096)
            yield self._cpu(out * cfg.encode_cpu_s_per_byte)
            return Response(200, revision=rev, objects=1, size_bytes=out)
        cache = self.cache(req.resource) if cfg.watch_cache.enabled else None
        if verb == "watch":
            yield self._cpu(cfg.request_base_cpu_s)
            if cache is None:
                return Response(200, revision=rv)
            if not cache.can_resume(rv):
                return Response(410, revision=cache.revision)
            return Response(200, revision=cache.revision)
        n = req.list_objects if verb == "list" else 1
        nbytes = req.size_bytes
        if cache is not None and req.from_cache and self.env.now >= self.lists_from_etcd_until_s:
            yield self._cpu(cfg.request_base_cpu_s + n * cfg.list_cache_cpu_s_per_object)
            revision = cache.revision
            items = None
            if req.want_items:
                items = cache.snapshot(req.partition) if verb == "list" else cache.store.get(req.name)
        else:
            yield self._cpu(cfg.request_base_cpu_s)
            revision = yield self.etcd.read(req.resource, objects_scanned=n, bytes_returned=nbytes,
                                            linearizable=True)
            yield self._cpu(n * cfg.list_etcd_cpu_s_per_object)
            items = None
            if req.want_items:
                items = (_select(self.etcd.values(req.resource), req.partition, cache) if verb == "list"
                         else self.etcd.get(req.resource, req.name))
        yield self._cpu(nbytes * cfg.encode_cpu_s_per_byte)
        return Response(200, revision=revision, objects=n, size_bytes=nbytes, items=items)

    # ------------------------------------------------------------------- process-free writes
    def submit(self, req: Request, done: Callable[[Response], None]) -> None:
        """Serve one write without a SimPy process: ``done(response)`` is called where
        :meth:`request` would return.

        The steps, the events they wait on and the order of everything they schedule are those of
        :meth:`request` and :meth:`_handle` for a write (a process resumes as a callback of the
        event it waits on; here the step is that callback), so results are identical; what is
        saved is the process per request (its start and end events and the generator frames).
        Fleet-level senders (the kubelets' lease renewals) use it. Keep it in step with
        :meth:`request`.

        Raises:
            ValueError: ``req`` is not a write.
        """
        if not req.mutating:
            raise ValueError(f"submit serves writes only, not {req.verb}")
        env, cfg, stats = self.env, self.cfg, self.stats
        if not self.up:
            key0 = (req.verb, req.resource, req.client, "")

            def refused(_e):
                stats.record_error(key0)
                done(Response(503))

            env.timeout(0.001).callbacks.append(refused)
            return
        gen = self.generation
        t0 = env.now
        req.arrival_s = t0
        self._inflight_change(+1)

        def finish(resp: Response) -> None:  # request()'s finally, then the caller continues
            self._inflight_change(-1)
            self.completed += 1
            self.sojourn_sum_s += env.now - t0
            done(resp)

        def sent(resp: Response, key) -> None:
            if not resp.ok:
                stats.record_error(key)
            else:
                t1 = env.now
                wait = t_disp[0] - t0
                stats.record(key, sli_s=t1 - t0 - wait, e2e_s=t1 - t0, wait_s=wait, nbytes=resp.size_bytes)
            finish(resp)

        def handled(resp: Response) -> None:
            self.fc.release(req)
            key = (req.verb, req.resource, req.client, req.level)
            if gen != self.generation:
                stats.record_error(key)
                finish(Response(503))
            elif env.now - t0 > cfg.request_timeout_s:
                stats.record_error(key)
                finish(Response(504))
            elif resp.size_bytes:
                env.timeout(resp.size_bytes / cfg.network_bytes_per_s).callbacks.append(lambda _e: sent(resp, key))
            else:
                sent(resp, key)

        def written(e: simpy.Event) -> None:
            if not e.ok:
                e.defused = True
                err = e.value
                if isinstance(err, EtcdConflict):
                    handled(Response(409))
                    return
                if isinstance(err, EtcdQuotaExceeded) or type(err).__name__.startswith("Etcd"):
                    handled(Response(500))
                    return
                raise err
            out = min(req.size_bytes, 4096)
            self._cpu(out * cfg.encode_cpu_s_per_byte).callbacks.append(
                lambda _e: handled(Response(200, revision=e.value, objects=1, size_bytes=out)))

        def store(_e=None) -> None:
            if req.precondition is not None and not req.precondition(self.etcd.get(req.resource, req.name)):
                handled(Response(409))
                return
            verb = req.verb
            self.etcd.write(req.resource, req.name, "delete" if verb == "delete" else
                            ("create" if verb == "create" else "update"), req.size_bytes,
                            req.value, req.precondition).callbacks.append(written)

        def admitted(e: simpy.Event) -> None:
            if not e.value:
                stats.record_rejected((req.verb, req.resource, req.client, req.level))
                finish(Response(429))
                return
            t_disp[0] = env.now
            ev = self._cpu(cfg.request_base_cpu_s + cfg.admission_cpu_s)
            if cfg.webhook_enabled:
                ev.callbacks.append(lambda _e: env.timeout(self._webhook()).callbacks.append(store))
            else:
                ev.callbacks.append(store)

        t_disp = [t0]
        self.fc.admit(req).callbacks.append(admitted)

    def submit_many(self, head: Request, items: list[tuple[str, object]],
                    done: Callable[[list[str], Response], None]) -> None:
        """Serve unconditional updates of one resource from one client class as batches (the
        kubelets' lease renewals due at the same tick); ``done(keys, response)`` once per batch.

        ``head`` is one member's request (verb, resource, identity, size of each object);
        ``items`` are the ``(key, value)`` of every member. A batch of k requests is admitted by APF
        as one request holding k times the seats of one (batches are split so that none is wider
        than the level's concurrency limit, so queueing and 429s stay honest), books one request's
        handler and encode CPU k times on the core pool (in parallel, as k requests would run),
        proposes its k entries to etcd as one call (each entry its own revision) and reaches the
        watch cache as one arrival. Every member shares the outcome; stats and APF counters count
        k requests.
        """
        fc = self.fc
        fc.classify(head)
        fc.estimate(head)
        one = max(head.seats, head.final_seats, 1)
        cl = fc.nominal_cl(head.level)
        cap = max(1, cl // one) if cl > 0 else len(items)
        for i in range(0, len(items), cap):
            self._submit_batch(head if i == 0 else copy.copy(head), items[i:i + cap], done)

    def _submit_batch(self, head: Request, items: list[tuple[str, object]],
                      done: Callable[[list[str], Response], None]) -> None:
        env, cfg, stats, fc = self.env, self.cfg, self.stats, self.fc
        k = len(items)
        keys = [key for key, _ in items]
        if not self.up:
            key0 = (head.verb, head.resource, head.client, "")

            def refused(_e):
                stats.record_error(key0, k)
                done(keys, Response(503))

            env.timeout(0.001).callbacks.append(refused)
            return
        gen = self.generation
        t0 = env.now
        head.arrival_s = t0
        self._inflight_change(+k)
        fc.classify(head)
        fc.estimate(head)
        head.seats *= k
        counts = fc.level_counters(head.level)
        key = (head.verb, head.resource, head.client, head.level)

        def finish(resp: Response) -> None:
            self._inflight_change(-k)
            self.completed += k
            self.sojourn_sum_s += k * (env.now - t0)
            done(keys, resp)

        def sent(resp: Response) -> None:
            t1 = env.now
            wait = t_disp - t0
            stats.record(key, sli_s=t1 - t0 - wait, e2e_s=t1 - t0, wait_s=wait, nbytes=resp.size_bytes, count=k)
            finish(resp)

        def handled(resp: Response) -> None:
            fc.release(head)
            counts["completed"] += k - 1
            if gen != self.generation:
                resp = Response(503)
            elif env.now - t0 > cfg.request_timeout_s:
                resp = Response(504)
            if not resp.ok:
                stats.record_error(key, k)
                finish(resp)
            else:
                env.timeout(resp.size_bytes / cfg.network_bytes_per_s).callbacks.append(lambda _e: sent(resp))

        def written(e: simpy.Event) -> None:
            if not e.ok:
                e.defused = True
                if isinstance(e.value, EtcdQuotaExceeded) or type(e.value).__name__.startswith("Etcd"):
                    handled(Response(500))
                    return
                raise e.value
            out = min(head.size_bytes, 4096)
            self._cpu_many(k, out * cfg.encode_cpu_s_per_byte).callbacks.append(
                lambda _e: handled(Response(200, revision=e.value[-1], objects=1, size_bytes=out)))

        def store(_e=None) -> None:
            self.etcd.write_many(head.resource, "create" if head.verb == "create" else "update", head.size_bytes,
                                 items).callbacks.append(written)

        def admitted(e: simpy.Event) -> None:
            nonlocal t_disp
            counts["arrived"] += k - 1
            counts["queued"] += queued * (k - 1)
            if not e.value:
                counts["rejected_" + head.reject_reason.replace("-", "_")] += k - 1
                stats.record_rejected(key, k)
                finish(Response(429))
                return
            counts["dispatched"] += k - 1
            t_disp = env.now
            ev = self._cpu_many(k, cfg.request_base_cpu_s + cfg.admission_cpu_s)
            if cfg.webhook_enabled:
                ev.callbacks.append(lambda _e: env.timeout(self._webhook()).callbacks.append(store))
            else:
                ev.callbacks.append(store)

        t_disp = t0
        queued0 = counts["queued"]
        ev = fc.admit(head)
        queued = counts["queued"] - queued0
        ev.callbacks.append(admitted)

    # ------------------------------------------------------------------------------------ faults
    def restart(self, downtime_s: float) -> None:
        """Restart: every watch is dropped, in-flight requests fail, the server is down for
        ``downtime_s`` and its watch caches start with no history (so resuming watches get 410
        and informers relist)."""
        self.generation += 1
        self.restarts += 1
        self.up = False
        for c in self.caches.values():
            c.close_all("restart")
            c.reset()

        def back(_e):
            self.up = True
            for c in self.caches.values():
                # The new cache starts from a fresh LIST of etcd; its history begins after that.
                # In a real cluster etcd's global revision moves during any downtime (leases,
                # events), so every informer's rv is older than the cache: 410 Gone, relist.
                # The cache's own starting revision is one past every rv handed out before the
                # restart, so a watch from a LIST of the new cache resumes (no endless 410 loop
                # when the resource stays quiet).
                c.revision = self.etcd.revision + 1
                c.history.clear()
                c.oldest_rv = self.etcd.revision + 1

        self.env.timeout(downtime_s).callbacks.append(back)

    def disable_watch_cache_lists(self, duration_s: float) -> None:
        """Fault: LIST and GET go to etcd (quorum reads) for ``duration_s`` seconds (0: for good)."""
        self.lists_from_etcd_until_s = self.env.now + duration_s if duration_s > 0 else float("inf")


def _select(values: dict, partition, cache: WatchCache | None) -> dict:
    """A LIST from etcd: every value, or those of one partition (the selector is applied after the
    full range read, as I13 says)."""
    if partition is None or cache is None or cache.partition_fn is None:
        return dict(values)
    fn = cache.partition_fn
    return {k: v for k, v in values.items() if v is not None and fn(v) == partition}
