"""Helpers the upstream plugin modules share: resource names, plugin-argument parsing, pod requests.

Resource-name rules follow upstream's ``v1helper`` (``IsExtendedResourceName``,
``IsScalarResourceName``); argument checks follow ``validation/validation_pluginargs.go``; request
vectors follow ``resource_allocation.go`` (E4-E6): see :mod:`policies.noderesources`.
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError

NATIVE = ("cpu", "memory", "ephemeral-storage")
MAX_NODE_SCORE = 100
MAX_CUSTOM_PRIORITY_SCORE = 10
DEFAULT_RESOURCES = (("cpu", 1), ("memory", 1))
"""v1 defaulting of an empty resource list (E3)."""


# ----- resource names (upstream v1helper) ------------------------------------------------------

def is_extended(name: str) -> bool:
    """Upstream ``IsExtendedResourceName``: a domain-prefixed name outside ``kubernetes.io/``."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def is_scalar(name: str) -> bool:
    """Upstream ``IsScalarResourceName``: extended, hugepages-*, attachable-volumes-* or prefixed native."""
    return (is_extended(name) or name.startswith("hugepages-") or name.startswith("attachable-volumes-")
            or "kubernetes.io/" in name)


def to_i64(values) -> np.ndarray:
    """Quantities (float arrays) as int64, rounded to the nearest integer."""
    return np.rint(np.asarray(values, dtype=np.float64)).astype(np.int64)


def _take(matrix: np.ndarray, rows: np.ndarray, cols: list[int]) -> np.ndarray:
    """``matrix[rows][:, cols]`` as a column-major (Fortran-contiguous) array, gathered column by
    column: much cheaper than 2-D fancy indexing, and later element-wise work stays contiguous."""
    out = np.empty((len(cols), len(rows)), dtype=matrix.dtype)
    for j, col in enumerate(cols):
        out[j] = matrix[:, col][rows]
    return out.T


# ----- argument helpers (shared by the other upstream modules) ---------------------------------

def check_keys(args: dict, allowed: tuple[str, ...], where: str, kind: str) -> None:
    """Reject unknown fields (upstream decodes args strictly); ``apiVersion`` / ``kind`` are allowed.

    Raises:
        PolicyError: An unknown field or a wrong ``kind``, with its path.
    """
    if not isinstance(args, dict):
        raise PolicyError(f"expected a mapping, got {type(args).__name__}", where=where)
    for key in args:
        if key in ("apiVersion", "kind"):
            continue
        if key not in allowed:
            raise PolicyError(f"unknown field {key!r} (expected one of {', '.join(allowed)})", where=f"{where}.{key}")
    if "kind" in args and args["kind"] != kind:
        raise PolicyError(f"kind must be {kind!r}, got {args['kind']!r}", where=f"{where}.kind")


