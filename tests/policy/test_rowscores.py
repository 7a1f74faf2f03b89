"""Scores kept across cycles (:mod:`policies.rowscores`) equal the scores computed afresh."""

from __future__ import annotations

import numpy as np
import pytest

from kbench.policy.api import CycleState
from policies import rowscores
from policies.balancedallocation import NodeResourcesBalancedAllocation, balanced_scores
from policies.noderesources import NodeResourcesFit, least_allocated
from policies.resourceargs import alloc_and_requested
from tests.policy.builders import MB, node, pod, table


def _fresh(plugin, p, nodes, cand):
    state = CycleState()
    plugin.pre_score(state, p, nodes, cand)
    key = "NodeResourcesFit/preScore" if isinstance(plugin, NodeResourcesFit) else \
        "NodeResourcesBalancedAllocation/preScore"
    use_requested = not isinstance(plugin, NodeResourcesFit)
    alloc, req = alloc_and_requested(nodes, cand, plugin.resources, state[key], use_requested)
    if use_requested:
        return balanced_scores(req, alloc)
    return least_allocated(req, alloc, plugin.weights)


@pytest.mark.parametrize("make", [NodeResourcesFit, NodeResourcesBalancedAllocation,
                                  lambda: NodeResourcesFit({"scoringStrategy": {"resources": [
                                      {"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}]}})])
def test_cached_scores_follow_pod_changes(make):
    rng = np.random.default_rng(5)
    nodes = table([node(f"n{i}", cpu=float(rng.choice([0, 2000, 4000, 8000])),
                        memory=float(rng.choice([0, 4096, 8192])) * MB) for i in range(60)])
    plugin = make()
    shapes = [pod("a", reqs=[{"cpu": 300, "memory": 200 * MB}]), pod("b", reqs=[{"cpu": 1500}]),
              pod("c", reqs=[{}])]
    placed = []
    used_cache = 0
    for step in range(400):
        p = shapes[int(rng.integers(len(shapes)))]
        cand = np.sort(rng.choice(nodes.n, size=int(rng.integers(1, nodes.n)), replace=False)).astype(np.int64)
        state = CycleState()
        if not plugin.pre_score(state, p, nodes, cand).is_skip:  # BalancedAllocation skips best-effort pods
            got = plugin.score(state, p, nodes, cand)
            assert got.tolist() == _fresh(plugin, p, nodes, cand).tolist(), step
        used_cache += any(v is not False for v in rowscores._CACHE.get(nodes, {}).values())
        # the table changes between cycles: one to a few pods added or removed
        for _ in range(int(rng.integers(0, 3)) if step % 50 else 40):
            if placed and rng.random() < 0.4:
                q, row = placed.pop(int(rng.integers(len(placed))))
                nodes.remove_pod(q, row)
            else:
                q = pod(f"x{step}", reqs=[{"cpu": float(rng.integers(1, 9) * 100), "memory": float(rng.integers(0, 5)) * MB}])
                row = int(rng.integers(nodes.n))
                nodes.add_pod(q, row)
                placed.append((q, row))
    assert used_cache > 300


def test_scalar_rows_match_the_vectorised_functions():
    rng = np.random.default_rng(9)
    alloc = rng.choice([0, 1, 7, 1000, 4096, 2**36], size=(500, 2)).astype(np.int64)
    req = rng.integers(0, 2**37, size=(500, 2)) // rng.choice([1, 2**20, 2**30], size=(500, 2))
    weights = np.array([3, 1], dtype=np.int64)
    la = least_allocated(req, alloc, weights)
    full = alloc.all(axis=1)
    ba = balanced_scores(req[full], alloc[full])
    for i in range(500):
        assert rowscores.least_allocated_row(alloc[i].tolist(), req[i].tolist(), [3, 1]) == la[i]
    for j, i in enumerate(np.flatnonzero(full)):
        assert rowscores.balanced_two_row(alloc[i].tolist(), req[i].tolist()) == ba[j]
    assert rowscores.balanced_two_row([0, 5], [1, 1]) is None


def test_packing_scores_kept_across_cycles_equal_fresh_ones():
    from policies.packing import GpuPackingScore, packing_scores
    from tests.policy.test_fgd_policies import gpod, gpu_node

    rng = np.random.default_rng(11)
    nodes = table([gpu_node(f"n{i}", int(rng.choice([0, 1, 2, 4, 8]))) for i in range(50)])
    plugin = GpuPackingScore()
    shapes = [(1, 300), (1, 500), (1, 1000), (2, 1000), (4, 1000)]
    placed, used_cache = [], 0
    for step in range(400):
        k, u = shapes[int(rng.integers(len(shapes)))]
        p = gpod("p", 1000, k, u)
        cand = np.sort(rng.choice(nodes.n, size=int(rng.integers(1, nodes.n)), replace=False)).astype(np.int64)
        got = plugin.score(CycleState(), p, nodes, cand)
        assert got.tolist() == packing_scores(nodes, cand, k, u).tolist(), step
        used_cache += any(v is not False for v in rowscores._CACHE.get(nodes, {}).values())
        for _ in range(int(rng.integers(0, 3)) if step % 50 else 30):  # the table changes between cycles
            if placed and rng.random() < 0.4:
                q, row, gpus = placed.pop(int(rng.integers(len(placed))))
                nodes.remove_pod(q, row, gpus)
            else:
                k2, u2 = shapes[int(rng.integers(len(shapes)))]
                q, row = gpod(f"x{step}", 100, k2, u2), int(rng.integers(nodes.n))
                gpus = nodes.pick_gpus(q, row)
                if gpus:
                    nodes.add_pod(q, row, gpus)
                    placed.append((q, row, gpus))
    assert used_cache > 300


def test_packing_row_equals_the_vectorised_score():
    from policies.packing import packing_row, packing_scores
    from tests.policy.test_fgd_policies import gpu_node

    rng = np.random.default_rng(3)
    nodes = table([gpu_node(f"n{i}", int(rng.choice([0, 1, 2, 4, 8]))) for i in range(300)])
    for i in range(nodes.n):  # random free shares, whole GPUs and pads
        gpus = int(nodes.gpu_count[i])
        nodes.gpu_free_milli[i, :gpus] = rng.choice([0, 100, 300, 500, 700, 1000], size=gpus)
    rows = np.arange(nodes.n, dtype=np.int64)
    for k, u in [(1, 100), (1, 300), (1, 500), (1, 1000), (2, 1000), (4, 1000), (8, 1000)]:
        want = packing_scores(nodes, rows, k, u).tolist()
        got = [packing_row(nodes.gpu_free_milli[i].tolist(), int(nodes.gpu_count[i]), k, u) for i in range(nodes.n)]
        assert got == want, (k, u)
