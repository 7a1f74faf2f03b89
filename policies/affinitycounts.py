"""InterPodAffinity's per-table counts, kept up to date as pods come and go.

Two kinds of per-node counts, each ``(n,) int64`` and summed per topology domain on demand:

* **holders**: the terms bound pods *hold*, by kind (``req_aff``, ``req_anti``, ``pref_aff``,
  ``pref_anti``) and term identity: how many (pod, term) pairs of that identity sit on each node.
  They answer "which existing pods' terms does the incoming pod match" (anti-affinity symmetry,
  hardPodAffinityWeight, existing pods' preferred terms) with one match call per *distinct* term;
* **matches**: how many bound pods on each node match a predicate of the incoming pod: one term
  (anti-affinity, preferred terms) or all its required affinity terms at once (upstream
  ``podMatchesAllAffinityTerms``). Entries are created on first use (one pass over the bound pods)
  and the 64 most recently used are kept.

Both follow :meth:`NodeTable.pod_changes_since <kbench.cluster.objects.NodeTable.pod_changes_since>`;
when the log does not reach back far enough the index is rebuilt. Terminating pods count (upstream's
NodeInfo keeps them until they are deleted), unlike PodTopologySpread's counts. Per-domain sums are
cached per (entry, topology key) until the table's labels change, and moved by the same deltas.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np

from policies.nodeaffinity import label_codes

KINDS = ("req_aff", "req_anti", "pref_aff", "pref_anti")
_MAX_MATCHES = 64
_INDEX: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def pod_terms(aff):
    """``(kind, term)`` for every term a pod holds, in upstream order."""
    for kind, terms in zip(KINDS, (aff.required_affinity, aff.required_anti, aff.preferred_affinity,
                                   aff.preferred_anti), strict=True):
        for t in terms:
            yield kind, t


class _Counts:
    """Per-node counts and their cached per-domain sums (``key`` → (labels version, dom, sums))."""

    __slots__ = ("per_node", "sums", "total")

    def __init__(self, n: int):
        self.per_node = np.zeros(n, dtype=np.int64)
        self.sums: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self.total = 0

    def add(self, row: int, delta: int) -> None:
        self.per_node[row] += delta
        self.total += delta
        for _, dom, sums in self.sums.values():
            if dom[row] >= 0:
                sums[dom[row]] += delta

    def domain_sums(self, nodes, key: str) -> tuple[np.ndarray, np.ndarray]:
        """``(codes (n,), sums (D,))``: counts per value of label ``key`` (nodes lacking it excluded)."""
        hit = self.sums.get(key)
        if hit is None or hit[0] != nodes.labels_version:
            codes, values = label_codes(nodes, key)
            has = codes >= 0
            sums = np.bincount(codes[has], weights=self.per_node[has], minlength=len(values)).astype(np.int64)
            hit = self.sums[key] = (nodes.labels_version, codes, sums)
        return hit[1], hit[2]


class Predicate:
    """What a match entry counts: pods matching every one of ``terms`` (the incoming pod's
    merged terms: no namespace-label lookup, as upstream passes nil namespace labels)."""

    __slots__ = ("terms", "key")

    def __init__(self, terms):
        self.terms = tuple(terms)
        self.key = tuple(t.key[:3] for t in self.terms)  # topology key and weight do not change what matches

    def matches(self, pod) -> bool:
        return all(t.matches(pod, None) for t in self.terms)


class AffinityIndex:
    """The holders and match entries of one node table (see the module docstring)."""

    def __init__(self, nodes):
        self.n = nodes.n
        self.seen = nodes.pods_version
        self.holders: dict[tuple, tuple[object, _Counts]] = {}  # (kind, term key) -> (term, counts)
        self.matches: OrderedDict[tuple, tuple[Predicate, _Counts]] = OrderedDict()
        for row, bound in enumerate(nodes.pods):
            for pod in bound:
                self._hold(pod, row, 1)

    def _hold(self, pod, row: int, sign: int) -> None:
        aff = pod.pod_affinity
        if aff is None or not aff.any:
            return
        for kind, t in pod_terms(aff):
            hk = (kind, t.key)
            hit = self.holders.get(hk)
            if hit is None:
                hit = self.holders[hk] = (t, _Counts(self.n))
            hit[1].add(row, sign)

    def refresh(self, nodes) -> bool:
        """Apply the pods added and removed since the last refresh. False when the change log
        does not reach back that far (the caller rebuilds the index)."""
        if nodes.pods_version == self.seen:
            return True
        changes = nodes.pod_changes_since(self.seen)
        if changes is None:
            return False
        entries = list(self.matches.values())
        for row, pod, sign in changes:
            self._hold(pod, row, sign)
            for pred, counts in entries:
                if pred.matches(pod):
                    counts.add(row, sign)
        self.seen = nodes.pods_version
        return True

    def match_counts(self, nodes, pred: Predicate) -> _Counts:
        """The entry counting ``pred`` (created with one pass over the bound pods when new)."""
        hit = self.matches.get(pred.key)
        if hit is None:
            counts = _Counts(nodes.n)
            for row, bound in enumerate(nodes.pods):
                k = sum(1 for p in bound if pred.matches(p))
                if k:
                    counts.add(row, k)
            hit = self.matches[pred.key] = (pred, counts)
            if len(self.matches) > _MAX_MATCHES:
                self.matches.popitem(last=False)
        else:
            self.matches.move_to_end(pred.key)
        return hit[1]


def index_of(nodes) -> AffinityIndex:
    """The table's index, brought up to date (built, or rebuilt, when needed)."""
    idx = _INDEX.get(nodes)
    if idx is None or idx.n != nodes.n or not idx.refresh(nodes):
        idx = _INDEX[nodes] = AffinityIndex(nodes)
    return idx


def invalidate(nodes) -> None:
    """Drop the cached counts of ``nodes`` (after changing a bound pod's labels in place)."""
    _INDEX.pop(nodes, None)
