"""NodeAffinity: required node affinity / nodeSelector filter and preferred node affinity score (E13).

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go``
@ 00d375050338df847285c0a12bbd90c328d0e707 (PreFilter, Filter, PreScore, Score, NormalizeScore) and
``k8s.io/component-helpers/scheduling/corev1/nodeaffinity`` (term matching).

* Filter: the node must match ``spec.nodeSelector`` (every key equal) AND at least one required term
  (terms ORed, requirements within a term ANDed; an empty term, or one with an invalid key/value,
  matches nothing), and the plugin's ``addedAffinity`` required terms if configured. Reasons
  ``node(s) didn't match Pod's node affinity/selector`` and ``node(s) didn't match scheduler-enforced
  node affinity`` (UnschedulableAndUnresolvable). PreFilter returns SKIP when there is nothing to
  check, and rejects a pod whose every term pins disjoint node names (``pod affinity terms conflict``);
  when every required term pins node names (``matchFields metadata.name In``, a DaemonSet pod's
  affinity), it returns their union as upstream's ``PreFilterResult.NodeNames``
  (:meth:`~kbench.policy.api.Status.only`) and the framework filters only those nodes.
* Score: raw = sum of the weights of the matching preferred terms (the pod's and ``addedAffinity``'s);
  NormalizeScore ``100 * raw / max(raw)`` (all stay 0 when max is 0). PreScore returns SKIP when the
  pod has no preferred terms and none are added; ERROR when a preferred term is invalid.

Matching works on distinct label values, not nodes: each label key is factorised once per node
table (cached weakly by table until its ``labels_version`` changes; a per-node pass once), and a
requirement is evaluated once per distinct value (also cached with the table's label codes).
"""

from __future__ import annotations

import functools
import re
import weakref

import numpy as np

from kbench.cluster.objects import NodeSelectorRequirement, NodeSelectorTerm
from kbench.errors import PolicyError
from kbench.policy.api import Code, FilterResult, Status
from kbench.policy.events import ADD, NODE, UPDATE_NODE_LABEL, ClusterEvent
from policies import hintfns, signers
from policies.resourceargs import check_keys, int_field
from policies.tainttoleration import default_normalize

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_INT_RE = re.compile(r"^[+-]?[0-9]+$")
_LABELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


# ----- label columns, factorised ----------------------------------------------------------------

def label_codes(nodes, key: str) -> tuple[np.ndarray, list[str]]:
    """``(codes (n,) int64, distinct values)`` of label ``key``; -1 where a node lacks it. Cached."""
    per_table = _label_cache(nodes)
    hit = per_table.get(key)
    if hit is None:
        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(lab[key], len(index)) if key in lab else -1 for lab in nodes.labels),
                            dtype=np.int64, count=nodes.n)
        hit = (codes, list(index))
        per_table[key] = hit
    return hit


def _label_cache(nodes) -> dict:
    """The per-table cache of label codes and lookups, emptied when the table's labels change."""
    version = (nodes.n, getattr(nodes, "labels_version", None))
    per_table = _LABELS.get(nodes)
    if per_table is None or per_table[0] != version:
        per_table = (version, {})
        _LABELS[nodes] = per_table
    return per_table[1]


def value_mask(nodes, key: str, candidates: np.ndarray, pred, absent: bool, memo=None) -> np.ndarray:
    """``pred(value)`` for each candidate's value of label ``key``; ``absent`` where it has none.

    ``memo``: a hashable identity of ``pred``; the per-value lookup is then cached with the table.
    """
    codes, values = label_codes(nodes, key)
    cache = _label_cache(nodes) if memo is not None else None
    lookup = cache.get(("lookup", key, memo, absent)) if cache is not None else None
    if lookup is None:
        lookup = np.fromiter((bool(pred(v)) for v in values), dtype=bool, count=len(values))
        lookup = np.append(lookup, absent)  # code -1 picks the last entry
        if cache is not None:
            cache[("lookup", key, memo, absent)] = lookup
    return lookup[codes[candidates]]


# ----- requirement validity and matching --------------------------------------------------------

def _valid_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_RE.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_NAME_RE.match(name))


def _valid_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(_NAME_RE.match(value)))


def requirement_valid(r: NodeSelectorRequirement) -> bool:
    """Upstream ``labels.NewRequirement`` checks: key syntax, value syntax and count per operator."""
    try:
        return _requirement_valid_cached(r)
    except TypeError:  # unhashable values
        return _requirement_valid(r)


@functools.lru_cache(maxsize=4096)
def _requirement_valid_cached(r: NodeSelectorRequirement) -> bool:
    return _requirement_valid(r)


def _requirement_valid(r: NodeSelectorRequirement) -> bool:
    if r.operator not in OPERATORS or not _valid_key(r.key):
        return False
    if r.operator in ("In", "NotIn"):
        return len(r.values) > 0 and all(_valid_value(v) for v in r.values)
    if r.operator in ("Exists", "DoesNotExist"):
        return len(r.values) == 0
    return len(r.values) == 1 and bool(_INT_RE.match(r.values[0]))


