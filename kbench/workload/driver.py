"""The workload driver: creates what the scenario's ``workload:`` section asks for, through the
apiserver, at the times it names (Deployments, Jobs, Services, bare pods, extra kinds' churn and
watchers, apiserver proxy requests).

Random draws come from the ``workload`` streams only, so the workload realisation does not change
with the policy (common random numbers across compared policies, DESIGN.md decision 6).

Workload-spec additions (:mod:`kbench.workload.compile`): a pod group with an ``arrival`` process or
``vary`` distributions draws its arrival times and per-pod values up front from its own streams
(``workload/pods/<name>/arrivals`` and ``.../<field>``; :mod:`kbench.workload.synth`); items with
``after`` wait for that barrier and count ``at_s`` from its release; barriers
(``workload.barriers``) are processes released as :class:`~kbench.config.workload.BarrierSpec`
describes; the first item with ``measure: true`` sets :attr:`WorkloadDriver.measure_start_s`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import simpy

from kbench.cluster.clients.informer import Informer
from kbench.cluster.clients.reflector import InformerStats
from kbench.cluster.objects.stored import GenericObj, PodObj
from kbench.cluster.world import World
from kbench.config.workload import ArrivalSpec, BarrierSpec, GenericKindSpec, PodGroupSpec
from kbench.errors import ConfigError
from kbench.workload.apps import AppsDriver
from kbench.workload.podspec import draw_duration, pod_from_template

USER = "system:serviceaccount:default:workload-driver"
GROUPS = ("system:serviceaccounts", "system:authenticated")


class WorkloadDriver(AppsDriver):
    """Plays the scenario's workload section into the cluster.

    Args:
        world: The run's world.
        scheduler: The scheduler (barriers ``until: scheduled`` skip the pods it gave up).

    Attributes:
        measure_start_s: When the measured phase started, virtual seconds (NaN: no measured item
            has started).
    """

    def __init__(self, world: World, scheduler=None):
        self.world = world
        self.env = world.env
        self.client = world.client("workload-driver", "workload", USER, GROUPS)
        self.client.limiter.qps = 0  # a test harness: no client-side limit (like CL2's high QPS)
        self.rng = world.stream("workload")
        self.generic_stats: dict[str, InformerStats] = {}
        self._reaped: set[int] = set()
        self.scheduler = scheduler
        self.measure_start_s = float("nan")
        self.gathered_at_s: float | None = None  # when a ``gather`` barrier was released (CL2's gather step)
        self.gathered_sli: dict | None = None  # the request SLI histograms at that moment
        self._events: dict[str, simpy.Event] = {}
        self._apps_init()
        self._check_barriers()  # at build time: a bad reference fails before the run starts

    def start(self) -> None:
        """Schedule every workload item."""
        wl = self.world.scenario.workload
        for b in wl.barriers:
            self.env.process(self._barrier(b))
        self._apps_start()
        for j in wl.jobs:
            self.env.process(self._objects("job", j))
        for g in wl.pods:
            self.env.process(self._pod_group(g))
        for k in wl.generic:
            self._generic(k)
        if wl.proxy.rate_per_s > 0:
            self.env.process(self._proxy())

    # ------------------------------------------------------------------------------ barriers
    def _event(self, name: str) -> simpy.Event:
        ev = self._events.get(name)
        if ev is None:
            ev = self._events[name] = self.env.event()
        return ev

    def done_event(self, name: str) -> simpy.Event:
        """The event that fires when item or barrier ``name`` is done.

        Raises:
            ConfigError: No item has that name.
        """
        if name not in self._known():
            raise ConfigError(f"unknown item {name!r}", where="workload.end_after")
        return self._event(name)

    def _known(self) -> set[str]:
        wl = self.world.scenario.workload
        return {x.name for x in (*wl.deployments, *wl.jobs, *wl.pods, *wl.barriers, *wl.daemonsets,
                                 *wl.statefulsets, *wl.services, *wl.namespaces, *wl.updates, *wl.deletes)}

    def _done(self, name: str) -> None:
        """Item ``name`` finished creating (or a barrier was released)."""
        ev = self._event(name)
        if not ev.triggered:
            ev.succeed()

    def _start(self, item):
        """Wait for the item's barrier and its ``at_s``; returns the time its clock started."""
        t0 = 0.0
        if item.after:
            yield self._event(item.after)
            t0 = self.env.now
        yield from self._at(t0 + item.at_s)
        if getattr(item, "measure", False) and self.measure_start_s != self.measure_start_s:
            self.measure_start_s = self.env.now
        return t0

    def _check_barriers(self) -> None:
        wl = self.world.scenario.workload
        known = self._known()
        for i, b in enumerate(wl.barriers):
            for name in b.after:
                if name not in known:
                    raise ConfigError(f"unknown item {name!r}", where=f"workload.barriers[{i}].after")
        names = {b.name for b in wl.barriers}
        for kind, items in (("deployments", wl.deployments), ("jobs", wl.jobs), ("pods", wl.pods),
                            ("daemonsets", wl.daemonsets), ("statefulsets", wl.statefulsets),
                            ("services", wl.services), ("namespaces", wl.namespaces), ("updates", wl.updates),
                            ("deletes", wl.deletes)):
            for i, item in enumerate(items):
                if item.after and item.after not in names:
                    raise ConfigError(f"unknown barrier {item.after!r}", where=f"workload.{kind}[{i}].after")

    def _barrier(self, b: BarrierSpec):
        env = self.env
        if b.after:
            yield simpy.AllOf(env, [self._event(n) for n in b.after])
        start = env.now
        if b.until == "running":
            waiting = {(k, key) for k in ("deployment", "daemonset", "statefulset") for key in self.live[k]}
            done = lambda: self._running(waiting)  # noqa: E731
        elif b.until == "deleted":
            waiting = set(self.deleted_since)
            self.deleted_since = []
            done = lambda: self._gone(waiting)  # noqa: E731
        else:
            done = self._all_scheduled if b.until == "scheduled" else (lambda: True)
        while not done():
            if b.timeout_s and env.now - start >= b.timeout_s:
                self.world.counters["barrier_timeouts"] += 1
                self.barrier_timed_out.add(b.name)
                break
            yield env.timeout(b.poll_s)
        self.barrier_waits[b.name] = env.now - start
        if b.delay_s:
            yield env.timeout(b.delay_s)
        if b.gather and self.gathered_at_s is None:
            self.gathered_at_s = env.now
            self.gathered_sli = self.world.plane.stats.sli_snapshot()
        self._done(b.name)

    def _all_scheduled(self) -> bool:
        """Every pod created so far is bound, finished, deleted or given up."""
        tl = self.world.timeline
        n = tl.n
        waiting = np.flatnonzero(~np.isnan(tl.t["created"][:n]) & np.isnan(tl.t["bound"][:n]) & (tl.final[:n] == 0))
        if waiting.size == 0:
            return True
        given_up = getattr(self.scheduler, "given_up", None) or set()
        return all(tl.names[i] in given_up for i in waiting)

    # ------------------------------------------------------------------------------- objects
    def _at(self, t: float):
        if t > self.env.now:
            yield self.env.timeout(t - self.env.now)

    def _pod_group(self, g: PodGroupSpec):
        yield from self._start(g)
        if g.arrival is not None or g.vary:
            yield from self._synthetic_group(g)
            self._done(g.name)
            return
        yield from self._plain_group(g)
        self._done(g.name)

    def _synthetic_group(self, g: PodGroupSpec):
        """A group with an arrival process or per-pod distributions (all drawn up front)."""
        from kbench.workload.synth import arrival_times, parse_dist

        w, env = self.world, self.env
        arrival = g.arrival or ArrivalSpec(kind="poisson" if g.poisson else "constant",
                                           rate_per_s=g.rate_per_s or 1.0)
        times = arrival_times(arrival, g.count, w.stream(f"workload/pods/{g.name}/arrivals"))
        if g.arrival is None and g.rate_per_s <= 0:
            times = np.zeros(g.count)
        draws = {}
        for key, raw in g.vary.items():
            d = parse_dist(raw, f"workload.pods.{g.name}.vary.{key}", unit="s" if key.endswith("_s") else "",
                           text=key in ("image", "gpu_model"))
            draws[key] = d.sample(w.stream(f"workload/pods/{g.name}/{key}"), g.count)
        rng = w.stream(f"workload/pods/{g.name}")
        start = env.now
        for i in range(g.count):
            yield from self._at(start + float(times[i]))
            changes = {k: _typed(k, v[i]) for k, v in draws.items() if k != "duration_s"}
            t = dataclasses.replace(g.template, **changes) if changes else g.template
            duration = float(draws["duration_s"][i]) if "duration_s" in draws else draw_duration(t, rng)
            self._create_bare(g, f"{g.name}-{i}", t, duration)

    def _create_bare(self, g: PodGroupSpec, name: str, t, duration) -> None:
        key = f"{g.namespace}/{name}"
        spec = pod_from_template(name, g.namespace, t, duration_s=duration)
        pod = PodObj(key, self.world.pod_uid(key, "Pod"), spec)
        self.env.process(self._create_and_reap(pod))

    def _plain_group(self, g: PodGroupSpec):
        rng = self.world.stream(f"workload/pods/{g.name}")
        gap = 1.0 / g.rate_per_s if g.rate_per_s > 0 else 0.0
        for i in range(g.count):
            self._create_bare(g, f"{g.name}-{i}", g.template, draw_duration(g.template, rng))
            if gap:
                yield self.env.timeout(float(rng.exponential(gap)) if g.poisson else gap)

    def _create_and_reap(self, pod: PodObj):
        resp = yield from self.world.create_pod(self.client, pod)
        if resp.ok:
            self.world.counters["pods_created"] += 1

    def on_pod_finished(self, pod: PodObj) -> None:
        """A bare pod (no owner) finished: delete it, as a batch client does."""
        if pod.owner is None and not pod.deleting and pod.uid not in self._reaped:
            self._reaped.add(pod.uid)
            self.env.process(self._reap(pod))

    def _reap(self, pod: PodObj):
        w = self.world
        uid = pod.uid
        resp = yield from w.write(self.client, "delete", "pods", pod.key, partition=pod.node_name,
                                  precondition=lambda cur: cur is not None and cur.uid == uid)
        if not resp.ok and resp.code == 409:
            return

    # --------------------------------------------------------------------------- extra kinds
    def _generic(self, k: GenericKindSpec) -> None:
        """Objects of another kind with churn and watchers (CRD controllers' load)."""
        w = self.world
        keys = [f"default/{k.resource}-{i}" for i in range(k.objects)]
        size = int(k.object_bytes)
        w.plane.etcd.preload_values(k.resource, {key: GenericObj(key, {"v": 0}) for key in keys}, size)
        cache = w.api.cache(k.resource)
        cache.store.update(w.plane.etcd.values(k.resource))
        from kbench.config.clients import SyncStrategy
        strategy = SyncStrategy.parse(k.sync, where=f"workload.generic[{k.resource}].sync")
        stats = self.generic_stats.setdefault(k.resource, InformerStats())
        rng = w.stream(f"workload/generic/{k.resource}")
        for i in range(k.watchers):
            c = w.client(f"{k.resource}-watcher-{i}", "generic", f"system:serviceaccount:default:{k.resource}-{i}",
                         GROUPS)
            Informer(w.api, c, k.resource, strategy=strategy, rng=rng, object_bytes=size, stats=stats).start(
                float(rng.random()) * 5.0)
        if k.changes_per_s > 0:
            self.env.process(self._churn(k, keys, size, rng))

    def _churn(self, k: GenericKindSpec, keys: list[str], size: int, rng: np.random.Generator):
        w = self.world
        version = 0
        while True:
            yield self.env.timeout(float(rng.exponential(1.0 / k.changes_per_s)))
            version += 1
            key = keys[int(rng.integers(len(keys)))]
            self.env.process(w.write(self.client, "update", k.resource, key, GenericObj(key, {"v": version}),
                                     size_bytes=size))

    # ------------------------------------------------------------------------------- proxy
    def _proxy(self):
        """apiserver proxy requests to kubelets: long-running, they hold a connection, not seats."""
        w = self.world
        spec = w.scenario.workload.proxy
        rng = w.stream("workload/proxy")
        dur = spec.duration_s.sampler(rng)
        while True:
            yield self.env.timeout(float(rng.exponential(1.0 / spec.rate_per_s)))
            self.env.process(self._one_proxy(dur(), spec.bytes_per_s))

    def _one_proxy(self, duration_s: float, bytes_per_s: float):
        w = self.world
        w.counters["proxy_requests"] += 1
        req = self.client.request("get", "pods/log", size_bytes=0)
        resp = yield from self.client.call(self.env, w.api, req)  # authn/authz + a seat to start
        if resp.ok:
            w.counters["proxy_open"] += 1
            yield self.env.timeout(duration_s)
            w.api.cpu_s += duration_s * bytes_per_s * w.api.cfg.encode_cpu_s_per_byte
            w.counters["proxy_open"] -= 1


def _typed(key: str, value):
    """A drawn template value in the field's type."""
    if key in ("image", "gpu_model"):
        return str(value)
    if key in ("priority", "gpus", "gpu_milli"):
        return int(round(float(value)))
    if key == "fail_probability":
        return min(max(float(value), 0.0), 1.0)
    return float(value)
