"""Garbage collection: cascading deletion (background, foreground, orphan) and PodGC (A3, K5-K7)."""

from __future__ import annotations

import math

import pytest

from kbench.config import scenario_from_dict
from kbench.experiment.runner import build, start


def world_with(workload: dict, *, nodes=4, until=120, **over):
    data = {"name": "gc", "seed": 4, "duration_s": until,
            "clients": {"controller-manager": {"qps": 200, "burst": 400}},
            "cluster": {"nodes": [{"count": nodes, "cpu_cores": 16}]}, "workload": workload}
    data.update(over)
    world, comps = build(scenario_from_dict(data))
    commits: list = []
    world.plane.etcd.subscribe(lambda rec: commits.append((rec.time_s, rec.resource, rec.key, rec.op, rec.value)))
    start(world, comps)
    return world, comps, commits


def deleting(propagation: str):
    return {"deployments": [{"name": "web", "replicas": 20}],
            "deletes": [{"name": "del", "kind": "deployment", "target": "web", "propagation": propagation,
                         "at_s": 30}]}


def test_background_deletion_removes_replicasets_and_pods():
    world, comps, commits = world_with(deleting("Background"), until=90)
    world.env.run(until=90)
    etcd = world.plane.etcd
    assert etcd.values("replicasets") == {} and etcd.values("pods") == {} and etcd.values("deployments") == {}
    assert comps.controllers.gc.deleted == {"replicasets": 1, "pods": 20}
    dep_gone = next(t for t, r, k, op, _ in commits if r == "deployments" and op == "delete")
    first_pod_mark = min(t for t, r, k, op, v in commits if r == "pods" and op == "update" and v.deleting)
    assert 30 < dep_gone < first_pod_mark  # the owner goes first, then the GC cascades (K7)
    last_pod = max(t for t, r, k, op, _ in commits if r == "pods" and op == "delete")
    assert last_pod < 30 + 60


def test_foreground_deletion_waits_for_dependents():
    world, comps, commits = world_with(deleting("Foreground"), until=90)
    world.env.run(until=90)
    etcd = world.plane.etcd
    assert etcd.values("pods") == {} and etcd.values("replicasets") == {} and etcd.values("deployments") == {}
    marked = next(v for t, r, k, op, v in commits if r == "deployments" and op == "update" and v.deleting)
    assert marked.finalizers == ("foregroundDeletion",)
    dep_gone = next(t for t, r, k, op, _ in commits if r == "deployments" and op == "delete")
    rs_gone = next(t for t, r, k, op, _ in commits if r == "replicasets" and op == "delete")
    pods_gone = max(t for t, r, k, op, _ in commits if r == "pods" and op == "delete")
    # the ReplicaSet is deleted in the foreground too (it has dependents): pods, then RS, then Deployment
    assert 30 < pods_gone < rs_gone < dep_gone
    rs_marked = next(v for t, r, k, op, v in commits if r == "replicasets" and op == "update" and v.deleting)
    assert rs_marked.finalizers == ("foregroundDeletion",)


def test_orphan_deletion_keeps_dependents():
    world, comps, commits = world_with(deleting("Orphan"), until=90)
    world.env.run(until=90)
    etcd = world.plane.etcd
    assert etcd.values("deployments") == {}
    (rs,) = etcd.values("replicasets").values()
    assert rs.owner is None and len(etcd.values("pods")) == 20  # the ReplicaSet keeps its pods
    assert comps.controllers.gc.orphaned == 1 and comps.controllers.gc.deleted == {}


def test_terminated_pods_never_stay_above_the_threshold_longer_than_the_period():
    workload = {"jobs": [{"name": "batch", "completions": 400, "parallelism": 50,
                          "template": {"duration_s": 2, "cpu_cores": "100m"}}]}
    world, comps, commits = world_with(workload, nodes=10, until=200,
                                       controllers={"terminated_pod_gc_threshold": 100})
    world.env.run(until=200)
    terminated: set[str] = set()
    above_since = math.nan
    longest = 0.0
    for t, r, k, op, v in commits:
        if r != "pods":
            continue
        if op == "delete":
            terminated.discard(k)
        elif v.phase in ("Succeeded", "Failed"):
            terminated.add(k)
        if len(terminated) > 100 and above_since != above_since:
            above_since = t
        elif len(terminated) <= 100 and above_since == above_since:
            longest = max(longest, t - above_since)
            above_since = math.nan
    assert comps.controllers.podgc.counts["terminated"] >= 250
    assert 0 < longest <= 20.0 + 2.0  # one PodGC period (K5) plus the deletions' latency
    status = world.plane.etcd.get("jobs", "default/batch").data
    assert status["complete"] and status["succeeded"] == 400  # PodGC does not make the Job miscount


def test_orphaned_pods_of_a_deleted_node_are_deleted_after_the_quarantine():
    world, comps, commits = world_with({"deployments": [{"name": "web", "replicas": 8}]}, until=140)
    world.env.run(until=20)
    victim = "node-0000"
    on_node = {k for k, p in world.plane.etcd.values("pods").items() if p.node_name == victim}
    assert on_node
    comps.kubelets.fail(victim)
    ctl = world.client("admin", "default", "kbench:admin", ("system:masters",))

    def delete_node():
        yield from world.write(ctl, "delete", "nodes", victim, size_bytes=15000)

    world.env.process(delete_node())
    world.env.run(until=140)
    node_gone = next(t for t, r, k, op, _ in commits if r == "nodes" and op == "delete")
    for key in on_node:
        failed = next(t for t, r, k, op, v in commits if r == "pods" and k == key and op == "update"
                      and v.phase == "Failed")
        gone = next(t for t, r, k, op, _ in commits if r == "pods" and k == key and op == "delete")
        assert node_gone + 40 <= failed < gone <= node_gone + 40 + 20 + 2  # quarantine + one period (K5)
    assert comps.controllers.podgc.counts["orphaned"] == len(on_node)
    assert len(world.plane.etcd.values("pods")) == 8  # replaced by the ReplicaSet


@pytest.mark.parametrize("propagation", ["Background"])
def test_deleting_a_job_deletes_its_pods_through_the_gc(propagation):
    workload = {"jobs": [{"name": "j", "completions": 10, "parallelism": 10,
                          "template": {"duration_s": 100}}],
                "deletes": [{"name": "del", "kind": "job", "target": "j", "propagation": propagation, "at_s": 20}]}
    world, comps, commits = world_with(workload, until=60)
    world.env.run(until=60)
    assert world.plane.etcd.values("pods") == {} and world.plane.etcd.values("jobs") == {}
    assert comps.controllers.gc.deleted == {"pods": 10}
