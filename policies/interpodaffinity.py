"""InterPodAffinity: required (anti-)affinity filter and preferred (anti-)affinity score, exact to the integer.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/interpodaffinity/`` —
``filtering.go`` (PreFilter, Filter; the copy @ 817a10ca49da67fe6a22b8d26f41fb9a0d3af6ee with the
InterPodAffinityHostnameFastPath gate gives the same answers as the classic algorithm),
``scoring.go`` (PreScore, Score, NormalizeScore) and ``plugin.go`` @ 4a37f009 (EventsToRegister,
QueueingHints, namespace-selector merge); tests ``filtering_test.go`` @ 072825f9 and
``scoring_test.go`` @ 030880a5 (tests/policy/test_upstream_interpodaffinity.py).

PreFilter. A pod whose terms do not parse is rejected (UnschedulableAndUnresolvable, ``parsing pod:
...``). The incoming pod's required terms have their namespace selectors unrolled into namespace
names (``{}`` stays "every namespace"). Three per-domain counts are taken:

* existing anti-affinity: bound pods' required anti-affinity terms that the incoming pod matches
  (their namespace selectors read the incoming pod's namespace labels);
* affinity: bound pods matching *all* the pod's required affinity terms, per term's topology key;
* anti-affinity: bound pods matching each required anti-affinity term.

SKIP when no existing term matches and the pod has no required term (O(1) when no bound pod has a
required anti-affinity term and the pod has none: the default-profile path).

Filter, first failure wins: every affinity term's key on the node and a matching pod in each of its
domains, or (the first pod of a self-affine group) no matching pod anywhere and the pod matching its
own terms — else ``node(s) didn't match pod affinity rules`` (UnschedulableAndUnresolvable); no
matching pod in the node's domain of an anti term — else ``node(s) didn't match pod anti-affinity
rules`` (Unschedulable); no existing pod's anti term matching in the node's domains — else
``node(s) didn't satisfy existing pods anti-affinity rules`` (Unschedulable).

Score: per topology key and domain, + weight for each bound pod matching an incoming preferred
affinity term, − weight for a preferred anti-affinity term; + hardPodAffinityWeight for each bound
pod's required affinity term the incoming pod matches; ± weight for bound pods' preferred terms it
matches (unless ``ignorePreferredTermsOfExistingPods``). A node scores the sum over keys of its
domains; NormalizeScore ``int(100 × (s − min) / (max − min))`` (0 when max = min). PreScore SKIP
when nothing matched on a labelled node, or when the pod has no preferred term and either no bound
pod has affinity or ``ignorePreferredTermsOfExistingPods`` is set.

Counts come from :mod:`policies.affinitycounts` (kept as pods come and go); the per-cycle work is
numpy over domains and candidates plus one Python match call per distinct term. Preemption
(DefaultPreemption) does not re-run this filter: an anti-affinity rejection yields no victims in
kbench (upstream would try removing lower-priority pods).
"""

from __future__ import annotations

import numpy as np

from kbench.cluster.objects.clusterobjects import ClusterObjects
from kbench.errors import PolicyError
from kbench.policy.api import Code, CodedReasons, FilterResult, Status
from kbench.policy.events import (
    ADD,
    ASSIGNED_POD,
    DELETE,
    NODE,
    UPDATE_NODE_LABEL,
    UPDATE_NODE_TAINT,
    UPDATE_POD_LABEL,
    ClusterEvent,
)
from policies.affinitycounts import Predicate, index_of
from policies.resourceargs import check_keys, int_field

NAME = "InterPodAffinity"
HOSTNAME = "kubernetes.io/hostname"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING = "node(s) didn't satisfy existing pods anti-affinity rules"
_TEXTS = (None, ERR_AFFINITY, ERR_ANTI, ERR_EXISTING)
_PRE_FILTER = f"{NAME}/preFilter"
_PRE_SCORE = f"{NAME}/preScore"
_U, _UAU = int(Code.UNSCHEDULABLE), int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


