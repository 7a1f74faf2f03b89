"""The FGD paper's policies (FGD.md §2) on small hand-computed clusters.

Each case states the arithmetic in comments and asserts the score vector and the chosen node (the
first maximum, i.e. the ``first`` tie-break over the table's row order). Constants: Ĉ = 128,000
millicores, Ĝ = 8,000 milli-GPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.errors import PolicyError
from kbench.policy.api import CycleState, Handle
from policies.bestfit import BestFitScore
from policies.clustering import GpuClusteringScore
from policies.dotprod import DotProductScore
from policies.fgd import FgdScore
from policies.firstfit import FirstFit
from policies.packing import GpuPackingScore
from policies.random_policy import RandomScore
from tests.policy.builders import node, pod, scores, table


def gpu_node(name, gpus, cpu=32000, model="T4"):
    n = node(name, cpu=cpu, memory=64e9)
    n.gpu_count, n.gpu_model = gpus, model
    return n


def gpod(name, cpu=1000, k=0, u=0, on=None, gpus=()):
    return pod(name, reqs=[{"cpu": cpu, "memory": 1e9}], gpu_count=k, gpu_milli=u, node=on,
               gpu_indices=tuple(gpus))


def chosen(vector):
    return int(np.argmax(vector))


@pytest.fixture
def cluster_a():
    # n0: 32000m, 2 idle GPUs (L = 2000). n1: 64000m, 8 idle GPUs (L = 8000).
    # n2: 24000m, 4 GPUs, a bound 8000m 2-GPU pod on GPUs 0, 1 -> c = 16000, L = 2000.
    return table([gpu_node("n0", 2), gpu_node("n1", 8, cpu=64000), gpu_node("n2", 4, cpu=24000)],
                 [gpod("b", 8000, 2, 1000, on="n2", gpus=[0, 1])])


def test_dotprod(cluster_a):
    # Pod 8000m, 1 x 1000: c_p/Ĉ = .0625, R_p/Ĝ = .125.
    # n0: .25*.0625 + .25*.125 = .046875 -> 100(1 - .0234375) = 97.66 -> 97
    # n1: .5*.0625 + 1*.125 = .15625      -> 100(1 - .078125)  = 92.19 -> 92
    # n2: .125*.0625 + .25*.125 = .0390625 -> 100(1 - .01953125) = 98.05 -> 98
    s = scores(DotProductScore(), gpod("p", 8000, 1, 1000), cluster_a)
    assert s == [97, 92, 98] and chosen(s) == 2
    # A node with less free CPU than the pod asks scores 0: 20000m pod on n2 (16000m free).
    assert scores(DotProductScore(), gpod("p", 20000, 1, 1000), cluster_a)[2] == 0


def test_bestfit(cluster_a):
    # Pod 8000m, 1 x 1000; raw = trunc(100 (1 - [.5 (c - 8000)/Ĉ + .5 (L - 1000)/Ĝ])):
    # n0: .09375 + .0625 = .15625 -> 84.375 -> 84;  n1: .21875 + .4375 = .65625 -> 34.375 -> 34
    # n2: .03125 + .0625 = .09375 -> 90.625 -> 90
    plugin = BestFitScore()
    raw = plugin.score(CycleState(), gpod("p", 8000, 1, 1000), cluster_a, np.arange(3))
    assert raw.tolist() == [84, 34, 90]
    # min-max: (84-34)*100//56 = 89, 0, 100.
    s = scores(plugin, gpod("p", 8000, 1, 1000), cluster_a)
    assert s == [89, 0, 100] and chosen(s) == 2
    assert plugin.normalize_scores(CycleState(), None, np.array([7, 7])).tolist() == [0, 0]


@pytest.fixture
def cluster_b():
    # n0: 8 idle GPUs (L 8000). n1: 2 idle GPUs (L 2000).
    # n2: 8 GPUs, a share pod (500) on GPU 0 -> [500, 1000 x 7], L 7500, tags {share}.
    # n3: 4 GPUs, share (300) on GPU 0 and a 1-GPU pod on GPU 1 -> [700, 0, 1000, 1000], L 2700,
    #     tags {share, 1-gpu}.
    return table(
        [gpu_node("n0", 8, cpu=64000), gpu_node("n1", 2), gpu_node("n2", 8, cpu=64000), gpu_node("n3", 4)],
        [gpod("s1", 1000, 1, 500, on="n2", gpus=[0]), gpod("s2", 1000, 1, 300, on="n3", gpus=[0]),
         gpod("w1", 1000, 1, 1000, on="n3", gpus=[1])],
    )


def test_clustering(cluster_b):
    # b = 25 (8000 - L) // 8000: n0 0, n1 150000//8000 = 18, n2 12500//8000 = 1, n3 132500//8000 = 16.
    plugin = GpuClusteringScore()
    # share pod: n0 empty 25+0; n1 empty 25+18; n2 only {share} 75+1; n3 share among others 50+16.
    s = scores(plugin, gpod("p", 1000, 1, 400), cluster_b)
    assert s == [25, 43, 76, 66] and chosen(s) == 2
    # 2-GPU pod: tag "2-gpu" is on no node: n0 25, n1 43, n2 other tags b = 1, n3 b = 16.
    s = scores(plugin, gpod("p", 1000, 2, 1000), cluster_b)
    assert s == [25, 43, 1, 16] and chosen(s) == 1
    # CPU-only pods score 0 everywhere (first fit).
    assert scores(plugin, gpod("p"), cluster_b) == [0, 0, 0, 0]


def test_clustering_tag_cache_follows_binding(cluster_b):
    plugin = GpuClusteringScore()
    assert scores(plugin, gpod("p", 1000, 1, 400), cluster_b)[1] == 43
    # Bind a 2-GPU pod on n1: L = 0 -> b = 25; tags {2-gpu}: a share pod now gets b = 25 only.
    cluster_b.add_pod(gpod("w2", 1000, 2, 1000), cluster_b.index["n1"], (0, 1))
    assert scores(plugin, gpod("p", 1000, 1, 400), cluster_b)[1] == 25
    assert scores(plugin, gpod("p", 1000, 2, 1000), cluster_b)[1] == 100


def test_packing(cluster_b):
    plugin = GpuPackingScore()
    # share 400: n0 idle 8 GPUs max(33-8, 8) = 25; n1 idle 2 -> 31;
    # n2 takes GPU 0 (500, the smallest fitting): 100 - (50 // 10) = 95;
    # n3 ascending [0, 700, 1000, 1000] takes 700: 100 - 70 // 10 = 93.
    s = scores(plugin, gpod("p", 1000, 1, 400), cluster_b)
    assert s == [25, 31, 95, 93] and chosen(s) == 2
    # 2 x 1000: n2, n3 take two fully free GPUs: max(50 - 2, 33) = 48; tie -> n2 first.
    s = scores(plugin, gpod("p", 1000, 2, 1000), cluster_b)
    assert s == [25, 31, 48, 48] and chosen(s) == 2
    # 1 x 1000: one fully free GPU used: 49.
    assert scores(plugin, gpod("p", 1000, 1, 1000), cluster_b) == [25, 31, 49, 49]
    assert scores(plugin, gpod("p"), cluster_b) == [0, 0, 0, 0]


def test_first_fit_and_random(cluster_b):
    assert scores(FirstFit(), gpod("p"), cluster_b) == [100] * 4
    # Random: one node (the seeded draw over the candidates) scores 100.
    s = scores(RandomScore(handle=Handle(rng=np.random.default_rng(3))), gpod("p"), cluster_b)
    assert s.count(100) == 1 and s.count(0) == 3
    assert s.index(100) == int(np.random.default_rng(3).integers(4))
    again = scores(RandomScore(handle=Handle(rng=np.random.default_rng(3))), gpod("p"), cluster_b)
    assert again == s
    # Only feasible candidates can win.
    s = scores(RandomScore(handle=Handle(rng=np.random.default_rng(3))), gpod("p"), cluster_b, ["n1", "n3"])
    assert sorted(s) == [0, 100]


SHAPES = [
    {"cpuMilli": 4000, "gpuMilli": 500, "gpuCount": 1, "weight": 1},
    {"cpuMilli": 8000, "gpuMilli": 1000, "gpuCount": 1, "weight": 1},
]


@pytest.fixture
def cluster_c():
    # n0: 2 idle GPUs; n1: 2 GPUs, 300 used on GPU 1 -> [1000, 700]; n2: 1 GPU, 400 used -> [600].
    return table([gpu_node("n0", 2), gpu_node("n1", 2), gpu_node("n2", 1)],
                 [gpod("b1", 1000, 1, 300, on="n1", gpus=[1]), gpod("b2", 1000, 1, 400, on="n2", gpus=[0])])


def test_fgd_share_pod_score_and_gpu(cluster_c):
    # Typical: A = (4000m, 1 x 500), B = (8000m, 1 x 1000), p = .5 each. Pod: 2000m, 1 x 500.
    # n0 [1000, 1000]: F = 0. Either GPU -> [500, 1000]: B sees 500 too small -> F' = 250;
    #    floor(100 sigma(-.25)) = 43, GPU 0 (first maximiser).
    # n1 [1000, 700]: F = .5 * 700 = 350. GPU 0 -> [500, 700]: B misses -> .5 * 1200 = 600 -> 43;
    #    GPU 1 -> [1000, 200]: .5*200 + .5*200 = 200 -> floor(100 sigma(.15)) = 53 -> GPU 1.
    # n2 [600]: F = .5 * 600 (B misses) = 300. GPU 0 -> [100]: both miss -> 100 -> sigma(.2) -> 54.
    plugin = FgdScore({"typicalPods": SHAPES})
    state = CycleState()
    s = scores(plugin, gpod("p", 2000, 1, 500), cluster_c, state=state)
    assert s == [43, 53, 54] and chosen(s) == 2
    for name, gpu in (("n0", 0), ("n1", 1), ("n2", 0)):
        st = CycleState(state)
        assert plugin.reserve(st, gpod("p", 2000, 1, 500), cluster_c, cluster_c.index[name]).ok
        assert st["gpus"] == (gpu,)
    # Without a cached score (e.g. a single feasible node) Reserve recomputes the same choice.
    st = CycleState()
    plugin.reserve(st, gpod("p", 2000, 1, 500), cluster_c, cluster_c.index["n1"])
    assert st["gpus"] == (1,)


def test_fgd_whole_gpu_and_cpu_only_pods(cluster_c):
    plugin = FgdScore({"typicalPods": SHAPES})
    # 1 x 1000 takes the lowest-indexed free GPU. n0 -> [0, 1000]: nothing changes (F' = 0) -> 50.
    # n1 -> [0, 700]: B misses -> .5 * 700 = 350 = F -> 50. n2: cannot take it -> unchanged -> 50.
    assert scores(plugin, gpod("p", 2000, 1, 1000), cluster_c) == [50, 50, 50]
    st = CycleState()
    plugin.reserve(st, gpod("p", 2000, 1, 1000), cluster_c, 0)
    assert st["gpus"] == (0,)
    # CPU-only 25000m: n0 keeps 7000m < 8000m, so B no longer fits: F' = .5 * 2000 = 1000 -> 26.
    # n1 (31000m free -> 6000m): A still fits (0); B now lacks CPU: .5 * 1700 = 850; F = 350,
    #    floor(100 sigma(-.5)) = 37. n2 [600] (31000m -> 6000m): B lacked GPU before and still does:
    #    F' = F = 300 -> 50, the best: a CPU-only pod goes where it adds no fragmentation.
    s = scores(plugin, gpod("p", 25000), cluster_c)
    assert s == [26, 37, 50] and chosen(s) == 2


def test_fgd_typical_pods_from_handle_and_fallback(cluster_c):
    pods = [gpod("a", 4000, 1, 500), gpod("b", 8000, 1, 1000)]
    from_pods = FgdScore(handle=Handle(extra={"typical_pods": pods}))
    assert scores(from_pods, gpod("p", 2000, 1, 500), cluster_c) == [43, 53, 54]
    assert from_pods.typical_source == "handle"
    fallback = FgdScore()
    scores(fallback, gpod("p", 2000, 1, 500), cluster_c)
    assert fallback.typical_source == "bound pods"
    # A pod with no requests at all scores 100 everywhere (as the Go code).
    assert scores(FgdScore({"typicalPods": SHAPES}), pod("empty"), cluster_c) == [100, 100, 100]


@pytest.mark.parametrize("cls", [DotProductScore, BestFitScore, GpuClusteringScore, GpuPackingScore,
                                 FirstFit, RandomScore])
def test_argless_policies_reject_args(cls):
    with pytest.raises(PolicyError, match=r"args\.x"):
        cls({"x": 1})


def test_fgd_bad_args_name_the_field():
    with pytest.raises(PolicyError, match=r"args\.popularityThreshold"):
        FgdScore({"popularityThreshold": 0})
    with pytest.raises(PolicyError, match=r"args\.typicalPods\[1\]\.gpuMilli"):
        FgdScore({"typicalPods": [SHAPES[0], {"gpuMilli": 2000, "gpuCount": 1, "weight": 1}]})


# ----- end to end through the Framework with the named profiles --------------------------------------

def framework(policy, seed=0, **extra):
    from kbench.policy.framework import Framework

    f = Framework(policy, handle=Handle(rng=np.random.default_rng(seed), extra=extra))
    return f


def named_order(f, nodes):
    f.node_order = list(nodes.names)  # the fixed tie-break order: row order
    return f


def test_fgd_profile_places_sharing_pods_and_their_gpus(cluster_c):
    f = named_order(framework("fgd", typical_pods=SHAPES), cluster_c)
    res = f.schedule(gpod("p1", 2000, 1, 500), cluster_c)
    # Scores [43, 53, 54] (see test_fgd_share_pod_score_and_gpu): n2, GPU 0 -> n2 free [100].
    assert (res.node, res.gpus) == ("n2", (0,))
    assert res.scores["Fgd"].tolist() == [43, 53, 54]
    assert cluster_c.gpu_free_milli[2, :1].tolist() == [100]
    # Next 500 pod: n2 no longer fits; n1 scores 53 with GPU 1 (its 700), n0 43 -> n1, GPU 1.
    res = f.schedule(gpod("p2", 2000, 1, 500), cluster_c)
    assert (res.node, res.gpus) == ("n1", (1,))
    assert res.feasible.tolist() == [True, True, False]
    assert cluster_c.gpu_free_milli[1].tolist() == [1000, 200]


def test_fgd_profile_single_feasible_node_still_gets_fgds_gpu(cluster_c):
    # A 700 pod: only n1 ([1000, 700]) is feasible (n2 has [600]), so the framework skips scoring
    # and FGD's Reserve computes the choice itself. F(n1) = 350.
    # GPU 0 -> [300, 700]: A fits, 300 too small: .5*300 = 150; B misses: .5*1000 = 500 -> F' = 650, 42.
    # GPU 1 -> [1000, 0]: A and B fit, nothing small but 0 -> F' = 0 -> floor(100 sigma(.35)) = 58.
    nodes = table([gpu_node("n1", 2), gpu_node("n2", 1)],
                  [gpod("b1", 1000, 1, 300, on="n1", gpus=[1]), gpod("b2", 1000, 1, 400, on="n2", gpus=[0])])
    res = framework("fgd", typical_pods=SHAPES).schedule(gpod("p", 2000, 1, 700), nodes)
    assert (res.node, res.gpus) == ("n1", (1,))


def test_best_fit_and_dot_prod_profiles_use_best_gpu(cluster_a):
    for policy in ("best-fit", "dot-prod"):
        nodes = cluster_a.copy()
        res = named_order(framework(policy), nodes).schedule(gpod("p", 8000, 1, 1000), nodes)
        # n2 wins both (BestFit 100, DotProd 98); its fully free GPUs are 2, 3 -> GPU 2.
        assert (res.node, res.gpus) == ("n2", (2,))


def test_packing_and_clustering_profiles(cluster_b):
    for policy in ("packing", "clustering"):
        nodes = cluster_b.copy()
        res = named_order(framework(policy), nodes).schedule(gpod("p", 1000, 1, 400), nodes)
        # Both pick n2 (95 / 76); best GPU: the least free that fits, GPU 0 (500).
        assert (res.node, res.gpus) == ("n2", (0,))
        # CPU-only pods score 0 everywhere: first in the fixed order.
        nodes = cluster_b.copy()
        f = framework(policy)
        f.node_order = ["n3", "n1", "n0", "n2"]
        assert f.schedule(gpod("c", 1000), nodes).node == "n3"


def test_first_fit_follows_the_fixed_order_and_filters(cluster_c):
    f = framework("first-fit")
    f.node_order = ["n2", "n1", "n0"]
    # 1 x 1000 does not fit n2 ([600]): the first feasible node in the order is n1 (GPU 0).
    res = f.schedule(gpod("p", 1000, 1, 1000), cluster_c)
    assert (res.node, res.gpus) == ("n1", (0,))
    # Too much CPU for any node (32000m allocatable): unschedulable.
    assert f.schedule(gpod("big", 40000), cluster_c).node is None


def test_random_profile_is_seeded(cluster_b):
    def run(seed):
        nodes = cluster_b.copy()
        f = framework("random", seed)
        return [(r.node, r.gpus) for r in (f.schedule(gpod(f"p{i}", 1000, 1, 300), nodes) for i in range(6))]

    assert run(5) == run(5)
    assert len({node for node, _ in run(5) + run(6)}) > 1


# ----- invariants (hypothesis) ------------------------------------------------------------------------

POLICIES = ("random", "first-fit", "dot-prod", "best-fit", "clustering", "packing", "fgd")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), policy=st.sampled_from(POLICIES))
def test_placements_never_overdraw_and_scores_stay_in_range(seed, policy):
    rng = np.random.default_rng(seed)
    nodes = table([gpu_node(f"n{i}", int(rng.choice([1, 2, 4, 8])), cpu=int(rng.choice([16000, 32000])))
                   for i in range(5)])
    shapes = [(0, 0), (1, 200), (1, 500), (1, 900), (1, 1000), (2, 1000)]
    pods = [gpod(f"p{i}", int(rng.choice([1000, 4000, 8000])), *shapes[rng.integers(len(shapes))])
            for i in range(30)]
    f = framework(policy, seed, typical_pods=pods)
    fresh_typical = f.plugins["Fgd"].typical_pods(pods[0], nodes) if policy == "fgd" else None
    for p in pods:
        if policy == "fgd":  # the per-shape cache agrees with a fresh computation
            cand = np.arange(nodes.n)
            fresh = FgdScore(handle=Handle(extra={"typical_pods": fresh_typical}))
            assert (f.plugins["Fgd"].score(CycleState(), p, nodes, cand)
                    == fresh.score(CycleState(), p, nodes, cand)).all()
        res = f.schedule(p, nodes)
        for scores_ in res.scores.values():
            if scores_ is not None:
                assert scores_.min() >= 0 and scores_.max() <= 100
        cpu = nodes.res_index["cpu"]
        assert (nodes.requested[:, cpu] <= nodes.allocatable[:, cpu]).all()
        g = nodes.gpu_free_milli
        real = np.arange(g.shape[1])[None, :] < nodes.gpu_count[:, None]
        assert (g[real] >= 0).all() and (g[real] <= 1000).all() and (g[~real] == -1).all()
