"""kube-proxies, one per node, as passive watchers of EndpointSlices (issue 4 item 4; H1-H6).

kube-proxies only receive and are measured (DESIGN.md decision 2): they are one
:class:`~kbench.cluster.apiserver.watchcache.PassiveGroup` in the ``endpointslices`` watch cache, so a slice change
costs one SimPy event however many proxies there are. Each proxy still LISTs, WATCHes, re-watches on
timeout and relists on 410 through the reflector loop of :func:`kbench.cluster.clients.informer`
(client class ``kube-proxy``, C5: QPS 5), or polls with ``sync_strategies: {kube-proxy: poll:T}``.

Rule syncs follow upstream's BoundedFrequencyRunner (H1): a token bucket of rate
1 / ``min_sync_period_s`` and ``sync_burst`` tokens; a change delivered at *d* joins a sync that is
scheduled and not yet started, else starts one when a token is available and the previous sync has
finished. A sync takes ``sync_s`` plus a cost that grows with the Services and endpoints the proxy
holds, by ``mode`` (:mod:`kbench.cluster.proxy.synccost`, L1-L6): a proxy's first sync is a full
one, later ones partial (KEP-3453) unless ``partial_sync`` is off, and a full one again after
``full_sync_period_s`` unless the cluster has more than ``large_cluster_endpoints`` endpoints
(L3); that periodic full sync is charged to the next change's sync (an idle proxy costs nothing).
Network programming latency (H5, H6) of a change is the end of the sync that includes it minus the
slice's ``data["trigger_s"]`` (the pod readiness change that caused it, set by the EndpointSlice
controller), one sample per (change, proxy), in :attr:`KubeProxyFleet.programming_latency`.

Not modelled: the 30 s periodic resync (H1; it programs nothing new), Service objects (only
EndpointSlices trigger syncs; S counts the Services that have slices).
"""

from __future__ import annotations

import numpy as np
import simpy

from kbench.cluster.apiserver.watchcache import PassiveGroup
from kbench.cluster.apiserver.watchpassive import close_members
from kbench.cluster.clients.reflector import InformerStats, informer, poller
from kbench.cluster.proxy.synccost import sync_cost_s
from kbench.config.kubelet import KubeProxyConfig
from kbench.metrics.collect import LogHistogram

RESOURCE = "endpointslices"


class _TriggerLog:
    """Revision and trigger time of every committed EndpointSlice write (for LIST catch-up)."""

    def __init__(self) -> None:
        self._rev: list[int] = []
        self._trig: list[float] = []
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    def on_commit(self, rec) -> None:
        if rec.resource != RESOURCE:
            return
        data = getattr(rec.value, "data", None) or {}
        self._rev.append(rec.revision)
        self._trig.append(float(data.get("trigger_s", np.nan)))
        self._arrays = None

    def between(self, rv_after: int, rv_upto: int) -> np.ndarray:
        """Trigger times of changes with ``rv_after < revision <= rv_upto`` (NaN: none known)."""
        if self._arrays is None:
            self._arrays = (np.asarray(self._rev, dtype=np.int64), np.asarray(self._trig))
        revs, trig = self._arrays
        return trig[np.searchsorted(revs, rv_after, side="right"):np.searchsorted(revs, rv_upto, side="right")]


