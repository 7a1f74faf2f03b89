"""GPU fragmentation with respect to a typical workload (FGD.md §2.7-2.8), vectorised over nodes.

Follows ``NodeGpuShareFragAmount``, ``GetNodePodFrag``, ``CanNodeHostPodOnGpuMemory`` and
``GetGpuFragMilliByNodeResAndPodRes`` in hkust-adsl/kubernetes-scheduler-simulator
``pkg/utils/frag.go``, ``IsNodeAccessibleToPodByType`` in ``pkg/utils/utils.go`` and
``NodeResource.Sub`` in ``pkg/type/resource.go``.

For node n with free CPU c_n (millicores) and free milli-GPU g_{n,j} on each GPU, and a typical pod
shape m (c_m, u_m per GPU, k_m GPUs, model constraint), the fragment frag_n(m) in milli-GPU is the
node's whole idle GPU L_n = Σ_j g_{n,j} when m needs no GPU, may not use the node's model, or does not
fit (fewer than k_m GPUs with g ≥ u_m, or c_n < c_m); otherwise only the GPUs too small for m,
Σ_{j: g<u_m} g_{n,j}. F_n = Σ_m p_m frag_n(m). The floating-point sums are done in the Go code's
order (per category in shape order, then the categories in turn), so scores truncated from
F_n − F_n' match the Go simulator's integers even where F_n' = F_n.

These functions are shared by the FGD policy (``policies/fgd.py``) and the fragmentation metrics
(frag amount and frag rate, FGD.md §1.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kbench.policy.typical import MILLI, TypicalPods

if TYPE_CHECKING:
    from kbench.cluster.objects import NodeTable

MAX_SPEC_CPU = 128_000
"""Ĉ: CPU normaliser of DotProd / BestFit, millicores (``MaxSpecCpu``)."""
MAX_SPEC_GPU = 8_000
"""Ĝ: GPU normaliser of DotProd / BestFit / Clustering, milli-GPU (``MaxSpecGpu``)."""

# Fragment categories, indexed as FragRatioDataMap in frag.go. Q3 (fits) is not fragment: the part of
# a fitting node's GPU that is too small for the shape is booked under Q2.
Q1_LACK_BOTH, Q2_LACK_GPU, Q3_SATISFIED, Q4_LACK_CPU, XL_SATISFIED, XR_LACK_CPU, NO_ACCESS = range(7)
_FRAG_CATEGORIES = (Q1_LACK_BOTH, Q2_LACK_GPU, Q4_LACK_CPU, XL_SATISFIED, XR_LACK_CPU, NO_ACCESS)
_POS = {c: i for i, c in enumerate(_FRAG_CATEGORIES)}  # category -> its place in the sum order


# ----- reading the node table ------------------------------------------------------------------

def cpu_free(nodes: NodeTable, rows: np.ndarray) -> np.ndarray:
    """``(r,) int64`` free CPU (allocatable − requested) of ``rows``, millicores."""
    col = nodes.res_index["cpu"]
    return np.rint(nodes.allocatable[rows, col] - nodes.requested[rows, col]).astype(np.int64)


def gpu_free(nodes: NodeTable, rows: np.ndarray) -> np.ndarray:
    """``(r, G) int64`` free milli-GPU per GPU of ``rows`` (-1 pads missing GPUs)."""
    g = nodes.gpu_free_milli
    if g.shape[1] == 0:
        return np.zeros((len(rows), 0), dtype=np.int64)
    return g[rows]


def model_allowed(pod_model: str, node_model: str) -> bool:
    """Whether a node of ``node_model`` may host a pod constrained to ``pod_model`` ("A|B" = either).

    As ``IsNodeAccessibleToPodByType``: no constraint allows every node (CPU-only nodes too); a
    constraint never matches a node without a GPU model.
    """
    wanted = [m for m in pod_model.split("|") if m]
    if not wanted:
        return True
    return bool(node_model) and node_model in wanted


def model_access(nodes: NodeTable, rows: np.ndarray, pod_model: str) -> np.ndarray:
    """``(r,) bool``: may a pod constrained to ``pod_model`` use each row's GPUs."""
    if not pod_model:
        return np.ones(len(rows), dtype=bool)
    return model_column(nodes, pod_model)[rows]


