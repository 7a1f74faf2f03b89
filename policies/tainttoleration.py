"""TaintToleration: filter on untolerated NoSchedule/NoExecute taints; score PreferNoSchedule ones (E12).

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go``
(Filter, ``countIntolerableTaintsPreferNoSchedule``, NormalizeScore) and
``pkg/scheduler/framework/plugins/helper/normalize_score.go`` @ 2e94b405ac89f322d58dba55dae5e52a18f59778.

* Filter: the first taint with effect NoSchedule or NoExecute that no toleration tolerates fails the
  node with ``node(s) had untolerated taint {key: value}`` (UnschedulableAndUnresolvable).
* Score: raw = number of PreferNoSchedule taints not tolerated by the pod's tolerations whose effect
  is PreferNoSchedule or empty; NormalizeScore reverses it: ``100 - 100 * raw / max(raw)`` (all 100
  when no node has such taints).

Work is done once per *distinct taint list*, not per node: every node is mapped to a taint-set code
(computed once per node table, cached weakly by table), so the per-pod cost is a loop over distinct
taint sets plus array indexing.
"""

from __future__ import annotations

import weakref

import numpy as np

from kbench.policy.api import Code, FilterResult, Status
from policies.noderesources import check_keys

NAME = "TaintToleration"
DO_NOT_SCHEDULE = ("NoSchedule", "NoExecute")

_CODES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def taint_codes(nodes) -> tuple[np.ndarray, list[tuple]]:
    """``(codes (n,) int64, distinct taint tuples)`` for a node table; cached until rows are added.

    The cache is keyed by the table object; taints are assumed not to change after ``add_node``.
    Building it is one pass over the nodes (a per-node Python loop, once per table).
    """
    hit = _CODES.get(nodes)
    if hit is not None and len(hit[0]) == nodes.n:
        return hit
    index: dict[tuple, int] = {}
    codes = np.fromiter((index.setdefault(tuple(t), len(index)) for t in nodes.taints), dtype=np.int64,
                        count=nodes.n)
    distinct = list(index)
    _CODES[nodes] = (codes, distinct)
    return codes, distinct


def first_untolerated(taints, tolerations, effects=DO_NOT_SCHEDULE):
    """Upstream ``FindMatchingUntoleratedTaint``: the first taint with an effect in ``effects`` that no
    toleration tolerates, or None."""
    for t in taints:
        if t.effect in effects and not any(tol.tolerates(t) for tol in tolerations):
            return t
    return None


def untolerated_mask(pod, nodes, candidates: np.ndarray) -> np.ndarray:
    """True for candidates with an untolerated NoSchedule/NoExecute taint (used by PodTopologySpread)."""
    codes, distinct = taint_codes(nodes)
    bad = np.array([first_untolerated(ts, pod.tolerations) is not None for ts in distinct], dtype=bool)
    return bad[codes[candidates]] if len(distinct) else np.zeros(len(candidates), dtype=bool)


class TaintToleration:
    """Filters nodes with untolerated NoSchedule/NoExecute taints; prefers fewer PreferNoSchedule ones."""

    NAME = NAME
    DESCRIPTION = "Taint/toleration filter (NoSchedule, NoExecute) and PreferNoSchedule score"

    def __init__(self, args: dict | None = None, handle=None):
        check_keys({} if args is None else args, (), "args", "TaintTolerationArgs")
        self.handle = handle

    def filter(self, state, pod, nodes, candidates) -> FilterResult:
        """Fail candidates with an untolerated NoSchedule/NoExecute taint, naming it."""
        cand = np.asarray(candidates, dtype=np.int64)
        codes, distinct = taint_codes(nodes)
        verdict = np.full(len(distinct), "", dtype=object)
        for i, taints in enumerate(distinct):
            t = first_untolerated(taints, pod.tolerations)
            if t is not None:
                verdict[i] = f"node(s) had untolerated taint {{{t.key}: {t.value}}}"
        reasons = verdict[codes[cand]] if len(distinct) else np.full(len(cand), "", dtype=object)
        return FilterResult(reasons == "", reasons, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def pre_score(self, state, pod, nodes, candidates) -> Status:
        """Keep the tolerations that count for scoring (effect PreferNoSchedule or empty)."""
        state[f"{NAME}/preScore"] = [t for t in pod.tolerations if t.effect in ("", "PreferNoSchedule")]
        return Status.success()

    def score(self, state, pod, nodes, candidates) -> np.ndarray:
        """Raw count of intolerable PreferNoSchedule taints per candidate (int64)."""
        cand = np.asarray(candidates, dtype=np.int64)
        tols = state.get(f"{NAME}/preScore")
        if tols is None:
            tols = [t for t in pod.tolerations if t.effect in ("", "PreferNoSchedule")]
        codes, distinct = taint_codes(nodes)
        counts = np.array([sum(1 for t in taints if t.effect == "PreferNoSchedule"
                               and not any(tol.tolerates(t) for tol in tols)) for taints in distinct],
                          dtype=np.int64)
        return counts[codes[cand]] if len(distinct) else np.zeros(len(cand), dtype=np.int64)

    def normalize_scores(self, state, pod, scores: np.ndarray) -> np.ndarray:
        """DefaultNormalizeScore(100, reverse=True)."""
        return default_normalize(scores, reverse=True)


def default_normalize(scores: np.ndarray, reverse: bool) -> np.ndarray:
    """Upstream ``helper.DefaultNormalizeScore(MaxNodeScore, reverse, scores)`` (non-negative raw scores)."""
    scores = np.asarray(scores, dtype=np.int64)
    top = int(scores.max()) if len(scores) else 0
    if top == 0:
        return np.full(len(scores), 100, dtype=np.int64) if reverse else scores.copy()
    out = 100 * scores // top
    return (100 - out) if reverse else out


PLUGINS = [TaintToleration]
