"""GPU fragmentation (FGD.md §2.8) and typical pods: hand-computed values and a scalar reference.

The scalar reference re-states the Go simulator's per-node loops (``pkg/utils/frag.go``:
NodeGpuShareFragAmount / GetNodePodFrag; ``pkg/simulator/plugin/fgd_score.go``) in plain Python,
so the vectorised functions are checked against it bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kbench.errors import PolicyError
from kbench.policy.gpufrag import (
    fgd_other_scores,
    fgd_share_scores,
    frag_amount,
    frag_amount_pct,
    frag_rate_pct,
    model_allowed,
    node_frag,
    node_frag_amount,
)
from kbench.policy.typical import TypicalPods, typical_pods
from tests.policy.builders import node, pod, table

SHAPES = TypicalPods.from_records([
    {"cpuMilli": 4000, "gpuMilli": 500, "gpuCount": 1, "weight": 1},
    {"cpuMilli": 8000, "gpuMilli": 1000, "gpuCount": 1, "weight": 1},
])


def gpu_node(name, gpus, cpu=32000, model="T4"):
    n = node(name, cpu=cpu, memory=64e9)
    n.gpu_count, n.gpu_model = gpus, model
    return n


def gpod(name, cpu, k=0, u=0, on=None, gpus=(), model=None):
    return pod(name, reqs=[{"cpu": cpu, "memory": 1e9}], node=on, gpu_count=k, gpu_milli=u,
               gpu_indices=tuple(gpus), gpu_model=model)


# ----- scalar reference (the Go loops, restated) -------------------------------------------------

def ref_node_frag(cpu, gpus, model, typical):
    data = [0.0] * 7
    left = sum(gpus)
    for m in range(typical.m):
        c, u, k, tm, p = (int(typical.cpu_milli[m]), int(typical.gpu_milli[m]), int(typical.gpu_count[m]),
                          typical.gpu_model[m], float(typical.weight[m]))
        if u == 0:
            data[4 if cpu >= c else 5] += p * float(left)
            continue
        if not model_allowed(tm, model or ""):
            data[6] += p * float(left)
            continue
        fit_gpu = sum(1 for g in gpus if g >= u) >= k
        if fit_gpu and cpu >= c:
            data[1] += p * float(sum(g for g in gpus if g < u))
        elif fit_gpu:
            data[3] += p * float(left)
        else:
            data[1 if cpu >= c else 0] += p * float(left)
    out = 0.0
    for i in (0, 1, 3, 4, 5, 6):
        out += data[i]
    return out


def ref_score(before, after):
    return int(1.0 / (1.0 + math.exp(-((before - after) / 1000.0))) * 100.0)


def ref_share(cpu, gpus, model, typical, c_p, u):
    before = ref_node_frag(cpu, gpus, model, typical)
    best, choice = 0, -1
    for j, g in enumerate(gpus):
        if g >= u:
            after = list(gpus)
            after[j] -= u
            s = ref_score(before, ref_node_frag(cpu - c_p, after, model, typical))
            if choice < 0 or s > best:
                best, choice = s, j
    return best, choice


# ----- hand-computed values -----------------------------------------------------------------------

def test_frag_amount_of_a_known_node():
    # n1: 2 T4 GPUs, a 300-milli pod on GPU 0 -> free [700, 1000]; cpu free 32000 - 1000 = 31000.
    # Shape A (4000m, 1 x 500, p = .5): fits (700 >= 500); GPUs < 500: none -> 0.
    # Shape B (8000m, 1 x 1000, p = .5): fits (GPU 1); GPUs < 1000: GPU 0 (700) -> .5 * 700 = 350.
    # n0 (idle, 2 GPUs): both shapes fit with nothing too small -> 0.
    nodes = table([gpu_node("n0", 2), gpu_node("n1", 2)], [gpod("x", 1000, 1, 300, on="n1", gpus=[0])])
    assert node_frag_amount(nodes, SHAPES).tolist() == [0.0, 350.0]
    assert frag_amount(nodes, SHAPES) == 350.0
    # Capacity 4 GPUs = 4000 milli: amount 350/4000 = 8.75 %; idle 3700: rate 350/3700.
    assert frag_amount_pct(nodes, SHAPES) == pytest.approx(8.75)
    assert frag_rate_pct(nodes, SHAPES) == pytest.approx(100 * 350 / 3700)


def test_cpu_only_shape_counts_all_idle_gpu_and_model_mismatch_too():
    # Shapes: CPU-only (p = .5) and a V100-only 1-GPU shape (p = .5) on an idle 2-GPU T4 node:
    # both count the whole idle 2000 milli -> F = .5*2000 + .5*2000 = 2000. A CPU-only node: L = 0.
    shapes = TypicalPods.from_records([{"cpuMilli": 1000, "weight": 1},
                                       {"cpuMilli": 1000, "gpuMilli": 1000, "gpuCount": 1,
                                        "gpuModel": "V100", "weight": 1}])
    nodes = table([gpu_node("t4", 2), node("cpu", cpu=8000, memory=1e9)])
    assert node_frag_amount(nodes, shapes).tolist() == [2000.0, 0.0]


def test_fgd_share_score_and_gpu_hand_computed():
    # Pod: 2000m, 1 x 500. Node n1 free [1000, 700], F = 350 (see above).
    #   GPU 0 -> [500, 700]: A fits, nothing < 500 -> 0; B: no GPU >= 1000 -> .5 * 1200 = 600.
    #          F' = 600, s = floor(100 sigma(-0.25)) = floor(43.78) = 43.
    #   GPU 1 -> [1000, 200]: A fits, .5 * 200 = 100; B fits, .5 * 200 = 100. F' = 200,
    #          s = floor(100 sigma(0.15)) = floor(53.74) = 53  -> GPU 1 wins.
    cpu = np.array([31000])
    g = np.array([[1000, 700]])
    access = np.ones((2, 1), dtype=bool)  # (shapes, nodes)
    scores, gpu = fgd_share_scores(cpu, g, np.array([2]), access, SHAPES, 2000, 500)
    assert scores.tolist() == [53] and gpu.tolist() == [1]


def test_fgd_no_change_scores_50_and_cpu_cut_scores_lower():
    # A CPU-only pod of 2000m: on a node with 9000m free, B (8000m) no longer fits after it:
    # F' = .5 * 2000 = 1000, F = 0 -> floor(100 sigma(-1)) = 26. With 32000m free nothing changes: 50.
    cpu = np.array([9000, 32000])
    g = np.array([[1000, 1000], [1000, 1000]])
    access = np.ones((2, 2), dtype=bool)
    out = fgd_other_scores(cpu, g, np.array([2, 2]), access, SHAPES, 2000, 0, 0)
    assert out.tolist() == [26, 50]


# ----- the vectorised code equals the scalar reference --------------------------------------------

def random_cluster(rng, n=40):
    shapes = typical_pods([
        gpod(f"t{i}", int(rng.choice([1000, 4000, 8000, 16000])), *([(0, 0), (1, 250), (1, 500), (1, 800),
                                                                       (1, 1000), (2, 1000)][rng.integers(6)]),
             model=[None, None, None, "T4", "V100|T4"][rng.integers(5)])
        for i in range(60)
    ])
    cpu = rng.integers(0, 40000, n)
    G = 8
    count = rng.choice([0, 1, 2, 4, 8], n)
    g = np.full((n, G), -1, dtype=np.int64)
    for i in range(n):
        g[i, :count[i]] = rng.choice([0, 100, 200, 300, 500, 700, 1000], count[i])
    models = [None if count[i] == 0 else ["T4", "V100", "A10"][rng.integers(3)] for i in range(n)]
    return shapes, cpu, g, count, models


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_frag_and_fgd_scores_match_the_scalar_reference(seed):
    rng = np.random.default_rng(seed)
    shapes, cpu, g, count, models = random_cluster(rng)
    access = np.array([[model_allowed(shapes.gpu_model[m], models[i] or "") for i in range(len(cpu))]
                       for m in range(shapes.m)])
    real = [g[i, :count[i]].tolist() for i in range(len(cpu))]
    got = node_frag(cpu, g, access, shapes)
    want = [ref_node_frag(int(cpu[i]), real[i], models[i], shapes) for i in range(len(cpu))]
    assert got.tolist() == want  # bit for bit
    for c_p, u in ((3000, 300), (500, 700)):
        scores, gpu = fgd_share_scores(cpu, g, count, access, shapes, c_p, u)
        ref = [ref_share(int(cpu[i]), real[i], models[i], shapes, c_p, u) for i in range(len(cpu))]
        assert scores.tolist() == [s for s, _ in ref]
        assert gpu.tolist() == [j for _, j in ref]


# ----- typical pods -------------------------------------------------------------------------------

def test_typical_pods_group_sort_cut_and_renormalise():
    # 10 pods: 4 x (4000, 1 x 500), 3 x (8000, 1 x 1000), 2 x (2000 CPU-only), 1 x (1000, 2 x 1000).
    # Threshold 80 %: 8 pods needed; 4 + 3 = 7 < 8, + 2 = 9 >= 8 -> keep three shapes covering 90 %,
    # renormalised: 4/9, 3/9, 2/9.
    pods = ([gpod(f"a{i}", 4000, 1, 500) for i in range(4)] + [gpod(f"b{i}", 8000, 1, 1000) for i in range(3)]
            + [gpod(f"c{i}", 2000) for i in range(2)] + [gpod("d", 1000, 2, 1000)])
    t = typical_pods(pods, threshold_pct=80)
    assert t.cpu_milli.tolist() == [4000, 8000, 2000]
    assert t.gpu_milli.tolist() == [500, 1000, 0] and t.gpu_count.tolist() == [1, 1, 0]
    assert t.weight.tolist() == pytest.approx([4 / 9, 3 / 9, 2 / 9])
    # 100 %: every shape, weights count / total; ties in count go to the larger key first.
    t = typical_pods([gpod("x", 1000), gpod("y", 2000)], threshold_pct=100)
    assert t.cpu_milli.tolist() == [2000, 1000] and t.weight.tolist() == [0.5, 0.5]


def test_typical_pods_bad_input_names_the_field():
    with pytest.raises(PolicyError, match=r"typicalPods\[0\]\.weight"):
        TypicalPods.from_records([{"cpuMilli": 1, "weight": 0}])
    with pytest.raises(PolicyError, match="no pods"):
        typical_pods([])
