"""The default profile's cycle, fused, for the pods most clusters schedule (issue 21, item 4's first slice).

:meth:`Framework.schedule <kbench.policy.framework.Framework.schedule>` dispatches every extension
point generically: 5 PreFilter calls, 4 ``passes_all`` checks, the filters, 6 PreScore calls, 7
scores with their checks, each verdict wrapped, checked and recorded. For a pod of a Deployment,
Job or StatefulSet without node or pod affinity, topology spread constraints of its own, host ports
or a node name, on a cluster where no bound pod has pod (anti-)affinity, most of those verdicts
follow from the pod and two cluster counters: NodeAffinity, NodePorts, PodTopologySpread (no
DoNotSchedule constraint) and InterPodAffinity skip PreFilter, NodeAffinity and InterPodAffinity skip
PreScore. :class:`FusedCycle` then runs only the calls whose outcome depends on the nodes
(NodeResourcesFit's PreFilter, Filter, PreScore and Score; the other ``passes_all`` checks;
TaintToleration's, PodTopologySpread's and BalancedAllocation's PreScore; PodTopologySpread's Score
and NormalizeScore; the uniform scores of TaintToleration and ImageLocality), in the framework's
order, and builds the same :class:`~kbench.policy.results.ScheduleResult`: the same node, random
draw, start index, statuses, arrays, filter log and work counters (same keys, order and values, so
the cycle's priced cost is the same float). Anything else -- another profile, a plugin replaced or
configured otherwise, a pod or cluster outside the case, a ``passes_all`` that fails, a PreScore
verdict other than those -- takes the generic path before any state has changed.
``tests/policy/test_fused_cycle.py`` runs both paths side by side on random clusters and pods.
"""

from __future__ import annotations

import numpy as np

from kbench.policy.api import Code, CycleState, FilterResult, Status
from kbench.policy.results import ALL_PASS, FilterLog, ScheduleResult

_SKIP = Status.skip()
_OK = Status.success()

PRE_FILTERS = ["NodeAffinity", "NodePorts", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"]
FILTERS = ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit",
           "PodTopologySpread", "InterPodAffinity"]
PASS_CHECKS = ["NodeUnschedulable", "NodeName", "TaintToleration", "NodePorts"]
PRE_SCORES = ["TaintToleration", "NodeAffinity", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity",
              "NodeResourcesBalancedAllocation"]
# score plugin -> (has uniform_score, has normalize_scores), the default profile's order
SCORES = {"TaintToleration": (True, True), "NodeAffinity": (False, True), "NodeResourcesFit": (False, False),
          "PodTopologySpread": (False, True), "InterPodAffinity": (False, True),
          "NodeResourcesBalancedAllocation": (False, False), "ImageLocality": (True, False)}
_MODULES = {"NodeUnschedulable": "policies.nodeunschedulable", "NodeName": "policies.nodename",
            "TaintToleration": "policies.tainttoleration", "NodeAffinity": "policies.nodeaffinity",
            "NodePorts": "policies.nodeports", "NodeResourcesFit": "policies.noderesources",
            "PodTopologySpread": "policies.podtopologyspread", "InterPodAffinity": "policies.interpodaffinity",
            "NodeResourcesBalancedAllocation": "policies.balancedallocation", "ImageLocality": "policies.imagelocality"}


def fusable(fw) -> bool:
    """Whether ``fw`` is the default profile with kbench's own plugins at every point the fused
    cycle replaces (other plugins may be configured anywhere else: QueueSort, PreEnqueue,
    PostFilter, Bind; none at Reserve or Permit)."""
    pl = fw.plugins
    if (fw.pre_filters != PRE_FILTERS or fw.filters != FILTERS or fw.pre_scores != PRE_SCORES
            or [n for n, _ in fw._pass_checks] != PASS_CHECKS or fw.points["reserve"] or fw.points["permit"]
            or fw.tie_break != "random"):
        return False
    if [(n, u is not None, z is not None) for n, _, z, u, _ in fw._score_fns] != [
            (n, u, z) for n, (u, z) in SCORES.items()]:
        return False
    if not own_plugins(fw, _MODULES):
        return False
    na = pl["NodeAffinity"]
    if na.added_required is not None or na.added_preferred:
        return False
    return never_batches(fw)


def own_plugins(fw, modules: dict[str, str]) -> bool:
    """Whether each plugin named in ``modules`` is the class of that module (kbench's own)."""
    return all(type(fw.plugins[n]).__module__ == m for n, m in modules.items())


def never_batches(fw) -> bool:
    """Whether opportunistic batching never reuses a cycle's results in ``fw`` (gate off, or a
    plugin that never signs pods): a fused cycle skips its sign and hint."""
    batch = fw.batch
    return batch is None or not batch.enabled or batch.never is not None


