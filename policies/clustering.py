"""Clustering (GpuClustering): put GPU pods with pods of the same GPU shape (FGD.md §2.5).

Follows ``GpuClusteringScorePlugin.Score`` in hkust-adsl/kubernetes-scheduler-simulator
``pkg/simulator/plugin/gpu_clustering_score.go``, ``GetGpuAffinityFromPodAnnotation``
(``pkg/type/open-gpu-share/utils/pod.go``) and the node affinity map of
``GetNodeResourceViaNodeInfo`` (``pkg/utils/utils.go``).

A pod's tag is none (CPU-only), ``share-gpu`` (one GPU, u < 1000) or ``k-gpu`` (k whole GPUs).
A_n is the set of tags of the GPU pods bound to node n, and b_n = 25 (Ĝ − L_n) // Ĝ with
Ĝ = 8,000 milli and L_n the node's summed free GPU (Go integer division, truncating toward zero):

* 75 + b_n when A_n is exactly {the pod's tag};
* 50 + b_n when the pod's tag is in A_n with others;
* 25 + b_n when A_n is empty;
* b_n otherwise; and 0 for CPU-only pods (the node order then decides: first fit).

GPU selection: best (``GpuShare``). The per-node tag counts are kept in a small cache that is
refreshed only for rows whose pod count or free GPU changed since the last call.
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import CycleState, Handle, Plugin
from kbench.policy.gpufrag import MAX_SPEC_GPU
from kbench.policy.typical import MILLI, pod_gpu


def gpu_tag(pod) -> int:
    """A pod's GPU tag as a column number: -1 none, 0 ``share-gpu``, k ``k-gpu``."""
    k, u = pod_gpu(pod)
    if k == 0:
        return -1
    return 0 if (k == 1 and u < MILLI) else k


def trunc_div(a: np.ndarray, b: int) -> np.ndarray:
    """Integer division truncating toward zero (Go's ``/``) for a positive divisor."""
    return np.sign(a) * (np.abs(a) // b)


class TagCounts:
    """``(n, T)`` counts of bound GPU pods per tag column, refreshed incrementally."""

    def __init__(self) -> None:
        self._nodes = None
        self._sig: np.ndarray | None = None
        self.counts = np.zeros((0, 1), dtype=np.int64)

    def update(self, nodes) -> np.ndarray:
        """The counts for ``nodes``, recomputing only rows whose (pod count, free GPU) changed."""
        gpu_sum = nodes.gpu_free_total
        sig = np.stack([np.asarray(nodes.pod_count, dtype=np.int64), gpu_sum], axis=1)
        if self._nodes is not nodes or self._sig is None or self._sig.shape != sig.shape:
            rows = np.arange(nodes.n)
            self.counts = np.zeros((nodes.n, self.counts.shape[1]), dtype=np.int64)
        else:
            rows = np.flatnonzero((sig != self._sig).any(axis=1))
        for i in rows.tolist():
            self.counts[i] = 0
            for pod in nodes.pods[i]:
                t = gpu_tag(pod)
                if t < 0:
                    continue
                if t >= self.counts.shape[1]:
                    grow = np.zeros((nodes.n, t + 1 - self.counts.shape[1]), dtype=np.int64)
                    self.counts = np.hstack([self.counts, grow])
                self.counts[i, t] += 1
        self._nodes, self._sig = nodes, sig
        return self.counts


class GpuClusteringScore(Plugin):
    """Prefer nodes already running pods of the same GPU shape, then fuller nodes."""

    NAME = "GpuClustering"
    DESCRIPTION = "FGD baseline Clustering: same-GPU-shape nodes first (75/50/25 tiers + fullness)"

    def __init__(self, args: dict | None = None, handle: Handle | None = None):
        super().__init__(args, handle)
        if self.args:
            raise PolicyError(f"GpuClustering takes no args, got {sorted(self.args)}",
                              where=f"args.{sorted(self.args)[0]}")
        self._tags = TagCounts()

    def score(self, state: CycleState, pod, nodes, candidates: np.ndarray) -> np.ndarray:
        """Scores of all candidates (see the module docstring)."""
        tag = gpu_tag(pod)
        if tag < 0:
            return np.zeros(len(candidates), dtype=np.int64)
        counts = self._tags.update(nodes)[candidates]
        present = counts > 0
        n_tags = present.sum(axis=1)
        has = present[:, tag] if tag < counts.shape[1] else np.zeros(len(candidates), dtype=bool)
        L_n = nodes.gpu_free_total[candidates]
        b = trunc_div(25 * (MAX_SPEC_GPU - L_n), MAX_SPEC_GPU)
        base = np.where(has, np.where(n_tags == 1, 75, 50), np.where(n_tags == 0, 25, 0))
        return (base + b).astype(np.int64)


PLUGINS = [GpuClusteringScore]

PROFILES = {
    "clustering": {
        "plugins": {
            "filter": ["NodeResourcesFit", "GpuShare"],
            "score": [["GpuClustering", 1]],
            "reserve": ["GpuShare"],
        },
        "percentageOfNodesToScore": 100,
        "tieBreak": "first",
        "description": "FGD baseline Clustering (GPU pods with same-shape pods), best-fit GPU",
    },
}
