"""Component benchmarks (group ``components``): one piece of the control plane in isolation.

* a lease update through the whole request path (token bucket, APF, handler CPU, etcd, watch cache);
* a cached LIST;
* one watch event fanned out to 5,000 passive watchers (the numpy path, DESIGN decision 2);
* the client token bucket.

Under ``make test`` (``--benchmark-disable``) each case runs once as a smoke test.
"""

import numpy as np
import pytest

from kbench.cluster.clients import TokenBucket
from kbench.cluster.cluster import ControlPlane
from kbench.cluster.state import GenericObj
from kbench.cluster.watch import PassiveGroup
from kbench.config import scenario_from_dict

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
def test_component_token_bucket(benchmark):
    def go():
        tb = TokenBucket(50.0, 100)
        waits = 0.0
        for i in range(100_000):
            waits += tb.reserve(i * 0.01)
        return waits

    assert benchmark(go) > 0
