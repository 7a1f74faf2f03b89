"""The writes of a Deployment pod's life, per resource and verb, against upstream (issue 18, A1).

The scenario of the write table (docs/WRITE_MIX.md): 5 nodes, one Deployment of 20 replicas (at
most 25: below the ReplicaSet's 25-Event spam budget), image present, no readiness probe, all
Running after a few seconds, the Deployment deleted (Background) at 30 s, run to 90 s (Events
live an hour: none expire). Each expected count says where upstream issues it.
"""

from __future__ import annotations

import pytest

from kbench.config import scenario_from_dict
from kbench.experiment.runner import run

N = 20


def scenario(replicas: int = N, template: dict | None = None, **over) -> dict:
    data = {
        "name": "write-mix", "seed": 3, "duration_s": 90,
        "cluster": {"nodes": [{"count": 5, "cpu_cores": 8, "memory_bytes": "32Gi",
                               "images": {"registry.k8s.io/pause:3.9": "300Ki"}}]},
        "workload": {"deployments": [{"name": "web", "replicas": replicas, "delete_at_s": 30,
                                      "template": template or {}}]},
    }
    data.update(over)
    return data


@pytest.fixture(scope="module")
def base():
    return run(scenario_from_dict(scenario()))


def test_writes_per_pod_of_a_deployment_pod_match_upstream(base):
    s = base.summary
    assert s["pods"]["created"] == N and s["pods"]["deleted"] == N
    wpp = s["writes_per_pod"]
    # replicaset controller manageReplicas -> CreatePods (K3)
    assert wpp["pods"]["create"] == 1.0
    # the scheduler's DefaultBinder: POST pods/binding (M3)
    assert wpp["pods/binding"] == {"create": 1.0}
    # projected token volume: one TokenRequest per pod start (J12, J13)
    assert wpp["serviceaccounts/token"] == {"create": 1.0}
    # the kubelet status manager: Pending, Running+Ready, terminal (J10)
    assert wpp["pods/status"] == {"patch": 3.0}
    # one graceful DELETE by the garbage collector (K7), one final DELETE by the kubelet (J10)
    assert wpp["pods"]["delete"] == 2.0
    comp = s["writes_by_component"]
    assert comp["garbage-collector"]["pods.delete"] == N
    assert comp["kubelet"]["pods.delete"] == N
    # Events: Scheduled (schedule_one.go), Pulled/Created/Started/Killing (J8), SuccessfulCreate
    # x 20 on one ReplicaSet: 9 creates, the 10th distinct message makes one aggregate Event,
    # then 10 PATCHes of it (J2-J4); ScalingReplicaSet once (sync.go)
    assert comp["scheduler"] == {"pods/binding.create": N, "events.create": N}
    assert comp["kubelet"]["events.create"] == 4 * N
    assert comp["replicaset-controller"]["events.create"] == 10
    assert comp["replicaset-controller"]["events.patch"] == 10
    assert comp["deployment-controller"]["events.create"] == 1
    assert wpp["events"] == {"create": pytest.approx((N + 4 * N + 10 + 1) / N), "patch": 0.5}
    # per Deployment: one ReplicaSet created by the Deployment controller, deleted by the GC
    assert comp["deployment-controller"]["replicasets.create"] == 1
    assert comp["garbage-collector"]["replicasets.delete"] == 1
    assert s["gc"]["deleted"] == {"pods": N, "replicasets": 1}
    # status writes only when changed: a few per owner, bounded by the pod transitions
    assert 2 <= comp["deployment-controller"]["deployments/status.update"] <= 2 * N + 2
    assert 2 <= comp["replicaset-controller"]["replicasets/status.update"] <= 2 * N + 2


def test_token_requests_store_nothing_and_reads_are_counted(base):
    w = base.world
    assert w.plane.etcd.values("serviceaccounts/token") == {}
    assert w.plane.etcd.object_count("serviceaccounts") == 1  # only default/default
    st = w.plane.stats
    # the status manager's GET before each sync: 2 at start, 1 forced by the deletion, 1 terminal (J9)
    assert st.total("count", verb="get", resource="pods", client="kubelet") == 4 * N
    # the GC's live GETs: each pod, the ReplicaSet and its owner Deployment, then the ReplicaSet as
    # an owner once (the absent-owner cache answers for the other pods)
    assert st.total("count", verb="get", resource="pods", client="controller-manager") == N
    assert st.total("count", verb="get", resource="replicasets", client="controller-manager") == 2
    assert st.total("count", verb="get", resource="deployments", client="controller-manager") == 1


