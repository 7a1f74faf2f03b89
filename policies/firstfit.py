"""FirstFit: every feasible node scores 100, so the node order decides (FGD.md §2.1).

Follows ``FirstFitScorePlugin.Score`` in hkust-adsl/kubernetes-scheduler-simulator
``pkg/simulator/plugin/first_fit_score.go``, which returns 100 for every node ("use the Kubernetes
default node list order as FirstFit"). With the ``first`` tie-break over the run's fixed seeded node
order this is first-fit in a random order, the rule every FGD policy falls back to on ties. GPU
selection: best (``GpuShare``).
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import CycleState, Handle, Plugin


class FirstFit(Plugin):
    """Score 100 on every feasible node: the first node in the fixed order wins."""

    NAME = "FirstFit"
    DESCRIPTION = "every feasible node scores 100; the fixed node order picks (first fit)"

    def __init__(self, args: dict | None = None, handle: Handle | None = None):
        super().__init__(args, handle)
        if self.args:
            raise PolicyError(f"FirstFit takes no args, got {sorted(self.args)}", where=f"args.{sorted(self.args)[0]}")

    def score(self, state: CycleState, pod, nodes, candidates: np.ndarray) -> np.ndarray:
        """100 for every candidate."""
        return np.full(len(candidates), 100, dtype=np.int64)


PLUGINS = [FirstFit]

PROFILES = {
    "first-fit": {
        "plugins": {
            "filter": ["NodeResourcesFit", "GpuShare"],
            "score": [["FirstFit", 1]],
            "reserve": ["GpuShare"],
        },
        "percentageOfNodesToScore": 100,
        "tieBreak": "first",
        "description": "first fit in the run's fixed seeded node order (FGD.md §2.1), best-fit GPU",
    },
}
