"""End-to-end pod lifecycle: every component together through the apiserver."""

import numpy as np
import pytest

from kbench.config import scenario_from_dict
from kbench.experiment.runner import build, run, start
from kbench.metrics.pods import FINAL_STATES, PHASES


def _scenario(**over):
    data = {
        "name": "life", "seed": 5, "duration_s": 150,
        "clients": {"controller-manager": {"qps": 200, "burst": 400}},
        "cluster": {"nodes": [{"count": 20, "cpu_cores": 4, "memory_bytes": "16Gi", "zones": 2}]},
        "workload": {
            "deployments": [{"name": "web", "replicas": 150, "service": True,
                             "template": {"cpu_cores": "200m", "memory_bytes": "256Mi",
                                          "image": "nginx:1.25", "image_bytes": "50Mi"}}],
            "jobs": [{"name": "batch", "completions": 60, "parallelism": 20, "at_s": 5,
                      "template": {"cpu_cores": "500m", "memory_bytes": "512Mi",
                                   "duration_s": {"kind": "uniform", "low": 5, "high": 20},
                                   "fail_probability": 0.1}}],
            "pods": [{"name": "bare", "count": 40, "rate_per_s": 4, "at_s": 2,
                      "template": {"cpu_cores": "100m", "duration_s": "10s"}}],
        },
    }
    data.update(over)
    return scenario_from_dict(data)


@pytest.fixture(scope="module")
def result():
    return run(_scenario())


def test_everything_created_is_scheduled_and_started(result):
    s = result.summary
    # Deployment and bare pods, plus at least the Job's parallelism: how many more of its 60
    # completions get a pod within 150 s depends on how many of its pods fail (10 %) and so on the
    # failure backoff (seed 7 creates 239, seed 8 254, with the code before or after issue 8's work)
    assert s["pods"]["created"] >= 150 + 40 + 20
    assert s["pods"]["pending"] == 0
    assert s["pods"]["scheduled"] == s["pods"]["created"]
    assert s["pod_startup_s"]["p99"] < 5.0  # F1 holds on a small idle cluster
    assert all(row["pass"] for row in s["slo"])


def test_every_pod_ends_in_exactly_one_consistent_state(result):
    df = result.frames["pods"]
    df = df[df["created_s"].notna()]
    assert set(df["state"]) <= set(FINAL_STATES)
    running = df[df["state"] == "running"]
    assert running["started_s"].notna().all() and running["finished_s"].isna().all()
    done = df[df["state"].isin(["succeeded", "failed"])]
    assert done["finished_s"].notna().all()
    gone = df[df["state"] == "deleted"]
    assert gone["deleted_s"].notna().all()
    assert (df["state"] == "failed").sum() > 0  # the Job's 10 % failures
    # bare pods are deleted by the driver once they finish
    bare = df[df["owner_kind"] == "Pod"]
    assert (bare["state"] == "deleted").all()


def test_startup_phases_add_up_to_the_end_to_end_latency(result):
    df = result.frames["pods"]
    seen = df[df["running_observed_s"].notna()]
    assert len(seen) > 200
    order = ["created", "first_attempt", "scheduled", "bound", "kubelet_seen", "sandbox_ready",
             "image_pulled", "started", "running_observed"]
    assert [p for p in PHASES if p in order] == order
    t = seen[[f"{p}_s" for p in order]].to_numpy()
    steps = np.diff(t, axis=1)
    # each phase starts where the previous one ended, except that the kubelet's watch may deliver the
    # binding before the scheduler has its reply (etcd publishes an entry when its apply starts and
    # replies a gRPC round trip after it ends, issue 16): kubelet_seen is checked against scheduled
    seen_after_bound = order.index("bound")
    assert (np.delete(steps, seen_after_bound, axis=1) >= -1e-9).all()
    assert (t[:, order.index("kubelet_seen")] >= t[:, order.index("scheduled")] - 1e-9).all()
    assert np.allclose(steps.sum(axis=1), t[:, -1] - t[:, 0])
    pulled = seen[seen["image_pull_s"] > 0]
    assert len(pulled) > 0  # nginx pulled once per node, then cached