def _at(codes: np.ndarray, sums: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """``sums[codes[cand]]`` with 0 where a candidate lacks the key."""
    c = codes[cand]
    if sums.size == 0:
        return np.zeros(len(cand), dtype=np.int64)
    return np.where(c >= 0, sums[np.maximum(c, 0)], 0)


def matches_all(terms, pod) -> bool:
    """Upstream ``podMatchesAllAffinityTerms`` (False for no terms; nil namespace labels)."""
    return bool(terms) and all(t.matches(pod, None) for t in terms)


class _FilterState:
    __slots__ = ("affinity", "any_affinity", "self_match", "anti", "existing")

    def __init__(self, affinity, any_affinity, self_match, anti, existing):
        self.affinity, self.any_affinity, self.self_match = affinity, any_affinity, self_match
        self.anti, self.existing = anti, existing


class InterPodAffinity:
    """Inter-pod (anti-)affinity: required terms filter, preferred terms and symmetry score."""

    NAME = NAME
    DESCRIPTION = "Inter-pod affinity and anti-affinity: required terms filter, preferred terms score"

    def __init__(self, args: dict | None = None, handle=None):
        args = {} if args is None else args
        check_keys(args, ("hardPodAffinityWeight", "ignorePreferredTermsOfExistingPods"), "args",
                   "InterPodAffinityArgs")
        weight = int_field(args.get("hardPodAffinityWeight", 1), "args.hardPodAffinityWeight")
        if not 0 <= weight <= 100:
            raise PolicyError(f"not in valid range [0-100], got {weight}", where="args.hardPodAffinityWeight")
        ignore = args.get("ignorePreferredTermsOfExistingPods", False)
        if not isinstance(ignore, bool):
            raise PolicyError(f"expected true or false, got {ignore!r}", where="args.ignorePreferredTermsOfExistingPods")
        self.hard_weight = weight  # v1.DefaultHardPodAffinitySymmetricWeight = 1
        self.ignore_existing_preferred = ignore
        self.handle = handle

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching's fragment (upstream ``SignPod``): a pod with pod affinity or
        anti-affinity cannot be signed; otherwise its labels (existing pods' terms match them),
        none with ignorePreferredTermsOfExistingPods."""
        pa = pod.pod_affinity
        if pa is not None and (pa.required_affinity or pa.required_anti or pa.preferred_affinity
                               or pa.preferred_anti):
            return None
        return () if self.ignore_existing_preferred else tuple(sorted(pod.labels.items()))

    # ----- helpers ------------------------------------------------------------------------------
    def _objects(self) -> ClusterObjects:
        return getattr(self.handle, "objects", None) or ClusterObjects()

    def _merged(self, terms):
        objects = self._objects()
        return tuple(t.merged(objects.namespaces_matching) for t in terms)

    def _fast_path(self) -> bool:
        features = getattr(self.handle, "features", None)
        return bool(features is not None and features["InterPodAffinityHostnameFastPath"])

    # ----- filter -------------------------------------------------------------------------------
    def pre_filter(self, state, pod, nodes) -> Status:
        """Count existing pods' matching anti terms and the pod's required terms' matches (see
        the module docstring); SKIP when there is nothing to check."""
        aff = pod.pod_affinity
        if aff is not None and aff.parse_error:
            return Status.unschedulable(f"parsing pod: {aff.parse_error}", unresolvable=True)
        has_required = aff is not None and aff.has_required
        if nodes.req_anti_total == 0 and not has_required:
            return Status.skip()
        idx = index_of(nodes)
        ns_labels = self._objects().namespace_labels(pod.namespace)
        existing, held, matched = [], 0, 0
        if nodes.req_anti_total:
            for (kind, _), (term, counts) in idx.holders.items():
                if kind != "req_anti" or counts.total <= 0:
                    continue
                held += counts.total
                if term.matches(pod, ns_labels):
                    codes, sums = counts.domain_sums(nodes, term.topology_key)
                    if sums.any():
                        existing.append((codes, sums))
                        matched += counts.total
            state.add_work("pre_node", int(np.count_nonzero(nodes.req_anti_pods)))
            state.add_work("pod_term", held)
            state.add_work("match_record", matched)
        if not existing and not has_required:
            return Status.skip()
        affinity, anti, any_affinity, self_match = [], [], False, False
        if has_required:
            aff_terms, anti_terms = self._merged(aff.required_affinity), self._merged(aff.required_anti)
            if aff_terms:
                counts = idx.match_counts(nodes, Predicate(aff_terms))
                affinity = [counts.domain_sums(nodes, t.topology_key) for t in aff_terms]
                any_affinity = any(s.any() for _, s in affinity)
                self_match = matches_all(aff_terms, pod)
                state.add_work("match_record", counts.total * len(aff_terms))
            for t in anti_terms:
                counts = idx.match_counts(nodes, Predicate((t,)))
                codes, sums = counts.domain_sums(nodes, t.topology_key)
                state.add_work("match_record", counts.total)
                if sums.any():
                    anti.append((codes, sums))
            self._incoming_work(state, nodes, aff_terms, anti_terms)
        state[_PRE_FILTER] = _FilterState(affinity, any_affinity, self_match, anti, existing)
        return Status.success()

    def _incoming_work(self, state, nodes, aff_terms, anti_terms) -> None:
        """Upstream's loop over every node and bound pod for the pod's required terms; with the
        hostname fast path, hostname-only terms are checked on each candidate's pods instead."""
        if self._fast_path():
            cluster_aff = aff_terms if any(t.topology_key != HOSTNAME for t in aff_terms) else ()
            cluster_anti = tuple(t for t in anti_terms if t.topology_key != HOSTNAME)
            local = (len(aff_terms) - len(cluster_aff)) + (len(anti_terms) - len(cluster_anti))
            state[f"{NAME}/local"] = local  # checked on each candidate's own pods in Filter
            aff_terms, anti_terms = cluster_aff, cluster_anti
        if aff_terms or anti_terms:
            state.add_work("pre_node", nodes.n)
            state.add_work("pod_term", nodes.pod_total * (min(len(aff_terms), 1) + len(anti_terms)))

    def filter(self, state, pod, nodes, candidates) -> FilterResult:
        """Fail candidates per the three checks, in upstream order (module docstring)."""
        cand = np.asarray(candidates, dtype=np.int64)
        s = state.get(_PRE_FILTER)
        if s is None:
            st = self.pre_filter(state, pod, nodes)
            if not st.ok:
                if st.is_skip:
                    return FilterResult.all_pass(len(cand))
                return FilterResult(np.zeros(len(cand), dtype=bool), st.message(), st.code)
            s = state[_PRE_FILTER]
        why = np.zeros(len(cand), dtype=np.int64)
        if s.affinity:
            has_all = np.ones(len(cand), dtype=bool)
            exist = np.ones(len(cand), dtype=bool)
            for codes, sums in s.affinity:
                has_all &= codes[cand] >= 0
                exist &= _at(codes, sums, cand) > 0
            ok = has_all & (exist | (not s.any_affinity and s.self_match))
            why[~ok] = 1
        for check, terms in ((2, s.anti), (3, s.existing)):
            if terms:
                bad = np.zeros(len(cand), dtype=bool)
                for codes, sums in terms:
                    bad |= _at(codes, sums, cand) > 0
                why[(why == 0) & bad] = check
        lookups = len(s.affinity) + len(s.anti) + len(s.existing)
        local = state.get(f"{NAME}/local", 0) * nodes.pod_total / max(nodes.n, 1)
        state.add_work("filter_op", (lookups + local) * len(cand))
        return FilterResult(why == 0, CodedReasons(why, _TEXTS), np.where(why == 1, _UAU, _U))

    # ----- score --------------------------------------------------------------------------------
    def pre_score(self, state, pod, nodes, candidates) -> Status:
        """Per topology key and domain, the weighted matches (module docstring); SKIP when none."""
        aff = pod.pod_affinity
        if aff is not None and aff.parse_error:
            return Status.error(f"parsing pod: {aff.parse_error}")
        has_pref = aff is not None and aff.has_preferred
        if nodes.n == 0 or (self.ignore_existing_preferred and not has_pref):
            return Status.skip()
        if nodes.affinity_total == 0 and not has_pref:
            return Status.skip()
        idx = index_of(nodes)
        ns_labels = self._objects().namespace_labels(pod.namespace)
        scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        contributed = False

        def add(key: str, codes: np.ndarray, sums: np.ndarray, weight: int) -> None:
            nonlocal contributed
            if not sums.any():
                return
            contributed = True
            have = scores.get(key)
            scores[key] = (codes, weight * sums if have is None else have[1] + weight * sums)

        pref_terms = 0
        if has_pref:
            for terms, sign in ((self._merged(aff.preferred_affinity), 1), (self._merged(aff.preferred_anti), -1)):
                for t in terms:
                    counts = idx.match_counts(nodes, Predicate((t,)))
                    add(t.topology_key, *counts.domain_sums(nodes, t.topology_key), sign * t.weight)
                    pref_terms += 1
        held = 0
        for (kind, _), (term, counts) in idx.holders.items():
            if counts.total <= 0 or kind == "req_anti":
                continue
            if kind == "req_aff":
                weight = self.hard_weight
            elif self.ignore_existing_preferred:
                continue
            else:
                weight = term.weight if kind == "pref_aff" else -term.weight
            if weight == 0:
                continue
            held += counts.total
            if term.matches(pod, ns_labels):
                add(term.topology_key, *counts.domain_sums(nodes, term.topology_key), weight)
        state.add_work("pre_node", nodes.n if has_pref else int(np.count_nonzero(nodes.affinity_pods)))
        state.add_work("pod_term", nodes.pod_total * pref_terms + held)
        if not contributed:
            return Status.skip()
        state[_PRE_SCORE] = scores
        return Status.success()

    def score(self, state, pod, nodes, candidates) -> np.ndarray:
        """Sum over topology keys of the candidate's domain score (int64, may be negative)."""
        cand = np.asarray(candidates, dtype=np.int64)
        scores = state.get(_PRE_SCORE) or {}
        total = np.zeros(len(cand), dtype=np.int64)
        for codes, sums in scores.values():
            total += _at(codes, sums, cand)
        state.add_work("score_op", len(scores) * len(cand))
        return total

    def normalize_scores(self, state, pod, scores: np.ndarray) -> np.ndarray:
        """``int64(100 × ((s − min) / (max − min)))`` (float64, truncated), 0 everywhere when
        max = min; unchanged when no topology score exists."""
        scores = np.asarray(scores, dtype=np.int64)
        if not state.get(_PRE_SCORE) or scores.size == 0:
            return scores
        lo, hi = int(scores.min()), int(scores.max())
        if hi - lo <= 0:
            return np.zeros(scores.size, dtype=np.int64)
        return np.trunc(100.0 * ((scores - lo).astype(np.float64) / float(hi - lo))).astype(np.int64)

    # ----- queueing hints -----------------------------------------------------------------------
    def events_to_register(self):
        """Assigned pod added / relabelled / deleted, node added / relabelled / retainted (plugin.go)."""
        return [(ClusterEvent(ASSIGNED_POD, ADD | UPDATE_POD_LABEL | DELETE), self._after_pod_change),
                (ClusterEvent(NODE, ADD | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT), self._after_node_change)]

    @staticmethod
    def _after_pod_change(pod, old, new) -> bool:
        """Upstream ``isSchedulableAfterPodChange`` (an assigned pod added, updated or deleted)."""
        aff = pod.pod_affinity
        terms = aff.required_affinity if aff is not None else ()
        anti = aff.required_anti if aff is not None else ()
        if old is not None and new is not None:
            if not matches_all(terms, old) and matches_all(terms, new):
                return True
            return matches_all(anti, old) and not matches_all(anti, new)
        if new is not None:
            return matches_all(terms, new)
        return matches_all(anti, old)

    @staticmethod
    def _after_node_change(pod, old, new) -> bool:
        """Upstream ``isSchedulableAfterNodeChange``: Queue when the node has a topology key of
        one of the pod's required (anti-)affinity terms."""
        aff = pod.pod_affinity
        if aff is None or new is None:
            return False
        return any(t.topology_key in new.labels for t in (*aff.required_affinity, *aff.required_anti))


PLUGINS = [InterPodAffinity]
