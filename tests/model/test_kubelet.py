"""Kubelet fleet in a running control plane: full startup path, polling vs watching, heartbeats.

Pods are created already bound (no scheduler) by a small driver; an observer watch marks
``running_observed`` the way the lead's observer does (F1's end point).
"""

import numpy as np
import pytest

from kbench.cluster.kubelet.fleet import KubeletFleet
from kbench.cluster.objects.stored import PodObj
from kbench.cluster.world import World
from kbench.config import scenario_from_dict
from kbench.config.cluster import NodeGroup
from kbench.config.workload import PodTemplate
from kbench.metrics.pods import PHASES
from kbench.workload.podspec import nodes_from_groups, pod_from_template

IMAGE = "registry.k8s.io/pause:3.9"
PATH = ("created", "kubelet_seen", "sandbox_ready", "image_pulled", "started", "running_observed")


def run_cluster(nodes, pods, rate_per_s, until, *, sync=None, seed=3, kubelet=None):
    """``pods`` bare pods at Poisson ``rate_per_s``, round-robin over ``nodes`` (image pre-pulled)."""
    data = {"duration_s": until, "kubelet": kubelet or {}}
    if sync:
        data["sync_strategies"] = {"kubelet": sync}
    w = World(scenario_from_dict(data), seed)
    w.add_nodes(nodes_from_groups([NodeGroup(count=nodes, images={IMAGE: 300_000})]))
    w.plane.start()
    fleet = KubeletFleet(w)
    fleet.start()
    names = list(w.node_specs)
    driver = w.client("driver", "controller-manager", "system:kube-controller-manager", ("system:authenticated",))
    driver.limiter.qps = 0
    observer = w.client("observer", "default", "system:serviceaccount:kbench:observer",
                        ("system:serviceaccounts", "system:authenticated"))

    def seen(_old, new=None):
        new = new or _old
        if new.phase == "Running":
            w.timeline.mark(new.uid, "running_observed", w.env.now)

    w.informer(observer, "pods", on_add=seen, on_update=seen).start()
    rng = np.random.default_rng(seed)

    def drive():
        yield w.env.timeout(2.0)  # every kubelet has listed
        for i in range(pods):
            yield w.env.timeout(float(rng.exponential(1.0 / rate_per_s)))
            key = f"default/p-{i}"
            spec = pod_from_template(f"p-{i}", "default", PodTemplate(image=IMAGE))
            w.env.process(w.create_pod(driver, PodObj(key, w.pod_uid(key), spec, node_name=names[i % nodes])))

    w.env.process(drive())
    w.env.run(until=until)
    return w, fleet


def startup(w):
    df = w.timeline.to_frame()
    return (df.running_observed_s - df.created_s).to_numpy()


def test_every_pod_reaches_running_with_phases_in_order_that_add_up():
    w, _ = run_cluster(nodes=5, pods=60, rate_per_s=2.0, until=60)
    df = w.timeline.to_frame()
    assert len(df) == 60 and (df.state == "running").all()
    t = df[[f"{p}_s" for p in PATH]].to_numpy()
    assert not np.isnan(t).any()
    steps = np.diff(t, axis=1)
    assert (steps >= 0).all()
    assert np.allclose(steps.sum(axis=1), t[:, -1] - t[:, 0])
    assert df.node.nunique() == 5
    assert set(PATH) <= set(PHASES)
    e2e = startup(w)
    # F23 (pre-pulled image, light load; no scheduling step here): p50 about 1 s, p99 under 3 s.
    assert 0.7 < np.median(e2e) < 1.8
    assert np.percentile(e2e, 99) < 3.0
    assert w.counters["token_requests"] == 60 and w.counters["status_updates"] == 120  # Pending and Running (J10)
    pleg = df.running_observed_s - df.started_s
    assert 0.3 < pleg.mean() < 0.7  # F4: the next 1 s relist tick, uniform in [0, 1)


def test_polling_kubelets_raise_startup_by_half_the_period_and_list_at_nodes_over_ten_per_s():
    nodes, until = 40, 200
    w_watch, _ = run_cluster(nodes, pods=300, rate_per_s=2.0, until=until)
    w_poll, _ = run_cluster(nodes, pods=300, rate_per_s=2.0, until=until, sync="poll:10s")
    watch, poll = startup(w_watch), startup(w_poll)
    assert not np.isnan(watch).any() and not np.isnan(poll).any()
    assert np.median(poll) - np.median(watch) == pytest.approx(5.0, abs=1.0)
    lists = w_poll.plane.stats.total("count", verb="list", resource="pods", client="kubelet")
    assert lists / until == pytest.approx(nodes / 10, rel=0.1)
    # 1.35 (WatchListClient, KEP-3157): each watching kubelet syncs with one watch-list, no LIST
    assert w_watch.plane.stats.total("count", verb="list", resource="pods", client="kubelet") == 0
    assert w_watch.informer_stats["kubelet"].watch_lists == nodes


def test_lease_renewals_are_node_high_traffic_at_nodes_over_ten_per_s():
    nodes, until = 200, 100
    w, _ = run_cluster(nodes, pods=0, rate_per_s=1.0, until=until)
    st = w.plane.stats
    renewals = st.total("count", verb="update", resource="leases")
    assert renewals == w.counters["lease_renewals"]
    assert st.total("count", verb="update", resource="leases", level="node-high") == renewals
    assert renewals / until == pytest.approx(nodes / 10, rel=0.05)  # F6 (10 s x (1 + 4 % jitter))
    # F5: a full node status (GET + PATCH of a ~15 kB Node) every 5 min per node.
    assert 40 <= w.counters["node_status_updates"] <= 95
    assert st.total("count", verb="patch", resource="nodes/status") == w.counters["node_status_updates"]


def test_evented_pleg_removes_the_relist_wait():
    w, _ = run_cluster(nodes=5, pods=40, rate_per_s=2.0, until=40, kubelet={"pleg": "evented"})
    df = w.timeline.to_frame()
    assert (df.running_observed_s - df.started_s).median() < 0.1  # F20: ~1 ms instead of up to 1 s


def test_same_seed_same_timeline():
    a = run_cluster(nodes=3, pods=20, rate_per_s=2.0, until=30)[0].timeline.to_frame()
    b = run_cluster(nodes=3, pods=20, rate_per_s=2.0, until=30)[0].timeline.to_frame()
    assert a.equals(b)