def test_bound_requests_never_exceed_allocatable(result):
    world = result.world
    per_node = {}
    for pod in world.plane.etcd.values("pods").values():
        if pod is not None and pod.node_name and not pod.finished:
            req = pod.spec.requests()
            acc = per_node.setdefault(pod.node_name, {"cpu": 0.0, "memory": 0.0})
            acc["cpu"] += req.get("cpu", 0.0)
            acc["memory"] += req.get("memory", 0.0)
    for name, acc in per_node.items():
        alloc = world.node_specs[name].allocatable
        assert acc["cpu"] <= alloc["cpu"] and acc["memory"] <= alloc["memory"]


def test_pods_that_can_never_fit_are_reported_pending_with_reasons():
    sc = _scenario(duration_s=60, workload={"pods": [{"name": "huge", "count": 5, "rate_per_s": 5,
                                                      "template": {"cpu_cores": 64}}]})
    s = run(sc).summary
    assert s["pods"]["created"] == 5 and s["pods"]["pending"] == 5
    assert any("Insufficient cpu" in k for k in s["pods"]["pending_reasons"])


def test_a_failed_node_is_evicted_after_the_grace_and_toleration_then_rescheduled():
    sc = _scenario(duration_s=520, workload={"deployments": [{"name": "web", "replicas": 40}]})
    world, comps = build(sc)
    start(world, comps)
    world.env.run(until=60)
    victim = next(p.node_name for p in world.plane.etcd.values("pods").values() if p and p.node_name)
    on_victim = [p.key for p in world.plane.etcd.values("pods").values() if p and p.node_name == victim]
    comps.kubelets.fail(victim)
    world.env.run(until=520)
    tl = world.timeline
    deleted = [tl.column("deleted")[world.pod_uid(k)] for k in on_victim]
    # leases stop at ~60 s; NotReady after the 50 s grace (F7); evicted 300 s later (F8)
    assert all(60 + 50 + 300 - 15 <= t <= 60 + 50 + 300 + 30 for t in deleted), deleted
    live = [p for p in world.plane.etcd.values("pods").values() if p and not p.deleting]
    assert len(live) == 40 and all(p.node_name and p.node_name != victim for p in live)
    assert world.counters["evictions"] == len(on_victim)


def test_generic_kinds_and_proxy_requests_load_the_apiserver():
    sc = _scenario(duration_s=60, workload={
        "generic": [{"resource": "widgets.example.com", "objects": 200, "object_bytes": "4Ki",
                     "changes_per_s": 5, "watchers": 4},
                    {"resource": "configmaps", "objects": 100, "watchers": 3, "sync": "poll:5s"}],
        "proxy": {"rate_per_s": 2, "duration_s": "10s"}})
    r = run(sc)
    stats = r.world.plane.stats
    assert stats.total("count", verb="update", resource="widgets.example.com") > 200
    # 1.35: each informer syncs with one watch-list stream (KEP-3157) that goes on as its watch
    assert stats.total("count", verb="list", resource="widgets.example.com") == 0
    assert stats.total("count", verb="watch", resource="widgets.example.com") == 4
    assert stats.total("count", verb="list", resource="configmaps") > 3 * 10  # pollers, every ~5 s
    assert r.summary["counters"]["proxy_requests"] > 80


def test_gpu_runs_report_allocation_and_fragmentation():
    sc = _scenario(duration_s=40, scheduler={"policy": "fgd"}, cluster={"nodes": [
        {"count": 4, "cpu_cores": 32, "memory_bytes": "128Gi", "gpus": 4, "gpu_model": "V100"}]},
        workload={"pods": [{"name": "share", "count": 20, "rate_per_s": 10,
                            "template": {"cpu_cores": 1, "gpus": 1, "gpu_milli": 500}}]})
    s = run(sc).summary
    assert s["gpu"]["gpus"] == 16
    assert s["gpu"]["allocated_pct"] == pytest.approx(100 * 20 * 500 / 16000)
    assert 0 <= s["gpu"]["frag_rate_pct"] <= 100
