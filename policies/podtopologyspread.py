"""PodTopologySpread: DoNotSchedule filter (maxSkew) and ScheduleAnyway score (E14, E15).

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/podtopologyspread/`` — ``filtering.go``
@ 083e3f3e (PreFilter, Filter), ``scoring.go`` @ 7d6a59c1 (PreScore, Score, NormalizeScore),
``common.go`` @ 76b564f1 (counting, inclusion policies, matchLabelKeys), ``plugin.go`` @ d256468a
(system default constraints, reasons). Feature gates as currently defaulted on: node inclusion
policies, matchLabelKeys, minDomains.

Filter (hard constraints): counts of matching pods (same namespace, not terminating, selector with
the pod's ``matchLabelKeys`` values merged in) are summed per topology domain over every node that
has all the constraints' keys and passes the inclusion policies (nodeAffinityPolicy Honor: the pod's
required affinity/nodeSelector; nodeTaintsPolicy Ignore by default). A candidate fails when
``count(domain) + selfMatch - globalMin > maxSkew`` (globalMin is 0 when fewer than minDomains
domains exist), or lacks a key (``... (missing required label)``, UnschedulableAndUnresolvable).

Score (soft constraints, or the defaults when the pod has none): per constraint,
``count * ln(domains + 2) + (maxSkew - 1)`` summed and rounded half away from zero; hostname counts are
per node, others per domain over all included nodes but only for domains among the candidates.
NormalizeScore ``100 * (max + min - raw) / max``; candidates missing a required key score 0.

The default constraints' selector is upstream's ``helper.DefaultSelector``
(:meth:`ClusterObjects.default_selector <kbench.cluster.objects.clusterobjects.ClusterObjects.default_selector>`):
the Services in the pod's namespace that select it, plus its controlling ReplicationController,
ReplicaSet or StatefulSet when that object exists; no selector (no Service, no such owner) skips the
plugin. Each hard constraint keeps its own per-domain counts (two DoNotSchedule constraints on one
topology key are both enforced, as upstream's per-constraint ``TpValueToMatchNum``).

Cost: matching-pod counts per (namespace, selector), per node and per domain, are cached per node
table and follow the pods added and removed since (:mod:`policies.spreadcounts`; a per-pod Python
walk only the first time); label matching per node is vectorised through factorised label columns.
"""

from __future__ import annotations

import math

import numpy as np

from kbench.cluster.objects.selectors import LabelSelector
from kbench.errors import PolicyError
from kbench.policy.api import Code, FilterResult, Status
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
from policies import hintfns
from policies.nodeaffinity import label_codes, required_mask
from policies.resourceargs import check_keys, int_field
from policies.spreadcounts import (
    count_matrix,
    domain_sums,
    domains,
    has_keys,
    has_keys_everywhere,
    refresh,
    selector_counts,
)
from policies.spreadcounts import invalidate as invalidate  # re-exported
from policies.tainttoleration import untolerated_mask

NAME = "PodTopologySpread"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
ERR_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
ERR_MISSING_LABEL = ERR_CONSTRAINTS + " (missing required label)"
SYSTEM_DEFAULTS = ((3, HOSTNAME, "ScheduleAnyway"), (5, ZONE, "ScheduleAnyway"))
_MAX_INT32 = 2**31 - 1
_MAX_DEFAULT_CONS = 1024


Selector = LabelSelector
"""A parsed LabelSelector: nil matches nothing; ``{}`` matches everything but counts nothing
(upstream ``countPodsMatchSelector`` returns 0 for an empty selector)."""


class Constraint:
    """An internal constraint (upstream ``topologySpreadConstraint``)."""

    def __init__(self, max_skew, key, selector, min_domains=1, affinity="Honor", taints="Ignore"):
        self.max_skew, self.key, self.selector = int(max_skew), key, selector
        self.min_domains = 1 if min_domains is None else int(min_domains)
        self.affinity_policy, self.taints_policy = affinity, taints


