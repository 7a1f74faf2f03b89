"""Events in a running cluster: FailedScheduling series, the events etcd, the TTL (A4; J5, J7)."""

from __future__ import annotations

import pytest

from kbench.cluster.objects import Taint
from kbench.cluster.objects.stored import NODE_BYTES
from kbench.config import scenario_from_dict
from kbench.experiment.runner import build, run, start


def unschedulable_world(scheduler_api: str, until: float):
    """One 1-core node, one pod asking for 2 cores (it never fits), and a taint put on the node and
    taken off again every 3 s for 5 min: a node that loses a taint moves the pod back to the
    active queue (D2), so it is retried after each backoff (1, 2, 4, 8, 10, 10... s); then the pod
    is deleted, so the attempts stop."""
    data = {"name": "failed", "seed": 9, "duration_s": until,
            "events": {"scheduler_api": scheduler_api, "store_values": True},
            # without QueueingHints a node update requeues the pod; with them NodeResourcesFit's hint
            # skips a node it still does not fit (issue 17), and only the 5-minute flush retries it
            "scheduler": {"feature_gates": {"SchedulerQueueingHints": False}},
            "cluster": {"nodes": [{"count": 1, "cpu_cores": 1}]},
            "workload": {"pods": [{"name": "big", "count": 1, "template": {"cpu_cores": 2}}]}}
    world, comps = build(scenario_from_dict(data))
    admin = world.client("admin", "default", "kbench:admin", ("system:masters",))

    def churn():
        taint = Taint("churn", "x", "PreferNoSchedule")
        while world.env.now < 300:
            yield world.env.timeout(3.0)
            node = world.plane.etcd.get("nodes", "node-0000")
            taints = tuple(t for t in node.taints if t != taint) if taint in node.taints else (*node.taints, taint)
            yield from world.write(admin, "update", "nodes", "node-0000", node.evolve(taints=taints),
                                   size_bytes=NODE_BYTES)
        yield from world.write(admin, "delete", "pods", "default/big-0", size_bytes=2200)

    world.env.process(churn())
    start(world, comps)
    world.env.run(until=until)
    return world


def test_failed_scheduling_burst_is_aggregated_as_upstream():
    world = unschedulable_world("events.k8s.io", until=1200)
    attempts = world.counters["unschedulable"]
    assert attempts >= 25  # a burst of identical failures in 5 min
    st = world.events.stats
    assert st.by_reason["FailedScheduling"] == attempts
    # events.k8s.io (J5): a CREATE, a PATCH starting the series, then in-memory counts only, and
    # one last PATCH once the series has been idle for 6 min (finishSeries runs every 6 min)
    comp = world.api.writes.by_component()["scheduler"]  # kube-scheduler, reporting as default-scheduler
    assert {k: v for k, v in comp.items() if k.startswith("events.")} == {"events.create": 1, "events.patch": 2}
    (event,) = world.plane.etcd.values("events").values()
    assert event.data["reason"] == "FailedScheduling" and event.data["count"] == attempts
    assert st.aggregated == attempts - 1


def test_failed_scheduling_through_the_core_correlator_is_spam_limited():
    world = unschedulable_world("core", until=400)
    attempts = world.counters["unschedulable"]
    comp = world.api.writes.by_component()["scheduler"]
    writes = comp.get("events.create", 0) + comp.get("events.patch", 0)
    # identical messages: one CREATE, then PATCHes of its count (J3), at most 25 + 1 per 300 s (J4)
    assert comp["events.create"] == 1
    assert writes <= 25 + 2 < attempts
    assert world.events.stats.dropped["spam"] == attempts - writes


WRITE_MIX = {
    "name": "events-etcd", "seed": 3, "duration_s": 90,
    "cluster": {"nodes": [{"count": 5, "cpu_cores": 8, "images": {"registry.k8s.io/pause:3.9": "300Ki"}}]},
    "workload": {"deployments": [{"name": "web", "replicas": 20, "delete_at_s": 30}]},
}


def test_separate_events_etcd_takes_every_event_write():
    shared = run(scenario_from_dict(WRITE_MIX))
    split = run(scenario_from_dict({**WRITE_MIX, "events": {"separate_etcd": True}}))
    main, events = split.world.plane.etcd, split.world.plane.etcd_events
    written = split.summary["events"]["written"]
    grants = split.world.event_ttl.grants
    assert written == shared.summary["events"]["written"] > 0
    assert main.object_count("events") == 0 and events.object_count("events") > 0
    assert events.stats.writes == written + grants  # every Event write and the TTL's lease grants
    assert split.summary["etcd_events"]["writes"] == written + grants
    # the main etcd carries what it carried before minus the Events and their leases (lease
    # renewals are paced by time, so both runs renew the same node leases), give or take the
    # status updates the controllers coalesce differently when the main etcd's commits are timed
    # differently (each is one write of the main etcd)
    extra = _status_updates(split) - _status_updates(shared)
    assert abs(extra) <= 4
    assert main.stats.writes == shared.world.plane.etcd.stats.writes - written - shared.world.event_ttl.grants + extra
    assert split.summary["writes_per_pod"]["events"] == shared.summary["writes_per_pod"]["events"]


def _status_updates(result) -> int:
    """Status updates of Deployments and ReplicaSets the run's controllers sent."""
    st = result.frames["requests"]
    return int(st[(st.verb == "update") & st.resource.isin(["deployments/status", "replicasets/status"])]["count"].sum())


@pytest.mark.parametrize("ttl", [60.0])
def test_event_ttl_expires_events_through_leases(ttl):
    data = {**WRITE_MIX, "duration_s": 200, "events": {"ttl_s": ttl, "store_values": True}}
    world, comps = build(scenario_from_dict(data))
    last_write: dict[str, float] = {}
    expired: dict[str, float] = {}

    def seen(rec):
        if rec.resource == "events":
            (expired if rec.op == "delete" else last_write)[rec.key] = rec.time_s

    def seen_many(recs):
        for rec in recs:
            seen(rec)

    world.plane.etcd.subscribe(seen, seen_many)
    start(world, comps)
    world.env.run(until=200)
    reuse = min(60.0, 0.05 * ttl)  # lease_manager.go: reuse = min(60 s, 5 % of the TTL) = 3 s
    assert last_write and set(expired) == set(last_write)  # every Event went, once
    for key, t in last_write.items():  # (plus the revocation's raft commit, a few ms)
        assert t + ttl <= expired[key] <= t + ttl + reuse + 0.05
    assert world.events.stats.expired == len(last_write)
    assert world.plane.etcd.object_count("events") == 0
    assert world.event_ttl.grants >= 2  # a new lease at least every reuse seconds of writes
