"""kube-apiserver: Little's law, APF isolation under a flood, 429s."""

import numpy as np
import pytest

from kbench.cluster.controlplane import ControlPlane
from kbench.config import scenario_from_dict


def _plane(version: str = "1.35", **apiserver):
    return ControlPlane.build(scenario_from_dict({"name": "t", "seed": 2, "apiserver": apiserver,
                                                  "kubernetes_version": version}))


def _lease_renewals(plane, nodes: int, latencies: list):
    env, api = plane.env, plane.api
    rng = np.random.default_rng(9)

    def kubelet(i):
        c = plane.client(f"node-{i}", "kubelet", f"system:node:node-{i}", ("system:nodes",))
        yield env.timeout(10 * rng.random())
        while True:
            t0 = env.now
            resp = yield from c.call(env, api, c.request("update", "leases", name=f"node-{i}", size_bytes=300))
            if resp.ok:
                latencies.append(env.now - t0)
            yield env.timeout(10.0)  # F6: renew every 10 s

    for i in range(nodes):
        env.process(kubelet(i))


def test_littles_law_on_the_apiserver():
    plane = _plane()
    plane.etcd.preload("configmaps", [f"c{i}" for i in range(2000)], 1024)
    plane.start()
    env, api = plane.env, plane.api
    rng = np.random.default_rng(1)
    lat = []
    _lease_renewals(plane, 500, lat)

    def reader(i):
        c = plane.client(f"r{i}", "default", f"system:serviceaccount:x:r{i}", ("system:serviceaccounts",))
        while env.now < 250:
            yield env.timeout(rng.exponential(1.0))
            yield from c.call(env, api, c.request("list", "configmaps"))

    for i in range(20):
        env.process(reader(i))
    env.run(until=300)  # readers stop at 250 s; leases keep going but each finishes in ms
    horizon = env.now
    mean_inflight = api.inflight_mean(horizon)
    throughput = api.completed / horizon
    mean_latency = api.sojourn_sum_s / api.completed
    # L = lambda W: requests still inside at the horizon are few and short, hence the 2 % band
    assert mean_inflight == pytest.approx(throughput * mean_latency, rel=0.02)


def test_a_flood_gets_429s_while_node_leases_stay_fast():
    plane = _plane("1.30")  # before ConsistentListFromCache: a LIST with resourceVersion "" reads etcd
    plane.etcd.preload("configmaps", [f"c{i}" for i in range(20000)], 1024)
    plane.start()
    env, api = plane.env, plane.api
    lat: list[float] = []
    _lease_renewals(plane, 1000, lat)
    flood = plane.client("flood", "default", "system:serviceaccount:x:flood", ("system:serviceaccounts",))
    flood.limiter.qps = 0  # a misbehaving client with no client-side limit

    def one():
        yield from flood.call(env, api, flood.request("list", "configmaps", rv=""))

    def flooder():
        while True:
            yield env.timeout(0.002)  # 500 LIST/s of 20,000 objects from etcd
            env.process(one())

    env.process(flooder())
    env.run(until=60)
    rejected = plane.stats.total("rejected_429", client="default")
    assert rejected > 1000
    assert plane.fc.counters()["workload-low"]["dispatched"] > 0
    assert len(lat) > 4000
    assert np.quantile(lat, 0.99) < 1.0


def test_requests_over_the_request_timeout_fail_with_504():
    plane = _plane(request_timeout_s=0.01, list_cache_cpu_s_per_object=1e-5)
    plane.etcd.preload("configmaps", [f"c{i}" for i in range(5000)], 100)
    plane.start()
    env, api = plane.env, plane.api
    c = plane.client("r", "default", "system:serviceaccount:x:r", ("system:serviceaccounts",))
    out = []

    def one(name):
        resp = yield from c.call(env, api, c.request("get" if name else "list", "configmaps", name=name))
        out.append(resp.code)

    env.process(one("c1"))  # a GET: 0.3 ms base + 0.01 ms: fine
    env.process(one(""))  # a LIST of 5000 stored: 50 ms of CPU, over the 10 ms timeout
    env.run(until=1)
    assert sorted(out) == [200, 504]


def _writes(plane, via_submit: bool, n: int = 3000):
    """``n`` writes at seeded random instants over 0.1 s (enough to queue in APF and conflict), each
    sent through a process (``call``) or without one (``submit``); returns (code, done_s) per write."""
    env, api = plane.env, plane.api
    rng = np.random.default_rng(4)
    plane.etcd.preload("configmaps", [f"c{i}" for i in range(50)], 1024)
    out: list = [None] * n
    for i in range(n):
        c = plane.client(f"w{i % 40}", "default", f"system:serviceaccount:x:w{i % 40}", ("system:serviceaccounts",))
        pre = (lambda cur: False) if i % 17 == 0 else None  # a failed compare: 409
        req = c.request("update", "configmaps", name=f"c{i % 50}", size_bytes=int(rng.integers(500, 5000)),
                        value=i, precondition=pre)

        def done(resp, i=i):
            out[i] = (resp.code, env.now)

        if via_submit:
            env.timeout(0.1 * rng.random()).callbacks.append(lambda _e, req=req, done=done: api.submit(req, done))
        else:
            def proc(c=c, req=req, done=done):
                done((yield from c.call(env, api, req)))

            env.timeout(0.1 * rng.random()).callbacks.append(lambda _e, proc=proc: env.process(proc()))
    plane.start()
    env.run(until=60)
    return out