def int_field(value, where: str) -> int:
    """An integer argument (bools and floats with a fraction are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise PolicyError(f"must be an integer, got {value!r}", where=where)
    return int(value)


def parse_resources(spec, where: str) -> list[tuple[str, int]]:
    """``[{name, weight}]`` with v1 defaulting (empty → cpu/memory 1; weight 0/unset → 1) and validation.

    Raises:
        PolicyError: A weight outside [1, 100], a missing or duplicate name (path names the entry).
    """
    if spec is None or spec == []:
        return list(DEFAULT_RESOURCES)
    if not isinstance(spec, list):
        raise PolicyError("must be a list of {name, weight}", where=where)
    out: list[tuple[str, int]] = []
    for i, item in enumerate(spec):
        at = f"{where}[{i}]"
        if not isinstance(item, dict) or not item.get("name"):
            raise PolicyError("each resource needs a name", where=f"{at}.name")
        check_keys(item, ("name", "weight"), at, "")
        name = str(item["name"])
        weight = int_field(item.get("weight", 0) or 0, f"{at}.weight")
        weight = 1 if weight == 0 else weight
        if not 1 <= weight <= MAX_NODE_SCORE:
            raise PolicyError(f"resource weight of {name} not in valid range [1, 100], got {weight}",
                              where=f"{at}.weight")
        if any(name == seen for seen, _ in out):
            raise PolicyError(f"duplicate resource {name!r}", where=f"{at}.name")
        out.append((name, weight))
    return out


def parse_shape(spec, where: str) -> tuple[np.ndarray, np.ndarray]:
    """RequestedToCapacityRatio shape → (utilisation, score ×10) int64 arrays (upstream validation).

    Raises:
        PolicyError: No points, utilisation not strictly increasing or outside 0..100, score outside 0..10.
    """
    if not isinstance(spec, list) or not spec:
        raise PolicyError("at least one point must be specified", where=where)
    util, score = [], []
    for i, point in enumerate(spec):
        at = f"{where}[{i}]"
        if not isinstance(point, dict):
            raise PolicyError("each point needs utilization and score", where=at)
        check_keys(point, ("utilization", "score"), at, "")
        u = int_field(point.get("utilization", 0), f"{at}.utilization")
        s = int_field(point.get("score", 0), f"{at}.score")
        if not 0 <= u <= 100:
            raise PolicyError(f"utilization values must be in 0..100, got {u}", where=f"{at}.utilization")
        if util and u <= util[-1]:
            raise PolicyError("utilization values must be sorted in increasing order", where=f"{at}.utilization")
        if not 0 <= s <= MAX_CUSTOM_PRIORITY_SCORE:
            raise PolicyError(f"score values must be in 0..10, got {s}", where=f"{at}.score")
        util.append(u)
        score.append(s * (MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE))
    return np.array(util, dtype=np.int64), np.array(score, dtype=np.int64)


# ----- requests ---------------------------------------------------------------------------------

def pod_request_vector(pod, resources: list[tuple[str, int]], use_requested: bool) -> np.ndarray:
    """The incoming pod's request per configured resource, int64 ``(R,)``.

    cpu and memory use E4's non-zero requests unless ``use_requested`` (BalancedAllocation, E5).
    """
    plain = pod.requests()
    nonzero = plain if use_requested else pod.nonzero_requests()
    vals = [nonzero.get(name, 0.0) if name in ("cpu", "memory") else plain.get(name, 0.0) for name, _ in resources]
    return np.array([round(float(v)) for v in vals], dtype=np.int64)  # round(): ties to even, as to_i64


_VECTORS: dict[tuple, np.ndarray] = {}
_MEMO_LIMIT = 4096  # distinct (resources, requests) keys kept; the memo is cleared past it


def request_vector(pod, resources: list[tuple[str, int]], use_requested: bool) -> np.ndarray:
    """:func:`pod_request_vector`, read-only and memoised by the pod's requests (pods of one
    template share it)."""
    plain = pod.requests()
    key = (tuple(resources), use_requested, tuple(plain.items()),
           None if use_requested else tuple(pod.nonzero_requests().items()))
    got = _VECTORS.get(key)
    if got is None:
        if len(_VECTORS) >= _MEMO_LIMIT:
            _VECTORS.clear()
        got = _VECTORS[key] = pod_request_vector(pod, resources, use_requested)
        got.flags.writeable = False
    return got


def alloc_and_requested(nodes, candidates: np.ndarray, resources: list[tuple[str, int]], pod_req: np.ndarray,
                        use_requested: bool, state=None) -> tuple[np.ndarray, np.ndarray]:
    """``(alloc, req)`` int64 ``(k, R)`` for the candidates (upstream ``calculateResourceAllocatableRequest``).

    A scalar resource the pod does not request, and any resource other than cpu, memory,
    ephemeral-storage or a scalar one (e.g. ``pods``), gives (0, 0): it is left out of the score.
    When every configured resource is a table column read from one requested matrix (the usual
    cpu/memory case), the columns are gathered directly from the table's rounded arrays, and the
    allocatable part is shared through the cycle ``state`` (if given) by every plugin that asks
    for the same columns of the same candidates. Treat the returned ``alloc`` as read-only.
    """
    k, r = len(candidates), len(resources)
    cols, sources = [], set()
    for j, (name, _) in enumerate(resources):
        if name in ("cpu", "memory"):
            sources.add("requested" if use_requested else "nonzero_requested")
        elif name == "ephemeral-storage" or (is_scalar(name) and pod_req[j] != 0):
            sources.add("requested")
        else:
            sources.add(None)
        cols.append(nodes.res_index.get(name))
    if len(sources) == 1 and None not in sources and None not in cols:
        key = f"NodeResources/allocatable{cols}"
        memo = state.get(key) if state is not None else None
        if memo is not None and memo[0] is candidates:
            alloc = memo[1]
        else:
            alloc = _take(nodes.allocatable_int, candidates, cols)
            if state is not None:
                state[key] = (candidates, alloc)
        req = _take(getattr(nodes, sources.pop() + "_int"), candidates, cols)
        req += pod_req
        return alloc, req
    alloc = np.zeros((k, r), dtype=np.int64)
    req = np.zeros((k, r), dtype=np.int64)
    for j, (name, _) in enumerate(resources):
        if name in ("cpu", "memory"):
            used = nodes.requested_of(name) if use_requested else nodes.nonzero_requested_of(name)
        elif name == "ephemeral-storage" or (is_scalar(name) and pod_req[j] != 0):
            used = nodes.requested_of(name)
        else:
            continue
        alloc[:, j] = to_i64(nodes.allocatable_of(name)[candidates])
        req[:, j] = to_i64(used[candidates]) + pod_req[j]
    return alloc, req
