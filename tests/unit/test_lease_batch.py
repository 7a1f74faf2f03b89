"""Batched lease renewals (``kubelet.lease_batch_tick_s``): the same requests, fewer events."""

import math

from kbench.cluster.apiserver.watchcache import Watcher
from kbench.cluster.objects.stored import LEASE_BYTES, GenericObj
from kbench.cluster.world import World
from kbench.config import scenario_from_dict
from kbench.config.cluster import NodeGroup
from kbench.simkernel import events_scheduled
from kbench.workload.podspec import nodes_from_groups
from tests.unit.test_kubelet import Harness


def _leases(tick, nodes=300, until=31.0, restart_at=None):
    h = Harness(nodes=nodes, kubelet={"lease_batch_tick_s": tick})
    seen = []  # (revision, delivery time) of every lease event the watcher gets
    cache = h.w.api.cache("leases")
    cache.add_watcher(Watcher(None, lambda rec: seen.append((rec.revision, h.w.env.now)), lambda _r: None), 1e9)
    if restart_at is not None:
        h.w.env.timeout(restart_at).callbacks.append(lambda _e: h.w.api.restart(3.0))
    h.run(until)
    return h, seen


def _probe(w):
    """A lease update as a kubelet sends it, classified and estimated by APF."""
    req = w.client("probe", "kubelet", "system:node:x", ("system:nodes", "system:authenticated")).request(
        "update", "leases", name="x", size_bytes=LEASE_BYTES)
    w.api.fc.estimate(req)
    return req


def _lease_level(h):
    return h.w.api.stats.total("count", verb="update", resource="leases")


def test_batches_count_every_request_and_use_fewer_events():
    h, seen = _leases(0.1)
    w = h.w
    renewals = w.counters["lease_renewals"]
    assert 300 * 31 / 10.5 - 300 <= renewals <= 300 * 31 / 10.0 + 300
    assert _lease_level(h) == renewals  # stats count each lease, not each batch
    level = _probe(w).level
    c = w.api.fc.counters()[level]  # APF counts each lease of a batch (node status PATCHes share the level)
    assert c["arrived"] == c["dispatched"] == c["completed"] == w.api.stats.total("count", level=level)
    assert c["completed"] >= renewals
    st = w.plane.etcd.stats
    assert st.entries_committed == st.writes == renewals + w.counters["node_status_updates"]  # a revision each
    assert st.batches < renewals / 2  # ... proposed together (about 3 leases per 0.1 s tick)
    for name in h.nodes:  # renewals leave on the tick grid
        t = w.plane.etcd.get("leases", name).data["renew_s"]
        assert t == 0.0 or abs(t / 0.1 - round(t / 0.1)) < 1e-6
    assert len(seen) == renewals and [r for r, _ in seen] == sorted(r for r, _ in seen)
    assert w.api.cache("leases").store == w.plane.etcd.values("leases")
    events_batched = events_scheduled(w.env)
    h0, seen0 = _leases(0.0)
    assert abs(h0.w.counters["lease_renewals"] - renewals) <= 0.05 * renewals
    assert len(seen0) == h0.w.counters["lease_renewals"]
    assert events_batched < 0.7 * events_scheduled(h0.w.env)  # a request is ~5 events, a batch of ~3 about as many


def test_tick_zero_renews_each_lease_at_its_own_time():
    h, _ = _leases(0.0, nodes=20)
    times = [h.w.plane.etcd.get("leases", n).data["renew_s"] for n in h.nodes]
    assert sum(abs(t / 0.1 - round(t / 0.1)) > 1e-6 for t in times) >= 15
    assert h.w.plane.etcd.stats.batches > 0.5 * h.w.counters["lease_renewals"]


def test_apiserver_down_fails_the_batch_and_it_retries():
    h, _ = _leases(0.1, nodes=40, until=40.0, restart_at=15.0)
    w = h.w
    fails = w.counters["lease_failures"]
    assert fails >= 1
    assert w.api.stats.total("errors", verb="update", resource="leases") == fails
    assert _lease_level(h) == w.counters["lease_renewals"]
    for name in h.nodes:  # every node renewed again after the 3 s outage
        assert w.plane.etcd.get("leases", name).data["renew_s"] > 18.0


def test_batches_are_split_at_the_levels_concurrency_limit():
    w = World(scenario_from_dict({"apiserver": {"flowcontrol": {
        "max_requests_inflight": 20, "max_mutating_requests_inflight": 20}}}), 1)
    w.add_nodes(nodes_from_groups([NodeGroup(count=50, cpu_cores=4)]))
    w.plane.start()
    writes = [(name, GenericObj(name, {"renew_s": 1.0})) for name in w.node_specs]
    c = w.client("kubelet/node-0", "kubelet", "system:node:node-0", ("system:nodes", "system:authenticated"))
    batches = []
    rev0 = w.plane.etcd.revision
    w.send_many(c, writes, "update", "leases", lambda keys, resp: batches.append((len(keys), resp.code)),
                size_bytes=LEASE_BYTES)
    head = _probe(w)
    cl = w.api.fc.current_cl(head.level)  # the limit now (borrowing moved it from the nominal)
    one = max(head.seats, head.final_seats, 1)
    w.env.run(until=5)
    assert 0 < cl // one < 50  # the case needs a split
    assert sum(n for n, _ in batches) == 50 and all(code == 200 for _, code in batches)
    assert max(n for n, _ in batches) == cl // one and len(batches) == math.ceil(50 / (cl // one))
    assert w.plane.etcd.revision == rev0 + 50
    assert all(v.data["renew_s"] == 1.0 for v in w.plane.etcd.values("leases").values())
    assert w.api.stats.total("count", verb="update", resource="leases") == 50


def test_the_scalar_and_the_array_due_ticks_agree(monkeypatch):
    """``_renewed_all`` computes the next due ticks with a scalar loop for small batches and numpy
    for large ones (numpy's fixed cost): both give the same renewal times, revisions and deliveries."""
    import kbench.cluster.kubelet.heartbeats as hb

    runs = []
    for threshold in (0, 10**9):  # every batch on arrays, every batch scalar
        monkeypatch.setattr(hb, "_ARRAY_BATCH", threshold)
        h, seen = _leases(0.1, nodes=400, until=25.0)
        runs.append((seen, {n: h.w.plane.etcd.get("leases", n).data["renew_s"] for n in h.nodes},
                     h.w.counters["lease_renewals"]))
    assert runs[0] == runs[1] and runs[0][2] > 400
