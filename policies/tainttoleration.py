"""TaintToleration: filter on untolerated NoSchedule/NoExecute taints; score PreferNoSchedule ones (E12).

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go``
(Filter, ``countIntolerableTaintsPreferNoSchedule``, NormalizeScore) and
``pkg/scheduler/framework/plugins/helper/normalize_score.go`` @ 2e94b405ac89f322d58dba55dae5e52a18f59778.

* Filter: a taint with effect NoSchedule or NoExecute that no toleration tolerates fails the node
  with ``node(s) had untolerated taint(s)`` (UnschedulableAndUnresolvable): current kube-scheduler's
  text, as its FailedScheduling events print it (2025-26 clusters, e.g. ``0/17 nodes are available:
  17 node(s) had untolerated taint(s)``); the code copy read (@ 0f7becbc443966e5cf4ac37aa20a1a509fab73eb)
  is older and printed ``node(s) had untolerated taint {key: value}``.
* Score: raw = number of PreferNoSchedule taints not tolerated by the pod's tolerations whose effect
  is PreferNoSchedule or empty; NormalizeScore reverses it: ``100 - 100 * raw / max(raw)`` (all 100
  when no node has such taints).

Work is done once per *distinct taint list*, not per node: every node is mapped to a taint-set code
(cached weakly by table until its ``taints_version`` changes, i.e. until ``add_node`` or
``set_taints``), so the per-pod cost is a loop over distinct taint sets plus array indexing.
"""

from __future__ import annotations

import weakref

import numpy as np

from kbench.policy.api import Code, FilterResult, Status
from kbench.policy.events import ADD, NODE, UPDATE_NODE_TAINT, ClusterEvent
from policies import hintfns, signers
from policies.resourceargs import check_keys

NAME = "TaintToleration"
ERR_REASON = "node(s) had untolerated taint(s)"
DO_NOT_SCHEDULE = ("NoSchedule", "NoExecute")

_CODES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def taint_codes(nodes) -> tuple[np.ndarray, list[tuple]]:
    """``(codes (n,) int64, distinct taint tuples)`` for a node table.

    Cached by table object until its ``taints_version`` changes (rows added, ``set_taints``).
    Building it is one pass over the nodes (a per-node Python loop).
    """
    hit = _CODES.get(nodes)
    version = getattr(nodes, "taints_version", None)
    if hit is not None and hit[2] == version and len(hit[0]) == nodes.n:
        return hit[0], hit[1]
    index: dict[tuple, int] = {}
    codes = np.fromiter((index.setdefault(tuple(t), len(index)) for t in nodes.taints), dtype=np.int64,
                        count=nodes.n)
    distinct = list(index)
    _CODES[nodes] = (codes, distinct, version)
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

    def passes_all(self, state, pod, nodes) -> bool:
        """True when the pod tolerates every NoSchedule/NoExecute taint of every node."""
        _, distinct = taint_codes(nodes)
        return all(first_untolerated(taints, pod.tolerations) is None for taints in distinct)

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching's fragment (upstream ``SignPod``: the tolerations)."""
        return signers.tolerations(pod)

    def filter(self, state, pod, nodes, candidates) -> FilterResult:
        """Fail candidates with an untolerated NoSchedule/NoExecute taint, naming it."""
        cand = np.asarray(candidates, dtype=np.int64)
        codes, distinct = taint_codes(nodes)
        found = [first_untolerated(taints, pod.tolerations) for taints in distinct]
        if all(t is None for t in found):
            return FilterResult(np.ones(len(cand), dtype=bool), "", Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
        picked = codes[cand]
        ok = np.array([t is None for t in found], dtype=bool)[picked]
        if np.count_nonzero(ok) == ok.size:
            return FilterResult(ok, "", Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
        return FilterResult(ok, ERR_REASON, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

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
        counts = [sum(1 for t in taints if t.effect == "PreferNoSchedule" and not any(tol.tolerates(t) for tol in tols))
                  for taints in distinct]
        if not any(counts):  # no node has an intolerable PreferNoSchedule taint
            return np.zeros(len(cand), dtype=np.int64)
        return np.array(counts, dtype=np.int64)[codes[cand]]

    def uniform_score(self, state, pod, nodes) -> int | None:
        """100 when every node has the same count of intolerable PreferNoSchedule taints and it is
        0 (0 when it is positive: ``100 - 100 * c / c``); None when the counts differ."""
        tols = state.get(f"{NAME}/preScore")
        if tols is None:
            tols = [t for t in pod.tolerations if t.effect in ("", "PreferNoSchedule")]
        _, distinct = taint_codes(nodes)
        counts = {sum(1 for t in taints if t.effect == "PreferNoSchedule" and not any(tol.tolerates(t) for tol in tols))
                  for taints in distinct}
        if len(counts) > 1:
            return None
        return 0 if counts and counts.pop() > 0 else 100

    def normalize_scores(self, state, pod, scores: np.ndarray) -> np.ndarray:
        """DefaultNormalizeScore(100, reverse=True)."""
        return default_normalize(scores, reverse=True)

    def events_to_register(self):
        """Node added or its taints changed (policies/hintfns.py)."""
        return [(ClusterEvent(NODE, ADD | UPDATE_NODE_TAINT), hintfns.taint_toleration)]


def default_normalize(scores: np.ndarray, reverse: bool) -> np.ndarray:
    """Upstream ``helper.DefaultNormalizeScore(MaxNodeScore, reverse, scores)`` (non-negative raw scores)."""
    scores = np.asarray(scores, dtype=np.int64)
    top = int(scores[scores.argmax()]) if len(scores) else 0  # argmax: cheaper than max()
    if top == 0:
        return np.full(len(scores), 100, dtype=np.int64) if reverse else scores.copy()
    out = 100 * scores // top
    return (100 - out) if reverse else out


PLUGINS = [TaintToleration]
