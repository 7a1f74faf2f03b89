"""Opportunistic batching (KEP-5598), as upstream's batch.go and schedule_one.go do it.

Upstream (kubernetes/kubernetes pkg/scheduler/framework/runtime/batch.go @ 05890762): consecutive pods
with equal signatures reuse the previous cycle's sorted feasible nodes, but only while the node chosen
last now rejects the pod (one pod per node), for at most 0.5 s; a hinted node that passes the filters
is chosen without scoring. PodTopologySpread refuses to sign any pod while default constraints are
configured (podtopologyspread/plugin.go), so the default profile never batches.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.cluster.objects import Container, Node, NodeTable, Pod
from kbench.config.features import FeatureGates
from kbench.policy.api import Handle
from kbench.policy.framework import Framework
from kbench.policy.profile import profile_from_dict
from tests.policy.fakes import fake_registry

GI = 2**30


def framework(spread_list: bool = True, gate: bool = True, plugin_config: dict | None = None) -> Framework:
    """The default profile; ``spread_list``: PodTopologySpread with List defaulting and no default
    constraints (the only way the default plugins sign pods)."""
    config = dict(plugin_config or {})
    if spread_list:
        config["PodTopologySpread"] = {"defaultingType": "List"}
    prof = profile_from_dict("t", {"base": "default", "pluginConfig": config})
    rng = np.random.default_rng(1)
    return Framework(prof, rng, handle=Handle(rng=rng, features=FeatureGates({"OpportunisticBatching": gate})))


def cluster(n: int = 10, pods: int = 1) -> NodeTable:
    """``n`` nodes of 4 cores, then 1.5 times more each (their scores all differ), holding ``pods``
    pods each (1: any pod fills its node)."""
    return NodeTable.from_nodes([Node(f"n{i:03d}", {"cpu": 4000.0 * 1.5**i, "memory": 64.0 * GI, "pods": pods},
                                      labels={"kubernetes.io/hostname": f"n{i:03d}"}) for i in range(n)])


def pod(i: int, cpu: float = 3000.0, image: str = "app:1") -> Pod:
    return Pod(f"p{i}", containers=[Container("c", image=image, requests={"cpu": cpu, "memory": GI})])


def run(fw: Framework, pods: list[Pod], nodes: NodeTable, gap_s: float = 0.01, cycles=None) -> tuple[list, float]:
    """Schedule ``pods`` in consecutive cycles ``gap_s`` apart; (chosen nodes, nodes filtered)."""
    placed, filtered = [], 0.0
    for i, p in enumerate(pods):
        cycle = i + 1 if cycles is None else cycles[i]
        res = fw.schedule(p, nodes, assume=True, cycle=cycle, now=i * gap_s)
        placed.append(res.node)
        filtered += res.state.work.get("filter_node", 0.0)
    return placed, filtered


def test_the_default_profile_never_batches():
    """System default constraints: PodTopologySpread refuses every pod (upstream SignPod)."""
    fw = framework(spread_list=False)
    assert fw.batch.enabled and fw.batch.never == "PodTopologySpread"
    run(fw, [pod(i) for i in range(10)], cluster())
    assert fw.batch.batched == 0 and fw.batch.hinted == 0
    # upstream's reason: empty_list wins when one node was feasible (the 10th pod's cycle)
    assert fw.batch.flushed == {"pod_not_batchable": 9, "empty_list": 1}


def test_one_pod_per_node_is_batched_with_the_same_placements():
    """Each pod fills its node, so the next best node of the last cycle is the next pod's best:
    the placements equal those of the gate off, and each batched cycle filters 2 nodes (the last
    chosen one, which must reject the pod, and the hint) instead of all 10."""
    pods = [pod(i) for i in range(9)]
    on, off = framework(gate=True), framework(gate=False)
    placed_on, filtered_on = run(on, pods, cluster())
    placed_off, filtered_off = run(off, pods, cluster())
    assert placed_on == placed_off and len(set(placed_on)) == 9
    assert on.batch.batched == 8 and on.batch.hinted == 8
    assert filtered_off == 9 * 10  # every node is filtered (the full ones are rejected)
    assert filtered_on == 10 + 8 * 2
    assert off.batch is None


def test_a_node_that_still_fits_the_pod_stops_the_batch():
    """Small pods fit the last chosen node again: its score changed, the kept order cannot be used."""
    fw = framework()
    run(fw, [pod(i, cpu=500.0) for i in range(6)], cluster(pods=110))
    assert fw.batch.batched == 0
    assert fw.batch.flushed["node_not_full"] == 5


def test_kept_results_expire_after_half_a_second():
    fw = framework()
    run(fw, [pod(i) for i in range(5)], cluster(), gap_s=0.6)
    assert fw.batch.batched == 0 and fw.batch.flushed["expired"] == 4


@pytest.mark.parametrize(("pods", "reason"), [
    ([pod(0), pod(1, image="other:2")], "pod_incompatible"),  # ImageLocality signs the images
    ([pod(0), pod(1, cpu=2900.0)], "pod_incompatible"),  # NodeResourcesFit signs the requests
])
def test_a_different_signature_drops_the_kept_results(pods, reason):
    fw = framework()
    run(fw, pods, cluster())
    assert fw.batch.batched == 0 and fw.batch.flushed[reason] == 1


def test_only_the_very_next_cycle_may_use_them():
    fw = framework()
    run(fw, [pod(0), pod(1)], cluster(), cycles=[1, 3])
    assert fw.batch.batched == 0 and fw.batch.flushed["pod_skipped"] == 1


def test_pods_with_pod_affinity_or_spread_constraints_are_not_signed():
    from kbench.cluster.objects import TopologySpreadConstraint
    fw = framework()
    spread = TopologySpreadConstraint(1, "kubernetes.io/hostname", "DoNotSchedule", {"matchLabels": {"a": "b"}})
    p = Pod("s", containers=[Container("c", requests={"cpu": 3000.0})], topology_spread=[spread])
    assert fw.batch.sign(p) is None
    assert fw.batch.sign(pod(0)) is not None and fw.batch.sign(pod(0)) == fw.batch.sign(pod(1))


def test_a_plugin_without_sign_disables_signatures():
    prof = profile_from_dict("t", {"plugins": {"filter": ["CpuFit"], "score": ["Reverse"]}})
    rng = np.random.default_rng(0)
    fw = Framework(prof, rng, registry=fake_registry(), handle=Handle(rng=rng))
    assert not fw.batch.enabled and fw.batch.unsupported == ["CpuFit", "Reverse"]
    assert fw.batch.sign(pod(0)) is None