def _int_or_none(v: str):
    return int(v) if _INT_RE.match(v) else None


def requirement_mask(r: NodeSelectorRequirement, nodes, cand: np.ndarray) -> np.ndarray:
    """Candidates whose labels satisfy ``r`` (``r`` assumed valid)."""
    op, vals = r.operator, set(r.values)
    memo = _memo(op, r.values)
    if op == "In":
        return value_mask(nodes, r.key, cand, lambda v: v in vals, False, memo)
    if op == "NotIn":
        return value_mask(nodes, r.key, cand, lambda v: v not in vals, True, memo)
    if op in ("Exists", "DoesNotExist"):
        codes, _ = label_codes(nodes, r.key)
        present = codes[cand] >= 0
        return present if op == "Exists" else ~present
    want = int(r.values[0])
    if op == "Gt":
        return value_mask(nodes, r.key, cand, lambda v: (x := _int_or_none(v)) is not None and x > want, False, memo)
    return value_mask(nodes, r.key, cand, lambda v: (x := _int_or_none(v)) is not None and x < want, False, memo)


def _memo(op: str, values) -> tuple | None:
    """A cache identity for a label predicate, or None when ``values`` are unhashable."""
    try:
        hash(values)
    except TypeError:
        return None
    return (op, values)


def _field_mask(r: NodeSelectorRequirement, nodes, cand: np.ndarray) -> np.ndarray | None:
    """matchFields on ``metadata.name`` (In/NotIn with exactly one value); None when invalid."""
    if r.key != "metadata.name" or r.operator not in ("In", "NotIn") or len(r.values) != 1:
        return None
    names = np.asarray(nodes.names, dtype=object)[cand]
    hit = names == r.values[0]
    return hit if r.operator == "In" else ~hit


def term_mask(t: NodeSelectorTerm, nodes, cand: np.ndarray) -> np.ndarray:
    """Candidates matching term ``t``: all requirements hold; empty or invalid terms match nothing."""
    fields = getattr(t, "match_fields", ())
    if not t.match_expressions and not fields:
        return np.zeros(len(cand), dtype=bool)
    mask = None
    for r in t.match_expressions:
        if not requirement_valid(r):
            return np.zeros(len(cand), dtype=bool)
        m = requirement_mask(r, nodes, cand)
        mask = m if mask is None else mask & m
    if mask is None:
        mask = np.ones(len(cand), dtype=bool)
    for r in fields:
        fm = _field_mask(r, nodes, cand)
        if fm is None:
            return np.zeros(len(cand), dtype=bool)
        mask &= fm
    return mask


def terms_mask(terms, nodes, cand: np.ndarray) -> np.ndarray:
    """Candidates matching at least one of ``terms`` (ORed)."""
    mask = np.zeros(len(cand), dtype=bool)
    for t in terms:
        mask |= term_mask(t, nodes, cand)
    return mask


def required_mask(pod, nodes, cand: np.ndarray) -> np.ndarray:
    """Upstream ``GetRequiredNodeAffinity(pod).Match``: nodeSelector AND required terms."""
    mask = np.ones(len(cand), dtype=bool)
    for key, value in (pod.node_selector or {}).items():
        mask &= value_mask(nodes, key, cand, lambda v, want=value: v == want, False, _memo("=", value))
    if pod.required_affinity is not None:
        mask &= terms_mask(pod.required_affinity, nodes, cand)
    return mask


# ----- arguments --------------------------------------------------------------------------------

def _parse_term(spec, where: str) -> NodeSelectorTerm:
    if not isinstance(spec, dict):
        raise PolicyError("must be a node selector term", where=where)
    check_keys(spec, ("matchExpressions", "matchFields"), where, "")
    out = []
    for part in ("matchExpressions", "matchFields"):
        reqs = []
        for i, e in enumerate(spec.get(part) or ()):
            at = f"{where}.{part}[{i}]"
            if not isinstance(e, dict):
                raise PolicyError("must be a requirement", where=at)
            check_keys(e, ("key", "operator", "values"), at, "")
            r = NodeSelectorRequirement(str(e.get("key", "")), str(e.get("operator", "")),
                                        tuple(str(v) for v in e.get("values") or ()))
            if part == "matchExpressions" and not requirement_valid(r):
                raise PolicyError(f"invalid requirement {r.key!r} {r.operator} {list(r.values)}", where=at)
            reqs.append(r)
        out.append(tuple(reqs))
    return NodeSelectorTerm(out[0], out[1])


