"""DaemonSets, StatefulSets and namespaces' own writes in a running cluster (K1, K4, K8, K9)."""

from __future__ import annotations

import numpy as np

from kbench.config import scenario_from_dict
from kbench.experiment.runner import build, run, start


def cluster(workload: dict, *, until=90, nodes=None, **over):
    data = {"name": "ds", "seed": 6, "duration_s": until,
            "clients": {"controller-manager": {"qps": 200, "burst": 400}},
            "cluster": {"nodes": nodes or [
                {"count": 6, "cpu_cores": 8, "name_prefix": "plain"},
                {"count": 2, "cpu_cores": 8, "name_prefix": "gpu", "labels": {"pool": "gpu"},
                 "taints": ["gpu=true:NoSchedule"]},
                {"count": 2, "cpu_cores": 8, "name_prefix": "infra", "taints": ["infra=true:NoExecute"]}]},
            "workload": workload}
    data.update(over)
    return data


def test_one_pod_per_eligible_node():
    ds = {"name": "agent", "template": {"cpu_cores": "50m", "tolerations": ["gpu:NoSchedule"]}}
    r = run(scenario_from_dict(cluster({"daemonsets": [ds]}, until=40)))
    pods = r.world.plane.etcd.values("pods").values()
    nodes = sorted(p.node_name for p in pods)
    # the 6 plain nodes and the 2 gpu nodes (tolerated); not the infra nodes (NoExecute, untolerated)
    assert nodes == sorted([f"plain-{i:04d}" for i in range(6)] + ["gpu-0000", "gpu-0001"])
    assert all(p.phase == "Running" for p in pods)
    (obj,) = r.world.plane.etcd.values("daemonsets").values()
    desired, current, ready, available, updated, misscheduled, _gen = obj.data["status"]
    assert (desired, current, ready, available, updated, misscheduled) == (8, 8, 8, 8, 8, 0)
    assert r.summary["events"]["by_reason"]["SuccessfulCreate"] == 8


def test_node_selector_limits_the_nodes():
    ds = {"name": "gpu-agent", "template": {"node_selector": {"pool": "gpu"}, "tolerations": ["gpu:NoSchedule"]}}
    r = run(scenario_from_dict(cluster({"daemonsets": [ds]}, until=30)))
    assert sorted(p.node_name for p in r.world.plane.etcd.values("pods").values()) == ["gpu-0000", "gpu-0001"]


def test_rolling_update_keeps_at_most_one_node_unavailable():
    data = cluster({"daemonsets": [{"name": "agent", "template": {"image": "registry.k8s.io/pause:3.9"}}],
                    "updates": [{"name": "roll", "kind": "daemonset", "target": "agent", "at_s": 30,
                                 "template": {"image": "registry.k8s.io/pause:3.10"}}]}, until=150,
                   nodes=[{"count": 10, "cpu_cores": 8,
                           "images": {"registry.k8s.io/pause:3.9": "300Ki", "registry.k8s.io/pause:3.10": "300Ki"}}])
    world, comps = build(scenario_from_dict(data))
    ready_by_node: dict[str, bool] = {}
    worst = []

    def on_commit(rec):
        if rec.resource != "pods":
            return
        v = rec.value
        if rec.op == "delete":
            return
        node = v.spec.required_affinity[0].match_fields[0].values[0]
        ready_by_node[node] = v.ready and not v.deleting
        if rec.time_s > 30:
            worst.append(sum(1 for n in world.node_specs if not ready_by_node.get(n, False)))

    world.plane.etcd.subscribe(on_commit)
    start(world, comps)
    world.env.run(until=150)
    assert worst and max(worst) <= 1  # maxUnavailable 1 (K1)
    pods = world.plane.etcd.values("pods").values()
    assert len(pods) == 10 and {p.spec.containers[0].image for p in pods} == {"registry.k8s.io/pause:3.10"}
    assert world.plane.etcd.object_count("controllerrevisions") == 2  # one per template


def test_statefulset_ordered_ready_creates_one_pod_at_a_time():
    data = cluster({"statefulsets": [{"name": "db", "replicas": 4}]}, until=60,
                   nodes=[{"count": 4, "cpu_cores": 8}])
    world, comps = build(scenario_from_dict(data))
    created, ready = {}, {}

    def on_commit(rec):
        if rec.resource == "pods" and rec.op != "delete":
            created.setdefault(rec.key, rec.time_s)
            if rec.value.ready:
                ready.setdefault(rec.key, rec.time_s)

    world.plane.etcd.subscribe(on_commit)
    start(world, comps)
    world.env.run(until=60)
    keys = [f"default/db-{i}" for i in range(4)]
    assert sorted(created) == keys
    for prev, nxt in zip(keys, keys[1:], strict=False):
        assert created[nxt] > ready[prev]  # pod i only once pod i-1 is Running and Ready


def test_statefulset_parallel_creates_at_once():
    data = cluster({"statefulsets": [{"name": "db", "replicas": 4, "pod_management": "Parallel"}]}, until=30,
                   nodes=[{"count": 4, "cpu_cores": 8}])
    r = run(scenario_from_dict(data))
    t = np.sort(r.frames["pods"]["created_s"].to_numpy())
    assert len(t) == 4 and t[-1] - t[0] < 0.5  # slow-start batches 1, 2, 1: within milliseconds


def test_creating_a_namespace_writes_its_service_account_and_root_ca():
    data = cluster({"namespaces": [{"name": "team", "count": 3}]}, until=20, nodes=[{"count": 1}])
    r = run(scenario_from_dict(data))
    etcd = r.world.plane.etcd
    names = ["team-1", "team-2", "team-3"]
    assert all(etcd.has("serviceaccounts", f"{n}/default") for n in names)
    assert all(etcd.has("configmaps", f"{n}/kube-root-ca.crt") for n in names)
    comp = r.summary["writes_by_component"]
    assert comp["serviceaccount-controller"] == {"serviceaccounts.create": 3}  # K9: 3 creates a namespace
    assert comp["root-ca-cert-publisher"] == {"configmaps.create": 3}
