"""FGD: fragmentation gradient descent, with its own GPU choice (FGD.md §2.7-2.8).

Follows ``FGDScorePlugin`` / ``calculateGpuShareFragExtendScore`` / ``allocateGpuIdBasedOnFGDScore``
in hkust-adsl/kubernetes-scheduler-simulator ``pkg/simulator/plugin/fgd_score.go`` and the
fragment measure of ``pkg/utils/frag.go`` (here :mod:`kbench.policy.gpufrag`).

With F_n node n's fragmentation against the typical pods and F_n' its value after a hypothetical
placement of the pod, a node scores ⌊100 σ((F_n − F_n')/1000)⌋, σ(z) = 1/(1 + e^−z): no change
scores 50, the node whose placement adds the least fragmentation (or removes the most) wins.

* A GPU-sharing pod (one GPU, u < 1000) tries every GPU j with g_j ≥ u; the node's score is the
  best over j and that j (the first maximiser) is the GPU it gets at Reserve.
* Other pods subtract their CPU and take k GPUs in ascending free order (whole-GPU pods: the
  lowest-indexed fully free GPUs, which Reserve assigns). CPU-only pods are scored too (≤ 50).
* A pod with no requests at all scores 100 everywhere, as in the Go code.

Typical pods, in order of precedence: ``args.typicalPods`` (records ``{cpuMilli, gpuMilli,
gpuCount, gpuModel, weight}``); ``handle.extra["typical_pods"]`` (a
:class:`~kbench.policy.typical.TypicalPods`, a list of the workload's original pods, or records);
otherwise they are computed once, at the first scored pod, from the pods bound in the node table
plus that pod (an approximation meant for ``kbench explain``; experiments should pass the trace's
original pods, FGD.md §1.2). ``args.popularityThreshold`` (default 95, %) applies when computing.

Speed: per pod shape (CPU, k, u) the per-node scores are cached and only rows whose pods changed
since are rescored, through the run's state memo (:mod:`kbench.policy.fragmemo`, shared with the
fragmentation metrics): a node state already seen costs a dictionary look-up, a new one a few
microseconds of fragment arithmetic, so a replay costs tens of microseconds of FGD work per pod once
the common shapes are warm. The values are those of the vectorised functions of
:mod:`kbench.policy.gpufrag`, bit for bit.
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import CycleState, Handle, Plugin, Status
from kbench.policy.fragmemo import frag_memo
from kbench.policy.typical import MILLI, TypicalPods, pod_cpu_milli, pod_gpu, typical_pods

_ARGS = ("typicalPods", "popularityThreshold")
_CACHE_SHAPES = 256  # pod shapes (CPU, k, u) whose per-node scores are kept (LRU)
_SCALAR_ROWS = 32  # up to this many changed rows are written one by one (cheaper than fancy indexing)


class FgdScore(Plugin):
    """Fragmentation gradient descent: least growth of GPU fragmentation wins; picks the GPU."""

    NAME = "Fgd"
    DESCRIPTION = "FGD: ⌊100·σ((F_n − F_n')/1000)⌋, least fragmentation growth vs typical pods; picks the GPU"

    def __init__(self, args: dict | None = None, handle: Handle | None = None):
        super().__init__(args, handle)
        unknown = sorted(set(self.args) - set(_ARGS))
        if unknown:
            raise PolicyError(f"unknown Fgd arg(s) {unknown}; expected {list(_ARGS)}", where=f"args.{unknown[0]}")
        thr = self.args.get("popularityThreshold", 95)
        if not isinstance(thr, (int, float)) or isinstance(thr, bool) or not 0 < thr <= 100:
            raise PolicyError(f"expected a percentage in (0, 100], got {thr!r}", where="args.popularityThreshold")
        self.threshold_pct = float(thr)
        self.typical: TypicalPods | None = None
        self.typical_source = ""
        if "typicalPods" in self.args:
            self.typical = TypicalPods.from_records(self.args["typicalPods"], where="args.typicalPods")
            self.typical_source = "args"
        self._cache: dict[tuple[int, int, int], list] = {}

    def typical_pods(self, pod, nodes) -> TypicalPods:
        """The typical pods in use, resolving them on first use (see the module docstring)."""
        if self.typical is not None:
            return self.typical
        given = self.handle.extra.get("typical_pods")
        if isinstance(given, TypicalPods):
            self.typical, self.typical_source = given, "handle"
        elif given:
            items = list(given)
            if all(isinstance(x, dict) for x in items):
                self.typical = TypicalPods.from_records(items, where="handle.extra.typical_pods")
            else:
                self.typical = typical_pods(items, self.threshold_pct)
            self.typical_source = "handle"
        else:
            bound = [p for per_node in nodes.pods for p in per_node]
            self.typical = typical_pods([*bound, pod], self.threshold_pct)
            self.typical_source = "bound pods"
        return self.typical

    def score(self, state: CycleState, pod, nodes, candidates: np.ndarray) -> np.ndarray:
        """Scores of all candidates (a sharing pod's GPU is chosen at Reserve, for its node only)."""
        candidates = np.asarray(candidates, dtype=np.int64)
        if not pod.requests():
            return np.full(len(candidates), 100, dtype=np.int64)
        return self._all_rows(pod, nodes)[candidates]

    def _all_rows(self, pod, nodes) -> np.ndarray:
        """Scores for every row, recomputing only rows changed since this pod shape was last scored.

        A node's score depends only on its own free CPU and GPUs, its GPU count and model, the
        typical pods and the pod's (CPU, k, u); scores are cached per pod shape with the table's
        ``pods_version`` at that time. Free CPU and GPU change only by :meth:`NodeTable.add_pod`
        / ``remove_pod``, which stamp the row (``row_pods_version``); a new node or another table
        recomputes every row. The rows are scored through the run's state memo
        (:mod:`kbench.policy.fragmemo`), which gives the same values as
        :func:`~kbench.policy.gpufrag.fgd_share_scores` / :func:`~kbench.policy.gpufrag.fgd_other_scores`.
        """
        k, u = pod_gpu(pod)
        c_p = pod_cpu_milli(pod)
        key = (c_p, k, u)
        n = nodes.n
        entry = self._cache.pop(key, None)
        if entry is None or entry[0] is not nodes or entry[1] != n:
            entry = [nodes, n, -1, np.zeros(n, dtype=np.int64)]
            changed = list(range(n))
        else:
            rows = nodes.pods_changed_since(entry[2])
            if rows is None:
                changed = np.flatnonzero(nodes.row_pods_version > entry[2]).tolist()
            else:
                changed = sorted(set(rows)) if len(rows) > 1 else rows
        entry[2] = nodes.pods_version
        if changed:
            got = frag_memo(self.typical_pods(pod, nodes)).score_list(nodes, changed, c_p, k, u)
            scores = entry[3]
            if len(changed) <= _SCALAR_ROWS:
                for i, v in zip(changed, got, strict=True):
                    scores[i] = v
            else:
                scores[changed] = got
        self._cache[key] = entry  # most recently used last
        if len(self._cache) > _CACHE_SHAPES:
            self._cache.pop(next(iter(self._cache)))
        return entry[3]

    def reserve(self, state: CycleState, pod, nodes, node_idx: int) -> Status:
        """Put FGD's GPU choice for ``node_idx`` in ``state["gpus"]`` (overriding any earlier one)."""
        k, u = pod_gpu(pod)
        if k == 0:
            return Status.success()
        if k == 1 and u < MILLI:
            j = self._share_choice(state, pod, nodes, node_idx)
            if j < 0:
                return Status.error(f"no GPU with {u} milli free on node {nodes.names[node_idx]}")
            state["gpus"] = (j,)
            return Status.success()
        free = nodes.gpu_free_milli[node_idx].tolist()[: int(nodes.gpu_count[node_idx])]
        fits = [j for j, x in enumerate(free) if x >= u]  # whole GPUs: the lowest-indexed fully free ones
        if len(fits) < k:
            return Status.error(f"{k} GPUs of {u} milli do not fit node {nodes.names[node_idx]}")
        state["gpus"] = tuple(fits[:k])
        return Status.success()

    def _share_choice(self, state: CycleState, pod, nodes, node_idx: int) -> int:
        _, u = pod_gpu(pod)
        return frag_memo(self.typical_pods(pod, nodes)).share_choice(nodes, node_idx, pod_cpu_milli(pod), u)

    def unreserve(self, state: CycleState, pod, nodes, node_idx: int) -> None:
        """Forget the GPU choice."""
        state.pop("gpus", None)


PLUGINS = [FgdScore]

PROFILES = {
    "fgd": {
        "plugins": {
            "filter": ["NodeResourcesFit", "GpuShare"],
            "score": [["Fgd", 1]],
            "reserve": ["Fgd", "GpuShare"],
        },
        "percentageOfNodesToScore": 100,
        "tieBreak": "first",
        "description": "FGD (Weng et al., ATC'23): least GPU fragmentation growth, GPU chosen by FGD",
    },
}
