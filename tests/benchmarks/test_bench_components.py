"""Component benchmarks (group ``components``): one piece of the control plane in isolation.

* a lease update through the whole request path (token bucket, APF, handler CPU, etcd, watch cache);
* a mix of creates, conditional updates, GETs, lease updates and deletes arriving one by one
  (uncontended: the common case of the lifecycle runs), with events per request in ``extra_info``;
* a cached LIST;
* one watch event fanned out to 5,000 passive watchers (the numpy path, DESIGN decision 2);
* pod events fanned out to active informers: three of every pod and one per node (a kubelet's);
* the client token bucket.

Under ``make test`` (``--benchmark-disable``) each case runs once as a smoke test.
"""

import numpy as np
import pytest

from kbench.cluster.apiserver.watchcache import PassiveGroup, Watcher
from kbench.cluster.clients.informer import Informer
from kbench.cluster.clients.ratelimit import TokenBucket
from kbench.cluster.controlplane import ControlPlane
from kbench.cluster.etcd.records import CommitRecord
from kbench.cluster.objects.stored import GenericObj, PodObj, pod_partition
from kbench.config import scenario_from_dict
from kbench.config.clients import SyncStrategy
from kbench.simkernel import events_scheduled

REQUESTS = 2000


def _plane():
    plane = ControlPlane.build(scenario_from_dict({"name": "bench-components", "seed": 1, "duration_s": 60}))
    plane.etcd.preload_values("leases", {f"node-{i}": GenericObj(f"node-{i}", {}) for i in range(1000)}, 300)
    plane.start()
    return plane


def _drive(plane, make_request):
    env, api = plane.env, plane.api
    client = plane.client("bench", "kubelet", "system:node:bench", ("system:nodes", "system:authenticated"))
    codes = []

    def one(i):
        resp = yield from client.call(env, api, make_request(client, i))
        codes.append(resp.code)

    for i in range(REQUESTS):
        env.process(one(i))
    env.run(until=60)
    return codes


@pytest.mark.benchmark(group="components")
def test_component_lease_update_path(benchmark):
    def go():
        plane = _plane()
        plane.api.cache("leases")
        return _drive(plane, lambda c, i: c.request("update", "leases", name=f"node-{i % 1000}", size_bytes=300,
                                                    value=GenericObj(f"node-{i % 1000}", {"renew_s": i})))

    codes = benchmark.pedantic(go, rounds=3, iterations=1)
    assert codes.count(200) == REQUESTS


def _mix_plane():
    return (_plane(),), {}


def _request_mix(plane, n=REQUESTS, rate_per_s=200.0):
    env, api = plane.env, plane.api
    api.cache("leases")
    api.cache("configmaps")
    client = plane.client("bench", "kubelet", "system:node:bench", ("system:nodes", "system:authenticated"))
    client.limiter.qps = 0
    rng = np.random.default_rng(0)
    codes = []

    def one(i):
        key = f"cm-{i // 5}"
        kind = i % 5
        if kind == 0:
            req = client.request("create", "configmaps", name=key, size_bytes=2000, value=GenericObj(key, {}))
        elif kind == 1:
            req = client.request("update", "configmaps", name=key, size_bytes=2000, value=GenericObj(key, {"a": 1}),
                                 precondition=lambda cur: cur is not None)
        elif kind == 2:
            req = client.request("get", "configmaps", name=key, size_bytes=2000, want_items=True)
        elif kind == 3:
            req = client.request("update", "leases", name=f"node-{i % 1000}", size_bytes=300,
                                 value=GenericObj("x", {}))
        else:
            req = client.request("delete", "configmaps", name=key, size_bytes=2000)
        resp = yield from client.call(env, api, req)
        codes.append(resp.code)

    def source():
        for i in range(n):
            yield env.timeout(float(rng.exponential(1.0 / rate_per_s)))
            env.process(one(i))

    env.process(source())
    e0 = events_scheduled(env)
    env.run(until=n / rate_per_s + 10)
    return codes, events_scheduled(env) - e0


