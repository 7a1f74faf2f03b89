"""The framework: filter reasons, weighted sums, tie-breaking, errors, Reserve/Permit, node sampling."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from kbench.cluster.objects import Node, NodeTable
from kbench.errors import PolicyError
from kbench.policy.api import Code
from kbench.policy.framework import Framework
from kbench.policy.profile import profile_from_dict
from tests.policy.fakes import GpuPick, Nominator, fake_registry, mk_nodes, mk_pod


def fw(plugins: dict, config: dict | None = None, seed: int = 0, **extra) -> Framework:
    prof = profile_from_dict("t", {"plugins": plugins, "pluginConfig": config or {}, **extra})
    return Framework(prof, seed, registry=fake_registry())


def test_weighted_sum_of_normalized_scores():
    """total = Σ weight × score (E1): 2×Fixed + 1×Fixed2."""
    nodes = mk_nodes(("a", 1000), ("b", 1000), ("c", 1000))
    f = fw({"score": [["Fixed", 2], ["Fixed2", 1]]},
           {"Fixed": {"scores": {"a": 10, "b": 40, "c": 30}}, "Fixed2": {"scores": {"a": 90, "b": 0, "c": 30}}})
    res = f.schedule(mk_pod(), nodes, assume=False, evaluate_all=True)
    # a: 2*10 + 90 = 110; b: 2*40 + 0 = 80; c: 2*30 + 30 = 90
    assert res.total.tolist() == [110, 80, 90]
    assert res.scores["Fixed"].tolist() == [10, 40, 30]
    assert res.node == "a" and res.weights == {"Fixed": 2, "Fixed2": 1}


def test_normalize_scores_runs_after_score():
    """Reverse: raw free cpu [1000, 500, 250] → normalized ×100 // 1000 → [100, 50, 25]."""
    nodes = mk_nodes(("a", 1000), ("b", 500), ("c", 250))
    res = fw({"score": ["Reverse"]}).schedule(mk_pod(cpu=0), nodes, assume=False, evaluate_all=True)
    assert res.scores["Reverse"].tolist() == [100, 50, 25]


def test_first_failing_filter_reason_is_recorded_and_later_filters_skip_the_node():
    nodes = mk_nodes(("a", 100), ("b", 2000), ("c", 2000))
    f = fw({"filter": ["CpuFit", "NotNamed"], "score": ["Flat"]}, {"NotNamed": {"names": ["a", "b"]}})
    res = f.schedule(mk_pod(cpu=500), nodes, assume=False, evaluate_all=True)
    assert res.feasible.tolist() == [False, False, True]
    assert res.filter_reasons["CpuFit"].tolist() == ["Insufficient cpu", "Success", "Success"]
    assert res.filter_reasons["NotNamed"].tolist() == [None, "node b is excluded", "Success"]
    assert res.node == "c"


def test_nothing_fits_gives_no_node_and_a_summary():
    nodes = mk_nodes(("a", 100), ("b", 100))
    res = fw({"filter": ["CpuFit"], "score": ["Flat"]}).schedule(mk_pod(cpu=500), nodes)
    assert res.node is None and res.status.code == Code.UNSCHEDULABLE
    assert res.status.message() == "0/2 nodes are available: 2 Insufficient cpu"
    assert nodes.pod_count.tolist() == [0, 0]


def test_prefilter_rejection_makes_every_node_infeasible():
    nodes = mk_nodes(("a", 1000), ("b", 1000))
    res = fw({"filter": ["CpuFit"], "preFilter": ["Gate"]}).schedule(
        mk_pod(labels={"blocked": "yes"}), nodes, evaluate_all=True)
    assert res.node is None and not res.feasible.any()
    assert res.filter_reasons["Gate"].tolist() == ["pod is blocked"] * 2
    assert res.status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_postfilter_gets_per_node_statuses_and_nominates():
    nodes = mk_nodes(("a", 100), ("b", 100))
    res = fw({"filter": ["CpuFit"], "postFilter": ["Nominator"]}).schedule(mk_pod(cpu=500), nodes)
    assert res.node is None and res.nominated_node == "a"
    assert sorted(Nominator.seen) == [0, 1]
    assert Nominator.seen[0].plugin == "CpuFit" and Nominator.seen[0].reasons == ("Insufficient cpu",)