def _parse_defaults(args: dict) -> tuple[list, bool]:
    kind = args.get("defaultingType", "System")
    if kind not in ("System", "List"):
        raise PolicyError(f"must be System or List, got {kind!r}", where="args.defaultingType")
    specs = args.get("defaultConstraints") or []
    if kind == "System":
        if specs:
            raise PolicyError('when .defaultingType is "System", .defaultConstraints must be empty',
                              where="args.defaultConstraints")
        return list(SYSTEM_DEFAULTS), True
    out, seen = [], set()
    for i, c in enumerate(specs):
        at = f"args.defaultConstraints[{i}]"
        check_keys(c, ("maxSkew", "topologyKey", "whenUnsatisfiable", "labelSelector"), at, "")
        if c.get("labelSelector") is not None:
            raise PolicyError("constraint must not define a selector, as they deduced for each pod",
                              where=f"{at}.labelSelector")
        skew = int_field(c.get("maxSkew", 0), f"{at}.maxSkew")
        if skew <= 0:
            raise PolicyError(f"must be greater than zero, got {skew}", where=f"{at}.maxSkew")
        if not c.get("topologyKey"):
            raise PolicyError("can not be empty", where=f"{at}.topologyKey")
        when = c.get("whenUnsatisfiable")
        if when not in ("DoNotSchedule", "ScheduleAnyway"):
            raise PolicyError(f"must be DoNotSchedule or ScheduleAnyway, got {when!r}", where=f"{at}.whenUnsatisfiable")
        if (c["topologyKey"], when) in seen:
            raise PolicyError("duplicate {topologyKey, whenUnsatisfiable}", where=at)
        seen.add((c["topologyKey"], when))
        out.append((skew, str(c["topologyKey"]), when))
    return out, False


