"""PodTopologySpread's per-table caches: matching-pod counts and label-derived masks.

Counting the pods that match a (namespace, selector) from scratch would walk every bound pod; instead
the bound pods are kept grouped by (namespace, labels) with their count per node, so a new selector
adds up the groups it matches (a few per workload: a ReplicaSet's pods share their labels), and
each selector's counts are then kept up to date from the table's change log
(:meth:`NodeTable.pod_changes_since <kbench.cluster.objects.NodeTable.pod_changes_since>`): each
pod added or removed moves the counts it matches by ±1, per node and per topology domain. Label
derived arrays (domain codes, "has every key" masks) are cached until the table's
``labels_version`` changes. A selector is anything with ``labels`` (matchLabels), ``key``,
``empty``, ``nothing`` and ``matches(labels)`` (:class:`policies.podtopologyspread.Selector`).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np

from policies.nodeaffinity import label_codes


class _Counts:
    """Matching pods of one (namespace, selector): ``per_node`` ``(n,) int64``, and per topology
    domain for pod-independent inclusion masks (``domains``: (key, required keys) → (labels
    version, domain codes, inclusion mask or None, ``(D + 1,) int64`` sums))."""

    __slots__ = ("sel", "per_node", "domains")

    def __init__(self, sel, per_node: np.ndarray):
        self.sel, self.per_node, self.domains = sel, per_node, {}

    def add(self, row: int, delta: int) -> None:
        """Count ``delta`` more matching pods on ``row`` (and in its domains)."""
        if delta:
            self.per_node[row] += delta
            for _, dom, inc, sums in self.domains.values():
                if inc is None or inc[row]:
                    sums[dom[row]] += delta


class _Group:
    """Bound, non-terminating pods of one namespace with one label set: ``rows`` row → count."""

    __slots__ = ("labels", "rows")

    def __init__(self, labels: dict):
        self.labels, self.rows = labels, {}


def _label_key(labels: dict) -> tuple:
    return tuple(sorted(labels.items()))


class _PodIndex:
    """Per-table cache of matching-pod counts per (namespace, selector), refreshed row by row.

    The per-pod walk happens once per table and selector; after that each pod added or removed
    since the last refresh (:meth:`NodeTable.pod_changes_since`) moves the counts it matches by
    ±1, per node and per domain. When the table's log no longer reaches back that far, the rows
    whose ``row_pods_version`` moved are recounted instead. Pods' labels, namespace and
    ``terminating`` flag are treated as fixed while bound: code that changes them in place must
    call :func:`invalidate` (or rebind the pod).
    """

    def __init__(self, nodes):
        self.versions = nodes.row_pods_version.copy()
        self.seen = nodes.pods_version
        self.counts: OrderedDict[tuple, _Counts] = OrderedDict()
        self._dispatch: tuple[dict, list] | None = None
        self._groups: dict[tuple, _Group] | None = None  # (namespace, label key) -> group; built on demand
        self._by_ns: dict[str, list[_Group]] = {}

    def groups(self, nodes) -> dict[str, list[_Group]]:
        """The bound pods grouped by (namespace, labels), per namespace (built on first use, then
        kept up to date by :meth:`refresh`); call after :meth:`refresh`."""
        if self._groups is None:
            self._groups, self._by_ns = {}, {}
            for r, bound in enumerate(nodes.pods):
                for pod in bound:
                    if not pod.terminating:
                        self._group_add(r, pod, 1)
        return self._by_ns

    def _group_add(self, r: int, pod, sign: int) -> None:
        key = (pod.namespace, _label_key(pod.labels))
        g = self._groups.get(key)
        if g is None:
            g = self._groups[key] = _Group(pod.labels)
            self._by_ns.setdefault(pod.namespace, []).append(g)
        left = g.rows.get(r, 0) + sign
        if left:
            g.rows[r] = left
        else:
            del g.rows[r]

    def matching_counts(self, nodes, namespace: str, sel) -> np.ndarray:
        """``(n,) int64`` pods of ``namespace`` matching ``sel`` per node, from the groups (exactly
        what walking every bound pod gives)."""
        out = np.zeros(nodes.n, dtype=np.int64)
        for g in self.groups(nodes).get(namespace, ()):
            if g.rows and sel.matches(g.labels):
                rows = g.rows
                if len(rows) > 32:  # rows are distinct: one fancy-indexed add
                    out[np.fromiter(rows.keys(), np.int64, len(rows))] += np.fromiter(rows.values(), np.int64, len(rows))
                else:
                    for r, c in rows.items():
                        out[r] += c
        return out

    def dispatch(self) -> tuple[dict, list]:
        """Entries by their selector's first matchLabels pair: ``({key: {(namespace, value):
        [entries]}}, [(namespace, entry) without matchLabels])``, so a pod is matched only
        against the entries it can match."""
        if self._dispatch is None:
            by_key: dict[str, dict[tuple, list]] = {}
            others = []
            for (ns, _), entry in self.counts.items():
                if entry.sel.labels:
                    k, v = next(iter(entry.sel.labels.items()))
                    by_key.setdefault(k, {}).setdefault((ns, v), []).append(entry)
                else:
                    others.append((ns, entry))
            self._dispatch = (by_key, others)
        return self._dispatch

    def refresh(self, nodes) -> None:
        """Apply the pods added and removed since the last refresh (or recount the rows whose
        version moved, when the table's log does not reach back that far)."""
        if nodes.pods_version == self.seen:
            return
        current = nodes.row_pods_version
        changes = nodes.pod_changes_since(self.seen)
        if changes is None:
            self._groups = None  # rebuilt from the table on next use
            changed = np.flatnonzero(current != self.versions).tolist()
            for (ns, _), entry in self.counts.items():
                for r in changed:
                    entry.add(r, _count_row(nodes.pods[r], ns, entry.sel) - int(entry.per_node[r]))
            self.versions[changed] = current[changed]
        else:  # versions may go stale here: the fallback's recount is exact whatever it recounts
            by_key, others = self.dispatch()
            grouped = self._groups is not None
            for r, pod, sign in changes:
                if pod.terminating:
                    continue
                if grouped:
                    self._group_add(r, pod, sign)
                labels, ns = pod.labels, pod.namespace
                for k, group in by_key.items():
                    for entry in group.get((ns, labels.get(k)), ()):
                        if entry.sel.matches(labels):
                            entry.add(r, sign)
                for other_ns, entry in others:
                    if other_ns == ns and entry.sel.matches(labels):
                        entry.add(r, sign)
        self.seen = nodes.pods_version


_INDEX: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LABELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MAX_SELECTORS = 64


def invalidate(nodes) -> None:
    """Drop the cached counts of ``nodes`` (after changing a bound pod's labels or terminating flag)."""
    _INDEX.pop(nodes, None)


def _count_row(bound, namespace: str, sel) -> int:
    return sum(1 for p in bound if not p.terminating and p.namespace == namespace and sel.matches(p.labels))


def _index(nodes, refresh: bool = False) -> _PodIndex:
    idx = _INDEX.get(nodes)
    if idx is None or len(idx.versions) != nodes.n:
        idx = _PodIndex(nodes)
        _INDEX[nodes] = idx
    if refresh:
        idx.refresh(nodes)
    return idx


def refresh(nodes) -> None:
    """Bring the cached counts of ``nodes`` up to date with its bound pods."""
    _index(nodes, refresh=True)


def _label_derived(nodes, key: tuple, build):
    """A per-table value derived from node labels, cached until ``labels_version`` changes."""
    per_table = _LABELS.get(nodes)
    if per_table is None or per_table[0] != nodes.labels_version:
        per_table = (nodes.labels_version, {})
        _LABELS[nodes] = per_table
    hit = per_table[1].get(key)
    if hit is None:
        hit = per_table[1][key] = build()
    return hit


def domains(nodes, key: str) -> tuple[np.ndarray, int]:
    """``(dom (n,) int64, D + 1)``: each node's domain of ``key``; a missing label is the "" domain."""
    def build():
        codes, values = label_codes(nodes, key)
        empty = values.index("") if "" in values else len(values)
        return np.where(codes >= 0, codes, empty), len(values) + 1
    return _label_derived(nodes, ("dom", key), build)


def has_keys(nodes, keys: tuple[str, ...]) -> np.ndarray:
    """``(n,) bool``: nodes that have every label in ``keys``."""
    def build():
        mask = np.ones(nodes.n, dtype=bool)
        for key in keys:
            mask &= label_codes(nodes, key)[0] >= 0
        return mask
    return _label_derived(nodes, ("has", keys), build)


def has_keys_everywhere(nodes, keys: tuple[str, ...]) -> bool:
    """Whether every node has every label in ``keys``."""
    return _label_derived(nodes, ("all", keys), lambda: bool(np.all(has_keys(nodes, keys))))


def selector_counts(nodes, namespace: str, sel) -> np.ndarray:
    """``(n,)`` int64 matching pods per node (upstream ``countPodsMatchSelector``), cached per table
    and brought up to date first. Read-only: the cache keeps updating it in place."""
    if sel.empty or sel.nothing:
        return np.zeros(nodes.n, dtype=np.int64)
    return _entry(nodes, namespace, sel).per_node


def _entry(nodes, namespace: str, sel) -> _Counts:
    """The (namespace, selector) entry, counted from the pod groups when new (least recently
    used entries beyond ``_MAX_SELECTORS`` are dropped)."""
    idx = _index(nodes, refresh=True)  # a new entry counts the current pods: later deltas must be new
    key = (namespace, sel.key)
    hit = idx.counts.get(key)
    if hit is None:
        hit = idx.counts[key] = _Counts(sel, idx.matching_counts(nodes, namespace, sel))
        idx._dispatch = None
        if len(idx.counts) > _MAX_SELECTORS:
            idx.counts.popitem(last=False)
    else:
        idx.counts.move_to_end(key)
    return hit


def domain_sums(nodes, namespace: str, sel, key: str, required: tuple[str, ...] | None) -> np.ndarray:
    """``(D + 1,) int64`` matching pods per domain of ``key`` (indexed like :func:`domains`), over the
    nodes that have every label in ``required`` (all nodes when None). Kept up to date by deltas;
    read-only like :func:`selector_counts`."""
    dom, size = domains(nodes, key)
    if sel.empty or sel.nothing:
        return np.zeros(size, dtype=np.int64)
    entry = _entry(nodes, namespace, sel)
    hit = entry.domains.get((key, required))
    if hit is None or hit[0] != nodes.labels_version:
        inc = None if required is None else has_keys(nodes, required)
        weights = entry.per_node if inc is None else np.where(inc, entry.per_node, 0)
        sums = np.bincount(dom, weights=weights, minlength=size).astype(np.int64)
        hit = entry.domains[(key, required)] = (nodes.labels_version, dom, inc, sums)
    return hit[3]


def count_matrix(pod, nodes, constraints) -> np.ndarray:
    """``(C, n)`` int64: matching pods per constraint and node."""
    out = np.zeros((len(constraints), nodes.n), dtype=np.int64)
    _index(nodes, refresh=True)
    for i, con in enumerate(constraints):
        out[i] = selector_counts(nodes, pod.namespace, con.selector)
    return out