@pytest.mark.benchmark(group="components")
def test_component_request_mix_path(benchmark):
    codes, events = benchmark.pedantic(_request_mix, setup=_mix_plane, rounds=3, iterations=1)
    benchmark.extra_info["events_per_request"] = round(events / REQUESTS, 2)  # incl. the client's 3
    assert len(codes) == REQUESTS and codes.count(200) >= 0.9 * REQUESTS
    assert set(codes) <= {200, 409}  # an update or delete may overtake its create


@pytest.mark.benchmark(group="components")
def test_component_cached_list_path(benchmark):
    def go():
        plane = _plane()
        plane.api.cache("leases")
        return _drive(plane, lambda c, i: c.request("list", "leases", list_objects=1000, size_bytes=300_000))

    codes = benchmark.pedantic(go, rounds=3, iterations=1)
    assert codes.count(200) == REQUESTS


@pytest.mark.benchmark(group="components")
def test_component_watch_fanout_5000_passive(benchmark):
    def go():
        plane = _plane()
        cache = plane.api.cache("leases")
        group = PassiveGroup(5000, np.zeros(5000), buffer=cache.wc.buffer_max)
        group.connected[:] = True
        cache.passive.append(group)
        client = plane.client("w", "kubelet", "system:node:w", ("system:nodes", "system:authenticated"))

        def writes():
            for i in range(200):
                resp = yield from client.call(plane.env, plane.api, client.request(
                    "update", "leases", name=f"node-{i}", size_bytes=300, value=GenericObj(f"node-{i}", {})))
                assert resp.ok

        plane.env.process(writes())
        plane.env.run(until=60)
        return cache.events_dispatched

    assert benchmark.pedantic(go, rounds=3, iterations=1) == 200


@pytest.mark.benchmark(group="components")
def test_component_watch_fanout_active_informers(benchmark):
    nodes, pods = 500, 4000

    def go():
        plane = _plane()
        env = plane.env
        cache = plane.api.cache("pods", pod_partition)
        client = plane.client("w", "scheduler", "system:kube-scheduler", ("system:authenticated",))
        handled = [0]

        def h(*_a):
            handled[0] += 1

        def informer(partition):
            inf = Informer(plane.api, client, "pods", strategy=SyncStrategy(), rng=np.random.default_rng(0),
                           partition=partition, on_add=h, on_update=h, on_delete=h)
            cache.add_watcher(Watcher(partition, inf._on_event, lambda _r: None), 1e9)

        for _ in range(3):
            informer(None)
        for n in range(nodes):
            informer(f"node-{n}")
        spec = object()

        def commits():  # each pod: created, bound, running, deleted; one commit every 0.5 ms
            rev = 10**6
            for p in range(pods):
                key, node = f"default/p{p}", f"node-{p % nodes}"
                versions = [PodObj(key, p, spec), PodObj(key, p, spec, node_name=node),
                            PodObj(key, p, spec, node_name=node, phase="Running"), None]
                for op, value in zip(("create", "update", "update", "delete"), versions, strict=True):
                    rev += 1
                    cache.on_commit(CommitRecord("pods", key, op, rev, 2048, env.now, value))
                    yield env.timeout(0.0005)

        env.process(commits())
        env.run(until=60)
        return handled[0], cache.deliveries

    # 3 informers see 4 events per pod; the node's informer sees the bind, the update and the delete
    assert benchmark.pedantic(go, rounds=3, iterations=1) == (pods * (3 * 4 + 3), pods * (3 * 4 + 3))


@pytest.mark.benchmark(group="components")
def test_component_token_bucket(benchmark):
    def go():
        tb = TokenBucket(50.0, 100)
        waits = 0.0
        for i in range(100_000):
            waits += tb.reserve(i * 0.01)
        return waits

    assert benchmark(go) > 0
