"""workloads/cl2-load.yaml: ClusterLoader2's load test at its default size, and its shape at 5,000
nodes (A5; kubernetes/perf-tests clusterloader2/testing/load/config.yaml @ 0188c4d6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbench.config import load_scenario
from kbench.experiment.runner import effective_scenario, run

ROOT = Path(__file__).resolve().parents[2]
CL2 = ROOT / "workloads" / "cl2-load.yaml"


@pytest.fixture(scope="module")
def result():
    return run(CL2)


def test_cl2_load_runs_at_its_default_size(result):
    s = result.summary
    wl = result.world.scenario.workload
    # 100 nodes, 1 namespace: 3 x 250 + 25 x 30 + 300 x 5 = 3,000 pods, plus the DaemonSet's 100
    assert sum(d.replicas * d.copies * len(d.namespaces) for d in wl.deployments) == 3000
    assert s["pods"]["created"] > 3000 + 100  # the scale step recreates some
    assert s["pods"]["deleted"] == s["pods"]["created"]  # everything deleted at the end
    etcd = result.world.plane.etcd
    assert etcd.object_count("pods") == 0 and etcd.object_count("deployments") == 0
    assert etcd.keys("namespaces") == ["default"]  # ns-1 emptied and finalized
    assert s["counters"].get("barrier_timeouts", 0) == 0
    rows = {r["name"]: r for r in s["cl2"]["slo"]}
    assert all(r["verdict"] in ("pass", "reported") for r in rows.values())
    assert "wait_for_controlled_pods_running_s[created-running]" in rows
    for key in ("writes_per_pod", "writes_by_component", "events", "gc", "kube_proxy"):
        assert key in s
    assert s["gc"]["deleted"]["replicasets"] == 328  # every Deployment's ReplicaSet, by the GC
    # CL2 gathers API responsiveness before its namespace cleanup: the finalize is in the run's
    # totals but not in the cells the checks read
    gathered = result.driver.gathered_sli
    assert 0 < s["cl2"]["api_gathered_at_s"] < s["sim"]["virtual_s"]
    whole = {k[:2] for k in result.world.plane.stats.sli_snapshot()}
    assert ("update", "namespaces/finalize") in whole
    assert not any(k[1].startswith("namespaces") and k[0] in ("update", "delete") for k in gathered)
    assert s["sim"]["virtual_s"] < 3600  # ended with the last namespace, not at duration_s


def test_cl2_load_shape_at_5000_nodes():
    sc = effective_scenario(load_scenario(CL2, params={"nodes": 5000, "throughput": 20}))
    wl = sc.workload
    (ns,) = wl.namespaces
    assert ns.count == 50
    deployments = {d.name: d.copies * len(d.namespaces) for d in wl.deployments}
    assert deployments == {"big-deployment": 150, "medium-deployment": 1250, "small-deployment": 15000}
    services = sum(s.copies * len(s.namespaces) for s in wl.services)
    assert services == 50 * (2 + 13 + 150) == 8250  # half as many Services as Deployments, rounded up
    assert sum(d.replicas * d.copies * len(d.namespaces) for d in wl.deployments) == 150_000
    assert {d.spread_s for d in wl.deployments} == {7500.0}  # saturation: 150,000 pods at 20 pods/s
    (scale,) = [u for u in wl.updates if u.name == "scale"]
    assert scale.spread_s == 1875.0 and scale.replicas == {"relative": [0.5, 1.5]}


def test_a_barrier_that_times_out_fails_its_cl2_row():
    """WaitForControlledPodsRunning fails when the wait reaches its timeout (a wait of exactly the
    timeout used to read as within it): a 'running' barrier whose pods cannot all run (one more
    replica than the nodes' pod capacity) gives up after its 60 s timeout."""
    from kbench.config import scenario_from_dict

    data = {
        "name": "barrier-timeout", "seed": 1, "duration_s": 200,
        "cluster": {"nodes": [{"count": 1, "cpu_cores": 1, "memory_bytes": "4Gi", "pods": 3,
                               "images": {"registry.k8s.io/pause:3.9": "300Ki"}}]},
        "workload": {"labels": ["cl2-load"], "deployments": [{"name": "web", "replicas": 4}],
                     "barriers": [{"name": "all-running", "after": ["web"], "until": "running", "timeout_s": 60,
                                   "poll_s": 5}]},
    }
    s = run(scenario_from_dict(data)).summary
    assert s["counters"]["barrier_timeouts"] == 1
    (row,) = [r for r in s["cl2"]["slo"] if r["name"] == "wait_for_controlled_pods_running_s[all-running]"]
    assert row["verdict"] == "fail" and row["timed_out"] is True and row["value"] >= 60
    assert s["cl2"]["pass"] is False
