"""Memoised fragmentation and FGD scores by node state (the fast path of FGD and its metrics).

A node's fragmentation F_n (:mod:`kbench.policy.gpufrag`) depends on its state only through

* its GPU model (which typical shapes may use its GPUs),
* which typical CPU requests its free CPU covers: the *bucket* of free CPU c, the number of
  distinct typical CPU requests ≤ c (all that the ``c ≥ c_m`` tests see), and
* the free milli of its GPUs as a multiset (L, the counts of GPUs with g ≥ u and the sums of those
  with g < u are sums over GPUs).

Node states repeat a lot in a replay (idle nodes of one type, full nodes, common partial fills), so
:class:`FragMemo` numbers each distinct *GPU state* (model, ascending free milli of the node's
GPUs) once, follows every row's GPU state as pods come and go, and keeps

* F per (GPU state, CPU bucket);
* per pod GPU request (k, u) and GPU state: the GPU state after the pod, for each distinct free
  milli a sharing pod could take (one state for other pods);
* per pod GPU request (k, u), the FGD score per (GPU state, bucket of c, bucket of c − c_p,
  c ≥ c_p), as an integer key (pods differing only in CPU c_p share these scores); keys of many
  rows are computed at once with numpy, of a few in plain Python.

Only states it has not seen are computed, F in one batch with the vectorised functions. The values
are bit-identical to computing every row directly: F is evaluated on a representative row (a free
CPU in the same bucket, the GPUs in ascending order) through the same element-wise arithmetic, and
every score goes through :func:`~kbench.policy.gpufrag.sigmoid_score`.

A memo lives on its :class:`~kbench.policy.typical.TypicalPods` (:func:`frag_memo`), so the FGD
policy and the fragmentation recorder of one run share it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

import numpy as np

from kbench.policy.gpufrag import (
    _FRAG_CATEGORIES,
    NO_ACCESS,
    Q1_LACK_BOTH,
    Q2_LACK_GPU,
    Q4_LACK_CPU,
    XL_SATISFIED,
    XR_LACK_CPU,
    cpu_free,
    model_allowed,
    node_frag,
    sigmoid_score,
)
from kbench.policy.typical import MILLI, TypicalPods

if TYPE_CHECKING:
    from kbench.cluster.objects import NodeTable

MAX_ENTRIES = 1_000_000
"""Entries of one memo dict above which it starts afresh (bounds memory)."""
_SCALAR_ROWS = 24
"""Up to this many rows, memo keys are computed in plain Python rather than with numpy."""
_SCALAR_STATES = 12
"""Up to this many missing states, F is computed in plain Python rather than in a numpy batch."""
if _FRAG_CATEGORIES != (Q1_LACK_BOTH, Q2_LACK_GPU, Q4_LACK_CPU, XL_SATISFIED, XR_LACK_CPU, NO_ACCESS):
    raise ImportError("FragMemo._frag_scalar adds the categories in another order than gpufrag")


def frag_memo(typical: TypicalPods) -> FragMemo:
    """The memo of ``typical`` (created on first use and kept on the object)."""
    memo = typical.__dict__.get("_frag_memo")
    if memo is None:
        memo = typical.__dict__["_frag_memo"] = FragMemo(typical)  # frozen dataclass: as cached_property
    return memo


class FragMemo:
    """F_n and FGD scores by node state against one set of typical pods (see the module docstring).

    Args:
        typical: The typical pods.

    Attributes:
        gsid: ``(n,) int64`` GPU state id per row of the table last synced (:meth:`sync`).
        cpu: ``(n,) int64`` free CPU per row of that table, millicores.
        computed: F values computed (not found in the memo), for tests and tuning.
    """

    def __init__(self, typical: TypicalPods):
        self.typical = typical
        self.thresholds = np.unique(typical.cpu_milli)
        self.nb = len(self.thresholds) + 1  # CPU buckets 0..nb-1
        self._gstates: list[tuple] = []  # id -> (model, ascending free milli per GPU)
        self._gstate_id: dict[tuple, int] = {}
        self._frag: dict[int, float] = {}  # gstate id * nb + bucket -> F
        self._trans: dict[tuple, dict[int, tuple]] = {}  # (k, u) -> {gstate id: ((x, gstate id after), ...)}
        self._scores: dict[tuple, dict[int, int]] = {}  # (k, u) -> {score key: score}
        self._sig: dict[float, int] = {}  # F decrease -> sigmoid score
        self._access: dict[str | None, np.ndarray] = {}
        self._table: NodeTable | None = None
        self._table_n = 0
        self._version = -1
        self._thresholds_list = self.thresholds.tolist()
        ranks = np.searchsorted(self.thresholds, typical.cpu_milli, side="left").tolist()
        self._u_list = sorted({int(u) for u in typical.gpu_milli.tolist() if u > 0})
        self._shape_list = [(float(w), r, int(u), int(k)) for w, r, u, k in zip(
            typical.weight.tolist(), ranks, typical.gpu_milli.tolist(), typical.gpu_count.tolist(), strict=True)]
        self._plans: dict[tuple, tuple] = {}  # (model, bucket) -> _plan(model, bucket)
        self._parts: dict[int, tuple] = {}  # gstate id -> _gpu_parts
        self.gsid = np.zeros(0, dtype=np.int64)
        self.cpu = np.zeros(0, dtype=np.int64)
        self._gsid_list: list[int] = []
        self._cpu_list: list[int] = []
        self.computed = 0

    # ----- GPU states of the rows ---------------------------------------------------------
    def _intern(self, model: str | None, frees: list[int]) -> int:
        key = (model, tuple(sorted(frees)))
        sid = self._gstate_id.get(key)
        if sid is None:
            sid = self._gstate_id[key] = len(self._gstates)
            self._gstates.append(key)
        return sid

    def sync(self, nodes: NodeTable) -> None:
        """Bring :attr:`gsid` / :attr:`cpu` (each row's GPU state id and free CPU in millicores, with
        list copies for scalar access) up to date with ``nodes``: only the rows changed since the
        last call (:meth:`NodeTable.pods_changed_since`); another table or a new node redoes all."""
        n = nodes.n
        if self._table is not nodes or self._table_n != n:
            self._table, self._table_n = nodes, n
            self._version = nodes.pods_version
            rows = np.arange(n)
            self.cpu = cpu_free(nodes, rows)
            counts = nodes.gpu_count.tolist()
            g = nodes.gpu_free_milli.tolist() if nodes.gpu_free_milli.shape[1] else [[]] * n
            model = nodes.gpu_model
            self.gsid = np.array([self._intern(model[i], g[i][:counts[i]]) for i in range(n)], dtype=np.int64)
            self._gsid_list, self._cpu_list = self.gsid.tolist(), self.cpu.tolist()
            return
        if nodes.pods_version == self._version:
            return
        changed = nodes.pods_changed_since(self._version)
        rows = set(changed) if changed is not None else np.flatnonzero(nodes.row_pods_version > self._version).tolist()
        self._version = nodes.pods_version
        alloc, req, col = nodes.allocatable, nodes.requested, nodes.res_index["cpu"]
        free, count, model = nodes.gpu_free_milli, nodes.gpu_count, nodes.gpu_model
        for i in rows:
            sid = self._intern(model[i], free[i, : int(count[i])].tolist())
            cpu = int(round(float(alloc[i, col] - req[i, col])))  # round(): ties to even, as np.rint
            self.gsid[i], self.cpu[i] = sid, cpu
            self._gsid_list[i], self._cpu_list[i] = sid, cpu

    def buckets(self, cpu: np.ndarray) -> np.ndarray:
        """``(r,) int64`` bucket of each free CPU value (millicores)."""
        return np.searchsorted(self.thresholds, cpu, side="right")

    def _keys(self, rows, c_p: int | None) -> list[int]:
        """Memo keys of ``rows`` (a list or an int array, after :meth:`sync`): ``gstate id * nb +
        bucket(c)`` when ``c_p`` is None, else the score key ``((gstate id * nb + bucket(c)) * nb +
        bucket(c − c_p)) * 2 + (c ≥ c_p)``."""
        nb = self.nb
        if len(rows) <= _SCALAR_ROWS:  # a few rows: plain Python beats a dozen small numpy calls
            th, gl, cl = self._thresholds_list, self._gsid_list, self._cpu_list
            if not isinstance(rows, list):
                rows = rows.tolist()
            if c_p is None:
                return [gl[i] * nb + bisect_right(th, cl[i]) for i in rows]
            return [((gl[i] * nb + bisect_right(th, cl[i])) * nb + bisect_right(th, cl[i] - c_p)) * 2
                    + (cl[i] >= c_p) for i in rows]
        rows = np.asarray(rows, dtype=np.int64)
        cpu = self.cpu[rows]
        keys = self.gsid[rows] * nb + self.buckets(cpu)
        if c_p is None:
            return keys.tolist()
        return ((keys * nb + self.buckets(cpu - c_p)) * 2 + (cpu >= c_p)).tolist()

    # ----- F ------------------------------------------------------------------------------
    def _cpu_of(self, bucket: int) -> int:
        """A free CPU (millicores) in ``bucket``."""
        return int(self.thresholds[bucket - 1]) if bucket > 0 else int(self.thresholds[0]) - 1

    def _model_access(self, model: str | None) -> np.ndarray:
        acc = self._access.get(model)
        if acc is None:
            acc = self._access[model] = np.array(
                [not tm or model_allowed(tm, model or "") for tm in self.typical.gpu_model], dtype=bool)
        return acc

    def _fill_frag(self, keys) -> None:
        """Compute F of the ``gstate id * nb + bucket`` keys not in the memo (a few one by one in
        plain Python, more in one numpy batch; both give the vectorised functions' values)."""
        memo, nb = self._frag, self.nb
        missing = [key for key in dict.fromkeys(keys) if key not in memo]
        if not missing:
            return
        self.computed += len(missing)
        if len(memo) > MAX_ENTRIES:
            memo.clear()
        if len(missing) <= _SCALAR_STATES:
            for key in missing:
                memo[key] = self._frag_scalar(key // nb, key % nb)
            return
        states = [self._gstates[key // nb] for key in missing]
        width = max(1, max(len(s[1]) for s in states))
        g = np.zeros((len(missing), width), dtype=np.int64)
        for i, (_, frees) in enumerate(states):
            g[i, : len(frees)] = frees
        cpu = np.array([self._cpu_of(key % nb) for key in missing], dtype=np.int64)
        access = np.stack([self._model_access(s[0]) for s in states], axis=1)
        memo.update(zip(missing, node_frag(cpu, g, access, self.typical).tolist(), strict=True))

    def _frag_scalar(self, sid: int, bucket: int) -> float:
        """F of GPU state ``sid`` in CPU bucket ``bucket`` in plain Python: the same products, each
        category summed shape after shape from 0.0, then the categories added in order
        (:func:`~kbench.policy.gpufrag.frag_from_parts`)."""
        parts = self._parts.get(sid)
        if parts is None:
            parts = self._parts[sid] = self._gpu_parts(*self._gstates[sid])
        model, idle, cnt, small = parts
        plan = self._plans.get((model, bucket))
        if plan is None:
            plan = self._plans[(model, bucket)] = self._plan(model, bucket)
        fits_cpu, short_cpu, n_xl, n_xr, n_na = plan
        q1 = q2 = q4 = xl = xr = na = 0.0
        for w, ui, k in fits_cpu:
            q2 += w * (small[ui] if cnt[ui] >= k else idle)
        for w, ui, k in short_cpu:
            if cnt[ui] >= k:
                q4 += w * idle
            else:
                q1 += w * idle
        for w in n_xl:
            xl += w * idle
        for w in n_xr:
            xr += w * idle
        for w in n_na:
            na += w * idle
        return q1 + q2 + q4 + xl + xr + na  # the order of _FRAG_CATEGORIES

    def _gpu_parts(self, model: str | None, frees: tuple) -> tuple:
        """``(model, L, cnt, small)`` of a GPU state: idle milli L as a float, and per distinct u
        (``_u_list``) the GPUs with g ≥ u and the sum of those with g < u (as a float)."""
        pos = [x for x in frees if x > 0]  # ascending, as the state keeps them
        n_pos = len(pos)
        cnt, small = [], []
        for u in self._u_list:
            cut = bisect_left(pos, u)
            cnt.append(n_pos - cut)
            small.append(float(sum(pos[:cut])))
        return model, float(sum(pos)), cnt, small

    def _plan(self, model: str | None, bucket: int) -> tuple:
        """The typical shapes by the category they may fall in on a node of ``model`` with free CPU
        in ``bucket``, each list in shape order: ``(w, u index, k)`` of the GPU shapes whose CPU fits
        (Q2) and of those whose CPU does not (Q4 or Q1), then the weights of CPU-only shapes whose
        CPU fits (XL) and does not (XR) and of GPU shapes without access to the model."""
        access = self._model_access(model).tolist()
        ui = {u: i for i, u in enumerate(self._u_list)}
        fits_cpu, short_cpu, n_xl, n_xr, n_na = [], [], [], [], []
        for m, (w, rank, u, k) in enumerate(self._shape_list):
            if u == 0:
                (n_xl if bucket > rank else n_xr).append(w)
            elif not access[m]:
                n_na.append(w)
            else:
                (fits_cpu if bucket > rank else short_cpu).append((w, ui[u], k))
        return fits_cpu, short_cpu, n_xl, n_xr, n_na

    def node_values(self, nodes: NodeTable, rows: np.ndarray) -> np.ndarray:
        """``(r,) float64`` F_n of ``rows``, milli-GPU (as :func:`~kbench.policy.gpufrag.node_frag_amount`)."""
        return np.array(self.value_list(nodes, np.asarray(rows, dtype=np.int64)), dtype=np.float64)

    def value_list(self, nodes: NodeTable, rows) -> list[float]:
        """F_n of ``rows`` (a list or an int array) as a list of floats (see :meth:`node_values`)."""
        self.sync(nodes)
        keys = self._keys(rows, None)
        memo = self._frag
        try:
            return [memo[k] for k in keys]
        except KeyError:
            self._fill_frag(keys)
            return [memo[k] for k in keys]

    # ----- FGD scores ---------------------------------------------------------------------
    def scores(self, nodes: NodeTable, rows: np.ndarray, c_p: int, k: int, u: int) -> np.ndarray:
        """``(r,) int64`` FGD scores of a pod of CPU ``c_p`` (millicores) and k GPUs × u milli on
        ``rows``: as :func:`~kbench.policy.gpufrag.fgd_share_scores` for a sharing pod (k = 1,
        u < 1000), else as :func:`~kbench.policy.gpufrag.fgd_other_scores`."""
        return np.array(self.score_list(nodes, np.asarray(rows, dtype=np.int64), c_p, k, u), dtype=np.int64)

    def score_list(self, nodes: NodeTable, rows, c_p: int, k: int, u: int) -> list[int]:
        """:meth:`scores` of ``rows`` (a list or an int array) as a list of ints.

        The memo is per (k, u), not per pod shape: a score key already holds all that the pod's
        CPU changes (the buckets of c and c − c_p, and c ≥ c_p), so pods that differ only in CPU
        share their scores.
        """
        self.sync(nodes)
        keys = self._keys(rows, c_p)
        memo = self._scores.get((k, u))
        if memo is None:
            memo = self._scores[(k, u)] = {}
        try:
            return [memo[key] for key in keys]
        except KeyError:
            if len(memo) > MAX_ENTRIES:
                memo.clear()
            self._score_keys(memo, [key for key in dict.fromkeys(keys) if key not in memo], k, u)
            return [memo[key] for key in keys]

    def _transitions(self, k: int, u: int, sids) -> dict[int, tuple]:
        """Per GPU state id: ``((x, state id after), ...)`` — for a sharing pod (k = 1, u < 1000)
        one entry per distinct free milli x ≥ u (taking u from a GPU with x free), else one entry
        ``(-1, state after)`` for taking k GPUs with g ≥ u in ascending free order (all F needs)."""
        table = self._trans.setdefault((k, u), {})
        missing = [sid for sid in dict.fromkeys(sids) if sid not in table]
        share = k == 1 and u < MILLI
        for sid in missing:
            model, frees = self._gstates[sid]
            if share:
                table[sid] = tuple((x, self._intern(model, [*frees[:pos], x - u, *frees[pos + 1:]]))
                                   for pos, x in enumerate(frees)
                                   if x >= u and (pos == 0 or frees[pos - 1] != x))  # equal GPUs: equal states
            else:
                g2, taken = list(frees), 0
                for i, x in enumerate(g2):
                    if taken < k and x >= max(u, 1):
                        g2[i] = x - u
                        taken += 1
                table[sid] = ((-1, self._intern(model, g2)),)
        return table

    def _score_keys(self, memo: dict[int, int], todo: list[int], k: int, u: int) -> None:
        """Score the keys ``todo`` of :meth:`scores` into ``memo``."""
        nb, share, gstates = self.nb, k == 1 and u < MILLI, self._gstates
        parts = []  # per key: (F key before, CPU bucket after, GPU state id, or -1 when Sub fails)
        for key in todo:
            rest = key >> 1  # (sid * nb + b0) * nb + b1
            f0, sid = rest // nb, rest // (nb * nb)
            parts.append((f0, rest % nb, sid if share or (key & 1 and len(gstates[sid][1]) >= k) else -1))
        trans = self._transitions(k, u, [sid for _, _, sid in parts if sid >= 0])
        need = [f0 for f0, _, _ in parts]
        for _, b1, sid in parts:
            if sid >= 0:
                need.extend([a * nb + b1 for _, a in trans[sid]])
        self._fill_frag(need)
        frag = self._frag
        deltas: list[float] = []
        spans = []
        for f0, b1, sid in parts:
            start = len(deltas)
            if sid >= 0:
                v0 = frag[f0]
                deltas.extend([v0 - frag[a * nb + b1] for _, a in trans[sid]])
            else:
                deltas.append(0.0)  # Sub's early error: the node is left unchanged (score 50)
            spans.append((start, len(deltas)))
        sig = self._sigmoid(deltas)
        for key, (start, end) in zip(todo, spans, strict=True):
            memo[key] = max(sig[start:end]) if end > start else 0  # a sharing pod no GPU fits: 0

    def _sigmoid(self, deltas: list[float]) -> list[int]:
        """:func:`~kbench.policy.gpufrag.sigmoid_score` of each F decrease, memoised by value (the
        same differences recur; new ones go through the vectorised function in one call)."""
        memo = self._sig
        try:
            return [memo[d] for d in deltas]
        except KeyError:
            missing = [d for d in dict.fromkeys(deltas) if d not in memo]
            if len(memo) > MAX_ENTRIES:
                memo.clear()
            memo.update(zip(missing, sigmoid_score(np.array(missing, dtype=np.float64)).tolist(), strict=True))
            return [memo[d] for d in deltas]

    def share_choice(self, nodes: NodeTable, row: int, c_p: int, u: int) -> int:
        """The GPU a sharing pod (u < 1000 milli, CPU ``c_p``) takes on ``row`` with FGD: the first
        GPU whose free milli gives the best score (as :func:`~kbench.policy.gpufrag.fgd_share_scores`),
        or -1 when none fits."""
        nb = self.nb
        self.sync(nodes)
        sid, cpu = self._gsid_list[row], self._cpu_list[row]
        b0, b1 = bisect_right(self._thresholds_list, cpu), bisect_right(self._thresholds_list, cpu - c_p)
        options = self._transitions(1, u, [sid])[sid]
        if not options:
            return -1
        self._fill_frag([sid * nb + b0] + [a * nb + b1 for _, a in options])
        frag = self._frag
        f0 = frag[sid * nb + b0]
        sig = self._sigmoid([f0 - frag[a * nb + b1] for _, a in options])
        top = max(sig)
        best = {x for (x, _), s in zip(options, sig, strict=True) if s == top}
        count = int(nodes.gpu_count[row])
        return next(j for j, x in enumerate(nodes.gpu_free_milli[row].tolist()[:count]) if x in best)