class PodTopologySpread:
    """Spreads matching pods across topology domains: hard maxSkew filter and soft score (E14, E15)."""

    NAME = NAME
    DESCRIPTION = "Topology spread: DoNotSchedule maxSkew filter and ScheduleAnyway spreading score"

    def __init__(self, args: dict | None = None, handle=None):
        args = {} if args is None else args
        check_keys(args, ("defaultConstraints", "defaultingType"), "args", "PodTopologySpreadArgs")
        self.handle = handle
        self.defaults, self.system_defaulted = _parse_defaults(args)
        self._default_cons: dict[tuple, list[Constraint]] = {}

    @property
    def never_signs(self) -> bool:
        """With default constraints no pod can be signed (:meth:`sign`)."""
        return bool(self.defaults)

    def sign(self, pod) -> tuple | None:
        """Opportunistic batching (upstream ``SignPod``): spreading is not local to a node, so a pod
        with constraints, its own or the profile's default ones (System defaulting included),
        cannot be signed."""
        if pod.topology_spread or self.defaults:
            return None
        return ()

    def constraints(self, pod, action: str) -> list[Constraint]:
        """The pod's constraints with ``action``, or the default ones (with the default selector).

        The default ones depend only on the pod's namespace, owner and labels (and the objects
        the listers hold), so they are built once per such combination (pods of one workload share
        them, selector key included).
        """
        if pod.topology_spread:
            out = []
            for c in pod.topology_spread:
                if c.when_unsatisfiable != action:
                    continue
                merge = {k: pod.labels[k] for k in c.match_label_keys if k in pod.labels}
                out.append(Constraint(c.max_skew, c.topology_key, Selector(c.label_selector, merge),
                                      c.min_domains, c.node_affinity_policy or "Honor",
                                      c.node_taints_policy or "Ignore"))
            return out
        objects = getattr(self.handle, "objects", None)
        version = -1 if objects is None else objects.namespace_version(pod.namespace)
        key = (action, version, pod.namespace, pod.owner, tuple(sorted(pod.labels.items())) if pod.labels else ())
        out = self._default_cons.get(key)
        if out is None:
            chosen = [(s, k) for s, k, w in self.defaults if w == action]
            sel = objects.default_selector(pod) if chosen and objects is not None else None
            out = [] if sel is None or sel.empty else [Constraint(s, k, sel) for s, k in chosen]
            if len(self._default_cons) >= _MAX_DEFAULT_CONS:
                self._default_cons.clear()
            self._default_cons[key] = out
        return out

    @staticmethod
    def _included(pod, nodes, constraints, rows, require_all: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(has_all_keys (len(rows),), included (C, len(rows)))`` per the inclusion policies."""
        has_all = np.ones(len(rows), dtype=bool)
        for c in constraints:
            has_all &= label_codes(nodes, c.key)[0][rows] >= 0
        base = has_all if require_all else np.ones(len(rows), dtype=bool)
        aff = taint_ok = None
        inc = np.zeros((len(constraints), len(rows)), dtype=bool)
        for i, c in enumerate(constraints):
            m = base.copy()
            if c.affinity_policy == "Honor":
                aff = required_mask(pod, nodes, rows) if aff is None else aff
                m &= aff
            if c.taints_policy == "Honor":
                taint_ok = ~untolerated_mask(pod, nodes, rows) if taint_ok is None else taint_ok
                m &= taint_ok
            inc[i] = m
        return has_all, inc

    # -- filter ---------------------------------------------------------------------------------

    def pre_filter(self, state, pod, nodes) -> Status:
        """Count matching pods per domain of each hard constraint (SKIP when the pod has none)."""
        cons = self.constraints(pod, "DoNotSchedule")
        if not cons:
            return Status.skip()
        rows = np.arange(nodes.n, dtype=np.int64)
        counts = count_matrix(pod, nodes, cons)
        _, inc = self._included(pod, nodes, cons, rows, require_all=True)
        state.add_work("pre_node", nodes.n)
        state.add_work("pod_term", nodes.pod_total * len(cons))
        info = []
        for i, c in enumerate(cons):  # per constraint, as upstream's TpValueToMatchNum[i]
            codes, values = label_codes(nodes, c.key)
            present = inc[i]
            sums = np.bincount(codes[present], weights=counts[i][present], minlength=len(values)).astype(np.int64)
            exists = np.bincount(codes[present], minlength=len(values)) > 0
            global_min = int(sums[exists].min()) if exists.any() else _MAX_INT32
            if int(exists.sum()) < c.min_domains:
                global_min = 0
            info.append((c, sums, exists, global_min, int(c.selector.matches(pod.labels))))
        state[f"{NAME}/preFilter"] = info
        return Status.success()

    def filter(self, state, pod, nodes, candidates) -> FilterResult:
        """Fail candidates whose domain would exceed maxSkew, or that lack a topology key."""
        cand = np.asarray(candidates, dtype=np.int64)
        info = state.get(f"{NAME}/preFilter")
        if info is None:
            if self.pre_filter(state, pod, nodes).is_skip:
                return FilterResult.all_pass(len(cand))
            info = state[f"{NAME}/preFilter"]
        reasons = np.full(len(cand), "", dtype=object)
        code = np.full(len(cand), int(Code.UNSCHEDULABLE), dtype=np.int64)
        state.add_work("filter_op", len(info) * len(cand))
        for c, sums, exists, global_min, self_match in info:
            codes = label_codes(nodes, c.key)[0][cand]
            open_ = reasons == ""
            missing = open_ & (codes < 0)
            reasons[missing] = ERR_MISSING_LABEL
            code[missing] = int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
            idx = np.where(codes >= 0, codes, len(sums))  # index len(sums) = "no such pair"
            match = np.where(np.append(exists, False)[idx], np.append(sums, 0)[idx], 0)
            skew = match + self_match - global_min
            reasons[open_ & (codes >= 0) & (skew > c.max_skew)] = ERR_CONSTRAINTS
        return FilterResult(reasons == "", reasons, code)

    # -- score ----------------------------------------------------------------------------------

    def pre_score(self, state, pod, nodes, candidates) -> Status:
        """SKIP when there is no soft (or default) constraint, or no node at all."""
        cons = self.constraints(pod, "ScheduleAnyway")
        if not pod.topology_spread:
            state.add_work("lister", 4)  # DefaultSelector: Services, RCs, RSs, StatefulSets (M6)
        if nodes.n == 0 or not cons:
            return Status.skip()
        state[f"{NAME}/preScore"] = cons
        zones = sum(1 for c in cons if c.key != HOSTNAME)
        if zones:
            state.add_work("pre_node", nodes.n)
            state.add_work("pod_term", nodes.pod_total * zones)
        return Status.success()

    def score(self, state, pod, nodes, candidates) -> np.ndarray:
        """Raw spreading scores (int64); lower is better before NormalizeScore.

        Per-domain counts come from the delta-maintained cache when a constraint's inclusion does
        not depend on the pod (nodeTaintsPolicy Ignore, and nodeAffinityPolicy Ignore or a pod
        without required affinity / nodeSelector); otherwise they are summed over every node.
        Summing over all included nodes rather than only the candidates' domains changes nothing
        that is not ignored: every kept candidate's domain is among them.
        """
        cand = np.asarray(candidates, dtype=np.int64)
        cons = state.get(f"{NAME}/preScore")
        if cons is None:
            cons = self.constraints(pod, "ScheduleAnyway")
        if not cons:
            state[f"{NAME}/ignored"] = np.zeros(len(cand), dtype=bool)
            return np.zeros(len(cand), dtype=np.int64)
        require_all = bool(pod.topology_spread) or not self.system_defaulted
        refresh(nodes)
        required = tuple(c.key for c in cons) if require_all else None
        ignored = None  # None: no candidate is ignored
        if require_all and not has_keys_everywhere(nodes, required):
            ignored = ~has_keys(nodes, required)[cand]
        kept = cand if ignored is None else cand[~ignored]
        no_affinity = not pod.node_selector and pod.required_affinity is None
        inc = None
        acc = None
        for i, c in enumerate(cons):
            if c.key == HOSTNAME:
                weight = math.log(len(kept) + 2)
                cnt = selector_counts(nodes, pod.namespace, c.selector)[cand]
                # upstream counts the pods of each scored node here (M6)
                state.add_work("pod_term", nodes.pod_total * len(cand) / max(nodes.n, 1))
            else:
                dom, size = domains(nodes, c.key)
                dom_kept = dom[kept]
                registered = np.zeros(size, dtype=bool)
                registered[dom_kept] = True
                weight = math.log(np.count_nonzero(registered) + 2)
                if c.taints_policy != "Honor" and (c.affinity_policy != "Honor" or no_affinity):
                    sums = domain_sums(nodes, pod.namespace, c.selector, c.key, required)
                else:
                    if inc is None:
                        inc = self._included(pod, nodes, cons, np.arange(nodes.n, dtype=np.int64), require_all)[1]
                    counts = selector_counts(nodes, pod.namespace, c.selector)
                    use = inc[i] & registered[dom]
                    sums = np.bincount(dom[use], weights=counts[use], minlength=size).astype(np.int64)
                cnt = sums[dom_kept if ignored is None else dom[cand]]  # kept is cand when nothing is ignored
            term = cnt * weight  # int64 * float: the float64 product, as cnt.astype(float64) * weight
            if c.max_skew != 1:  # adding 0.0 to a non-negative term changes nothing
                term += float(c.max_skew - 1)
            if has_keys_everywhere(nodes, (c.key,)):  # no candidate lacks the key
                acc = term if acc is None else acc + term  # 0.0 + term == term exactly
            else:
                labelled = label_codes(nodes, c.key)[0][cand] >= 0
                acc = np.where(labelled, term, 0.0) if acc is None else np.where(labelled, acc + term, acc)
        raw = acc.astype(np.int64)  # Go math.Round (acc >= 0): truncate, then up when the rest is >= 0.5
        raw += (acc - raw) >= 0.5
        state[f"{NAME}/ignored"] = ignored
        return raw if ignored is None else np.where(ignored, 0, raw)

    def normalize_scores(self, state, pod, scores: np.ndarray) -> np.ndarray:
        """``100 * (max + min - raw) / max`` over non-ignored candidates; ignored ones get 0."""
        scores = np.asarray(scores, dtype=np.int64)
        ignored = state.get(f"{NAME}/ignored")  # None: nothing ignored
        live = scores if ignored is None else scores[~ignored]
        if len(live) == 0:
            return np.zeros(len(scores), dtype=np.int64)
        lo, hi = int(live[live.argmin()]), max(int(live[live.argmax()]), 0)
        out = np.full(len(scores), 100, dtype=np.int64) if hi == 0 else 100 * (hi + lo - scores) // hi
        return out if ignored is None else np.where(ignored, 0, out).astype(np.int64)

    def events_to_register(self):
        """Assigned pods added, relabelled or deleted; nodes added, deleted, relabelled or retainted."""
        def both(pod):
            return [*self.constraints(pod, "DoNotSchedule"), *self.constraints(pod, "ScheduleAnyway")]
        return [(ClusterEvent(ASSIGNED_POD, ADD | UPDATE_POD_LABEL | DELETE), hintfns.spread_pod(both)),
                (ClusterEvent(NODE, ADD | DELETE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT), hintfns.spread_node(both))]


PLUGINS = [PodTopologySpread]
