"""kube-apiserver in virtual time: flow control, handler CPU on a pool of cores, storage, watch.

A request passes the layers the real server has: API Priority and Fairness (or max-inflight),
the handler (decode, authentication, RBAC authorization, admission; an optional admission
webhook round trip), the registry and storage (etcd, or the watch cache for reads), encoding of
the response and its transfer to the client. Latency is recorded twice: the SLI as Kubernetes
defines it (G4: from receipt to the last byte, excluding the APF queue wait) and end to end.

CPU is modelled as a FCFS pool of ``cores`` servers computed from a heap of core free times,
so a request costs a few heap operations instead of a SimPy resource round trip. Watch fan-out
runs on the same pool (:mod:`kbench.cluster.apiserver.fanout`). Every byte sent or received is
counted in :attr:`Apiserver.traffic` (:mod:`kbench.cluster.apiserver.traffic`) and leaves through
one shared NIC; the heap is a ledger (:mod:`kbench.cluster.apiserver.memory`). Where a read is
served follows the feature gates (:mod:`kbench.cluster.apiserver.readpath`).

:meth:`Apiserver.request` is a generator for a client process (``yield from``); the steps of a
request are callbacks of the events they wait on (:mod:`kbench.cluster.apiserver.serving`), and the client
process resumes once, when the response is there (issue 8: a resumption per step through the
client's generator frames was a hot path). :meth:`Apiserver.submit` serves a write the same way
for a callback instead of a process (the kubelets' lease renewals), and
:meth:`Apiserver.submit_many` serves the renewals due at one tick as batches
(:mod:`kbench.cluster.apiserver.batch`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator

import numpy as np
import simpy
from simpy.events import Timeout

from kbench.cluster.apiserver.batch import submit_many
from kbench.cluster.apiserver.flowcontrol import FlowControl
from kbench.cluster.apiserver.memory import Memory
from kbench.cluster.apiserver.nsindex import NamespaceIndex
from kbench.cluster.apiserver.request import MUTATING_VERBS, Request
from kbench.cluster.apiserver.serving import Reply, Response, Serve
from kbench.cluster.apiserver.traffic import Traffic
from kbench.cluster.apiserver.watchcache import WatchCache
from kbench.cluster.etcd.server import Etcd
from kbench.config import ApiserverConfig
from kbench.config.features import DEFAULT_VERSION, resolve
from kbench.metrics.collect import RequestStats
from kbench.metrics.writes import WriteMix

__all__ = ["Apiserver", "Response"]


class Apiserver:
    """One kube-apiserver.

    Args:
        env: The environment.
        cfg: Apiserver config.
        etcd: The storage backend.
        flowcontrol: APF (or max-inflight) in front of the handlers.
        rng: Random stream (``apiserver``).
        stats: Where request aggregates go.
        gates: The resolved feature gates (:mod:`kbench.config.features`; default: the newest
            release's).

    Attributes:
        traffic: Bytes sent and received (:class:`~kbench.cluster.apiserver.traffic.Traffic`).
        mem: The heap ledger (:class:`~kbench.cluster.apiserver.memory.Memory`).
        cpu_s: CPU-seconds used on the core pool in all.
        cpu_watch_s: Of which watch fan-out (dispatch, encode, per-watcher sends, initial events).
        cpu_list_s: Of which LIST scans, decoding and their parallel GC share.
        cpu_gzip_s: Of which response compression (I31).
        gzip_saved_bytes: Egress that response compression avoided, bytes (I30).
        terminated_watchers: Watchers closed for falling behind (A22), by client class.
    """

    def __init__(self, env: simpy.Environment, cfg: ApiserverConfig, etcd: Etcd,
                 flowcontrol: FlowControl, rng: np.random.Generator, stats: RequestStats,
                 gates: dict[str, bool] | None = None):
        self.env = env
        self.cfg = cfg
        self.etcd = etcd
        self.etcds: dict[str, Etcd] = {}  # resources stored elsewhere (--etcd-servers-overrides, J7)
        self.writes = WriteMix()
        self.namespaces = NamespaceIndex(self)  # namespace-scoped ranges (built on first use)
        self.charged_plans: dict[tuple, tuple] = {}  # charged reads' level, keys and costs (charged.py)
        self.fc = flowcontrol
        self.rng = rng
        self.stats = stats
        self.gates = gates if gates is not None else resolve(DEFAULT_VERSION)
        self.caches: dict[str, WatchCache] = {}
        self._cores = [0.0] * cfg.cores
        heapq.heapify(self._cores)
        self._webhook = cfg.webhook_s.sampler(rng)
        self.cpu_s = 0.0
        self.cpu_watch_s = 0.0
        self.cpu_list_s = 0.0
        self.cpu_gzip_s = 0.0
        self.gzip_saved_bytes = 0.0
        self.nic_free_s = 0.0
        self.traffic = Traffic()
        self.terminated_watchers: dict[str, int] = {}
        self.oom_kills = 0
        mc = cfg.memory
        self.mem = Memory(mc.base_bytes, mc.limit_bytes, self._slow_memory, self.oom, lambda: env.now)
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
    def etcd_for(self, resource: str) -> Etcd:
        """The etcd that stores ``resource`` (the main one unless overridden, J7)."""
        return self.etcds.get(resource) or self.etcd

    def add_etcd(self, resources: tuple[str, ...], etcd: Etcd) -> None:
        """Store ``resources`` in ``etcd`` (``--etcd-servers-overrides=/events#...``, J7)."""
        for r in resources:
            self.etcds[r] = etcd
        etcd.subscribe(self._on_commit, self._on_commit_many)

    def cache(self, resource: str, partition_fn=None) -> WatchCache:
        """The watch cache of ``resource`` (created on first use, with ``partition_fn`` as its
        index, e.g. pods by node name)."""
        c = self.caches.get(resource)
        if c is None:
            c = WatchCache(self.env, resource, self.cfg, self.rng, self, partition_fn)
            etcd = self.etcd_for(resource)
            c.store.update(etcd.values(resource))
            c.rebuild_index()
            c.revision = etcd.revision
            c.oldest_rv = etcd.revision
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

    def _send_delay(self, ready: float, nbytes: float) -> float:
        """A response of ``nbytes`` bytes ready to go ``ready`` seconds from now: how long until it
        has left (the client's link, and the shared NIC in FIFO order), seconds."""
        if nbytes <= 0:
            return ready
        cfg = self.cfg
        now = self.env.now
        t = now + ready
        nic = (t if t > self.nic_free_s else self.nic_free_s) + nbytes / cfg.nic_bytes_per_s
        self.nic_free_s = nic
        link = t + nbytes / cfg.network_bytes_per_s
        return (link if link > nic else nic) - now

    def _slow_memory(self) -> tuple[float, float]:
        """The watch cache's and the watchers' heap now, bytes (see :class:`Memory`)."""
        mc = self.cfg.memory
        etcd = self.etcd
        cache = 0.0
        watchers = 0
        disabled = self.cfg.watch_cache.disabled_resources  # upstream keeps no cache of these
        for name, c in self.caches.items():
            if name not in disabled:
                cache += etcd.resource_bytes(name) + c.history_bytes
            watchers += c.watcher_total()
        return cache * mc.object_inflation, watchers * mc.per_watcher_bytes

    def oom(self) -> None:
        """The heap went over ``memory.limit_bytes``: the process dies and restarts."""
        if self.up:
            self.oom_kills += 1
            self.restart(self.cfg.memory.oom_restart_s)

    def _cpu(self, seconds: float) -> simpy.Event:
        """Book ``seconds`` of one core, FCFS; the event fires when the work is done."""
        return Timeout(self.env, self._cpu_delay(seconds))

    def compressed(self, req, size: float) -> tuple[float, float]:
        """A response of ``size`` bytes to ``req`` as sent: (bytes on the wire, compression CPU,
        seconds). Gzipped when it is over the threshold, the client accepts gzip and the feature is
        on (I3, I24, I29-I31; watch events never come here); the CPU and the bytes saved are counted
        (``cpu_gzip_s``, ``gzip_saved_bytes``), the CPU is the caller's to book."""
        gz = self.cfg.gzip
        if size <= gz.threshold_bytes or not (gz.enabled and req.accept_gzip and self.gates["APIResponseCompression"]):
            return size, 0.0
        cpu = size * gz.cpu_s_per_byte
        small = size / gz.ratio
        self.cpu_gzip_s += cpu
        self.gzip_saved_bytes += size - small
        return small, cpu

    def _cpu_delay(self, seconds: float) -> float:
        """Book ``seconds`` of one core, FCFS; return how long until the work is done, seconds."""
        now = self.env.now
        cores = self._cores
        free = cores[0]
        finish = (now if now > free else free) + seconds
        heapq.heapreplace(cores, finish)
        self.cpu_s += seconds
        return finish - now

    def _cpu_many(self, k: int, seconds: float) -> simpy.Event:
        """Book ``k`` jobs of ``seconds`` each on the core pool, each FCFS on its own core as
        :meth:`_cpu` would (so a batch runs in parallel as its requests would); one event fires
        when the last is done."""
        return Timeout(self.env, self._cpu_many_delay(k, seconds))

    def _cpu_many_delay(self, k: int, seconds: float) -> float:
        """:meth:`_cpu_many` without the event: how long until the last job is done, seconds."""
        now = self.env.now
        cores = self._cores
        last = now
        for _ in range(k):
            finish = max(now, cores[0]) + seconds
            heapq.heapreplace(cores, finish)
            if finish > last:
                last = finish
        self.cpu_s += k * seconds
        return last - now

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
            req: The request. For LIST/GET, ``req.rv`` and the feature gates choose the watch
                cache or etcd (:func:`kbench.cluster.apiserver.readpath.route`).
            rv: For WATCH, the resource version to resume from.

        Returns:
            The response. WATCH only initialises here (1 seat, A15); the caller registers the
            watcher with the cache when the response is 200.
        """
        resp = yield self.serve(req, rv)
        return resp

    def serve(self, req: Request, rv: int = 0) -> Reply:
        """Start serving ``req``; a client process yields the returned event, whose value is the
        response (what :meth:`request` does, one generator frame less)."""
        reply = Reply(self.env)
        Serve(self, req, rv, reply)
        return reply

    def submit(self, req: Request, done: Callable[[Response], None]) -> None:
        """Serve one write without a SimPy process: ``done(response)`` is called where
        :meth:`request` would return (it takes the same steps, with the same events in the same
        order). Fleet-level senders (the kubelets' lease renewals) use it.

        Raises:
            ValueError: ``req`` is not a write.
        """
        if req.verb not in MUTATING_VERBS:
            raise ValueError(f"submit serves writes only, not {req.verb}")
        Serve(self, req, 0, done)

    def submit_many(self, head: Request, items: list[tuple[str, object]],
                    done: Callable[[list[str], Response], None]) -> None:
        """Serve unconditional updates of one resource from one client class as batches (the
        kubelets' lease renewals due at the same tick); ``done(keys, response)`` once per batch.
        See :func:`kbench.cluster.apiserver.batch.submit_many`."""
        submit_many(self, head, items, done)

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
            c.ready = False
        mem = self.mem.current
        for comp in ("list_transient", "watchlist_streams"):  # the process's heap is gone
            mem[comp] = 0.0

        def back(_e):
            self.up = True
            for name, c in self.caches.items():
                # The new cache starts from a fresh LIST of etcd; its history begins after that.
                # In a real cluster etcd's global revision moves during any downtime (leases,
                # events), so every informer's rv is older than the cache: 410 Gone, relist.
                # The cache's own starting revision is one past every rv handed out before the
                # restart, so a watch from a LIST of the new cache resumes (no endless 410 loop
                # when the resource stays quiet).
                c.revision = self.etcd.revision + 1
                c.history.clear()
                c.oldest_rv = self.etcd.revision + 1
                # the new cache lists its resource from etcd: a full range, decoded on the pool;
                # it is ready (KEP-4568) once both are done
                n, nbytes = self.etcd.object_count(name), self.etcd.resource_bytes(name)
                if n:
                    read = self.etcd.read(name, objects_scanned=n, bytes_returned=nbytes)
                    cpu = n * self.cfg.list_etcd_cpu_s_per_object + nbytes * self.cfg.list_etcd_cpu_s_per_byte
                    decoded = self.env.now + self._cpu_delay(cpu)
                    self.cpu_list_s += cpu
                    read.callbacks.append(lambda _e, c=c, t=decoded, g=self.generation: self._initialized(c, t, g))
                else:
                    c.ready = True

        self.env.timeout(downtime_s).callbacks.append(back)

    def _initialized(self, cache, decoded_at: float, generation: int) -> None:
        """The restarted cache's LIST from etcd arrived: ready once its decode is done too."""

        def ready(_e=None) -> None:
            if self.generation == generation:  # not restarted again meanwhile
                cache.ready = True

        wait = decoded_at - self.env.now
        if wait > 0:
            self.env.timeout(wait).callbacks.append(ready)
        else:
            ready()

    def disable_watch_cache_lists(self, duration_s: float) -> None:
        """Fault: LIST and GET go to etcd (quorum reads) for ``duration_s`` seconds (0: for good)."""
        self.lists_from_etcd_until_s = self.env.now + duration_s if duration_s > 0 else float("inf")

