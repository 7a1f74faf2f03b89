"""NodeResourcesBalancedAllocation: favour nodes whose resource fractions are close to each other.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go``
@ 02d7708af661e2fb5a089a04c3944a54d2afcc0e (``balancedResourceScorer``, ``PreScore``), with the
requested/allocatable rules of ``resource_allocation.go`` (CALIBRATION E5, E10).

Per node, for each configured resource with allocatable > 0, ``f = min(req / alloc, 1)`` in float64,
where req is the *actual* requested sum (no 100m/200Mi substitution, E5) plus the pod's request, and
an extended resource the pod does not request is left out. With two fractions ``std = |f1 - f2| / 2``;
with more, the population standard deviation; with fewer, 0. Score ``int64((1 - std) * 100)``.
Weights only select resources. A pod whose requests over the configured resources are all zero is
skipped at PreScore (upstream issue 129138), so explain shows ``null``.

The float64 steps are evaluated in Go's order (fractions summed resource by resource), so the
truncated integers match upstream bit for bit.
"""

from __future__ import annotations

import numpy as np

from kbench.policy.api import Status
from policies import signers
from policies.noderesources import cpu_memory_cols
from policies.resourceargs import (
    alloc_and_requested,
    check_keys,
    parse_resources,
    pod_request_vector,
    request_vector,
)
from policies.rowscores import balanced_two_row, cached_scores, keep_row_functions, row_functions

NAME = "NodeResourcesBalancedAllocation"


def balanced_scores(req: np.ndarray, alloc: np.ndarray) -> np.ndarray:
    """E10 for ``(k, R)`` int64 requested / allocatable; int64 ``(k,)`` scores.

    Loops over the R resources (not nodes), accumulating in Go's order. Two resources present on
    every node (the default cpu/memory) take a direct path with the same float64 steps.
    """
    k, r = alloc.shape
    inc = alloc > 0
    if r == 2 and np.count_nonzero(inc) == inc.size:
        frac = np.minimum(req / alloc, 1.0)  # int64 / int64 divides in float64, as the general path
        std = np.abs(frac[:, 0] - frac[:, 1]) / 2  # exact: halving commutes with abs
        return ((1.0 - std) * 100.0).astype(np.int64)
    frac = np.where(inc, req.astype(np.float64) / np.where(inc, alloc, 1).astype(np.float64), 0.0)
    frac = np.minimum(frac, 1.0)
    count = inc.sum(axis=1)
    total = np.zeros(k)
    first = np.zeros(k)
    second = np.zeros(k)
    seen = np.zeros(k, dtype=np.int64)
    for j in range(r):
        m = inc[:, j]
        total = np.where(m, total + frac[:, j], total)
        first = np.where(m & (seen == 0), frac[:, j], first)
        second = np.where(m & (seen == 1), frac[:, j], second)
        seen = seen + m
    std = np.zeros(k)
    two = count == 2
    std[two] = np.abs((first[two] - second[two]) / 2)
    many = count > 2
    if many.any():
        mean = total / np.maximum(count, 1)
        acc = np.zeros(k)
        for j in range(r):
            d = frac[:, j] - mean
            acc = np.where(inc[:, j], acc + d * d, acc)
        std[many] = np.sqrt(acc[many] / count[many])
    return ((1.0 - std) * 100.0).astype(np.int64)  # Go int64(): truncation toward zero


class NodeResourcesBalancedAllocation:
    """Scores nodes by how evenly the pod would load the configured resources (E10)."""

    NAME = NAME
    DESCRIPTION = "Favour nodes whose cpu/memory (or configured) utilisation fractions are balanced"

    def __init__(self, args: dict | None = None, handle=None):
        args = {} if args is None else args
        check_keys(args, ("resources",), "args", "NodeResourcesBalancedAllocationArgs")
        self.handle = handle
        self.resources = parse_resources(args.get("resources"), "args.resources")
        self._row_fns: dict[int, tuple] = {}  # policies.rowscores.row_functions

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching's fragment (upstream ``SignPod``: the pod's requests)."""
        return signers.resources(pod)

    def pre_score(self, state, pod, nodes, candidates) -> Status:
        """SKIP for a pod that requests none of the configured resources; else store its requests."""
        pod_req = request_vector(pod, self.resources, use_requested=True)
        if not np.count_nonzero(pod_req):
            return Status.skip()
        state[f"{NAME}/preScore"] = pod_req
        return Status.success()

    def score(self, state, pod, nodes, candidates) -> np.ndarray:
        """0..100 int64 scores aligned with ``candidates`` (0 for every node if the pod is best-effort)."""
        cand = np.asarray(candidates, dtype=np.int64)
        pod_req = state.get(f"{NAME}/preScore")
        if pod_req is None:
            pod_req = pod_request_vector(pod, self.resources, use_requested=True)
            if not np.count_nonzero(pod_req):
                return np.zeros(len(cand), dtype=np.int64)
        cols = cpu_memory_cols(nodes, self.resources)
        if cols is not None and len(cols) == 2:
            got = self._cached(nodes, cand, pod_req, cols)
            if got is not None:
                return got
        alloc, req = alloc_and_requested(nodes, cand, self.resources, pod_req, use_requested=True, state=state)
        return balanced_scores(req, alloc)

    def _cached(self, nodes, cand: np.ndarray, pod_req: np.ndarray, cols: list[int]) -> np.ndarray | None:
        """Scores through :mod:`policies.rowscores` (None: first sighting of the shape); the cache key
        and row functions are kept per request vector (pods of one shape share it)."""
        got = row_functions(self._row_fns, nodes, pod_req, cols)
        if got is None:
            resources, preq = self.resources, pod_req.tolist()

            def rows_fn(rows: np.ndarray) -> np.ndarray:
                alloc, req = alloc_and_requested(nodes, rows, resources, pod_req, use_requested=True)
                return balanced_scores(req, alloc)

            def row_fn(row: int) -> int | None:
                alloc, used = nodes.allocatable_int[row].tolist(), nodes.requested_int[row].tolist()
                return balanced_two_row([alloc[c] for c in cols],
                                        [used[c] + q for c, q in zip(cols, preq, strict=True)])

            got = keep_row_functions(self._row_fns, nodes, pod_req, cols, (NAME, tuple(resources), tuple(preq)),
                                     rows_fn, row_fn)
        return cached_scores(nodes, got[3], cand, got[4], got[5])


PLUGINS = [NodeResourcesBalancedAllocation]
