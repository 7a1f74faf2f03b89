"""BestFit: prefer the node with the least free CPU and GPU left after placement.

FGD.md §2.4, following ``getBestFitScore`` and ``NormalizeScore`` in
hkust-adsl/kubernetes-scheduler-simulator ``pkg/simulator/plugin/best_fit_score.go`` and
``plugin_utils.go``::

    s_raw = ⌊100 (1 − [½ (c_n − c_p)/Ĉ + ½ (L_n − R_p)/Ĝ])⌋      (truncated toward zero)

with free CPU c_n (millicores), summed free GPU L_n (milli), the pod's CPU c_p and total GPU
R_p = k u, Ĉ = 128,000 and Ĝ = 8,000; then min–max normalised with integer division over the
scored nodes, ``(s − lo) · 100 // (hi − lo)``, and all 0 when hi = lo. The float operations follow
the Go order. GPU selection: best (``GpuShare``).
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import CycleState, Handle, Plugin
from kbench.policy.gpufrag import MAX_SPEC_CPU, MAX_SPEC_GPU, cpu_free
from kbench.policy.typical import pod_cpu_milli, pod_gpu


def minmax_normalize(scores: np.ndarray) -> np.ndarray:
    """Integer min–max normalisation to 0..100 (``NormalizeScore`` in ``plugin_utils.go``)."""
    scores = np.asarray(scores, dtype=np.int64)
    if scores.size == 0:
        return scores
    lo, hi = int(scores.min()), int(scores.max())
    if hi == lo:
        return np.zeros_like(scores)
    return (scores - lo) * 100 // (hi - lo)


class BestFitScore(Plugin):
    """Least free CPU and GPU after placement wins; min–max normalised over the scored nodes."""

    NAME = "BestFit"
    DESCRIPTION = "FGD baseline: 100·(1 − ½ free-CPU-after/128k − ½ free-GPU-after/8k), min-max normalised"

    def __init__(self, args: dict | None = None, handle: Handle | None = None):
        super().__init__(args, handle)
        if self.args:
            raise PolicyError(f"BestFit takes no args, got {sorted(self.args)}", where=f"args.{sorted(self.args)[0]}")

    def score(self, state: CycleState, pod, nodes, candidates: np.ndarray) -> np.ndarray:
        """Raw scores of all candidates, before normalisation."""
        k, u = pod_gpu(pod)
        c_p = float(pod_cpu_milli(pod))
        c_n = cpu_free(nodes, candidates).astype(np.float64)
        L_n = nodes.gpu_free_total[candidates].astype(np.float64)
        s = 0.0 + (c_n - c_p) / MAX_SPEC_CPU * 0.5
        s = s + (L_n - float(k * u)) / MAX_SPEC_GPU * 0.5
        raw = np.trunc((1.0 - s) * 100.0).astype(np.int64)
        # The Go code returns 0 (with an error) where the pod does not fit; filters exclude those.
        return np.where((c_n < c_p) | (L_n < k * u), 0, raw)

    def normalize_scores(self, state: CycleState, pod, scores: np.ndarray) -> np.ndarray:
        """Min–max to 0..100 with integer division."""
        return minmax_normalize(scores)


PLUGINS = [BestFitScore]

PROFILES = {
    "best-fit": {
        "plugins": {
            "filter": ["NodeResourcesFit", "GpuShare"],
            "score": [["BestFit", 1]],
            "reserve": ["GpuShare"],
        },
        "percentageOfNodesToScore": 100,
        "tieBreak": "first",
        "description": "FGD baseline BestFit (least free CPU+GPU after placement), best-fit GPU",
    },
}
