"""Random: one feasible node, drawn uniformly, scores 100 and the rest 0 (FGD.md §2.2).

Follows ``RandomScorePlugin`` in hkust-adsl/kubernetes-scheduler-simulator
``pkg/simulator/plugin/random_score.go``: PreScore draws one node uniformly from the feasible
(filtered) nodes, Score gives it 100 and every other node 0. The draw comes from the handle's
seeded ``policy`` stream, never the global RNG. The GPU within the node is a uniform choice among
those that fit (``GpuShare`` with ``gpuSelMethod: random``; sharing pods only).
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import CycleState, Handle, Plugin, Status

_KEY = "RandomScore/node"


class RandomScore(Plugin):
    """One uniformly drawn feasible node scores 100, all others 0."""

    NAME = "RandomScore"
    DESCRIPTION = "one feasible node drawn uniformly (seeded) scores 100, the others 0"

    def __init__(self, args: dict | None = None, handle: Handle | None = None):
        super().__init__(args, handle)
        if self.args:
            raise PolicyError(f"RandomScore takes no args, got {sorted(self.args)}",
                              where=f"args.{sorted(self.args)[0]}")

    def pre_score(self, state: CycleState, pod, nodes, candidates: np.ndarray) -> Status:
        """Draw the winning node row from the feasible candidates."""
        if len(candidates):
            state[_KEY] = int(candidates[self.handle.rng.integers(len(candidates))])
        return Status.success()

    def score(self, state: CycleState, pod, nodes, candidates: np.ndarray) -> np.ndarray:
        """100 for the drawn node, 0 elsewhere (draws now if PreScore did not run)."""
        if _KEY not in state:
            self.pre_score(state, pod, nodes, candidates)
        return np.where(np.asarray(candidates) == state.get(_KEY, -1), 100, 0).astype(np.int64)


PLUGINS = [RandomScore]

PROFILES = {
    "random": {
        "plugins": {
            "filter": ["NodeResourcesFit", "GpuShare"],
            "preScore": ["RandomScore"],
            "score": [["RandomScore", 1]],
            "reserve": ["GpuShare"],
        },
        "pluginConfig": {"GpuShare": {"gpuSelMethod": "random"}},
        "percentageOfNodesToScore": 100,
        "tieBreak": "first",
        "description": "a uniformly random feasible node and a random fitting GPU (FGD.md §2.2)",
    },
}
