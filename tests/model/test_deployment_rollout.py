"""Rolling updates: maxSurge / maxUnavailable hold, duration follows pod startup, revision history (A2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kbench.config import scenario_from_dict
from kbench.experiment.runner import build, start

REPLICAS = 100


def rollout_world(template=None, *, rollout_at=40.0, until=160.0, history=10, rollouts=1, replicas=REPLICAS,
                  gap_s=0.0):
    """20 nodes, Deployment ``web`` (25 %/25 %), rolled ``rollouts`` times from ``rollout_at``."""
    data = {
        "name": "rollout", "seed": 11, "duration_s": until,
        "clients": {"controller-manager": {"qps": 200, "burst": 400}, "scheduler": {"qps": 500, "burst": 1000}},
        "cluster": {"nodes": [{"count": 20, "cpu_cores": 16, "memory_bytes": "64Gi",
                               "images": {"registry.k8s.io/pause:3.9": "300Ki"}}]},
        "workload": {"deployments": [{"name": "web", "replicas": replicas, "revision_history_limit": history,
                                      "template": template or {}}],
                     "updates": [{"name": f"roll-{i}", "target": "web", "rollout": True,
                                  "at_s": rollout_at + i * gap_s} for i in range(rollouts)]},
    }
    world, comps = build(scenario_from_dict(data))
    return world, comps


def track(world):
    """After every pod or ReplicaSet commit: (time, active pods, ready pods, sum of the ReplicaSets'
    spec.replicas, active pods above their ReplicaSet's spec.replicas) of the Deployment."""
    state: dict[str, tuple[bool, bool, str]] = {}
    spec: dict[str, int] = {}
    out = []

    def on_commit(rec):
        if rec.resource == "replicasets" and rec.value is not None:
            spec["ReplicaSet/" + rec.key] = rec.value.data["replicas"]
        elif rec.resource != "pods":
            return
        elif rec.op == "delete":
            state.pop(rec.key, None)
        else:
            p = rec.value
            active = not p.deleting and p.phase not in ("Succeeded", "Failed")
            state[rec.key] = (active, active and p.ready, p.owner)
        by_rs: dict[str, int] = {}
        for active, _, owner in state.values():
            by_rs[owner] = by_rs.get(owner, 0) + active
        excess = sum(max(0, n - spec.get(rs, 0)) for rs, n in by_rs.items())
        out.append((rec.time_s, sum(a for a, _, _ in state.values()), sum(r for _, r, _ in state.values()),
                    sum(spec.values()), excess))

    world.plane.etcd.subscribe(on_commit)
    return out


def completed_at(world, after: float) -> float:
    """When ``deployments/status`` first showed the rollout complete after ``after`` (NaN: never)."""
    return world._done_at if hasattr(world, "_done_at") else math.nan


def watch_complete(world, after: float):
    def on_commit(rec):
        if rec.resource == "deployments" and rec.value is not None and rec.time_s > after:
            st = rec.value.data.get("status") or {}
            spec = rec.value.data["spec"]
            if (st.get("updated") == spec.replicas == st.get("available") == st.get("replicas")
                    and st.get("observed_generation", 0) >= rec.value.generation and not hasattr(world, "_done_at")):
                world._done_at = rec.time_s
    world.plane.etcd.subscribe(on_commit)


def test_rollout_respects_max_surge_and_max_unavailable():
    world, comps = rollout_world()
    log = track(world)
    watch_complete(world, 40.0)
    start(world, comps)
    world.env.run(until=160)
    done = completed_at(world, 40.0)
    assert 40 < done < 160
    during = [row for row in log if 40.0 <= row[0] <= done]
    assert during, "the rollout made pod writes"
    # upstream's arithmetic bounds the ReplicaSets' spec.replicas (NewRSNewReplicas, rolling.go):
    # at most replicas + maxSurge (25 %, rounded up), and never fewer than replicas - maxUnavailable
    # (25 %, rounded down) ready pods
    assert max(row[3] for row in during) == REPLICAS + 25
    assert min(row[2] for row in during) >= REPLICAS - 25
    # pods: at most 125 plus an old ReplicaSet's pods whose DELETE is in flight after a scale-down
    # (the ReplicaSet controller deletes them as the new one creates: upstream has the same race)
    assert all(a <= REPLICAS + 25 + excess for _, a, _, _, excess in during)
    assert max(a for _, a, _, _, _ in during) > REPLICAS  # it did surge
    episodes, start_s = [], None
    for t, _, _, _, excess in during:
        if excess and start_s is None:
            start_s = t
        elif not excess and start_s is not None:
            episodes.append(t - start_s)
            start_s = None
    assert start_s is None and max(episodes, default=0.0) < 1.0  # each such excess gone within 1 s
    rss = {k: v for k, v in world.plane.etcd.values("replicasets").items()}
    assert len(rss) == 2
    new = max(rss.values(), key=lambda v: v.data["revision"])
    old = min(rss.values(), key=lambda v: v.data["revision"])
    assert new.data["revision"] == 2 and old.data["replicas"] == 0 and new.data["replicas"] == REPLICAS
    pods = world.plane.etcd.values("pods").values()
    assert len(pods) == REPLICAS and all(p.spec.labels["pod-template-hash"] == new.data["hash"] for p in pods)
    st = world.plane.etcd.get("deployments", "default/web").data["status"]
    assert st["updated"] == st["available"] == st["replicas"] == REPLICAS and st["revision"] == 2
    events = world.events.stats.by_reason
    assert events["ScalingReplicaSet"] >= 4  # the new one created, then up and down in steps (J8)


def rollout_time(template):
    world, comps = rollout_world(template, until=220)
    watch_complete(world, 40.0)
    start(world, comps)
    world.env.run(until=220)
    tl = world.timeline
    started = tl.t["started"][: tl.n]
    running = tl.t["running_observed"][: tl.n]
    return completed_at(world, 40.0) - 40.0, float(np.nanmedian(running - started))


def test_rollout_duration_scales_with_pod_startup():
    fast, _ = rollout_time({})
    slow, _ = rollout_time({"readiness_probe": {"initial_delay_s": 5, "period_s": 1}})
    # Surge 25 + unavailability 25 turn over 50 pods per wave: ceil(100 / 50) + 1 = 3 waves, each
    # waiting for its new pods to become ready, so 5 s more readiness delay costs about 3 x 5 s.
    waves = math.ceil(REPLICAS / 50) + 1
    assert slow - fast >= 0.8 * (waves - 1) * 5.0
    assert slow <= 3 * waves * (5.0 + fast)


def test_revision_history_limit():
    world, comps = rollout_world(replicas=5, history=10, rollouts=12, rollout_at=20.0, gap_s=12.0, until=200)
    start(world, comps)
    world.env.run(until=200)
    rss = world.plane.etcd.values("replicasets")
    revisions = sorted(v.data["revision"] for v in rss.values())
    assert len(rss) == 11  # 10 old ones kept, plus the new one
    assert revisions == list(range(3, 14))  # revisions 1 and 2 deleted, oldest first
    assert sum(v.data["replicas"] for v in rss.values()) == 5


@pytest.mark.parametrize("strategy", ["Recreate"])
def test_recreate_stops_every_old_pod_first(strategy):
    data = {
        "name": "recreate", "seed": 2, "duration_s": 120,
        "cluster": {"nodes": [{"count": 4, "cpu_cores": 16}]},
        "workload": {"deployments": [{"name": "web", "replicas": 8, "strategy": strategy}],
                     "updates": [{"name": "roll", "target": "web", "rollout": True, "at_s": 30}]},
    }
    world, comps = build(scenario_from_dict(data))
    log = track(world)
    start(world, comps)
    world.env.run(until=120)
    hashes = {v.data["hash"]: v.data["revision"] for v in world.plane.etcd.values("replicasets").values()}
    assert len(hashes) == 2
    # between the first old pod's deletion mark and the first new pod, no pod is active
    after = [(row[0], row[1]) for row in log if row[0] > 30]
    assert min(a for _, a in after) == 0
    pods = world.plane.etcd.values("pods").values()
    assert len(pods) == 8 and {p.spec.labels["pod-template-hash"] for p in pods} == {max(hashes, key=hashes.get)}