class KubeProxyFleet:
    """Every node's kube-proxy.

    Args:
        world: The run's world.
        config: Overrides ``world.scenario.kubeproxy``.

    Attributes:
        n: Number of proxies (one per node in ``world.node_specs`` at :meth:`start`).
        programming_latency: Network programming latency samples, seconds (H5).
        syncs: Rule syncs run (also ``world.counters["proxy_syncs"]``).
        group: The passive watchers (None when the proxies poll).
        stats: LIST/relist/watch counts of the population.
    """

    def __init__(self, world, config: KubeProxyConfig | None = None):
        self.world, self.env = world, world.env
        self.cfg = config or world.scenario.kubeproxy
        self.rng = world.stream("kube-proxy")
        self.programming_latency = LogHistogram()
        self.sync_durations = LogHistogram()
        self.syncs = 0
        self.full_syncs = 0
        self._svc_eps = (0, 0)
        self._size_rev = -1
        self.n = 0
        self.group: PassiveGroup | None = None
        self.stats = InformerStats()
        self._log = _TriggerLog()

    def start(self) -> None:
        """Create one proxy per node and start their LIST + WATCH (or polling) loops."""
        w, env, cfg = self.world, self.env, self.cfg
        n = self.n = len(w.node_specs)
        cache = self.cache = w.api.cache(RESOURCE)
        w.plane.etcd.subscribe(self._log.on_commit)
        self.tokens = np.full(n, float(cfg.sync_burst))
        self.tok_t = np.zeros(n)
        self.pend_start = np.full(n, -np.inf)
        self.pend_done = np.full(n, -np.inf)
        self.last_full = np.full(n, -np.inf)
        self.seen_rv = np.zeros(n, dtype=np.int64)
        strategy = w.scenario.sync_strategy("kube-proxy")
        clients = [w.client(f"kube-proxy-{name}", "kube-proxy", "system:kube-proxy", ("system:authenticated",))
                   for name in w.node_specs]
        starts = self.rng.random(n) * cfg.start_spread_s
        if strategy.kind == "poll":
            for i, c in enumerate(clients):
                gen = poller(env, w.api, c, period_s=strategy.period_s, jitter=0.1, rng=self.rng,
                             list_request=self._list_request(c),
                             on_list=lambda resp, _t, i=i: self._on_list(i, resp.revision))
                env.process(_delayed(env, float(starts[i]), gen))
            return
        g = self.group = PassiveGroup(n, np.zeros(n), buffer=cache.watch_buffer(), on_delivered=self._on_delivered,
                                      client="kube-proxy")
        cache.passive.append(g)
        self._closers: list[simpy.Event | None] = [None] * n
        g.on_close = self._on_close
        for i, c in enumerate(clients):
            gen = informer(env, w.api, c, RESOURCE, list_request=self._list_request(c), rng=self.rng,
                           on_list=lambda resp, i=i: self._on_list(i, resp.revision),
                           connect=lambda rv, i=i, c=c: self._connect(i, rv, c), stats=self.stats)
            env.process(_delayed(env, float(starts[i]), gen))

    # ----------------------------------------------------------------------------- list + watch
    def _list_request(self, client):
        def make():  # the server counts what is stored (A15, I13)
            return client.request("list", RESOURCE)
        return make

    def _refresh(self) -> None:
        """Services with slices and their endpoints, recomputed when the cache changed (the sync's
        cost grows with them, L1-L4)."""
        c = self.cache
        if c.revision != self._size_rev:
            eps = 0
            services = set()
            for v in c.store.values():
                data = getattr(v, "data", None) or {}
                eps += len(data.get("endpoints", ()))
                services.add(data.get("service"))
            self._svc_eps = (len(services), eps)
            self._size_rev = c.revision

    def _on_list(self, i: int, revision: int) -> None:
        """A LIST brought proxy ``i`` every change since what it had: one sync for all of them."""
        first = self.seen_rv[i] == 0
        self._catch_up(i, int(self.seen_rv[i]), revision, force=first)
        self.seen_rv[i] = revision
        if self.group is not None:
            self.group.rv[i] = revision

    def _connect(self, i: int, rv: int, client) -> simpy.Event:
        g, cache = self.group, self.cache
        self._catch_up(i, rv, cache.revision)  # changes between the LIST and the watch
        g.rv[i] = self.seen_rv[i] = cache.revision
        g.connected[i] = True
        g.opened_s[i] = g.backlog_until[i] = self.env.now
        ev = self.env.event()
        self._closers[i] = ev
        timeout = client.cfg.watch_timeout_min_s * (1.0 + float(self.rng.random()))
        self.env.timeout(timeout).callbacks.append(lambda _e: self._closers[i] is ev and self._close(i, "timeout"))
        return ev

    def _close(self, i: int, reason: str) -> None:
        close_members(self.group, np.array([i]), self.env.now, reason, self.cache)

    def _on_close(self, i: int, reason: str) -> None:
        ev, self._closers[i] = self._closers[i], None
        self.seen_rv[i] = self.group.rv[i]
        if ev is not None and not ev.triggered:
            ev.succeed((reason, int(self.group.rv[i])))

    def _catch_up(self, i: int, rv_after: int, rv_upto: int, force: bool = False) -> None:
        trig = self._log.between(rv_after, rv_upto) if rv_upto > rv_after else np.empty(0)
        if trig.size or force:
            idx = np.array([i])
            done = self._sync(idx, np.array([self.env.now]))
            trig = trig[~np.isnan(trig)]
            if trig.size and not force:
                self.programming_latency.add(done[0] - trig)

    # ------------------------------------------------------------------------------- rule syncs
    def _on_delivered(self, idx: np.ndarray, done: np.ndarray, rec) -> None:
        """Bulk delivery of one change to proxies ``idx`` at ``done`` (seconds)."""
        synced = self._sync(idx, done)
        data = getattr(rec.value, "data", None)
        if data and "trigger_s" in data:
            self.programming_latency.add(synced - float(data["trigger_s"]))

    def _sync(self, idx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Schedule the rule syncs that include a change seen by proxies ``idx`` at times ``t``.

        Returns:
            When each proxy's rules include the change, seconds.
        """
        cfg = self.cfg
        new = self.pend_start[idx] < t  # else: joins a sync scheduled and not yet started
        ii, tt = idx[new], t[new]
        if ii.size:
            if cfg.min_sync_period_s > 0:
                rate = 1.0 / cfg.min_sync_period_s
                tok = np.minimum(cfg.sync_burst, self.tokens[ii] + (tt - self.tok_t[ii]) * rate)
                start = np.maximum(tt + np.maximum(0.0, (1.0 - tok) / rate), self.pend_done[ii])
                self.tokens[ii] = np.minimum(cfg.sync_burst, tok + (start - tt) * rate) - 1.0
                self.tok_t[ii] = start
            else:
                start = np.maximum(tt, self.pend_done[ii])
            self.pend_start[ii] = start
            dur = self._durations(ii, start)
            self.pend_done[ii] = start + dur
            self.sync_durations.add(dur)
            self.syncs += int(ii.size)
            self.world.counters["proxy_syncs"] += int(ii.size)
        return self.pend_done[idx]

    def _durations(self, ii: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Sync durations of proxies ``ii`` starting at ``start``: ``t0`` plus the mode's cost,
        full for a proxy's first sync, always without partial syncs, and once
        ``full_sync_period_s`` passed unless the cluster is large (L3)."""
        cfg = self.cfg
        t0 = np.asarray(cfg.sync_s.sample(self.rng, ii.size), dtype=float)
        if cfg.mode == "fixed":
            return t0
        self._refresh()
        services, endpoints = self._svc_eps
        last = self.last_full[ii]
        if not cfg.partial_sync:
            full = np.ones(ii.size, dtype=bool)
        else:
            full = np.isinf(last)
            if not (cfg.skip_full_sync_in_large_cluster and endpoints > cfg.large_cluster_endpoints):
                full |= start - last >= cfg.full_sync_period_s
        part, whole = sync_cost_s(cfg, services, endpoints, False), sync_cost_s(cfg, services, endpoints, True)
        self.last_full[ii[full]] = start[full]
        self.full_syncs += int(full.sum())
        # the size term is the same on every node: scaling it by the t0 draw (p99 10x the median)
        # would put L2's 5,000-node p99 near 80 s, where the KEP's chart reads about 24 s
        return t0 + np.where(full, whole, part)

    def summary(self) -> dict:
        """The summary's ``kube_proxy`` block: mode, syncs, full syncs, sync durations and network
        programming latency (H5), seconds."""
        d, npl = self.sync_durations, self.programming_latency

        def q(h, p):
            v = h.quantile(p)
            return None if v != v else round(v, 6)

        services, endpoints = self._svc_eps
        return {"mode": self.cfg.mode, "proxies": self.n, "syncs": self.syncs, "full_syncs": self.full_syncs,
                "services": services, "endpoints": endpoints,
                "sync_s": {"p50": q(d, 0.5), "p99": q(d, 0.99), "max": round(d.max, 6) if d.count else None},
                "network_programming_latency_s": {"p50": q(npl, 0.5), "p90": q(npl, 0.9), "p99": q(npl, 0.99),
                                                  "count": npl.count}}


def _delayed(env: simpy.Environment, delay: float, gen):
    yield env.timeout(delay)
    yield from gen