def model_column(nodes: NodeTable, pod_model: str) -> np.ndarray:
    """``(n,) bool`` (read-only, cached on the table): may a pod constrained to ``pod_model`` use
    each node's GPUs."""
    def build() -> np.ndarray:
        by_code = np.array([model_allowed(pod_model, name) for name in nodes.gpu_model_names] + [False])
        return by_code[nodes.gpu_model_codes]  # code -1 (no model) takes the trailing False

    return nodes.gpu_column(("model", pod_model), build)


def access_matrix(nodes: NodeTable, rows: np.ndarray, typical: TypicalPods) -> np.ndarray:
    """``(M, r) bool``: model access of each row (column) for each typical shape (row)."""
    out = np.ones((typical.m, len(rows)), dtype=bool)
    for model in set(typical.gpu_model):
        if model:
            shapes = [i for i, m in enumerate(typical.gpu_model) if m == model]
            out[shapes, :] = model_access(nodes, rows, model)[None, :]
    return out


# ----- the fragment measure ----------------------------------------------------------------------
# Arrays are laid out (shape, node): (M, r) per shape or (U, r) per distinct per-GPU share u, so
# that sums over shapes run row after row, in shape order, exactly as the Go loop adds them.

def gpu_parts(g: np.ndarray, typical: TypicalPods) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The GPU-side terms of the fragment, per distinct share u in ``typical.u_values``.

    Args:
        g: ``(r, G)`` free milli-GPU per GPU (-1 pads).
        typical: The typical shapes.

    Returns:
        ``L (r,)`` idle milli-GPU; ``cnt (U, r)`` GPUs with g ≥ u; ``small (U, r)`` Σ of g < u.
    """
    gz = np.maximum(g, 0).T  # (G, r)
    L = gz.sum(axis=0)
    ge = gz[None, :, :] >= typical.u_values[:, None, None]  # (U, G, r)
    cnt = ge.sum(axis=1)
    small = (gz[None, :, :] * ~ge).sum(axis=1)
    return L, cnt, small


class _FragPlan:
    """Per-:class:`TypicalPods` constants of :func:`frag_from_parts`, laid out ``(M, 1)``."""

    def __init__(self, typical: TypicalPods):
        gpu_shape = typical.gpu_milli > 0
        self.weight = typical.weight[:, None]
        self.cpu = typical.cpu_milli[:, None]
        self.count = typical.gpu_count[:, None]
        self.inv = typical.u_index
        self.base = np.where(gpu_shape, 0, 8).astype(np.intp)[:, None]


def _plan(typical: TypicalPods) -> _FragPlan:
    plan = typical.__dict__.get("_frag_plan")
    if plan is None:
        plan = typical.__dict__["_frag_plan"] = _FragPlan(typical)  # frozen dataclass: as cached_property does
    return plan


# A (shape, node) pair's category from code = base + 4·access + 2·cpu_ok + gpu_ok (base 8 for CPU-only
# shapes, which ignore access and GPU fit), as its place in the sum order (_FRAG_CATEGORIES). The fits
# case (code 7) is booked under Q2; CPU-only shapes count every idle GPU (XL if the CPU fits, else XR).
_FITS = 7
_CATEGORY_OF_CODE = np.array(
    [_POS[NO_ACCESS]] * 4 + [_POS[Q1_LACK_BOTH], _POS[Q4_LACK_CPU], _POS[Q2_LACK_GPU], _POS[Q2_LACK_GPU]]
    + [_POS[XR_LACK_CPU], _POS[XR_LACK_CPU], _POS[XL_SATISFIED], _POS[XL_SATISFIED]] * 2, dtype=np.intp)


def frag_from_parts(
    L: np.ndarray, cnt: np.ndarray, small: np.ndarray, cpu: np.ndarray, access: np.ndarray,
    typical: TypicalPods,
) -> np.ndarray:
    """``(r,) float64`` F_n in milli-GPU from :func:`gpu_parts` terms, free CPU and ``access (M, r)``.

    The sums follow the Go code's order (see the module docstring): each (shape, node) pair falls in
    exactly one category; ``np.bincount`` adds the pairs into their (category, node) cell in memory
    order, i.e. shape after shape (a strictly sequential scatter-add, unlike ``sum``'s pairwise
    steps), and the categories are then added in order.
    """
    r = len(L)
    if r == 0 or typical.m == 0:
        return np.zeros(r)
    plan = _plan(typical)
    cpu_ok = cpu[None, :] >= plan.cpu  # (M, r)
    gpu_ok = cnt[plan.inv] >= plan.count
    code = plan.base + 4 * access + 2 * cpu_ok + gpu_ok
    value = np.where(code == _FITS, small[plan.inv], L[None, :])
    contrib = plan.weight * value.astype(np.float64)
    cell = _CATEGORY_OF_CODE[code] * r + np.arange(r)
    per_category = np.bincount(cell.ravel(), contrib.ravel(), len(_FRAG_CATEGORIES) * r)
    return np.add.accumulate(per_category.reshape(len(_FRAG_CATEGORIES), r), axis=0)[-1]


def node_frag(cpu: np.ndarray, g: np.ndarray, access: np.ndarray, typical: TypicalPods) -> np.ndarray:
    """``(r,) float64`` F_n, milli-GPU, for free CPU ``cpu (r,)``, free GPU ``g (r, G)`` and
    ``access (M, r)`` (:func:`access_matrix`)."""
    L, cnt, small = gpu_parts(g, typical)
    return frag_from_parts(L, cnt, small, cpu, access, typical)


def node_frag_amount(nodes: NodeTable, typical: TypicalPods, rows: np.ndarray | None = None) -> np.ndarray:
    """``(r,) float64`` each node's fragmentation F_n, milli-GPU (FGD.md §2.8).

    Args:
        nodes: The node table.
        typical: Typical pods (:func:`kbench.policy.typical.typical_pods`).
        rows: Rows to measure (default: all).
    """
    rows = np.arange(nodes.n) if rows is None else np.asarray(rows, dtype=np.int64)
    return node_frag(cpu_free(nodes, rows), gpu_free(nodes, rows), access_matrix(nodes, rows, typical), typical)


def frag_amount(nodes: NodeTable, typical: TypicalPods) -> float:
    """Cluster fragmentation F = Σ_n F_n, milli-GPU."""
    return float(node_frag_amount(nodes, typical).sum())


def frag_amount_pct(nodes: NodeTable, typical: TypicalPods) -> float:
    """*Frag amount* (FGD.md §1.3): F as a % of the cluster's GPU capacity (0 with no GPUs)."""
    capacity = float(nodes.gpu_count.sum()) * MILLI
    return 100.0 * frag_amount(nodes, typical) / capacity if capacity else 0.0