def parse_added_affinity(spec, where: str) -> tuple[list | None, list]:
    """``addedAffinity`` → (required terms or None, [(weight, term)]).

    Raises:
        PolicyError: Unknown fields, invalid requirements, weights outside 1..100.
    """
    if spec is None:
        return None, []
    check_keys(spec, ("requiredDuringSchedulingIgnoredDuringExecution",
                      "preferredDuringSchedulingIgnoredDuringExecution"), where, "")
    required = None
    req_spec = spec.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req_spec is not None:
        at = f"{where}.requiredDuringSchedulingIgnoredDuringExecution"
        check_keys(req_spec, ("nodeSelectorTerms",), at, "")
        required = [_parse_term(t, f"{at}.nodeSelectorTerms[{i}]")
                    for i, t in enumerate(req_spec.get("nodeSelectorTerms") or ())]
    preferred = []
    for i, p in enumerate(spec.get("preferredDuringSchedulingIgnoredDuringExecution") or ()):
        at = f"{where}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        check_keys(p, ("weight", "preference"), at, "")
        weight = int_field(p.get("weight", 0), f"{at}.weight")
        if not 1 <= weight <= 100:
            raise PolicyError(f"must be in the range 1-100, got {weight}", where=f"{at}.weight")
        preferred.append((weight, _parse_term(p.get("preference") or {}, f"{at}.preference")))
    return required, preferred


# ----- the plugin -------------------------------------------------------------------------------

class NodeAffinity:
    """Required node affinity / nodeSelector filter and preferred node affinity score (E13)."""

    NAME = NAME
    DESCRIPTION = "Node affinity and nodeSelector filter; preferred node affinity score"

    def __init__(self, args: dict | None = None, handle=None):
        args = {} if args is None else args
        check_keys(args, ("addedAffinity",), "args", "NodeAffinityArgs")
        self.handle = handle
        self.added_required, self.added_preferred = parse_added_affinity(args.get("addedAffinity"),
                                                                         "args.addedAffinity")

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching's fragment (upstream ``SignPod``: node affinity and node selector; the profile's addedAffinity is not signed)."""
        return signers.node_affinity(pod)

    def pre_filter(self, state, pod, nodes) -> Status:
        """SKIP when there is nothing to check; reject terms that pin disjoint node names."""
        if pod.required_affinity is None and self.added_required is None and not pod.node_selector:
            return Status.skip()
        names: set[str] | None = None
        for t in pod.required_affinity or ():
            pinned = None
            for r in getattr(t, "match_fields", ()):
                if r.key == "metadata.name" and r.operator == "In":
                    pinned = set(r.values) if pinned is None else pinned & set(r.values)
            if pinned is None:
                return Status.success()
            names = pinned if names is None else names | pinned
        if names is not None and not names:
            return Status.unschedulable(ERR_REASON_CONFLICT, unresolvable=True)
        if names:
            return Status.only(names)  # upstream's PreFilterResult{NodeNames}: only these are filtered
        return Status.success()

    def filter(self, state, pod, nodes, candidates) -> FilterResult:
        """Fail candidates not matching the enforced affinity, the nodeSelector or the required terms."""
        cand = np.asarray(candidates, dtype=np.int64)
        reasons = np.full(len(cand), "", dtype=object)
        ok = required_mask(pod, nodes, cand)
        reasons[~ok] = ERR_REASON_POD
        if self.added_required is not None:
            enforced = terms_mask(self.added_required, nodes, cand)
            reasons[~enforced] = ERR_REASON_ENFORCED
            ok &= enforced
        return FilterResult(ok, reasons, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def pre_score(self, state, pod, nodes, candidates) -> Status:
        """SKIP without preferred terms; ERROR when one of the pod's preferred terms is invalid."""
        if not pod.preferred_affinity and not self.added_preferred:
            return Status.skip()
        for i, (_, t) in enumerate(pod.preferred_affinity):
            for j, r in enumerate(t.match_expressions):
                if not requirement_valid(r):
                    return Status.error(f"[{i}].matchExpressions[{j}].key: invalid requirement {r.key!r}")
        return Status.success()

    def score(self, state, pod, nodes, candidates) -> np.ndarray:
        """Raw sum of matching preferred-term weights (int64), the added terms first."""
        cand = np.asarray(candidates, dtype=np.int64)
        total = None
        for weight, t in [*self.added_preferred, *pod.preferred_affinity]:
            if weight:
                part = np.where(term_mask(t, nodes, cand), np.int64(weight), np.int64(0))
                total = part if total is None else total + part
        return np.zeros(len(cand), dtype=np.int64) if total is None else total

    def normalize_scores(self, state, pod, scores: np.ndarray) -> np.ndarray:
        """DefaultNormalizeScore(100, reverse=False)."""
        return default_normalize(scores, reverse=False)

    def events_to_register(self):
        """Node added or relabelled (policies/hintfns.py)."""
        return [(ClusterEvent(NODE, ADD | UPDATE_NODE_LABEL), hintfns.node_affinity(self.added_required))]


PLUGINS = [NodeAffinity]
