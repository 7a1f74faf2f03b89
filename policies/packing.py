"""Packing (GpuPacking): fill partly used GPUs first, then partly used nodes, then small idle nodes.

FGD.md §2.6, following ``getPackingScore`` in hkust-adsl/kubernetes-scheduler-simulator
``pkg/simulator/plugin/gpu_packing_score.go``. CPU-only pods score 0 (the node order decides).
For a GPU pod of k GPUs × u milli on a node with G_n GPUs, φ_n of them fully free:

1. φ_n = G_n (idle node): s = max(33 − G_n, G_n), so idle 1/2/4/8-GPU nodes score 32/31/29/25;
2. else take, in ascending free order, the k GPUs with g ≥ u; if f > 0 of them are fully free:
   s = max(50 − f, 33);
3. else (only partly used GPUs taken): s = max(100 − (Σ_taken ⌊100 g / 1000⌋) // 10, 50).

GPU selection: best (``GpuShare``).
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import CycleState, Handle, Plugin
from kbench.policy.gpufrag import gpu_free, take_ascending
from kbench.policy.typical import MILLI, pod_gpu
from policies.rowscores import cached_scores


class GpuPackingScore(Plugin):
    """Prefer partly used GPUs, then partly used nodes, then the smallest idle nodes."""

    NAME = "GpuPacking"
    DESCRIPTION = "FGD baseline Packing: shared GPUs > free GPUs on used nodes > small idle nodes"

    def __init__(self, args: dict | None = None, handle: Handle | None = None):
        super().__init__(args, handle)
        if self.args:
            raise PolicyError(f"GpuPacking takes no args, got {sorted(self.args)}",
                              where=f"args.{sorted(self.args)[0]}")

    def score(self, state: CycleState, pod, nodes, candidates: np.ndarray) -> np.ndarray:
        """Scores of all candidates (see the module docstring).

        A node's score depends only on its own GPU row and the pod's (k, u), so the scores of every
        node are kept per (k, u) across cycles and only rows whose pods changed are recomputed
        (:func:`policies.rowscores.cached_scores`).
        """
        k, u = pod_gpu(pod)
        if k == 0:
            return np.zeros(len(candidates), dtype=np.int64)
        got = cached_scores(nodes, ("GpuPacking", k, u), candidates,
                            lambda rows: packing_scores(nodes, rows, k, u),
                            lambda row: packing_row(nodes.gpu_free_milli[row].tolist(), int(nodes.gpu_count[row]), k, u))
        return packing_scores(nodes, candidates, k, u) if got is None else got


def packing_row(g: list[int], gpus: int, k: int, u: int) -> int:
    """:func:`packing_scores` of one node: ``g`` its free milli-GPU per GPU (-1 pads), ``gpus`` its count."""
    if sum(1 for x in g if x == MILLI) == gpus:
        return max(33 - gpus, gpus)
    lim = max(u, 1)
    taken = [j for j in sorted(range(len(g)), key=g.__getitem__) if g[j] >= lim][:k]  # stable, as take_ascending
    if len(taken) < k:
        return 0
    f = sum(1 for j in taken if g[j] == MILLI)
    if f > 0:
        return max(50 - f, 33)
    return max(100 - sum(max(g[j], 0) * 100 // MILLI for j in taken) // 10, 50)


def packing_scores(nodes, rows: np.ndarray, k: int, u: int) -> np.ndarray:
    """``(len(rows),) int64`` Packing scores of a GPU pod of k GPUs x u milli on ``rows`` (k > 0)."""
    g = gpu_free(nodes, rows)
    G_n = nodes.gpu_count[rows]
    phi = (g == MILLI).sum(axis=1)
    idle = np.maximum(33 - G_n, G_n)
    taken = take_ascending(g, k, u)
    enough = taken.sum(axis=1) >= k
    f = (taken & (g == MILLI)).sum(axis=1)
    used_node = np.maximum(50 - f, 33)
    pct = np.where(taken, np.maximum(g, 0) * 100 // MILLI, 0).sum(axis=1)
    shared = np.maximum(100 - pct // 10, 50)
    s = np.where(f > 0, used_node, shared)
    s = np.where(enough, s, 0)  # the Go code errors (score 0) where the pod does not fit
    return np.where(phi == G_n, idle, s).astype(np.int64)


PLUGINS = [GpuPackingScore]

PROFILES = {
    "packing": {
        "plugins": {
            "filter": ["NodeResourcesFit", "GpuShare"],
            "score": [["GpuPacking", 1]],
            "reserve": ["GpuShare"],
        },
        "percentageOfNodesToScore": 100,
        "tieBreak": "first",
        "description": "FGD baseline Packing (shared GPUs first, then used nodes, then small idle nodes)",
    },
}