class FusedCycle:
    """The fused cycle of one :class:`~kbench.policy.framework.Framework` (see the module docstring).

    Args:
        fw: The framework; :func:`fusable` must hold.
    """

    def __init__(self, fw):
        self.fw = fw
        pl = fw.plugins
        self.fit, self.spread, self.taints = pl["NodeResourcesFit"], pl["PodTopologySpread"], pl["TaintToleration"]
        self.balanced, self.images = pl["NodeResourcesBalancedAllocation"], pl["ImageLocality"]
        self.checks = [fn for n, fn in fw._pass_checks if n != "NodePorts"]
        self.filters = [(n, fw._filter_fns["NodeResourcesFit"] if n == "NodeResourcesFit" else None)
                        for n in FILTERS if n not in ("NodeAffinity", "NodePorts", "PodTopologySpread",
                                                      "InterPodAffinity")]
        self.weights = fw.weights
        self._tolerant: tuple | None = None  # (nodes, taints_version, n, passes_all, TaintToleration's uniform)
        self._masks: dict[int, list] = {}  # id(fit request) -> _fit_mask's list
        self._ones: dict[int, np.ndarray] = {}  # size -> read-only all-True
        self.used = 0
        """Cycles the fused path ran."""

    def applies(self, pod, nodes) -> bool:
        """The pod and cluster are in the fused case (see the module docstring)."""
        return (not pod.topology_spread and pod.required_affinity is None and not pod.node_selector
                and not pod.preferred_affinity and not pod.host_ports and pod.pod_affinity is None
                and not pod.node_name and nodes.req_anti_total == 0 and nodes.affinity_total == 0
                and nodes.n > 0 and not self.spread.constraints(pod, "DoNotSchedule"))

    def run(self, pod, nodes, cycle: int | None, now: float) -> ScheduleResult | None:
        """:meth:`Framework.schedule` with ``assume`` and no nominated node, or None (nothing changed:
        take the generic path)."""
        fw = self.fw
        n = nodes.n
        fw.handle.nodes = nodes
        state = CycleState()
        # NodeUnschedulable's, NodeName's and TaintToleration's passes_all (every node passes them,
        # else the generic path) and TaintToleration's uniform score: pure functions of the pod's
        # tolerations and node name and of the table's taints, so for a pod without tolerations (and
        # without a node name: applies()) they are kept until taints_version moves
        tolerant = self._tolerant if not pod.tolerations else None
        if tolerant is None or tolerant[0] is not nodes or tolerant[1] != nodes.taints_version or tolerant[2] != n:
            ok = all(check(state, pod, nodes) for check in self.checks)
            tolerant = (nodes, nodes.taints_version, n, ok, self.taints.uniform_score(state, pod, nodes))
            if not pod.tolerations:
                self._tolerant = tolerant
        # the same values the scoring step would get (pure functions of the pod and the nodes,
        # which do not change before Reserve); None: they score per node, the generic path
        uniform = (tolerant[4], self.images.uniform_score(state, pod, nodes))
        if not tolerant[3] or uniform[0] is None or uniform[1] is None:
            return None
        self.used += 1
        result = fw.new_result(n, state)
        log, work = result.log, state.work
        work["point_call"] += len(PRE_FILTERS)  # integers in a float: exact as five += 1
        pre = result.pre_filter
        pre["NodeAffinity"] = pre["NodePorts"] = _SKIP
        self.fit.pre_filter(state, pod, nodes)  # SUCCESS, its request in the state (not recorded)
        pre["PodTopologySpread"] = pre["InterPodAffinity"] = _SKIP
        # _filter_and_score's window branch
        k = fw.num_feasible_nodes_to_find(n)
        start = fw._next_start % n if k < n else 0
        filters = self.filters
        got = self._window(nodes, state["NodeResourcesFit/preFilter"], start, k, log)
        alive, processed, rejected = (fw._filter_window(pod, nodes, state, filters, start, k, log) if got is None
                                      else got)
        log.start, log.processed = start, processed
        result.span, result.alive = (start, processed), alive
        if k < n:
            fw._next_start = (start + processed) % n
        work["filter_node"] = float(processed)
        work["filter_call"] = float(log.rows_seen() if rejected else processed * len(filters))
        if alive.size == 0:
            return fw._post_filter(pod, nodes, result, log)
        out = self._score_and_select(pod, nodes, result, alive, uniform)
        batch = fw.batch
        if cycle is not None and batch is not None and batch.enabled and out.node_idx is not None and out.status.ok:
            batch.store_unsigned(None, out.node_idx, alive.size > 1, cycle, nodes)
        return out

    def _window(self, nodes, request: dict, start: int, k: int, log: FilterLog) -> tuple | None:
        """:meth:`Framework._filter_window` when NodeResourcesFit passes every row of its first
        chunk (the filters before it pass every node): the same records and result, from a kept
        mask of the rows where the request fits. None (the log untouched) otherwise."""
        n = nodes.n
        want = k + 1 if k < n else n
        size = min(n, want + want // 8 + 16)
        chunk = self.fw._ring(n)[start:start + size]
        hit = self._fit_mask(nodes, request)
        if hit[6] and not hit[5][chunk].all():  # hit[6]: rows where it does not fit
            return None
        records = log.records
        for name, _ in self.filters[:-1]:
            records.append((name, chunk, ALL_PASS, None))
        ok = self._ones.get(size)
        if ok is None:  # read-only: every record of this size shares it
            if len(self._ones) >= 64:
                self._ones.clear()
            ok = self._ones[size] = np.ones(size, dtype=bool)
            ok.flags.writeable = False
        records.append(("NodeResourcesFit", chunk, FilterResult(ok, "", Code.UNSCHEDULABLE), ok))
        if k < n and size > k:
            return chunk[:k], (int(chunk[k - 1]) - start) % n + 1, False
        return chunk, n, False

    def _fit_mask(self, nodes, request: dict) -> list:
        """``[request, nodes, n, columns, pods_version, mask, misfits, checks]``: ``mask`` ``(n,)
        bool`` marks the rows where NodeResourcesFit's Filter passes ``request`` (its checks: no free
        column below the quantity needed), ``misfits`` counts the others; kept per request and
        brought up to date from the rows whose pods changed (``free_int`` changes only there and
        when rows are added)."""
        hit = self._masks.get(id(request))
        res_index = nodes.res_index
        version = nodes.pods_version
        if (hit is None or hit[0] is not request or hit[1] is not nodes or hit[2] != nodes.n
                or hit[3] != len(res_index)):
            hit = None
        elif hit[4] != version:
            changed = nodes.pods_changed_since(hit[4])
            if changed is None or len(changed) > 64:
                hit = None
            else:
                free, mask, checks = nodes.free_int, hit[5], hit[7]
                for r in dict.fromkeys(changed):
                    row = free[r].tolist()
                    fits = all(col is not None and row[col] >= qty for col, qty in checks)
                    if fits != mask[r]:
                        mask[r] = fits
                        hit[6] += -1 if fits else 1
                hit[4] = version
        if hit is None:
            free = nodes.free_int
            mask = np.ones(nodes.n, dtype=bool)
            checks = [(col, qty) for _, col, qty in self.fit._checks(request, res_index)]
            for col, qty in checks:
                if col is None:
                    mask[:] = False
                else:
                    mask &= free[:, col] >= qty
            if len(self._masks) >= 16:
                self._masks.clear()
            hit = self._masks[id(request)] = [request, nodes, nodes.n, len(res_index), version, mask,
                                              nodes.n - int(np.count_nonzero(mask)), checks]
        return hit

    def _score_and_select(self, pod, nodes, result: ScheduleResult, cand: np.ndarray,
                          uniform: tuple[int, int]) -> ScheduleResult:
        fw = self.fw
        state = result.state
        work = state.work
        if cand.size > 1:
            work["point_call"] += len(PRE_SCORES)
            skip = {"NodeAffinity", "InterPodAffinity"}
            for name, plugin in (("TaintToleration", self.taints), ("NodeAffinity", None),
                                 ("NodeResourcesFit", self.fit), ("PodTopologySpread", self.spread),
                                 ("InterPodAffinity", None), ("NodeResourcesBalancedAllocation", self.balanced)):
                if plugin is None:
                    result.pre_score[name] = _SKIP
                    continue
                st = plugin.pre_score(state, pod, nodes, cand)
                if st is _OK:
                    continue
                if st is not _SKIP:  # an error: the generic path's handling
                    st = fw._status(name, "PreScore", pod, st, quick=True)
                    result.pre_score[name] = st
                    result.status = st
                    return result
                result.pre_score[name] = st
                skip.add(name)
            m = cand.size
            work["score_node"] = float(m)
            work["score_call"] = float(m * (len(SCORES) - len(skip)))
            work["normalize"] = float(m * sum(1 for name, (_, z) in SCORES.items() if z and name not in skip))
            record = result.scores.record  # type: ignore[attr-defined]
            weights = self.weights
            total = None
            uniform_total = 0
            for name, plugin in (("TaintToleration", 0), ("NodeResourcesFit", self.fit),
                                 ("PodTopologySpread", self.spread), ("NodeResourcesBalancedAllocation", self.balanced),
                                 ("ImageLocality", 1)):
                if name in skip:
                    continue
                w = weights[name]
                if type(plugin) is int:
                    value = int(uniform[plugin])
                    record(name, cand, value)
                    uniform_total += w * value
                    continue
                raw = plugin.score(state, pod, nodes, cand).astype(np.int64, copy=False)
                if name == "PodTopologySpread":
                    raw = plugin.normalize_scores(state, pod, raw)
                record(name, cand, raw)
                part = raw if w == 1 else w * raw
                total = part.copy() if total is None else total + part
            if total is None:
                total = np.zeros(m, dtype=np.int64)
            if uniform_total:
                total += uniform_total
            result.cand, result.totals = cand, total
            best = cand[total == total[total.argmax()]]
        else:
            best = cand
        idx = int(best[0]) if best.size == 1 else int(best[fw.rng.integers(best.size)])
        result.node, result.node_idx = nodes.names[idx], idx
        return fw._reserve_permit(pod, nodes, result, idx)
