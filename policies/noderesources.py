"""NodeResourcesFit: the resource filter and the three resource scoring strategies, exact to the integer.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/noderesources/`` — ``fit.go``
(Filter, ``fitsRequest``; commit 903b1f7e), ``resource_allocation.go`` (``calculateResourceAllocatableRequest``,
CALIBRATION E4-E6), ``least_allocated.go`` (E7), ``most_allocated.go`` @ 9d3a8c1d (E8),
``requested_to_capacity_ratio.go`` and ``helper/shape_score.go`` @ 2d58ef78 (E9); arguments and
defaults from ``pkg/scheduler/apis/config/v1/defaults.go`` (E3) and ``validation/validation_pluginargs.go``.

Scoring, per configured resource ``r`` with weight ``w_r`` (all integer arithmetic, as Go's int64):

* requested = the node's sum of bound pods' requests + the incoming pod's request. For cpu and memory
  the *non-zero* sums are used (a container omitting them counts 100 millicores / 200 MiB, E4);
  an extended (scalar) resource the pod does not request is skipped entirely;
* a resource whose allocatable is 0 on a node is left out of that node's weighted mean;
* LeastAllocated ``(alloc - req) * 100 / alloc`` (0 if req > alloc); MostAllocated
  ``min(req, alloc) * 100 / alloc``; node score ``sum(s_r * w_r) / sum(w_r)``;
* RequestedToCapacityRatio: utilisation ``req * 100 / alloc`` (100 when req > alloc) through the
  broken-linear shape (scores ×10), only positive resource scores enter the mean, which is rounded
  half away from zero (Go ``math.Round``).

Arguments follow ``NodeResourcesFitArgs`` (kubescheduler.config.k8s.io/v1) with v1 defaulting: no
strategy → LeastAllocated over cpu and memory; an empty resource list → cpu 1, memory 1; a weight of
0 (or unset) → 1. Quantities are converted to int64 by rounding to the nearest integer.
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import Code, CodedReasons, FilterResult, Status
from kbench.policy.events import ADD, ASSIGNED_POD, DELETE, NODE, UPDATE_NODE_ALLOCATABLE, ClusterEvent
from policies import hintfns, signers
from policies.resourceargs import (
    _MEMO_LIMIT,
    MAX_NODE_SCORE,
    NATIVE,
    alloc_and_requested,
    check_keys,
    is_extended,
    is_scalar,
    parse_resources,
    parse_shape,
    pod_request_vector,
    request_vector,
)
from policies.rowscores import cached_scores, keep_row_functions, least_allocated_row, row_functions

NAME = "NodeResourcesFit"
_MAX_CODED_CHECKS = 12  # up to 2^12 combinations of failed checks are coded; more are joined per node
STRATEGIES = ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio")
DEFAULT_FILTERS = ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodeResourcesFit",
                   "PodTopologySpread"]
"""The upstream default filter plugins that kbench implements, in upstream order (E2's profile)."""


# ----- the three strategies (pure numpy, all candidates at once) --------------------------------

def _weighted_mean(scores: np.ndarray, include: np.ndarray | None, weights: np.ndarray) -> np.ndarray:
    """``sum(s*w) / sum(w)`` over included resources, Go int64 division (operands are non-negative).

    ``include`` None means every resource counts on every node.
    """
    if include is None:  # column by column: cheaper than an integer matmul for a few resources
        total = None
        for j, w in enumerate(weights.tolist()):
            col = scores[:, j] if w == 1 else scores[:, j] * w
            total = col if total is None else total + col
        return total // sum(weights.tolist())
    w = np.where(include, weights[None, :], 0)
    total, wsum = (scores * w).sum(axis=1), w.sum(axis=1)
    return np.where(wsum > 0, total // np.maximum(wsum, 1), 0).astype(np.int64)


def least_allocated(req: np.ndarray, alloc: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """E7: ``(alloc - req) * 100 / alloc`` per resource (0 if req > alloc), weighted mean."""
    valid = alloc > 0
    if np.count_nonzero(valid) == valid.size:  # req > alloc: a negative quotient, clamped to 0
        return _weighted_mean(np.maximum((alloc - req) * MAX_NODE_SCORE // alloc, 0), None, weights)
    safe = np.where(valid, alloc, 1)
    s = np.where(valid & (req <= alloc), (alloc - req) * MAX_NODE_SCORE // safe, 0)
    return _weighted_mean(s, valid, weights)


def most_allocated(req: np.ndarray, alloc: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """E8: ``min(req, alloc) * 100 / alloc`` per resource, weighted mean."""
    valid = alloc > 0
    if np.count_nonzero(valid) == valid.size:
        return _weighted_mean(np.minimum(req, alloc) * MAX_NODE_SCORE // alloc, None, weights)
    safe = np.where(valid, alloc, 1)
    s = np.where(valid, np.minimum(req, alloc) * MAX_NODE_SCORE // safe, 0)
    return _weighted_mean(s, valid, weights)


def _trunc_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Go's int64 ``a / b`` (truncation toward zero) for ``b > 0``; numpy ``//`` floors negatives."""
    return np.where(a >= 0, a // b, -((-a) // b))


def broken_linear(p: np.ndarray, util: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Upstream ``BuildBrokenLinearFunction``: the shape's value at integer utilisation(s) ``p``."""
    p = np.asarray(p, dtype=np.int64)
    i = np.searchsorted(util, p, side="left")  # first point with p <= util[i]
    out = np.full(p.shape, score[-1], dtype=np.int64)
    first = i == 0
    out[first] = score[0]
    mid = (i > 0) & (i < len(util))
    if mid.any():
        j = i[mid]
        num = (score[j] - score[j - 1]) * (p[mid] - util[j - 1])
        out[mid] = score[j - 1] + _trunc_div(num, util[j] - util[j - 1])
    return out


def requested_to_capacity_ratio(req: np.ndarray, alloc: np.ndarray, weights: np.ndarray,
                                util: np.ndarray, score: np.ndarray) -> np.ndarray:
    """E9: shape score of ``req * 100 / alloc``; positive scores averaged, rounded half away from zero."""
    valid = alloc > 0
    safe = np.where(valid, alloc, 1)
    u = np.where(req > alloc, 100, req * 100 // safe)
    s = broken_linear(u, util, score)
    include = valid & (s > 0)
    w = np.where(include, weights[None, :], 0)
    total, wsum = (s * w).sum(axis=1), w.sum(axis=1)
    rounded = (2 * total + wsum) // np.maximum(2 * wsum, 1)  # round(total / wsum), both >= 0
    return np.where(wsum > 0, rounded, 0).astype(np.int64)


# ----- the plugin -------------------------------------------------------------------------------

def join_reasons(k: int, fails: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Per-candidate reasons joined with ", " in the order given (object array, "" for passing)."""
    out = np.full(k, "", dtype=object)
    for reason, mask in fails:
        if not mask.any():
            continue
        empty = out == ""
        out[mask & empty] = reason
        both = mask & ~empty
        if both.any():
            out[both] = out[both] + (", " + reason)
    return out


def _fit_reasons(k: int, bad: np.ndarray, fails: list[tuple[str, np.ndarray]]) -> np.ndarray | CodedReasons:
    """:func:`join_reasons` of the failing candidates (``bad``: their mask), as codes: each
    candidate's set of failed checks is a bit mask whose text is joined once (the same strings, in
    the same order, as :func:`join_reasons`)."""
    if len(fails) > _MAX_CODED_CHECKS:
        idx = np.flatnonzero(bad)
        out = np.full(k, "", dtype=object)
        out[idx] = join_reasons(idx.size, [(reason, mask[idx]) for reason, mask in fails])
        return out
    code = np.zeros(k, dtype=np.int64)
    for bit, (_, mask) in enumerate(fails):
        code |= mask.astype(np.int64) << bit
    texts: list[str | None] = [None] * (1 << len(fails))
    texts[0] = ""
    for c in np.flatnonzero(np.bincount(code, minlength=len(texts))).tolist():
        texts[c] = ", ".join(r for b, (r, _) in enumerate(fails) if c >> b & 1)
    return CodedReasons(code, texts)


class NodeResourcesFit:
    """Filters nodes without room for the pod's requests; scores by the configured strategy (E4, E7-E9)."""

    NAME = NAME
    DESCRIPTION = "Resource fit filter (pods, cpu, memory, extended) and Least/Most/RequestedToCapacityRatio scoring"

    def __init__(self, args: dict | None = None, handle=None):
        args = {} if args is None else args
        check_keys(args, ("ignoredResources", "ignoredResourceGroups", "scoringStrategy"), "args",
                   "NodeResourcesFitArgs")
        self.handle = handle
        self._fit_memo: dict[tuple, dict[str, int]] = {}
        self._last_checks: tuple | None = None
        self._row_fns: dict[int, tuple] = {}  # policies.rowscores.row_functions
        self.ignored = {str(x) for x in args.get("ignoredResources") or ()}
        self.ignored_groups = set()
        for i, group in enumerate(args.get("ignoredResourceGroups") or ()):
            if "/" in str(group):
                raise PolicyError(f"resource group name {group!r} can't contain '/'",
                                  where=f"args.ignoredResourceGroups[{i}]")
            self.ignored_groups.add(str(group))
        strategy = args.get("scoringStrategy") or {}
        where = "args.scoringStrategy"
        check_keys(strategy, ("type", "resources", "requestedToCapacityRatio"), where, "")
        self.strategy = strategy.get("type") or "LeastAllocated"
        if self.strategy not in STRATEGIES:
            raise PolicyError(f"unsupported scoring strategy {self.strategy!r} (expected one of "
                              f"{', '.join(STRATEGIES)})", where=f"{where}.type")
        self.resources = parse_resources(strategy.get("resources"), f"{where}.resources")
        self.weights = np.array([w for _, w in self.resources], dtype=np.int64)
        self.shape = None
        if self.strategy == "RequestedToCapacityRatio":
            rtcr = strategy.get("requestedToCapacityRatio") or {}
            check_keys(rtcr, ("shape",), f"{where}.requestedToCapacityRatio", "")
            self.shape = parse_shape(rtcr.get("shape"), f"{where}.requestedToCapacityRatio.shape")

    # -- filter ---------------------------------------------------------------------------------

    def _fit_request(self, pod) -> dict[str, int]:
        """E6 requests to check: cpu, memory, ephemeral-storage, then scalar resources by name
        (memoised by the pod's requests: treat the dict as read-only)."""
        reqs = pod.requests()
        key = tuple(reqs.items())
        got = self._fit_memo.get(key)
        if got is None:
            if len(self._fit_memo) >= _MEMO_LIMIT:
                self._fit_memo.clear()
            got = self._fit_memo[key] = self._fit_request_of(reqs)
        return got

    def _fit_request_of(self, reqs: dict[str, float]) -> dict[str, int]:
        out = {name: int(round(reqs.get(name, 0.0))) for name in NATIVE}
        for name in sorted(reqs):
            if name in NATIVE or not is_scalar(name):
                continue
            if is_extended(name) and (name in self.ignored or name.split("/")[0] in self.ignored_groups):
                continue
            out[name] = int(round(reqs[name]))
        return out

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching's fragment (upstream ``SignPod``: the pod's requests)."""
        return signers.resources(pod)

    def pre_filter(self, state, pod, nodes) -> Status:
        """Store the pod's requests for Filter."""
        state[f"{NAME}/preFilter"] = self._fit_request(pod)
        return Status.success()

    def filter(self, state, pod, nodes, candidates) -> FilterResult:
        """``Too many pods`` / ``Insufficient <resource>`` (all failing reasons, upstream order)."""
        return self._filter(state, pod, nodes, np.asarray(candidates, dtype=np.int64))

    def filter_every_row(self, state, pod, nodes) -> FilterResult:
        """:meth:`filter` of every row in table order (rows ``0..n-1``), without gathering them
        (the GPU-share profiles' fused cycle, :mod:`kbench.policy.fusedgpu`)."""
        return self._filter(state, pod, nodes, None)

    def _filter(self, state, pod, nodes, cand: np.ndarray | None) -> FilterResult:
        """:meth:`filter` of ``cand`` (None: every row in order)."""
        request = state.get(f"{NAME}/preFilter") or self._fit_request(pod)
        # Room left (free_int: allocatable - requested, and allocatable pods - bound pods) against
        # what the pod needs, one resource column at a time (1-D work is much cheaper than (k, R)).
        free = nodes.free_int
        k = nodes.n if cand is None else len(cand)
        fails = []
        bad = None
        for reason, col, qty in self._checks(request, nodes.res_index):
            if col is None:  # no node has the resource, so it never fits
                short = np.ones(k, dtype=bool)
            else:  # "Too many pods": count + 1 > allocatable; else qty > allocatable - requested
                short = (free[:, col] if cand is None else free[:, col][cand]) < qty
            fails.append((reason, short))
            bad = short if bad is None else bad | short
        ok = ~bad
        if not np.count_nonzero(bad):
            return FilterResult(ok, "", Code.UNSCHEDULABLE)
        return FilterResult(ok, lambda: _fit_reasons(k, bad, fails), Code.UNSCHEDULABLE)

    def _checks(self, request: dict[str, int], res_index: dict[str, int]) -> list[tuple[str, int | None, int]]:
        """``(reason, free_int column or None, least room needed)`` per check, in upstream order;
        kept for the last request dict (memoised per shape, so pods of one template share it)."""
        memo = self._last_checks
        if memo is not None and memo[0] is request and memo[1] is res_index and memo[2] == len(res_index):
            return memo[3]
        checks = [("Too many pods", res_index["pods"], 1)]
        checks += [(f"Insufficient {name}", res_index.get(name), qty) for name, qty in request.items() if qty > 0]
        self._last_checks = (request, res_index, len(res_index), checks)
        return checks

    # -- score ----------------------------------------------------------------------------------

    def pre_score(self, state, pod, nodes, candidates) -> Status:
        """Store the pod's request per configured resource (non-zero cpu/memory, E4)."""
        state[f"{NAME}/preScore"] = request_vector(pod, self.resources, use_requested=False)
        return Status.success()

    def score(self, state, pod, nodes, candidates) -> np.ndarray:
        """Raw 0..100 scores of the configured strategy, int64 aligned with ``candidates``."""
        cand = np.asarray(candidates, dtype=np.int64)
        pod_req = state.get(f"{NAME}/preScore")
        if pod_req is None:
            pod_req = pod_request_vector(pod, self.resources, use_requested=False)
        if self.strategy == "LeastAllocated":
            cols = cpu_memory_cols(nodes, self.resources)
            if cols is not None:
                got = self._cached(nodes, cand, pod_req, cols)
                if got is not None:
                    return got
        alloc, req = alloc_and_requested(nodes, cand, self.resources, pod_req, use_requested=False, state=state)
        if self.strategy == "LeastAllocated":
            return least_allocated(req, alloc, self.weights)
        if self.strategy == "MostAllocated":
            return most_allocated(req, alloc, self.weights)
        return requested_to_capacity_ratio(req, alloc, self.weights, *self.shape)


    def events_to_register(self):
        """An assigned pod deleted (Queue); a node added or its allocatable grown (policies/hintfns.py)."""
        return [(ClusterEvent(ASSIGNED_POD, DELETE), hintfns.queue),
                (ClusterEvent(NODE, ADD | UPDATE_NODE_ALLOCATABLE), hintfns.fit_node(self._fit_request))]

    def _cached(self, nodes, cand: np.ndarray, pod_req: np.ndarray, cols: list[int]) -> np.ndarray | None:
        """LeastAllocated scores through :mod:`policies.rowscores` (None: first sighting of the shape);
        the cache key and row functions are kept per request vector (pods of one shape share it)."""
        got = row_functions(self._row_fns, nodes, pod_req, cols)
        if got is None:
            resources, weights = self.resources, self.weights
            wlist = weights.tolist()
            preq = pod_req.tolist()

            def rows_fn(rows: np.ndarray) -> np.ndarray:
                alloc, req = alloc_and_requested(nodes, rows, resources, pod_req, use_requested=False)
                return least_allocated(req, alloc, weights)

            def row_fn(row: int) -> int:
                alloc, used = nodes.allocatable_int[row].tolist(), nodes.nonzero_requested_int[row].tolist()
                return least_allocated_row([alloc[c] for c in cols],
                                           [used[c] + q for c, q in zip(cols, preq, strict=True)], wlist)

            got = keep_row_functions(self._row_fns, nodes, pod_req, cols, (NAME, tuple(resources), tuple(preq)),
                                     rows_fn, row_fn)
        return cached_scores(nodes, got[3], cand, got[4], got[5])


def cpu_memory_cols(nodes, resources: list[tuple[str, int]]) -> list[int] | None:
    """The table columns of ``resources`` when they are only cpu and memory (the cached case)."""
    cols = []
    for name, _ in resources:
        if name not in ("cpu", "memory"):
            return None
        col = nodes.res_index.get(name)
        if col is None:
            return None
        cols.append(col)
    return cols


PLUGINS = [NodeResourcesFit]


def _profile(args: dict, description: str, score: str = NAME) -> dict:
    return {"plugins": {"filter": list(DEFAULT_FILTERS), "score": [[score, 1]]},
            "pluginConfig": {NAME: args}, "percentageOfNodesToScore": 0, "tieBreak": "random",
            "description": description}


PROFILES = {
    "least-allocated": _profile({"scoringStrategy": {"type": "LeastAllocated"}},
                                "default filters; NodeResourcesFit LeastAllocated (cpu, memory) only"),
    "most-allocated": _profile({"scoringStrategy": {"type": "MostAllocated"}},
                               "default filters; NodeResourcesFit MostAllocated (cpu, memory) only: bin packing"),
    "requested-to-capacity-ratio": _profile(
        {"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {
            "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}}},
        "default filters; NodeResourcesFit RequestedToCapacityRatio, shape 0->0, 100->10 (bin packing)"),
    "balanced": _profile({}, "default filters; NodeResourcesBalancedAllocation (cpu, memory) only",
                         score="NodeResourcesBalancedAllocation"),
}
