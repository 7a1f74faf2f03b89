"""kube-scheduler's Service, ReplicaSet and StatefulSet informers feed default spreading (upstream
podtopologyspread/plugin.go setListers; helper.DefaultSelector)."""

from __future__ import annotations

from kbench.config import scenario_from_dict
from kbench.experiment.runner import build, start


def _run(policy: str | None = None):
    data = {
        "name": "listers", "seed": 5, "duration_s": 20,
        "cluster": {"nodes": [{"count": 6, "cpu_cores": 8, "memory_bytes": "32Gi", "zones": 3,
                               "images": {"registry.k8s.io/pause:3.9": "300Ki"}}]},
        "workload": {"deployments": [{"name": "web", "replicas": 12, "service": True}],
                     "statefulsets": [{"name": "db", "replicas": 2}]},
    }
    if policy:
        data["scheduler"] = {"policy": policy}
    world, comps = build(scenario_from_dict(data))
    start(world, comps)
    world.env.run(until=20)
    return world, comps


def test_a_deployment_pods_default_selector_is_its_replicasets_and_services():
    world, comps = _run()
    pods = [p for p in world.plane.etcd.values("pods").values() if p.spec.name.startswith("web-")]
    assert len(pods) == 12
    rs_name = pods[0].spec.owner.partition("/")[2]
    assert rs_name.startswith("web-") and rs_name != "web"  # <deployment>-<pod-template-hash>
    sel = world.objects.default_selector(pods[0].spec)
    # the Service's app=web and the ReplicaSet's app=web plus its pod-template-hash
    assert not sel.empty and sel.matches(pods[0].spec.labels)
    assert not sel.matches({"app": "web"})  # the hash is part of it
    spread = comps.scheduler.framework.plugins["PodTopologySpread"]
    assert len(spread.constraints(pods[0].spec, "ScheduleAnyway")) == 2  # zone and hostname (E15)
    db = [p for p in world.plane.etcd.values("pods").values() if p.spec.name.startswith("db-")]
    assert db and not world.objects.default_selector(db[0].spec).empty


def test_the_scheduler_syncs_and_watches_the_three_resources():
    """Each informer syncs (a watch-list stream by default, WatchListClient; else a LIST) and watches."""
    world, comps = _run()
    frame = world.api.stats.to_frame()
    sched = frame[frame["client"] == "scheduler"]
    for resource in ("services", "replicasets", "statefulsets"):
        verbs = set(sched[sched["resource"] == resource]["verb"])
        assert "watch" in verbs, (resource, verbs)
    assert comps.scheduler.listers is not None


def test_no_listers_without_default_constraints():
    """A profile without PodTopologySpread's default constraints never asks for the listers."""
    world, comps = _run(policy="first-fit")
    assert comps.scheduler.listers is None
    frame = world.api.stats.to_frame()
    sched = frame[frame["client"] == "scheduler"]
    assert "replicasets" not in set(sched["resource"])
