"""kube-proxy fleet: min-sync-period (H1), network programming latency (H5), bulk fan-out."""

import numpy as np
import pytest

from kbench.cluster.objects.stored import GenericObj
from kbench.cluster.proxy.kubeproxy import KubeProxyFleet
from kbench.cluster.world import World
from kbench.config import scenario_from_dict
from kbench.config.cluster import NodeGroup
from kbench.workload.podspec import nodes_from_groups


def run_proxies(nodes, *, changes, gap_s, until, kubeproxy=None, sync=None, count_events=False, seed=5):
    """``changes`` updates of one EndpointSlice, ``gap_s`` apart from t = 2 s, each triggered at its send."""
    data = {"duration_s": until, "kubeproxy": {"sync_s": 0, **(kubeproxy or {})}}
    if sync:
        data["sync_strategies"] = {"kube-proxy": sync}
    w = World(scenario_from_dict(data), seed)
    w.add_nodes(nodes_from_groups([NodeGroup(count=nodes)]))
    events = [0]
    if count_events:
        schedule = w.env.schedule

        def counting(event, priority=1, delay=0):
            events[0] += 1
            schedule(event, priority, delay)
        w.env.schedule = counting
    w.plane.start()
    fleet = KubeProxyFleet(w)
    fleet.start()
    writer = w.client("eps", "controller-manager", "system:kube-controller-manager", ("system:authenticated",))
    writer.limiter.qps = 0

    def write():
        yield w.env.timeout(2.0)
        for i in range(changes):
            value = GenericObj("default/svc-0", {"service": "default/svc", "endpoints": tuple(f"10.0.0.{j}" for j in range(i % 5 + 1)),
                                                 "trigger_s": w.env.now})
            w.env.process(w.write(writer, "update", "endpointslices", "default/svc-0", value, size_bytes=1000))
            yield w.env.timeout(gap_s)

    w.env.process(write())
    w.env.run(until=until)
    return w, fleet, events[0]


def test_without_min_sync_period_every_change_is_programmed_in_milliseconds():
    w, f, _ = run_proxies(20, changes=100, gap_s=0.25, until=30, kubeproxy={"min_sync_period_s": 0})
    lat = f.programming_latency
    assert lat.count == 20 * 100
    assert lat.quantile(0.5) < 0.03  # commit + etcd-to-cache lag + fan-out
    assert lat.quantile(0.99) < 0.15
    assert f.syncs == 20 * (100 + 1)  # one per change, plus each proxy's initial sync


def test_min_sync_period_batches_changes_and_delays_programming():
    # H1 with burst 1: changes every 0.25 s, at most one sync per second per proxy.
    w, f, _ = run_proxies(20, changes=200, gap_s=0.25, until=60, kubeproxy={"sync_burst": 1})
    lat = f.programming_latency
    assert lat.count == 20 * 200
    per_proxy = (f.syncs - 20) / 20
    assert per_proxy == pytest.approx(50, abs=3)  # 50 s of changes / 1 s
    assert 0.3 < lat.mean < 0.7  # waiting for the next allowed sync, about uniform in [0, 1)
    assert 0.9 < lat.quantile(0.99) < 1.05
    assert w.counters["proxy_syncs"] == f.syncs


def test_isolated_changes_use_the_burst_and_are_programmed_at_once():
    w, f, _ = run_proxies(10, changes=10, gap_s=5.0, until=60, kubeproxy={"sync_s": 0.05})
    assert f.programming_latency.count == 100
    assert 0.05 <= f.programming_latency.quantile(0.5) < 0.1  # sync cost + delivery, no wait


def test_one_event_per_change_however_many_proxies():
    # 100 and 400 proxies: the same SimPy events per change (a write with that many watchers also
    # holds APF final seats, A14, so compare populations that both do).
    counts = {}
    for n in (100, 400):
        _, _, base = run_proxies(n, changes=0, gap_s=0.5, until=30, count_events=True)
        w, f, with_changes = run_proxies(n, changes=50, gap_s=0.5, until=30, count_events=True)
        assert f.programming_latency.count == n * 50
        assert f.group.connected.all()
        counts[n] = (with_changes - base) / 50
    assert counts[400] == counts[100]
    assert counts[100] < 20


def test_polling_proxies_program_changes_at_their_next_list():
    w, f, _ = run_proxies(20, changes=20, gap_s=1.0, until=60, sync="poll:10s")
    lat = f.programming_latency
    assert f.group is None
    assert lat.count > 0
    assert 3.0 < lat.mean < 7.0  # about half the period
    lists = w.plane.stats.total("count", verb="list", resource="endpointslices", client="kube-proxy")
    assert lists / 60 == pytest.approx(20 / 10, rel=0.2)
    assert np.isfinite(lat.max)
