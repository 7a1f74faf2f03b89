"""DotProd ("Tetris" in the source): favour nodes whose free resources align *least* with the pod.

FGD.md §2.3, following ``calculateDotProductScore`` in hkust-adsl/kubernetes-scheduler-simulator
``pkg/simulator/plugin/dot_product_score.go`` with ``GenerateSchedulingMatchGroups`` /
``NormalizeVector`` / ``CalculateVectorDotProduct`` (``pkg/utils/utils.go``) under the experiment's
settings (``dimExtMethod: merge``, ``normMethod: max``)::

    s = 0                                                    if c_n < c_p
    s = ⌊100 (1 − ½ [ (c_n/Ĉ)(c_p/Ĉ) + (L_n/Ĝ)(R_p/Ĝ) ])⌋   otherwise

with free CPU c_n (millicores), the node's summed free GPU L_n (milli), the pod's CPU c_p and total
GPU R_p = k u, Ĉ = 128,000 and Ĝ = 8,000. A larger dot product scores lower, so this packs.
Memory is ignored. The float operations follow the Go order. GPU selection: best (``GpuShare``).
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import CycleState, Handle, Plugin
from kbench.policy.gpufrag import MAX_SPEC_CPU, MAX_SPEC_GPU, cpu_free
from kbench.policy.typical import pod_cpu_milli, pod_gpu


class DotProductScore(Plugin):
    """Tetris-style dot product of free resources and demand; the larger the product, the lower."""

    NAME = "DotProd"
    DESCRIPTION = "FGD baseline: 100·(1 − ½·dot(free/max, request/max)) over CPU and summed GPU"

    def __init__(self, args: dict | None = None, handle: Handle | None = None):
        super().__init__(args, handle)
        if self.args:
            raise PolicyError(f"DotProd takes no args, got {sorted(self.args)}", where=f"args.{sorted(self.args)[0]}")

    def score(self, state: CycleState, pod, nodes, candidates: np.ndarray) -> np.ndarray:
        """Scores of all candidates (see the module docstring)."""
        k, u = pod_gpu(pod)
        c_p = float(pod_cpu_milli(pod))
        c_n = cpu_free(nodes, candidates).astype(np.float64)
        L_n = nodes.gpu_free_total[candidates].astype(np.float64)
        dot = 0.0 + (c_n / MAX_SPEC_CPU) * (c_p / MAX_SPEC_CPU)
        dot = dot + (L_n / MAX_SPEC_GPU) * (float(k * u) / MAX_SPEC_GPU)
        s = 1.0 - dot / 2.0
        raw = np.trunc(100.0 * s).astype(np.int64)
        return np.where(c_n < c_p, 0, raw)


PLUGINS = [DotProductScore]

PROFILES = {
    "dot-prod": {
        "plugins": {
            "filter": ["NodeResourcesFit", "GpuShare"],
            "score": [["DotProd", 1]],
            "reserve": ["GpuShare"],
        },
        "percentageOfNodesToScore": 100,
        "tieBreak": "first",
        "description": "FGD baseline DotProd (Tetris-style packing on CPU and summed GPU), best-fit GPU",
    },
}
