"""The workload driver: creates what the scenario's ``workload:`` section asks for, through the
apiserver, at the times it names (Deployments, Jobs, Services, bare pods, extra kinds' churn and
watchers, apiserver proxy requests).

Random draws come from the ``workload`` streams only, so the workload realisation does not change
with the policy (common random numbers across compared policies, DESIGN.md decision 6).
"""

from __future__ import annotations

import numpy as np

from kbench.cluster.clients import InformerStats
from kbench.cluster.informer import Informer
from kbench.cluster.state import GenericObj, PodObj
from kbench.cluster.world import World
from kbench.configs.workload import DeploymentSpec, GenericKindSpec, JobSpec, PodGroupSpec
from kbench.workload.podspec import draw_duration, pod_from_template

USER = "system:serviceaccount:default:workload-driver"
GROUPS = ("system:serviceaccounts", "system:authenticated")


class WorkloadDriver:
    """Plays the scenario's workload section into the cluster.

    Args:
        world: The run's world.
    """

    def __init__(self, world: World):
        self.world = world
        self.env = world.env
        self.client = world.client("workload-driver", "workload", USER, GROUPS)
        self.client.limiter.qps = 0  # a test harness: no client-side limit (like CL2's high QPS)
        self.rng = world.stream("workload")
        self.generic_stats: dict[str, InformerStats] = {}
        self._reaped: set[int] = set()

    def start(self) -> None:
        """Schedule every workload item."""
        wl = self.world.scenario.workload
        for d in wl.deployments:
            self.env.process(self._deployment(d))
        for j in wl.jobs:
            self.env.process(self._job(j))
        for g in wl.pods:
            self.env.process(self._pod_group(g))
        for k in wl.generic:
            self._generic(k)
        if wl.proxy.rate_per_s > 0:
            self.env.process(self._proxy())

    # ------------------------------------------------------------------------------- objects
    def _at(self, t: float):
        if t > self.env.now:
            yield self.env.timeout(t - self.env.now)

    def _deployment(self, d: DeploymentSpec):
        w = self.world
        yield from self._at(d.at_s)
        key = f"{d.namespace}/{d.name}"
        if d.service:
            yield from w.write(self.client, "create", "services", key,
                               GenericObj(key, {"selector": {"app": d.name}}), size_bytes=1024)
        yield from w.write(self.client, "create", "deployments", key, GenericObj(key, {"spec": d}), size_bytes=2048)
        if d.delete_at_s > d.at_s:
            yield from self._at(d.delete_at_s)
            yield from w.write(self.client, "delete", "deployments", key, size_bytes=2048)

    def _job(self, j: JobSpec):
        yield from self._at(j.at_s)
        key = f"{j.namespace}/{j.name}"
        value = GenericObj(key, {"spec": j, "succeeded": 0, "failed": 0, "active": 0, "complete": False})
        yield from self.world.write(self.client, "create", "jobs", key, value, size_bytes=2048)

    def _pod_group(self, g: PodGroupSpec):
        w = self.world
        yield from self._at(g.at_s)
        rng = self.world.stream(f"workload/pods/{g.name}")
        gap = 1.0 / g.rate_per_s if g.rate_per_s > 0 else 0.0
        for i in range(g.count):
            name = f"{g.name}-{i}"
            key = f"{g.namespace}/{name}"
            spec = pod_from_template(name, g.namespace, g.template, duration_s=draw_duration(g.template, rng))
            if g.template.fail_probability:
                spec.annotations["kbench/fail-probability"] = str(g.template.fail_probability)
            pod = PodObj(key, w.pod_uid(key, "Pod"), spec)
            self.env.process(self._create_and_reap(pod))
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
        resp = yield from w.write(self.client, "update", "pods", pod.key, pod.evolve(deleting=True),
                                  partition=pod.node_name, precondition=lambda cur: cur is not None)
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
        from kbench.cluster.informer import SyncStrategy
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
