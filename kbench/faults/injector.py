"""Fires the scenario's fault timeline in virtual time by calling the models' fault hooks.

One :class:`FaultInjector` per run (built by the runner when ``scenario.faults`` is not empty). At
each fault's ``at_s`` it calls the hook: :meth:`Apiserver.restart`, :meth:`Etcd.stall_writes`,
:meth:`Etcd.slow_disk`, :meth:`KubeletFleet.fail` / ``partition`` / ``heal``,
:meth:`Apiserver.disable_watch_cache_lists`, or adds a group of slow passive watchers. It also
registers the time series the measurements need (cumulative counters on the series grid), so the
``series`` table shows the fault and the recovery; :mod:`kbench.faults.measure` turns them into
the summary's ``faults`` section.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kbench.config.faults import FaultConfig
from kbench.errors import ConfigError

ZONE_LABEL = "topology.kubernetes.io/zone"
NODE_FAULTS = ("node-failure", "node-partition")


@dataclass
class FaultRecord:
    """What one fault did.

    Attributes:
        index: Position in the timeline.
        fault: Fault name.
        at_s: Scheduled time, virtual seconds.
        fired: Whether it fired (False when ``at_s`` is after the end of the run).
        effect_end_s: When the fault itself ends (downtime, stall, period), virtual seconds.
        nodes: Nodes hit by a node fault.
        first_commit_s: First etcd commit at or after ``at_s`` (write stalls), virtual seconds.
        detail: Fault-specific figures (slow watchers terminated, ...).
    """

    index: int
    fault: str
    at_s: float
    fired: bool = False
    effect_end_s: float = math.nan
    nodes: list[str] = field(default_factory=list)
    first_commit_s: float = math.nan
    detail: dict[str, Any] = field(default_factory=dict)


class FaultInjector:
    """The fault timeline of one run.

    Args:
        world: The run's world.
        kubelets: The :class:`~kbench.cluster.kubelet.fleet.KubeletFleet` (node faults need it).

    Raises:
        ConfigError: A node fault without kubelets, or naming an unknown node or zone.
    """

    def __init__(self, world, kubelets: Any = None):
        self.world, self.env = world, world.env
        self.kubelets = kubelets
        self.faults: list[FaultConfig] = list(world.scenario.faults)
        self.records = [FaultRecord(i, f.fault, f.at_s) for i, f in enumerate(self.faults)]
        self._awaiting_commit: list[FaultRecord] = []
        self._slow_groups: list[tuple[FaultRecord, Any]] = []
        for i, f in enumerate(self.faults):
            if f.fault in NODE_FAULTS:
                self._check_nodes(i, f)
        self._register_series()

    # ------------------------------------------------------------------------------- plumbing
    def _check_nodes(self, i: int, f: FaultConfig) -> None:
        where = f"faults[{i}].params"
        if self.kubelets is None:
            raise ConfigError(f"{f.fault} needs a lifecycle run with kubelets", where=where)
        p = f.spec()
        specs = self.world.node_specs
        for name in p.nodes:
            if name not in specs:
                raise ConfigError(f"unknown node '{name}'", where=f"{where}.nodes")
        if p.zone and not any(n.labels.get(ZONE_LABEL) == p.zone for n in specs.values()):
            zones = sorted({n.labels.get(ZONE_LABEL, "") for n in specs.values()} - {""})
            raise ConfigError(f"no node in zone '{p.zone}'; zones: {', '.join(zones) or 'none'}",
                              where=f"{where}.zone")

    def _register_series(self) -> None:
        w = self.world
        s, stats = w.plane.series, w.plane.stats  # etcd_writes_total etc. come from the control plane
        s.gauge("fault_active", lambda: float(sum(self._active(r) for r in self.records)))
        s.gauge("apiserver_up", lambda: float(w.api.up))
        s.gauge("informer_relists_total", lambda: float(sum(v.relists for v in w.informer_stats.values())))
        s.gauge("informer_lists_total", lambda: float(sum(v.lists for v in w.informer_stats.values())))
        s.gauge("api_requests_total", lambda: float(stats.total("count")))
        s.gauge("api_rejected_429_total", lambda: float(stats.total("rejected_429")))
        s.gauge("api_errors_total", lambda: float(stats.total("errors")))
        s.gauge("pod_evictions_total", lambda: float(w.counters["evictions"]))
        s.gauge("etcd_reads_total", lambda: float(w.plane.etcd.stats.reads))
        s.gauge("etcd_range_keys_total", lambda: float(w.plane.etcd.stats.range_keys))
        s.gauge("nodes_not_ready_total", lambda: float(w.counters["node_not_ready"]))

    def _active(self, r: FaultRecord) -> bool:
        now = self.env.now
        return r.fired and r.at_s <= now and (now < r.effect_end_s or r.effect_end_s == r.at_s == now)

    def start(self) -> None:
        """Schedule every fault at its ``at_s`` (virtual seconds from the start of the run)."""
        self.world.plane.etcd.subscribe(self._on_commit)
        for r in self.records:
            ev = self.env.timeout(max(r.at_s - self.env.now, 0.0))
            ev.callbacks.append(lambda _e, r=r: self._fire(r))

    def _on_commit(self, rec) -> None:
        if self._awaiting_commit:
            now = self.env.now
            for r in self._awaiting_commit:
                r.first_commit_s = now
            self._awaiting_commit.clear()

    # ---------------------------------------------------------------------------------- firing
    def _fire(self, r: FaultRecord) -> None:
        f = self.faults[r.index]
        p = f.spec()
        w, now = self.world, self.env.now
        r.fired = True
        r.effect_end_s = now
        if f.fault == "apiserver-restart":
            w.api.restart(p.downtime_s)
            r.effect_end_s = now + p.downtime_s
        elif f.fault == "etcd-leader-election":
            stall = p.election_timeout_s if p.election_timeout_s is not None else w.scenario.etcd.election_timeout_s
            w.plane.etcd.stall_writes(stall)
            r.effect_end_s = now + stall
            r.detail["election_timeout_s"] = stall
        elif f.fault == "etcd-slow-disk":
            w.plane.etcd.slow_disk(p.factor, p.duration_s)
            r.effect_end_s = now + p.duration_s
        elif f.fault in NODE_FAULTS:
            self._node_fault(r, f, p)
        elif f.fault == "watch-cache-disabled":
            w.api.disable_watch_cache_lists(p.duration_s)
            r.effect_end_s = now + p.duration_s if p.duration_s > 0 else math.inf
        elif f.fault == "slow-watchers":
            self._slow_watchers(r, p)
        self._awaiting_commit.append(r)

    def _node_fault(self, r: FaultRecord, f: FaultConfig, p) -> None:
        fleet = self.kubelets
        alive = [name for name, k in fleet.kubelets.items() if not k.dead]
        if p.nodes:
            chosen = [n for n in p.nodes if n in fleet.kubelets]
        elif p.zone:
            chosen = [n for n in alive if self.world.node_specs[n].labels.get(ZONE_LABEL) == p.zone]
        else:
            k = int(round(p.fraction * len(alive))) if p.fraction > 0 else min(p.count, len(alive))
            rng = self.world.stream(f"faults/{r.index}")
            chosen = [alive[i] for i in sorted(rng.choice(len(alive), size=k, replace=False).tolist())]
        r.nodes = chosen
        if f.fault == "node-failure":
            for name in chosen:
                fleet.fail(name)
            return
        for name in chosen:
            fleet.partition(name)
        if p.duration_s > 0:
            r.effect_end_s = self.env.now + p.duration_s

            def heal(_e, names=tuple(chosen)):
                for name in names:
                    fleet.heal(name)
            self.env.timeout(p.duration_s).callbacks.append(heal)
        else:
            r.effect_end_s = math.inf

    def _slow_watchers(self, r: FaultRecord, p) -> None:
        """``p.clients`` passive watchers of ``p.resource`` that take ``p.process_s`` per event."""
        from kbench.cluster.apiserver.watchcache import PassiveGroup
        from kbench.cluster.apiserver.watchpassive import close_members
        from kbench.cluster.clients.reflector import InformerStats, informer

        w, env = self.world, self.env
        cache = w.api.cache(p.resource)
        n = p.clients
        g = PassiveGroup(n, np.full(n, p.process_s), buffer=cache.watch_buffer(), client="slow-watchers")
        closers: list[Any] = [None] * n

        def on_close(i: int, reason: str) -> None:
            ev, closers[i] = closers[i], None
            if ev is not None and not ev.triggered:
                ev.succeed((reason, int(g.rv[i])))

        def connect(i: int, client) -> Any:
            g.rv[i] = cache.revision
            g.connected[i] = True
            g.opened_s[i] = g.backlog_until[i] = env.now
            ev = closers[i] = env.event()
            timeout = client.cfg.watch_timeout_min_s * (1.0 + float(rng.random()))

            def expire(_e, ev=ev):
                if closers[i] is ev:
                    close_members(g, np.array([i]), env.now, "timeout", cache)
            env.timeout(timeout).callbacks.append(expire)
            return ev

        g.on_close = on_close
        cache.passive.append(g)
        rng = w.stream(f"faults/{r.index}")
        stats = w.informer_stats.setdefault("slow-watchers", InformerStats())
        for i in range(n):
            client = w.client(f"slow-watcher-{r.index}-{i}", p.client_class, f"slow-watcher-{i}",
                              ("system:serviceaccounts", "system:authenticated"))

            def make(client=client):
                return client.request("list", p.resource, size_bytes=2048)
            env.process(informer(env, w.api, client, p.resource, list_request=make, rng=rng,
                                 on_list=lambda resp, i=i: g.rv.__setitem__(i, resp.revision),
                                 connect=lambda rv, i=i, c=client: connect(i, c), stats=stats))
        self._slow_groups.append((r, g))
        if p.duration_s > 0:
            r.effect_end_s = env.now + p.duration_s

            def recover(_e):  # the clients catch up: no longer slow
                g.process_s[:] = 0.0
            env.timeout(p.duration_s).callbacks.append(recover)
        else:
            r.effect_end_s = math.inf

    def slow_terminations(self, r: FaultRecord) -> int:
        """Slow-watcher terminations (A22) of the group fault ``r`` added."""
        return sum(g.terminated_slow for rec, g in self._slow_groups if rec is r)
