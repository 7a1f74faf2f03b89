"""Scoring one pod against 5,000 nodes with the default profile, per plugin (pytest-benchmark).

Run with ``make bench`` (or ``pytest tests/benchmarks --benchmark-enable``). Under the default
``--benchmark-disable`` each case runs once, as a smoke test.

The cluster: 5,000 nodes in 10 zones (cpu 16-64 cores, memory 64-256 GiB, 10 % with a
PreferNoSchedule taint, 20 % with the pod's image), 5 bound pods per node (25,000 pods). The pod
requests 500m / 1 GiB, has a preferred node affinity and a ScheduleAnyway spread constraint, so
every default score plugin does real work.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.cluster.objects import (
    Container,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeTable,
    Pod,
    Taint,
    TopologySpreadConstraint,
)
from kbench.policy.api import CycleState
from kbench.policy.framework import Framework

N_NODES, PODS_PER_NODE, GI = 5000, 5, 2**30
IMAGE = "registry.example.com/shop/web:1.4.2"


@pytest.fixture(scope="module")
def cluster():
    rng = np.random.default_rng(1)
    nodes = []
    for i in range(N_NODES):
        nodes.append(Node(
            f"node-{i:05d}",
            {"cpu": float(rng.choice([16, 32, 64]) * 1000), "memory": float(rng.choice([64, 128, 256]) * GI),
             "pods": 110, "ephemeral-storage": 100 * GI},
            labels={"kubernetes.io/hostname": f"node-{i:05d}", "topology.kubernetes.io/zone": f"zone-{i % 10}",
                    "disktype": "ssd" if i % 3 == 0 else "hdd"},
            taints=[Taint("spot", "true", "PreferNoSchedule")] if i % 10 == 0 else [],
            images={IMAGE: 300 * 2**20} if i % 5 == 0 else {}))
    table = NodeTable.from_nodes(nodes)
    for i in range(N_NODES):
        for j in range(PODS_PER_NODE):
            app = "web" if (i + j) % 7 == 0 else f"svc-{j}"
            table.add_pod(Pod(f"p-{i}-{j}", labels={"app": app}, owner=f"ReplicaSet/{app}",
                              containers=[Container("c", requests={"cpu": float(rng.integers(1, 20) * 100),
                                                                   "memory": float(rng.integers(1, 8) * GI // 4)})]), i)
    pod = Pod("web-new", labels={"app": "web"}, owner="ReplicaSet/web",
              containers=[Container("web", IMAGE, {"cpu": 500.0, "memory": float(GI)})],
              preferred_affinity=[(10, NodeSelectorTerm((NodeSelectorRequirement("disktype", "In", ("ssd",)),)))],
              topology_spread=[TopologySpreadConstraint(1, "topology.kubernetes.io/zone", "ScheduleAnyway",
                                                        {"matchLabels": {"app": "web"}})])
    fw = Framework("default", 0)
    return fw, table, pod


def _prefiltered(fw, table, pod):
    state = CycleState()
    for name in fw.pre_filters:
        fw.plugins[name].pre_filter(state, pod, table)
    return state


SCORE_PLUGINS = ["TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread",
                 "NodeResourcesBalancedAllocation", "ImageLocality"]
FILTER_PLUGINS = ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodeResourcesFit",
                  "PodTopologySpread"]


@pytest.mark.parametrize("plugin", SCORE_PLUGINS)
def test_bench_score_plugin(benchmark, cluster, plugin):
    """PreScore + Score + NormalizeScore of one plugin over all 5,000 nodes."""
    fw, table, pod = cluster
    inst, cand = fw.plugins[plugin], np.arange(table.n, dtype=np.int64)
    base = _prefiltered(fw, table, pod)

    def run():
        state = CycleState(base)
        if hasattr(inst, "pre_score") and inst.pre_score(state, pod, table, cand).is_skip:
            return None
        scores = inst.score(state, pod, table, cand)
        if hasattr(inst, "normalize_scores"):
            scores = inst.normalize_scores(state, pod, scores)
        return scores

    scores = benchmark(run)
    assert scores is not None and scores.shape == (N_NODES,) and scores.min() >= 0 and scores.max() <= 100


@pytest.mark.parametrize("plugin", FILTER_PLUGINS)
def test_bench_filter_plugin(benchmark, cluster, plugin):
    """Filter of one plugin over all 5,000 nodes."""
    fw, table, pod = cluster
    inst, cand = fw.plugins[plugin], np.arange(table.n, dtype=np.int64)
    base = _prefiltered(fw, table, pod)
    res = benchmark(lambda: inst.filter(CycleState(base), pod, table, cand))
    assert res.ok.shape == (N_NODES,)


def test_bench_full_cycle_all_nodes(benchmark, cluster):
    """A whole cycle over every node (evaluate_all, as explain), default profile."""
    fw, table, pod = cluster
    res = benchmark(lambda: fw.schedule(pod, table, assume=False, evaluate_all=True))
    assert res.node is not None and res.feasible.all()


def test_bench_full_cycle_adaptive(benchmark, cluster):
    """A whole cycle with the adaptive percentageOfNodesToScore (10 % = 500 nodes scored, D4)."""
    fw, table, pod = cluster
    res = benchmark(lambda: fw.schedule(pod, table, assume=False))
    assert res.node is not None and res.scored.sum() == 500


def test_bench_full_cycle_assume(benchmark, cluster):
    """A scheduler cycle as :mod:`kbench.cluster.scheduler.scheduler` runs it: adaptive percentageOfNodesToScore
    (the first 500 feasible of 5,000 nodes filtered and scored, D4), ``assume=True``, then ``unassume``
    so that every round sees the same table."""
    fw, table, pod = cluster

    def run():
        res = fw.schedule(pod, table, assume=True)
        fw.unassume(pod, table, res.node_idx)
        return res

    res = benchmark(run)
    assert res.node is not None and res.scored.sum() == 500 and res.evaluated.sum() == 500
    assert table.pod_count.sum() == N_NODES * PODS_PER_NODE


# ----- components (issue 8): framework cycles and the FGD policies ---------------------------------

GPU_SHAPES = [(0, 0), (1, 250), (1, 500), (1, 1000), (2, 1000), (8, 1000)]


def _gpu_cluster(n_nodes: int, seed: int = 2):
    """``n_nodes`` GPU nodes (1-8 GPUs, 32-96 cores) about half full of trace-like pods, and its
    typical pods."""
    from kbench.policy.typical import typical_pods

    rng = np.random.default_rng(seed)
    nodes = []
    for i in range(n_nodes):
        node = Node(f"gpu-{i:05d}", {"cpu": float(rng.choice([32, 64, 96]) * 1000), "memory": 512.0 * GI,
                                     "pods": 110, "ephemeral-storage": 100 * GI})
        node.gpu_count, node.gpu_model = int(rng.choice([1, 2, 4, 8])), str(rng.choice(["T4", "V100", "A10"]))
        nodes.append(node)
    table = NodeTable.from_nodes(nodes)

    def gpu_pod(name):
        k, u = GPU_SHAPES[rng.integers(len(GPU_SHAPES))]
        return Pod(name, containers=[Container("c", requests={"cpu": float(rng.choice([1, 4, 8]) * 1000),
                                                              "memory": float(GI)})], gpu_count=k, gpu_milli=u)

    for j in range(n_nodes * 2):
        pod = gpu_pod(f"bound-{j}")
        i = int(rng.integers(n_nodes))
        fits_gpu = pod.gpu_count == 0 or bool(table.pick_gpus(pod, i))
        if fits_gpu and table.free_int[i, table.res_index["cpu"]] >= pod.requests()["cpu"]:
            table.add_pod(pod, i)
    typical = typical_pods([gpu_pod(f"t{j}") for j in range(500)])
    return table, typical, [gpu_pod(f"new-{j}") for j in range(256)]


@pytest.fixture(scope="module")
def gpu_clusters():
    return {n: _gpu_cluster(n) for n in (1000, 5000)}


def _cycles(fw, table, pods):
    """One cycle per call over ``pods`` in turn: schedule with assume, then unassume (the table
    is left as it was, so every round measures the same cluster)."""
    it = iter(range(10**9))

    def run():
        pod = pods[next(it) % len(pods)]
        res = fw.schedule(pod, table, assume=True)
        if res.node_idx is not None:
            fw.unassume(pod, table, res.node_idx)
        return res

    return run


@pytest.mark.benchmark(group="components")
@pytest.mark.parametrize("n_nodes", [1000, 5000])
def test_bench_framework_cycle(benchmark, gpu_clusters, n_nodes):
    """One scheduler cycle (default profile, adaptive percentageOfNodesToScore, assume then
    unassume) at 1,000 and 5,000 nodes: the growth target compares these two."""
    table, _, pods = gpu_clusters[n_nodes]
    pods = [p for p in pods if p.gpu_count == 0]  # the default profile has no GPU filter
    fw = Framework("default", 0)
    res = benchmark(_cycles(fw, table, pods))
    assert res.evaluated.sum() > 0


@pytest.mark.benchmark(group="components")
def test_bench_density_cycle(benchmark):
    """One scheduler cycle of density-5k's kind at 1,000 nodes: every pod from one template
    (100m / 64Mi, owned by a ReplicaSet, so PodTopologySpread's default constraints apply), default
    profile, assumed and kept (the table fills as in the run)."""
    from kbench.config.cluster import NodeGroup
    from kbench.config.workload import PodTemplate
    from kbench.workload.podspec import nodes_from_groups, pod_from_template

    table = NodeTable.from_nodes(nodes_from_groups([NodeGroup(
        count=1000, cpu_cores=16, memory_bytes=64 * GI, zones=3, images={"registry.k8s.io/pause:3.9": 300 * 1024})]))
    template = PodTemplate(cpu_cores=0.1, memory_bytes=64 * 2**20)
    fw = Framework("default", 0, handle=_density_handle())
    it = iter(range(10**9))

    def run():
        i = next(it)
        pod = pod_from_template(f"density-{i}", "default", template, owner="ReplicaSet/density",
                                labels={"app": "density"})
        return fw.schedule(pod, table, assume=True)

    res = benchmark(run)
    assert res.node is not None and res.scored.sum() == 420
    assert res.scores["PodTopologySpread"] is not None  # the default constraints applied


def _density_handle():
    """The listers of a density run: the ReplicaSet that owns the pods (their spreading selector)."""
    from kbench.cluster.objects.clusterobjects import ClusterObjects
    from kbench.policy.api import Handle

    objects = ClusterObjects()
    objects.add_controller("ReplicaSet", "default", "density", {"matchLabels": {"app": "density"}})
    return Handle(objects=objects)


def test_default_profile_cycle_with_ipa():
    """Issue 17: InterPodAffinity, NodePorts and SchedulingGates in the default profile cost little
    when no pod uses them. A density-kind cycle at 5,000 nodes (pods owned by a ReplicaSet, kept on
    the table) with the whole default profile takes at most 1.25x (the lead's allowance for
    density-5k) the same profile without those three plugins, measured in this process (robust to
    the machine's speed and load: interleaved rounds, best of 8 each, measured again up to twice when a burst of
    load on the shared machine spoilt a measurement). Measured ~1.05-1.15x (their
    PreFilter/PreScore Skips and the framework's bookkeeping, ~10-15 us of ~150 us); a Python loop
    over the pods or nodes in each cycle would cost several times the cycle."""
    import time

    from kbench.config.cluster import NodeGroup
    from kbench.config.workload import PodTemplate
    from kbench.workload.podspec import nodes_from_groups, pod_from_template

    template = PodTemplate(cpu_cores=0.1, memory_bytes=64 * 2**20)
    pods = [pod_from_template(f"d-{i}", "default", template, owner="ReplicaSet/density", labels={"app": "density"})
            for i in range(1400)]
    without = {"base": "default", "plugins": {"multiPoint": {"disabled": [
        "InterPodAffinity", "NodePorts", "SchedulingGates"]}}}

    def setup(profile):
        from kbench.policy.profile import profile_from_dict

        table = NodeTable.from_nodes(nodes_from_groups([NodeGroup(count=5000, cpu_cores=16, memory_bytes=64 * GI,
                                                                  zones=3)]))
        fw = Framework(profile_from_dict("p", profile), 0, handle=_density_handle())
        for p in pods[:200]:
            fw.schedule(p, table, assume=True)
        return fw, table

    runs = {"full": setup({"base": "default"}), "reduced": setup(without)}
    ratios = []
    for attempt in range(3):  # a fresh measurement when a burst of load on a shared machine spoilt one
        best = {name: float("inf") for name in runs}
        for r in range(8):  # interleaved rounds: a change in the machine's load hits both alike
            start = 200 + 400 * attempt + 50 * r
            block = pods[start:start + 50]
            for name, (fw, table) in runs.items():
                t0 = time.process_time()
                for p in block:
                    fw.schedule(p, table, assume=True)
                best[name] = min(best[name], (time.process_time() - t0) / len(block))
        ratios.append(best["full"] / best["reduced"])
        if ratios[-1] <= 1.25:
            break
    assert min(ratios) <= 1.25, ratios


@pytest.mark.benchmark(group="components")
def test_bench_fgd_score_all_nodes(benchmark, gpu_clusters):
    """FGD's score of every one of 5,000 nodes for pods of changing shapes, on a table that changes
    between calls (one pod placed and removed), as in a replay."""
    from kbench.policy.api import CycleState, Handle
    from policies.fgd import FgdScore

    table, typical, pods = gpu_clusters[5000]
    plugin = FgdScore(handle=Handle(extra={"typical_pods": typical}))
    cand = np.arange(table.n, dtype=np.int64)
    it = iter(range(10**9))

    def run():
        i = next(it)
        pod, row = pods[i % len(pods)], (i * 7919) % table.n
        placed = pod.gpu_count == 0 or bool(table.pick_gpus(pod, row))
        if placed:
            table.add_pod(pod, row)
        scores = plugin.score(CycleState(), pod, table, cand)
        if placed:
            table.remove_pod(pod, row)
        return scores

    scores = benchmark(run)
    assert scores.shape == (table.n,) and scores.min() >= 0 and scores.max() <= 100


@pytest.mark.benchmark(group="components")
@pytest.mark.parametrize("policy", ["random", "dot-prod", "clustering", "packing", "best-fit", "fgd"])
def test_bench_fgd_policy_cycle(benchmark, gpu_clusters, policy):
    """One cycle of each FGD policy at 1,000 GPU nodes (all nodes filtered and scored, assume then
    unassume)."""
    table, typical, pods = gpu_clusters[1000]
    fw = Framework(policy, 0)
    fw.handle.extra["typical_pods"] = typical
    res = benchmark(_cycles(fw, table, pods))
    assert res.evaluated.all()


# ----- scenarios -----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.benchmark(group="scenarios")
def test_bench_fgd_openb_scenario(benchmark):
    """fgd-openb, one policy (fgd), one seed: about 10,800 pods on 1,213 GPU nodes, full control plane."""
    from dataclasses import replace
    from pathlib import Path

    from kbench.config import load_scenario
    from kbench.experiment.runner import run

    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "workloads" / "fgd-openb.yaml")
    sc = replace(sc, workload=replace(sc.workload, placement_only=False))  # the scenario declares placement-only
    result = benchmark.pedantic(run, args=(sc,), rounds=1, iterations=1)
    assert result.summary["scheduling"]["attempts"] > 10_000 and result.summary["sim"]["mode"] == "full-plane"


# ----- components of the FGD replay path (issue 8): the node table and the FGD recorder -------------

@pytest.mark.benchmark(group="components")
def test_bench_nodetable_add_remove_gpu_pod(benchmark, gpu_clusters):
    """NodeTable.add_pod then remove_pod of one GPU pod on the 1,000-node table (assume, departure)."""
    table, _, pods = gpu_clusters[1000]
    gpu_pods = [p for p in pods if p.gpu_count > 0]
    it = iter(range(10**9))

    def run():
        i = next(it)
        pod, row = gpu_pods[i % len(gpu_pods)], (i * 7919) % table.n
        gpus = table.pick_gpus(pod, row)
        if gpus:
            table.add_pod(pod, row, gpus)
            table.remove_pod(pod, row)
        return gpus

    benchmark(run)


@pytest.mark.benchmark(group="components")
def test_bench_fgd_recorder_event(benchmark, gpu_clusters):
    """FgdRecorder.record after one pod placed and one removed on the 1,000-node table (F_n of the
    changed row, the cluster sums)."""
    from types import SimpleNamespace

    from kbench.metrics.fgd import FgdRecorder

    table, typical, pods = gpu_clusters[1000]
    rec = FgdRecorder(SimpleNamespace(nodes=table, listeners=[]), typical)
    it = iter(range(10**9))

    def run():
        i = next(it)
        pod, row = pods[i % len(pods)], (i * 7919) % table.n
        placed = pod.gpu_count == 0 or bool(table.pick_gpus(pod, row))
        if placed:
            table.add_pod(pod, row)
        rec.record(float(i))
        if placed:
            table.remove_pod(pod, row)
        rec.record(i + 0.5)

    benchmark(run)
    assert rec.events > 0