def test_submit_serves_writes_exactly_as_request_does():
    """``Apiserver.submit`` (no process; kubelet lease renewals) and ``request`` give the same codes,
    completion times, latency histograms and CPU for the same writes under APF queueing."""
    flows = {"flowcontrol": {"enabled": True, "max_requests_inflight": 20, "max_mutating_requests_inflight": 10}}
    a, b = _plane(**flows), _plane(**flows)
    got_a, got_b = _writes(a, False), _writes(b, True)
    assert got_a == got_b
    codes = {code for code, _ in got_a}
    assert {200, 409} <= codes  # both paths exercised
    assert b.fc.counters()["workload-low"]["queued"] > 0  # and APF queueing
    assert a.api.cpu_s == b.api.cpu_s and a.etcd.revision == b.etcd.revision
    assert a.stats.to_frame().equals(b.stats.to_frame())


def test_submit_refuses_reads():
    plane = _plane()
    c = plane.client("r", "default", "u", ())
    with pytest.raises(ValueError, match="writes only"):
        plane.api.submit(c.request("get", "configmaps", name="x"), lambda r: None)


@pytest.mark.parametrize(("client_class", "objects", "gzip", "gates", "compressed"), [
    ("default", 1000, {}, {}, True),  # client-go's default: Accept-Encoding gzip (I29)
    ("default", 1000, {"enabled": False}, {}, False),
    ("default", 1000, {}, {"APIResponseCompression": False}, False),
    ("scheduler", 1000, {}, {}, False),  # kube-scheduler sets DisableCompression (I29)
    ("controller-manager", 1000, {}, {}, False),  # so does kube-controller-manager
    ("default", 120, {}, {}, False),  # 120 KB: under the 128 KiB threshold (I3)
])
def test_gzip_compresses_large_responses_at_a_cpu_cost(client_class, objects, gzip, gates, compressed):
    """I3, I24, I29: a LIST response over 128 KiB to a client that accepts gzip is sent as
    size/ratio bytes, for size x cpu_s_per_byte more CPU; the egress ledger and the request stats
    agree; clients that disable compression, small responses and the gate turned off get it whole."""
    plane = ControlPlane.build(scenario_from_dict({"name": "t", "seed": 2, "apiserver": {"gzip": gzip},
                                                   "kubernetes_version": "1.35", "feature_gates": gates}))
    plane.etcd.preload("configmaps", [f"c{i}" for i in range(objects)], 1000)
    plane.start()
    env, api = plane.env, plane.api
    c = plane.client("r", client_class, "system:serviceaccount:x:r", ("system:serviceaccounts",))

    def one():
        resp = yield from c.call(env, api, c.request("list", "configmaps"))
        assert resp.ok

    env.process(one())
    env.run(until=1)
    size = objects * 1000.0
    cfg = api.cfg
    sent = api.traffic.by_kind["response"]
    assert sent == (size / cfg.gzip.ratio if compressed else size)
    assert sent == plane.stats.total("bytes", verb="list")
    cpu = cfg.request_base_cpu_s + objects * cfg.list_cache_cpu_s_per_object + size * cfg.encode_cpu_s_per_byte
    assert api.cpu_s == pytest.approx(cpu + (size * cfg.gzip.cpu_s_per_byte if compressed else 0.0))


@pytest.mark.parametrize(("client_class", "compressed"), [("default", True), ("controller-manager", False)])
def test_a_charged_read_is_compressed_like_a_served_one(client_class, compressed):
    """A charged LIST (charged.py: booked without events) of 1 MB follows Serve's gzip rule: sent as
    size/ratio bytes for size x cpu_s_per_byte more CPU when its client accepts gzip (I29-I31)."""
    from kbench.cluster.apiserver.charged import charge_get

    plane = _plane()
    plane.start()
    api = plane.api
    c = plane.client("r", client_class, "system:serviceaccount:x:r", ("system:serviceaccounts",))
    cfg = api.cfg
    cpu0 = api.cpu_s
    charge_get(api, c.request("list", "configmaps", size_bytes=1_000_000), objects=1000, from_etcd=False)
    size = 1e6 / cfg.gzip.ratio if compressed else 1e6
    assert api.traffic.by_kind["response"] == size
    assert plane.stats.total("bytes", verb="list") == size
    cpu = cfg.request_base_cpu_s + 1000 * cfg.list_cache_cpu_s_per_object + 1e6 * cfg.encode_cpu_s_per_byte
    assert api.cpu_s - cpu0 == pytest.approx(cpu + (1e6 * cfg.gzip.cpu_s_per_byte if compressed else 0.0))
