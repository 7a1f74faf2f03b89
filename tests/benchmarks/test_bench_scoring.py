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
    """A scheduler cycle as :mod:`kbench.cluster.scheduler` runs it: adaptive percentageOfNodesToScore
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
