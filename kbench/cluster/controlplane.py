"""Build and wire the control plane (DESIGN.md decision 1; desmod's build -> wire -> run phases)."""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from kbench.cluster.apiserver.flowcontrol import FlowControl
from kbench.cluster.apiserver.server import Apiserver
from kbench.cluster.clients.client import Client
from kbench.cluster.clients.ratelimit import TokenBucket
from kbench.cluster.etcd.server import Etcd
from kbench.config import Scenario
from kbench.metrics.collect import RequestStats, SeriesSampler
from kbench.rng import SeedTree


@dataclass(eq=False)
class ControlPlane:
    """etcd, flow control and one apiserver, with their metric collectors.

    Attributes:
        env: The run's environment (virtual seconds).
        scenario: The effective scenario.
        seeds: The run's seed tree.
        etcd: etcd.
        fc: API Priority and Fairness (or max-inflight).
        etcd_events: The etcd that stores Events when ``events.separate_etcd`` (J7), else None.
        api: kube-apiserver.
        stats: Request aggregates.
        series: Time series on a fixed grid.
        retries: Client retries after a 429 with Retry-After, by client class (I16).
    """

    env: simpy.Environment
    scenario: Scenario
    seeds: SeedTree
    etcd: Etcd
    fc: FlowControl
    api: Apiserver
    stats: RequestStats
    series: SeriesSampler
    retries: dict[str, int] = field(default_factory=dict)
    etcd_events: Etcd | None = None

    @classmethod
    def build(cls, scenario: Scenario, seed: int | None = None) -> ControlPlane:
        """Build and wire every component; nothing runs until :meth:`start`."""
        env = simpy.Environment()
        seeds = SeedTree(scenario.seed if seed is None else seed)
        etcd = Etcd(env, scenario.etcd, seeds.stream("etcd"))
        gates = scenario.gates
        fc = FlowControl(env, scenario.apiserver.flowcontrol, seeds.stream("flowcontrol"),
                         object_count=etcd.object_count, object_bytes=etcd.resource_bytes, gates=gates)
        stats = RequestStats(scenario.metrics.latency_buckets_s)
        api = Apiserver(env, scenario.apiserver, etcd, fc, seeds.stream("apiserver"), stats, gates=gates)
        series = SeriesSampler(env, scenario.metrics.series_interval_s)
        plane = cls(env, scenario, seeds, etcd, fc, api, stats, series)
        ev = scenario.events
        if ev.enabled and ev.separate_etcd:  # --etcd-servers-overrides=/events#... (J7)
            plane.etcd_events = Etcd(env, ev.etcd or scenario.etcd, seeds.stream("etcd/events"))
            api.add_etcd(("events",), plane.etcd_events)
        plane._register_gauges()
        return plane

    def _register_gauges(self) -> None:
        s, fc = self.series, self.fc
        for level in fc.levels():
            s.gauge("apf_seats_in_use", lambda lv=level: fc.seats_in_use(lv), level=level)
            s.gauge("apf_queue_length", lambda lv=level: fc.queue_length(lv), level=level)
        s.gauge("apiserver_inflight", lambda: self.api.inflight)
        s.gauge("etcd_db_size_bytes", lambda: self.etcd.db_size_bytes)
        # cumulative counters: the report differences them into per-interval rates and mean latencies
        s.gauge("etcd_writes_total", lambda: self.etcd.stats.writes)
        s.gauge("etcd_write_latency_sum_s", lambda: self.etcd.stats.write_latency_sum_s)
        for level in fc.levels():  # exact integrals: per interval, their difference / interval is the mean
            s.gauge("apf_seat_seconds_total", lambda lv=level: fc.seat_integral(lv), level=level)
            s.gauge("apf_queue_request_seconds_total", lambda lv=level: fc.queue_integral(lv), level=level)
        for level in fc.levels():
            s.gauge("apf_rejected_total", lambda lv=level: sum(  # the live dict: no copy of every level's
                v for k, v in fc.level_counters(lv).items() if k.startswith("rejected")), level=level)
        s.gauge("watchers", lambda: sum(c.watcher_total() for c in self.api.caches.values()))
        api = self.api
        # issue 16: egress by kind and ingress (cumulative bytes), memory, current APF limits
        for kind in api.traffic.by_kind:
            s.gauge("apiserver_egress_bytes_total", lambda k=kind: api.traffic.by_kind[k], kind=kind)
        s.gauge("apiserver_ingress_bytes_total", lambda: api.traffic.ingress_total)
        s.gauge("apiserver_memory_bytes", api.mem.refresh, component="total")
        for comp in api.mem.current:
            s.gauge("apiserver_memory_bytes", lambda c=comp: api.mem.current[c], component=comp)
        if fc.cfg.enabled:
            for level in fc.levels():
                s.gauge("apf_current_cl", lambda lv=level: fc.current_cl(lv), level=level)
                s.gauge("apf_nominal_cl", lambda lv=level: fc.nominal_cl(lv), level=level)
        s.gauge("watch_terminated_total", lambda: sum(api.terminated_watchers.values()))
        s.gauge("apiserver_cpu_s_total", lambda: api.cpu_s)
        s.gauge("etcd_cpu_s_total", lambda: self.etcd.stats.cpu_s)
        if self.etcd_events is not None:
            s.gauge("etcd_events_writes_total", lambda: self.etcd_events.stats.writes)
            s.gauge("etcd_events_db_size_bytes", lambda: self.etcd_events.db_size_bytes)

    def start(self) -> None:
        """Start background processes (etcd's raft loop and compaction, APF borrowing, metric
        sampling)."""
        self.etcd.start()
        self.fc.start()
        if self.etcd_events is not None:
            self.etcd_events.start()
        self.series.start()

    def client(self, name: str, client_class: str, user: str, groups: tuple[str, ...]) -> Client:
        """A client of ``client_class`` (its QPS/burst from the scenario)."""
        cfg = self.scenario.client_class(client_class)
        return Client(name, client_class, user, groups, TokenBucket(cfg.qps, cfg.burst), cfg, self.retries)