def frag_rate_pct(nodes: NodeTable, typical: TypicalPods) -> float:
    """*Frag rate* (FGD.md §1.3): F as a % of the idle GPU milli (0 when nothing is idle)."""
    idle = float(np.maximum(nodes.gpu_free_milli, 0).sum())
    return 100.0 * frag_amount(nodes, typical) / idle if idle else 0.0


# ----- hypothetical placements (FGD) -------------------------------------------------------------

def sigmoid_score(delta: np.ndarray) -> np.ndarray:
    """``int64`` ⌊100 σ(Δ/1000)⌋ for a fragmentation decrease Δ = F_n − F_n' in milli-GPU."""
    s = 1.0 / (1.0 + np.exp(-(delta / 1000.0)))
    return (s * 100.0).astype(np.int64)


def take_ascending(g: np.ndarray, k: int, u: int) -> np.ndarray:
    """``(r, G) bool``: the GPUs ``NodeResource.Sub`` takes, k with g ≥ u in ascending free order.

    Ties go to the lower index (stable sort); pads (-1) are never taken. Rows with fewer than k
    fitting GPUs take what fits (as the Go code does before reporting its error).
    """
    order = np.argsort(g, axis=1, kind="stable")
    sorted_g = np.take_along_axis(g, order, axis=1)
    eligible = sorted_g >= max(u, 1)
    taken_sorted = eligible & (np.cumsum(eligible, axis=1) <= k)
    taken = np.zeros_like(taken_sorted)
    np.put_along_axis(taken, order, taken_sorted, axis=1)
    return taken