def test_prescore_skip_gives_none_and_no_contribution():
    nodes = mk_nodes(("a", 1000), ("b", 1000))
    res = fw({"score": ["Skipper", ["Fixed", 1]]}, {"Fixed": {"scores": {"b": 7}}}).schedule(
        mk_pod(), nodes, assume=False, evaluate_all=True)
    assert res.scores["Skipper"] is None
    assert res.total.tolist() == [0, 7] and res.node == "b"


def test_random_tie_break_is_seeded_and_uniform():
    """All four nodes tie; the same seed repeats the choices, and each node wins about 1/4."""
    nodes = mk_nodes(("a", 10**9), ("b", 10**9), ("c", 10**9), ("d", 10**9))

    def choices(seed):
        f = fw({"score": ["Flat"]}, seed=seed)
        return [f.schedule(mk_pod(f"p{i}"), nodes, assume=False).node for i in range(400)]

    first = choices(7)
    assert first == choices(7)
    assert first != choices(8)
    counts = Counter(first)
    assert set(counts) == {"a", "b", "c", "d"} and all(60 <= c <= 140 for c in counts.values())


def test_first_tie_break_uses_one_fixed_seeded_node_order():
    names = [f"n{i:02d}" for i in range(20)]
    nodes = mk_nodes(*[(n, 10**9) for n in names])
    f = fw({"score": ["Flat"]}, seed=3, tieBreak="first")
    ranks = f.ranks(nodes)
    assert sorted(ranks.tolist()) == list(range(20))
    picks = {f.schedule(mk_pod(f"p{i}"), nodes, assume=False).node for i in range(10)}
    assert picks == {names[int(np.argmin(ranks))]}           # the same node every time
    again = fw({"score": ["Flat"]}, seed=3, tieBreak="first")
    assert again.ranks(nodes).tolist() == ranks.tolist()     # same seed, same order
    assert fw({"score": ["Flat"]}, seed=4, tieBreak="first").ranks(nodes).tolist() != ranks.tolist()


def test_first_tie_break_follows_an_explicit_node_order_and_skips_infeasible():
    nodes = mk_nodes(("a", 100), ("b", 1000), ("c", 1000))
    f = fw({"filter": ["CpuFit"], "score": ["Flat"]}, tieBreak="first")
    f.node_order = ["a", "c", "b"]
    assert f.schedule(mk_pod(cpu=500), nodes).node == "c"
    assert f.schedule(mk_pod(cpu=500), nodes).node == "c"     # c still has 500m free
    assert f.schedule(mk_pod(cpu=500), nodes).node == "b"


def test_assume_adds_the_pod_with_reserved_gpus():
    nodes = NodeTable.from_nodes([Node("g", {"cpu": 4000}, gpu_count=4)])
    f = fw({"score": ["Flat"], "reserve": ["GpuPick"]}, {"GpuPick": {"gpus": [2]}})
    res = f.schedule(mk_pod(gpu_milli=300), nodes)
    assert res.node == "g" and res.gpus == (2,)
    assert nodes.gpu_free_milli[0].tolist() == [1000, 1000, 700, 1000]
    assert nodes.pod_count[0] == 1 and nodes.requested_of("cpu")[0] == 100


def test_permit_rejection_unreserves_and_does_not_bind():
    nodes = mk_nodes(("a", 1000))
    before = GpuPick.unreserved
    f = fw({"score": ["Flat"], "reserve": ["GpuPick"], "permit": ["Denier"]})
    res = f.schedule(mk_pod(), nodes)
    assert res.node is None and res.status.reasons == ("denied",)
    assert GpuPick.unreserved == before + 1 and nodes.pod_count[0] == 0