def test_etcd_writes_per_pod(base):
    """etcd: 7 pod writes (create, binding, 3 statuses, deletion mark, removal) and 6 Events."""
    w = base.world
    s = base.summary
    events = s["events"]["written"]
    assert events == N + 4 * N + 20 + 1
    assert w.plane.etcd.object_count("events") == events - 10  # the 10 PATCHes rewrote one Event


@pytest.mark.parametrize("variant", ["probe", "pull", "spam", "scale-down"])
def test_write_table_variants(variant):
    if variant == "probe":  # a readiness probe adds a PATCH when it first passes (J10)
        s = run(scenario_from_dict(scenario(template={"readiness_probe": {"initial_delay_s": 2, "period_s": 1}}))).summary
        assert s["writes_per_pod"]["pods/status"] == {"patch": 4.0}
    elif variant == "pull":  # an image to pull: Pulling then Pulled (J8) for pods that wait for the pull
        s = run(scenario_from_dict(scenario(template={"image": "nginx:1.25", "image_bytes": "10Mi"}))).summary
        pulling = s["events"]["by_reason"]["Pulling"]
        assert 5 <= pulling <= N  # at least the first pod of each of the 5 nodes
        assert s["writes_by_component"]["kubelet"]["events.create"] == 4 * N + pulling
    elif variant == "spam":  # 100 SuccessfulCreate on one ReplicaSet: 25 writes, 75 dropped (J4)
        s = run(scenario_from_dict(scenario(replicas=100))).summary
        c = s["writes_by_component"]["replicaset-controller"]
        assert c["events.create"] == 10 and c["events.patch"] == 15
        assert s["events"]["dropped"]["spam"] == 75
    else:  # scaled down to 5 by the ReplicaSet controller: its DELETEs and SuccessfulDelete Events
        data = scenario()
        data["workload"]["deployments"][0]["delete_at_s"] = 0
        data["workload"]["updates"] = [{"name": "down", "target": "web", "replicas": 5, "at_s": 20}]
        s = run(scenario_from_dict(data)).summary
        c = s["writes_by_component"]["replicaset-controller"]
        assert c["pods.delete"] == N - 5
        assert s["events"]["by_reason"]["SuccessfulDelete"] == N - 5


def test_status_manager_serializes_per_node():
    """30 pods landing on one node at once: one status request in flight at a time, the Pending and
    Running PATCHes of pods queued together coalescing (J9)."""
    data = scenario(replicas=30)
    data["cluster"]["nodes"][0]["count"] = 1
    data["workload"]["deployments"][0]["delete_at_s"] = 0
    data["duration_s"] = 40
    from kbench.cluster.kubelet import status

    inflight, peak = [0], [0]
    orig = status.StatusManager._sm_sync

    def tracked(self, p, attempt):
        inflight[0] += 1
        peak[0] = max(peak[0], inflight[0])
        orig(self, p, attempt)

    nxt = status.StatusManager._sm_next

    def tracked_next(self):
        if self.sm_busy:
            inflight[0] -= 1
        nxt(self)

    status.StatusManager._sm_sync, status.StatusManager._sm_next = tracked, tracked_next
    try:
        s = run(scenario_from_dict(data)).summary
    finally:
        status.StatusManager._sm_sync, status.StatusManager._sm_next = orig, nxt
    assert peak[0] == 1
    assert s["pods"]["running"] == 30
    assert s["writes_per_pod"]["pods/status"]["patch"] <= 2.0  # Pending and Running at most


def test_a_readiness_probe_delays_ready_and_the_endpoints():
    """initialDelaySeconds 5, period 2: a pod is Ready (its PATCH 3 commits) no sooner than 5 s after
    its container started and within one period plus the status write of that (worker.go)."""
    from kbench.experiment.runner import build, start

    data = scenario(template={"readiness_probe": {"initial_delay_s": 5, "period_s": 2}})
    data["workload"]["deployments"][0]["delete_at_s"] = 0
    data["workload"]["deployments"][0]["service"] = True
    data["duration_s"] = 40
    world, comps = build(scenario_from_dict(data))
    ready_at = {}
    world.plane.etcd.subscribe(lambda rec: rec.resource == "pods" and rec.value is not None and rec.value.ready
                               and ready_at.setdefault(rec.value.uid, rec.time_s))
    start(world, comps)
    world.env.run(until=40)
    started = world.timeline.t["started"]
    assert len(ready_at) == N
    for uid, t in ready_at.items():
        assert started[uid] + 5.0 <= t <= started[uid] + 5.0 + 2.0 + 0.5
    eps = [e for v in world.plane.etcd.values("endpointslices").values() for e in v.data["endpoints"]]
    assert len(eps) == N
    assert world.api.writes.total(verb="patch", resource="pods/status") == 3 * N  # Pending, Running, Ready