def fgd_share_scores(
    cpu: np.ndarray, g: np.ndarray, gpu_count: np.ndarray, access: np.ndarray, typical: TypicalPods,
    c_p: int, u: int,
) -> tuple[np.ndarray, np.ndarray]:
    """FGD scores of a GPU-sharing pod (one GPU, u < 1000 milli) and the GPU each node would give.

    Every GPU j with g_j ≥ u is tried (c_n −= c_p, g_j −= u); a node's score is the best over j and
    the first maximiser is its GPU (``calculateGpuShareFragExtendScore`` in ``fgd_score.go``).

    Args:
        cpu: ``(r,)`` free CPU, millicores. g: ``(r, G)`` free milli-GPU (-1 pads).
        gpu_count: ``(r,)`` GPUs per node. access: ``(M, r)`` model access per typical shape.
        typical: Typical pods. c_p: the pod's CPU, millicores. u: its GPU share, milli.

    Returns:
        ``(scores (r,) int64, gpu (r,) int64)``; rows where no GPU fits score 0 with GPU -1.
    """
    r, G = g.shape
    if G == 0:
        return np.zeros(r, dtype=np.int64), np.full(r, -1, dtype=np.int64)
    L, cnt, small = gpu_parts(g, typical)
    # Every (node, GPU) pair to try, evaluated in one batch with the nodes' current state: the
    # columns are independent, so batching changes no value.
    rr, jj = np.nonzero((np.arange(G)[None, :] < gpu_count[:, None]) & (g >= u))
    uv = typical.u_values[:, None]
    gj = g[rr, jj][None, :]
    gj2 = gj - u
    cnt2 = cnt[:, rr] - (gj >= uv) + (gj2 >= uv)
    small2 = small[:, rr] - np.where(gj < uv, gj, 0) + np.where(gj2 < uv, gj2, 0)
    both = frag_from_parts(np.concatenate([L, L[rr] - u]), np.hstack([cnt, cnt2]), np.hstack([small, small2]),
                           np.concatenate([cpu, cpu[rr] - c_p]), np.hstack([access, access[:, rr]]), typical)
    per_gpu = np.full((r, G), -1, dtype=np.int64)
    per_gpu[rr, jj] = sigmoid_score(both[rr] - both[r:])
    best = per_gpu.argmax(axis=1)
    scores = per_gpu[np.arange(r), best]
    none = scores < 0
    return np.where(none, 0, scores), np.where(none, -1, best)


def fgd_other_scores(
    cpu: np.ndarray, g: np.ndarray, gpu_count: np.ndarray, access: np.ndarray, typical: TypicalPods,
    c_p: int, k: int, u: int,
) -> np.ndarray:
    """``(r,) int64`` FGD scores of a CPU-only or whole-GPU pod (``NodeResource.Sub`` placement).

    CPU is subtracted and k GPUs with g ≥ u are taken in ascending free order. A node that cannot
    take the pod's CPU or GPU count is left unchanged (score 50), as ``Sub``'s early error does.
    """
    ok = (cpu >= c_p) & (gpu_count >= k)
    cpu2 = np.where(ok, cpu - c_p, cpu)
    g2 = g
    if k > 0 and g.shape[1]:
        take = take_ascending(g, k, u) & ok[:, None]
        g2 = np.where(take, g - u, g)
    r = len(cpu)  # before and after in one batch (independent columns)
    both = node_frag(np.concatenate([cpu, cpu2]), np.vstack([g, g2]), np.hstack([access, access]), typical)
    return sigmoid_score(both[:r] - both[r:])