def test_plugin_that_raises_names_policy_plugin_pod_and_point():
    nodes = mk_nodes(("a", 1000), ("b", 1000))
    with pytest.raises(PolicyError) as info:
        fw({"score": ["Boom"]}).schedule(mk_pod("web", namespace="shop"), nodes)
    msg = str(info.value)
    assert "'Boom'" in msg and "policy 't'" in msg and "shop/web" in msg and "at Score" in msg
    assert "ZeroDivisionError" in msg and "\n" not in msg


def test_out_of_range_score_is_an_error():
    with pytest.raises(PolicyError, match="0..100"):
        fw({"score": ["TooHigh"]}).schedule(mk_pod(), mk_nodes(("a", 1), ("b", 1)))


def test_single_feasible_node_is_chosen_without_scoring():
    nodes = mk_nodes(("a", 100), ("b", 1000))
    f = fw({"filter": ["CpuFit"], "score": ["Boom"]})
    res = f.schedule(mk_pod(cpu=500), nodes)       # Boom would raise if scored
    assert res.node == "b" and not res.scored.any()


@pytest.mark.parametrize(("n", "pct", "expected"), [
    (50, None, 50),          # < 100 nodes: all
    (100, None, 100),        # 50 % of 100 = 50, floored at 100
    (1000, None, 420),       # 50 - 1000/125 = 42 %
    (5000, None, 500),       # 50 - 40 = 10 % (D4)
    (10000, None, 500),      # 50 - 80 < 5 → 5 %
    (1000, 30, 300),
    (200, 10, 100),          # 20 < 100 → 100
    (1000, 100, 1000),
])
def test_num_feasible_nodes_to_find(n, pct, expected):
    f = fw({"score": ["Flat"]}, percentageOfNodesToScore=pct)
    assert f.num_feasible_nodes_to_find(n) == expected


def test_percentage_limits_candidates_and_rotates_the_start():
    nodes = mk_nodes(*[(f"n{i:03d}", 10**9) for i in range(200)])
    f = fw({"filter": ["CpuFit"], "score": ["Fixed"]}, percentageOfNodesToScore=50)
    first = f.schedule(mk_pod("p1"), nodes, assume=False)
    assert first.feasible.sum() == 100 and first.feasible[:100].all()
    second = f.schedule(mk_pod("p2"), nodes, assume=False)
    assert second.feasible[100:].all() and not second.feasible[:100].any()
    every = f.schedule(mk_pod("p3"), nodes, assume=False, evaluate_all=True)
    assert every.feasible.all()


def test_scalar_plugin_adapter_and_function_plugins():
    from kbench.policy.api import ScalarPlugin, function_plugin

    class Labelled(ScalarPlugin):
        NAME = "Labelled"

        def filter_one(self, pod, node):
            return True if node.free["cpu"] >= 500 else "needs 500m free"

        def score_one(self, pod, node):
            return 100 if node.name == "b" else 10

    Fn = function_plugin("Fn", score_one=lambda pod, node: 40, description="forty")
    assert not hasattr(Fn, "filter") and hasattr(Fn, "score")
    nodes = mk_nodes(("a", 100), ("b", 1000), ("c", 1000))
    prof = profile_from_dict("s", {"plugins": {"filter": ["Labelled"], "score": ["Labelled", "Fn"]}})
    res = Framework(prof, 0, registry=fake_registry(Labelled, Fn)).schedule(mk_pod(), nodes, evaluate_all=True)
    assert res.filter_reasons["Labelled"].tolist() == ["needs 500m free", "Success", "Success"]
    assert res.total.tolist() == [0, 140, 50] and res.node == "b"


def test_queue_sort_uses_the_profile_plugin():
    f = Framework(profile_from_dict("q", {"base": "default"}), 0, registry=fake_registry())
    assert f.less(mk_pod("hi", priority=10), mk_pod("lo", priority=1))
    assert not f.less(mk_pod("lo", priority=1), mk_pod("hi", priority=10))
