"""Per-node resource scores kept across cycles for pods of one shape (NodeResourcesFit, BalancedAllocation).

A score of these plugins on a node depends only on that node's allocatable and requested rows and on
the pod's request vector, so for a request vector seen before the scores of *every* node can be kept
and, at the next cycle, recomputed only on the rows whose bound pods changed since
(``NodeTable.pods_changed_since``). A workload of many pods from one template (density) then pays a
gather of the candidates' scores plus a few scalar recomputations per cycle instead of the
vectorised work on every candidate.

The cached values are those of the vectorised functions: the whole table is scored with them when a
shape is cached, and rows are recomputed either with them or, for the usual case, with a scalar
function that does the same integer (or float64) operations in the same order. A shape is cached on
its second sighting only, so that pods of one-off shapes (trace replays) never pay for scoring
every node; at most :data:`MAX_SHAPES` shapes are kept per table.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

MAX_SHAPES = 16
"""Request shapes kept per node table (the cache is emptied beyond it)."""
_SCALAR_ROWS = 16
"""Up to this many changed rows are recomputed one by one; more go through the vectorised function."""

_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_scores(nodes, key: tuple, cand: np.ndarray, rows_fn: Callable[[np.ndarray], np.ndarray],
                  row_fn: Callable[[int], int | None]) -> np.ndarray | None:
    """The candidates' scores from the table's cache for ``key``, or None when ``key`` is new.

    Args:
        nodes: The node table.
        key: The plugin, its configuration and the pod's request vector (hashable).
        cand: Candidate rows.
        rows_fn: Scores of the given rows, vectorised (``(k,) int64``).
        row_fn: Score of one row as a Python int, or None when only ``rows_fn`` handles that row.

    Returns:
        ``(len(cand),) int64`` scores, or None on the first sighting of ``key`` (score the
        candidates directly then).
    """
    per = _CACHE.get(nodes)
    if per is None:
        per = _CACHE[nodes] = {}
    n, version = nodes.n, nodes.pods_version
    hit = per.get(key)
    if hit is None:
        if len(per) >= MAX_SHAPES:
            per.clear()
        per[key] = False  # seen once: cached from the next sighting on
        return None
    if hit is False or hit[1] != n:
        full = rows_fn(np.arange(n, dtype=np.int64))
        per[key] = [full, n, version]
        return full[cand]
    full = hit[0]
    if hit[2] != version:
        changed = nodes.pods_changed_since(hit[2])
        if changed is None or len(changed) > _SCALAR_ROWS:
            stale = np.flatnonzero(nodes.row_pods_version > hit[2])
            if stale.size:
                full[stale] = rows_fn(stale)
        else:
            for row in dict.fromkeys(changed):
                value = row_fn(row)
                full[row] = rows_fn(np.array([row], dtype=np.int64))[0] if value is None else value
        hit[2] = version
    return full[cand]


def row_functions(memo: dict, nodes, pod_req: np.ndarray, cols: list[int]) -> tuple | None:
    """A plugin's kept ``(pod_req, nodes, cols, key, rows_fn, row_fn)`` for this request vector
    (the read-only array :func:`policies.resourceargs.request_vector` memoises per shape), table and
    columns, or None (build them and :func:`keep_row_functions`)."""
    got = memo.get(id(pod_req))
    if got is None or got[0] is not pod_req or got[1] is not nodes or got[2] != cols:
        return None
    return got


def keep_row_functions(memo: dict, nodes, pod_req: np.ndarray, cols: list[int], key: tuple,
                       rows_fn: Callable[[np.ndarray], np.ndarray], row_fn: Callable[[int], int | None]) -> tuple:
    """Keep what :func:`row_functions` returns (at most 16 entries; the memo holds ``pod_req``, so
    its id is not reused while kept)."""
    if len(memo) >= 16:
        memo.clear()
    got = memo[id(pod_req)] = (pod_req, nodes, list(cols), key, rows_fn, row_fn)
    return got


def least_allocated_row(alloc: list[int], req: list[int], weights: list[int]) -> int:
    """E7 for one node, as :func:`policies.noderesources.least_allocated` computes it."""
    total = wsum = 0
    for a, r, w in zip(alloc, req, weights, strict=True):
        if a > 0:
            wsum += w
            if r <= a:
                total += (a - r) * 100 // a * w
    return total // wsum if wsum > 0 else 0


def balanced_two_row(alloc: list[int], req: list[int]) -> int | None:
    """E10 for one node and two resources both allocatable, as the vectorised fast path computes
    it (float64 fractions capped at 1, ``|f1 - f2| / 2``, truncation); None otherwise."""
    a0, a1 = alloc
    if a0 <= 0 or a1 <= 0:
        return None
    f0 = min(float(req[0]) / float(a0), 1.0)
    f1 = min(float(req[1]) / float(a1), 1.0)
    return int((1.0 - abs(f0 - f1) / 2) * 100.0)
