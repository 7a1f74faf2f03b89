"""The scheduling framework: runs a profile's plugins for one pod (DESIGN.md decision 4).

One cycle, as upstream ``schedule_one.go``:

1. **PreFilter** (a rejection makes every node infeasible with that reason; SKIP skips the plugin's
   Filter; a SUCCESS with ``node_names``, upstream's ``PreFilterResult``, narrows the cycle to
   those nodes: the plugins' sets are intersected, only those nodes are filtered, and the others
   count as UnschedulableAndUnresolvable when the pod fits nowhere);
2. **Filter**, plugin by plugin on a window of candidate nodes at once (see below); a node keeps
   the reason of the *first* filter that rejects it and later filters do not see it. A filter
   whose ``passes_all`` holds for the pod (asked once per cycle) is recorded as passing the rows
   it would have seen, without being called;
3. **PostFilter** (preemption) only when no node fits;
4. **PreScore** (SKIP: the plugin gives no score, ``None`` in the result) → **Score** →
   **NormalizeScore**; each plugin's scores must be integers in 0..100 (E1). A plugin whose
   ``uniform_score`` gives a value has that score recorded for every candidate, without Score;
5. total = Σ weight × score (E1); the best total wins; ties go to a seeded random choice (uniform,
   like upstream's reservoir sampling) or, with ``tieBreak: first``, to the first node in a fixed
   seeded node order (FGD.md §2.1);
6. **Reserve** then **Permit**; with ``assume=True`` the pod is added to the node table with the
   GPUs a Reserve plugin chose (``state["gpus"]``, else the table's "best" choice).

As upstream, when exactly one node is feasible it is chosen without scoring, and
:meth:`Framework.num_feasible_nodes_to_find` applies ``percentageOfNodesToScore`` (D3, D4) with a
rotating start index; ``evaluate_all=True`` (used by explain) filters and scores every node.

Filtering gives the result of upstream's walk done one node at a time: nodes are taken round-robin
from the start index; with ``k`` feasible nodes to find and more than ``k`` feasible in the
cluster, the first ``k`` feasible ones are kept and the nodes up to the ``k``-th count as
evaluated (the next start index is ``(start + evaluated) % n``); otherwise every node is
evaluated. It is computed on windows: the first ``k + k/8 + 16`` rows in rotated order go through
each filter in one call, and further windows (sized from the feasible fraction seen so far) only
when fewer than ``k + 1`` were feasible. Nodes filtered past the stopping point are forgotten.
Per-node filter reasons are built lazily, when :attr:`ScheduleResult.filter_reasons` is read or
the pod is unschedulable.
A plugin that raises becomes a :class:`~kbench.errors.PolicyError` naming the policy, the plugin,
the pod and the extension point.

Longer than the ~400-line guide on purpose: one scheduling cycle (PreFilter → Filter → PostFilter →
PreScore → Score → selectHost) is one algorithm with shared per-cycle state.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from kbench.cluster.objects import NodeTable, Pod
from kbench.errors import PolicyError
from kbench.policy.api import Code, CycleState, FilterResult, Handle, Status
from kbench.policy.batching import OpportunisticBatch, sorted_others
from kbench.policy.fusedcycle import FusedCycle, fusable
from kbench.policy.fusedgpu import FusedGpuCycle, fusable_gpu
from kbench.policy.profile import VOLUME_PHANTOMS, Profile
from kbench.policy.registry import Registry, default_registry
from kbench.policy.resolve import resolve_policy
from kbench.policy.results import ALL_PASS, FilterLog, FilterReasons, LazyResult, ScheduleResult, ScoreArrays
from kbench.policy.scorecheck import checked_scores, checked_uniform

__all__ = ["MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND", "MIN_FEASIBLE_NODES_TO_FIND", "FilterReasons", "Framework",
           "ScheduleResult", "ScoreArrays", "num_feasible_nodes_to_find"]

MIN_FEASIBLE_NODES_TO_FIND = 100
"""D3: never look for fewer feasible nodes than this."""
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
"""D3: the adaptive percentage's floor."""
_SUCCESS_OR_SKIP = (Code.SUCCESS, Code.SKIP)
_OK = Status.success()


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """Upstream ``numFeasibleNodesToFind`` (D3) for a percentageOfNodesToScore (0: adaptive); see
    :meth:`Framework.num_feasible_nodes_to_find`."""
    n = int(num_all_nodes)
    pct = percentage
    if n < MIN_FEASIBLE_NODES_TO_FIND or pct >= 100:
        return n
    if pct == 0:
        pct = max(50 - n // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(n * pct // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Framework:
    """A profile's plugins, ready to schedule pods.

    Args:
        profile: A :class:`~kbench.policy.profile.Profile`, or a policy name / file (resolved with
            :func:`~kbench.policy.resolve.resolve_policy`).
        rng: The policy's random stream (a numpy Generator, or a seed). Tie-breaks and plugins
            draw from it only.
        registry: Resolves plugin names (default: the default registry).
        handle: Shared plugin handle (default: a new one with ``rng``).
        fused: Use the fused cycle of the default profile's common case or of the GPU-share
            profiles (same results; False: the generic path always, as the fused cycles' tests compare).
    """

    def __init__(self, profile: Profile | str, rng: np.random.Generator | int | None = None, *,
                 registry: Registry | None = None, handle: Handle | None = None, fused: bool = True):
        if isinstance(profile, str):
            profile, registry = resolve_policy(profile, registry)
        registry = registry if registry is not None else default_registry()
        self.profile = profile
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng or 0)
        self.handle = handle if handle is not None else Handle(rng=self.rng, profile=profile.name)
        self.points, self.weights = profile.expand(registry)
        self.plugins = profile.instantiate(registry, self.handle)
        pl = self.plugins
        self.filters = self.points["filter"]
        self.score_plugins = self.points["score"]
        self.pre_filters = ([n for n in self.points["preFilter"] if n in self.filters or not hasattr(pl[n], "filter")]
                            + [n for n in self.filters if hasattr(pl[n], "pre_filter")
                               and n not in self.points["preFilter"]])
        self.pre_scores = ([n for n in self.points["preScore"] if n in self.score_plugins or not hasattr(pl[n], "score")]
                           + [n for n in self.score_plugins if hasattr(pl[n], "pre_score")
                              and n not in self.points["preScore"]])
        # bound methods, looked up once: a cycle calls ~20 of them
        self._pre_filter_fns = [(n, pl[n].pre_filter) for n in self.pre_filters]
        self._filter_fns = {n: pl[n].filter for n in self.filters}
        self._pass_checks = [(n, pl[n].passes_all) for n in self.filters if hasattr(pl[n], "passes_all")]
        self._pre_score_fns = [(n, pl[n].pre_score) for n in self.pre_scores]
        self._pre_enqueue_fns = [(n, pl[n].pre_enqueue) for n in self.points["preEnqueue"]]
        self._phantom_calls = sum(VOLUME_PHANTOMS[p] for p in profile.phantoms) + len(self.points["bind"])
        """Calls of not-built default plugins (volume) and of the Bind plugins, per cycle (cost only)."""
        self._score_fns = [(n, pl[n].score, getattr(pl[n], "normalize_scores", None),
                            getattr(pl[n], "uniform_score", None), self.weights[n]) for n in self.score_plugins]
        self.tie_break = profile.tie_break
        self.percentage = profile.percentage_of_nodes_to_score
        self.rotation = [0]
        """The round-robin start index, in a list so that the profiles of one scheduler can share it
        (upstream keeps one ``nextStartNodeIndex`` per scheduler)."""
        self._order_seed = int(self.rng.integers(2**63)) if self.tie_break == "first" else 0
        self._rank_cache: tuple[list[str], int, np.ndarray] | None = None
        self._ring_cache: np.ndarray | None = None
        self.node_order: list[str] | None = None
        """Explicit node order for ``tieBreak: first`` (overrides the seeded order when set)."""
        self.batch = OpportunisticBatch(self) if self.handle.features["OpportunisticBatching"] else None
        """Opportunistic batching (:mod:`kbench.policy.batching`), None with the gate off."""
        self.fused = (None if not fused else FusedCycle(self) if fusable(self)
                      else FusedGpuCycle(self) if fusable_gpu(self) else None)
        """The fused cycle of the default profile (:mod:`kbench.policy.fusedcycle`) or of the GPU-share
        profiles (:mod:`kbench.policy.fusedgpu`), None for other profiles or when ``fused`` is False
        (the generic path only)."""

    @property
    def _next_start(self) -> int:
        return self.rotation[0]

    @_next_start.setter
    def _next_start(self, value: int) -> None:
        self.rotation[0] = value

    # ----- helpers --------------------------------------------------------------------------

    def num_feasible_nodes_to_find(self, num_all_nodes: int) -> int:
        """How many feasible nodes to look for before scoring (upstream ``numFeasibleNodesToFind``, D3).

        Args:
            num_all_nodes: Nodes in the cluster.

        Returns:
            ``num_all_nodes`` below 100 nodes or at 100 %; otherwise ``n × pct / 100`` (integer),
            at least 100, where pct is the profile's percentage or, when 0/unset, the adaptive
            ``max(50 - n/125, 5)``.
        """
        return num_feasible_nodes_to_find(num_all_nodes, self.percentage or 0)

    def _fail(self, name: str, point: str, pod: Pod, err: BaseException) -> PolicyError:
        return PolicyError(f"plugin {name!r} of policy {self.profile.name!r} raised {type(err).__name__} "
                           f"at {point} for pod {pod.key}: {err}", source=self.profile.source)

    def _call(self, name: str, point: str, pod: Pod, method: str, *args):
        try:
            return getattr(self.plugins[name], method)(*args)
        except Exception as err:  # noqa: BLE001 - any plugin failure is reported with context
            raise self._fail(name, point, pod, err) from err

    def _status(self, name: str, point: str, pod: Pod, value, quick: bool = False) -> Status:
        """``value`` checked, with the plugin name filled in (``quick``: not for SUCCESS / SKIP)."""
        if value is None:
            return Status.success()
        if not isinstance(value, Status):
            raise self._fail(name, point, pod, TypeError(f"expected a Status, got {type(value).__name__}"))
        if value.plugin or (quick and value.code in _SUCCESS_OR_SKIP):
            return value
        return dataclasses.replace(value, plugin=name)

    def ranks(self, nodes: NodeTable) -> np.ndarray:
        """``(n,) int64`` position of each row in the fixed tie-break order (lower wins)."""
        cache = self._rank_cache
        if cache is not None and cache[0] is nodes.names and cache[1] == nodes.n:
            return cache[2]
        if self.node_order is not None:
            pos = {name: i for i, name in enumerate(self.node_order)}
            keys = [pos.get(name, len(pos)) for name in nodes.names]
        else:
            seed = self._order_seed.to_bytes(8, "little")
            keys = [int.from_bytes(hashlib.blake2b(seed + name.encode(), digest_size=8).digest(), "little")
                    for name in nodes.names]
        ranks = np.empty(nodes.n, dtype=np.int64)
        ranks[np.lexsort((np.arange(nodes.n), np.array(keys, dtype=np.uint64)))] = np.arange(nodes.n)
        self._rank_cache = (nodes.names, nodes.n, ranks)
        return ranks

    def pre_enqueue(self, pod: Pod) -> Status | None:
        """Run the PreEnqueue plugins (SchedulingGates): None when the pod may enter activeQ, else
        the first rejecting status (its plugin named)."""
        for name, fn in self._pre_enqueue_fns:
            try:
                st = fn(pod)
            except Exception as err:  # noqa: BLE001 - any plugin failure is reported with context
                raise self._fail(name, "PreEnqueue", pod, err) from err
            if st is not None and st is not _OK and not st.ok:
                return self._status(name, "PreEnqueue", pod, st)
        return None

    def less(self, a: Pod, b: Pod) -> bool:
        """Queue order: the QueueSort plugin's ``less``, else higher priority first."""
        if self.points["queueSort"]:
            name = self.points["queueSort"][0]
            return bool(self._call(name, "QueueSort", a, "less", a, b))
        return a.priority > b.priority

    # ----- the cycle ------------------------------------------------------------------------

    def schedule(self, pod: Pod, nodes: NodeTable, assume: bool = True,
                 evaluate_all: bool = False, only_rows: np.ndarray | None = None,
                 cycle: int | None = None, now: float = 0.0, nominated: int | None = None) -> ScheduleResult:
        """Run one scheduling cycle for ``pod``.

        Args:
            pod: The pod to place.
            nodes: The cluster; modified only when ``assume`` is True and a node is chosen.
            assume: Run Reserve and Permit and add the pod to ``nodes`` (the scheduler's assume step).
            evaluate_all: Filter and score every node (ignore percentageOfNodesToScore and the
                single-feasible-node shortcut), as explain does.
            only_rows: With ``evaluate_all``, filter and score only these rows (upstream tests'
                "nodes"); PreFilter and PreScore still see every node of the table.
            cycle: The scheduler's cycle number (its queue's pops); with the OpportunisticBatching
                gate on and a signing profile, consecutive cycles may reuse the last one's
                results (:mod:`kbench.policy.batching`). None: no batching (explain, tests).
            now: The cycle's start, virtual seconds (the batch's age).
            nominated: The row of the pod's nominated node (``status.nominatedNodeName``, set by a
                preemption): filtered alone first and, if it passes, chosen without scoring
                (schedule_one.go ``evaluateNominatedNode``, the PreferNominatedNode behaviour).

        The cycle's work (calls, rows filtered and scored, and what plugins reported) is left in
        ``result.state.work`` for the scheduler's cycle cost.

        Raises:
            PolicyError: A plugin raised or returned something malformed.
        """
        fused = self.fused
        if (fused is not None and assume and not evaluate_all and only_rows is None and nominated is None
                and fused.applies(pod, nodes)):
            out = fused.run(pod, nodes, cycle, now)
            if out is not None:
                return out
        n = nodes.n
        self.handle.nodes = nodes
        state = CycleState()
        result = self.new_result(n, state)
        log, work = result.log, state.work
        skip_filter: set[str] = set()
        pre_names: frozenset[str] | None = None  # upstream's merged PreFilterResult (None: all nodes)
        narrowing: list[str] = []
        for name, fn in self._pre_filter_fns:
            work["point_call"] += 1
            try:
                st = fn(state, pod, nodes)
            except Exception as err:  # noqa: BLE001 - any plugin failure is reported with context
                raise self._fail(name, "PreFilter", pod, err) from err
            if st is None or st is _OK:
                continue
            st = self._status(name, "PreFilter", pod, st, quick=True)
            result.pre_filter[name] = st
            if st.is_skip:
                skip_filter.add(name)
            elif st.ok and st.node_names is not None:
                narrowing.append(name)
                pre_names = st.node_names if pre_names is None else pre_names & st.node_names
                if not pre_names:
                    # upstream RunPreFilterPlugins: the plugins' node sets do not intersect
                    why = (f"node(s) didn't satisfy plugin {narrowing[0]}" if len(narrowing) == 1 else
                           f"node(s) didn't satisfy plugin(s) [{' '.join(narrowing)}] simultaneously")
                    st = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (why,), name)
                    result.pre_filter[name] = st
                    log.records.append((name, None, st, None))
                    result.span = (0, n)
                    return self._post_filter(pod, nodes, result, log)
            elif not st.ok:
                log.records.append((name, None, st, None))
                result.span = (0, n)
                if st.code == Code.ERROR:
                    result.status = st
                    return result
                return self._post_filter(pod, nodes, result, log)
        all_pass: set[str] = set()
        for name, fn in self._pass_checks:
            if name not in skip_filter and self._passes_all(name, fn, state, pod, nodes):
                all_pass.add(name)

        fns = self._filter_fns
        filters = [(name, None if name in all_pass else fns[name]) for name in self.filters if name not in skip_filter]
        batch = self.batch if cycle is not None and not evaluate_all and only_rows is None else None
        if batch is not None and not batch.enabled:
            batch = None
        signature = hint = None
        if batch is not None:
            signature = batch.sign(pod)  # its CPU (a few map writes per plugin) is not charged
            hint = batch.hint(signature, cycle, now, nodes, lambda row: self._filter_one(
                pod, nodes, state, filters, row, FilterLog(n, list(self.filters))).size == 0)
        # schedule_one.go findNodesThatFitPod: the pod's nominated node, else the batch's hint, is
        # filtered alone first (evaluateNominatedNode); if it passes it is the only feasible node
        first = nominated if nominated is not None and not evaluate_all and only_rows is None else hint
        if first is not None and 0 <= first < n:
            alive = self._filter_one(pod, nodes, state, filters, first, log)
            if alive.size:  # chosen without scoring; nextStartNodeIndex does not move
                result.span, result.alive = (first, 1), alive
                log.start, log.processed = first, 1
                out = self._score_and_select(pod, nodes, result, alive, assume, False)
                return out if batch is None else self._batched(batch, signature, hint, cycle, now, nodes, out)
            log = result.log = FilterLog(n, list(self.filters))
            result.filter_reasons = FilterReasons(log)
        out = self._filter_and_score(pod, nodes, result, log, state, filters, pre_names, narrowing,
                                     assume, evaluate_all, only_rows)
        return out if batch is None else self._batched(batch, signature, hint, cycle, now, nodes, out)

    def new_result(self, n: int, state: CycleState) -> LazyResult:
        """A cycle's result on a table of ``n`` rows before any plugin ran: its filter log and score
        arrays, and the work's first counters (``cycle``, ``point_call`` with the calls of phantom
        and Bind plugins) in ``state`` (the fused cycles start from it too)."""
        log = FilterLog(n, list(self.filters))
        result = LazyResult(n, FilterReasons(log), ScoreArrays(n, self.score_plugins), dict(self.weights), state, log)
        work = state.work
        work["cycle"] = 1.0
        work["point_call"] = float(self._phantom_calls)
        return result

    def _filter_one(self, pod: Pod, nodes: NodeTable, state: CycleState, filters: list[tuple[str, object]],
                    row: int, log: FilterLog) -> np.ndarray:
        """Filter ``row`` alone (a nominated node, a batch's hint, or the last chosen node batch.go
        checks), counting its work; the row if it passes, else an empty array."""
        work = state.work
        work["filter_node"] = work.get("filter_node", 0.0) + 1
        work["filter_call"] = work.get("filter_call", 0.0) + len(filters)
        return self._run_filters(pod, nodes, state, filters, np.array((row,), dtype=np.int64), log)[0]

    def _batched(self, batch: OpportunisticBatch, signature, hint: int | None, cycle: int, now: float,
                 nodes: NodeTable, result: ScheduleResult) -> ScheduleResult:
        """Keep a successful cycle's results for the next one (schedule_one.go StoreScheduleResults)."""
        idx = result.node_idx
        if idx is not None and result.status.ok:
            if signature is None:  # nothing to keep (the sorted list is not built)
                batch.store_unsigned(hint, idx, bool(np.count_nonzero(result.scored) > 1), cycle, nodes)
                return result
            scored = np.flatnonzero(result.scored)
            others = sorted_others(scored, result.total[scored], idx, nodes.names) if scored.size > 1 else None
            batch.store(signature, hint, idx, others, cycle, now, nodes)
        return result

    def _filter_and_score(self, pod: Pod, nodes: NodeTable, result: ScheduleResult, log: FilterLog,
                          state: CycleState, filters: list[tuple[str, object]], pre_names, narrowing: list[str],
                          assume: bool, evaluate_all: bool, only_rows: np.ndarray | None) -> ScheduleResult:
        """Filter the nodes (all, a PreFilterResult's, or a rotating window) and score the feasible."""
        n = nodes.n
        work = state.work
        absent = None
        if only_rows is None and pre_names is not None and not evaluate_all:
            rows = self._pre_filter_rows(pre_names, nodes)
        else:
            rows = None
        if only_rows is not None:
            rows = np.asarray(only_rows, dtype=np.int64)
            alive, rejected = self._filter_rows(pod, nodes, state, filters, rows, log)
            result.evaluated[rows] = True
            processed = rows.size
        elif rows is not None:
            # upstream findNodesThatFitPod: only the PreFilterResult's nodes are filtered, and
            # nextStartNodeIndex advances by the nodes processed (schedule_one.go)
            alive, rejected = self._filter_rows(pod, nodes, state, filters, rows, log)
            result.evaluated[rows] = True
            processed = rows.size
            if n and self.num_feasible_nodes_to_find(n) < n:
                self._next_start = (self._next_start % n + processed) % n
            absent = narrowing
        else:
            k = n if evaluate_all else self.num_feasible_nodes_to_find(n)
            start = self._next_start % n if (n and k < n) else 0
            alive, processed, rejected = self._filter_window(pod, nodes, state, filters, start, k, log)
            log.start, log.processed = start, processed
            result.span = (start, processed)
            if k < n:
                self._next_start = (start + processed) % n
        work["filter_node"] = work.get("filter_node", 0.0) + processed
        work["filter_call"] = work.get("filter_call", 0.0) + (log.rows_seen() if rejected else processed * len(filters))
        result.alive = alive
        if alive.size == 0:
            if absent is not None:
                self._log_absent(nodes, rows, absent, log)
            return self._post_filter(pod, nodes, result, log)
        return self._score_and_select(pod, nodes, result, alive, assume, evaluate_all)

    def _pre_filter_rows(self, names: frozenset[str], nodes: NodeTable) -> np.ndarray | None:
        """Rows of the PreFilterResult's nodes that exist, ascending; None when upstream would
        sample them (more than ``numFeasibleNodesToFind`` of them): then the whole table is filtered
        as without a PreFilterResult (the same feasible set; the cycle's work is overstated)."""
        index = nodes.index
        rows = np.array(sorted(index[nm] for nm in names if nm in index), dtype=np.int64)
        if self.num_feasible_nodes_to_find(rows.size) < rows.size:
            return None
        return rows

    @staticmethod
    def _log_absent(nodes: NodeTable, rows: np.ndarray, plugins: list[str], log: FilterLog) -> None:
        """Record the nodes outside the PreFilterResult as upstream's ``SetAbsentNodesStatus`` does:
        UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) [...]" (so preemption skips them)."""
        mask = np.ones(nodes.n, dtype=bool)
        mask[rows] = False
        absent = np.flatnonzero(mask)
        if absent.size:
            why = f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(plugins))}]"
            ok = np.zeros(absent.size, dtype=bool)
            log.records.append((plugins[0], absent, FilterResult(ok, why, Code.UNSCHEDULABLE_AND_UNRESOLVABLE), ok))

    def _ring(self, n: int) -> np.ndarray:
        """Read-only ``(2n,) int64`` rows ``0..n-1`` twice: rotated windows are slices of it."""
        ring = self._ring_cache
        if ring is None or ring.size != 2 * n:
            ring = np.concatenate([np.arange(n, dtype=np.int64)] * 2)
            ring.flags.writeable = False
            self._ring_cache = ring
        return ring

    def _passes_all(self, name: str, fn, state: CycleState, pod: Pod, nodes: NodeTable) -> bool:
        try:
            return bool(fn(state, pod, nodes))
        except Exception as err:  # noqa: BLE001 - any plugin failure is reported with context
            raise self._fail(name, "Filter", pod, err) from err

    def _filter_window(self, pod: Pod, nodes: NodeTable, state: CycleState, filters: list[tuple[str, object]],
                       start: int, k: int, log: FilterLog) -> tuple[np.ndarray, int]:
        """Filter rows round-robin from ``start`` until ``k + 1`` are feasible (or all were seen).

        ``filters`` holds ``(name, bound Filter method)``, the method None for a plugin whose
        ``passes_all`` said every node passes: it is recorded as passing its rows, not called.

        Returns:
            ``(feasible rows in rotated order, at most k, evaluated count, whether any filter
            rejected a row)``: with more than ``k`` feasible nodes the first ``k`` and the rotated
            position of the ``k``-th plus one, else every feasible node and ``n`` (the module
            docstring's rule).
        """
        n = nodes.n
        ring = self._ring(n)
        want = k + 1 if k < n else n
        size = min(n, want + want // 8 + 16)
        parts: list[np.ndarray] = []
        pos = found = 0
        rejected = False
        while pos < n:
            alive = ring[start + pos:start + pos + size]
            alive, cut = self._run_filters(pod, nodes, state, filters, alive, log)
            rejected |= cut
            parts.append(alive)
            found += alive.size
            pos += size
            if found >= want:
                break
            size = n - pos if found == 0 else min(n - pos, (want - found) * pos * 5 // (4 * found) + 16)
        alive = np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else ring[:0]
        if k < n and alive.size > k:
            return alive[:k], (int(alive[k - 1]) - start) % n + 1, rejected
        return alive, n, rejected

    def _filter_rows(self, pod: Pod, nodes: NodeTable, state: CycleState, filters: list[tuple[str, object]],
                     rows: np.ndarray, log: FilterLog) -> tuple[np.ndarray, bool]:
        """Filter exactly ``rows`` (explain's ``--score-nodes``): ``(feasible rows, rejected any)``."""
        return self._run_filters(pod, nodes, state, filters, rows, log)

    def _run_filters(self, pod: Pod, nodes: NodeTable, state: CycleState, filters: list[tuple[str, object]],
                     alive: np.ndarray, log: FilterLog) -> tuple[np.ndarray, bool]:
        """Run the filters in order on ``alive``; ``(rows that passed all, any row rejected)``."""
        records = log.records
        rejected = False
        for name, fn in filters:
            if alive.size == 0:
                break
            if fn is None:
                records.append((name, alive, ALL_PASS, None))
                continue
            try:
                res = fn(state, pod, nodes, alive)
            except Exception as err:  # noqa: BLE001 - any plugin failure is reported with context
                raise self._fail(name, "Filter", pod, err) from err
            if type(res) is not FilterResult and not isinstance(res, FilterResult):
                raise self._fail(name, "Filter", pod, TypeError(f"expected a FilterResult, got {type(res).__name__}"))
            ok = res.ok
            if type(ok) is not np.ndarray or ok.dtype != np.bool_:
                ok = np.asarray(ok, dtype=bool)
            if ok.shape != alive.shape:
                raise self._fail(name, "Filter", pod, ValueError(f"ok has shape {ok.shape}, expected {alive.shape}"))
            records.append((name, alive, res, ok))
            if np.count_nonzero(ok) != ok.size:
                alive = alive[ok]
                rejected = True
        return alive, rejected

    def _post_filter(self, pod: Pod, nodes: NodeTable, result: ScheduleResult, log: FilterLog) -> ScheduleResult:
        counts, _, unresolvable = log.failure_counts()
        detail = ", ".join(f"{c} {r}" for r, c in sorted(counts.items()))
        message = f"0/{nodes.n} nodes are available" + (f": {detail}" if detail else "")
        result.status = Status.unschedulable(message, unresolvable=unresolvable)
        post = self.points["postFilter"]
        if not post:
            return result
        rows, codes, plugins, whys = log.failures()
        distinct: dict[tuple, Status] = {}  # Status is immutable: nodes failing alike share one
        statuses = {}
        for r, c, w, p in zip(rows, codes, whys, plugins, strict=True):
            st = distinct.get((c, w, p))
            if st is None:
                st = distinct[(c, w, p)] = Status(Code(c or Code.UNSCHEDULABLE), (w,), p)
            statuses[r] = st
        for name in post:
            out = self._call(name, "PostFilter", pod, "post_filter", result.state, pod, nodes, statuses)
            st, nominated = (out, None) if isinstance(out, Status) else out
            st = self._status(name, "PostFilter", pod, st)
            if st.ok:
                result.nominated_node = nominated
                break
        return result

    def _score_and_select(self, pod: Pod, nodes: NodeTable, result: ScheduleResult, cand: np.ndarray,
                          assume: bool, evaluate_all: bool) -> ScheduleResult:
        state = result.state
        work = state.work
        if cand.size > 1 or evaluate_all:
            skip: set[str] = set()
            work["point_call"] = work.get("point_call", 0.0) + len(self._pre_score_fns)
            for name, fn in self._pre_score_fns:
                try:
                    st = fn(state, pod, nodes, cand)
                except Exception as err:  # noqa: BLE001 - any plugin failure is reported with context
                    raise self._fail(name, "PreScore", pod, err) from err
                if st is None or st is _OK:
                    continue
                st = self._status(name, "PreScore", pod, st, quick=True)
                result.pre_score[name] = st
                if st.is_skip:
                    skip.add(name)
                elif not st.ok:
                    result.status = st
                    return result
            run = len(self._score_fns) - len(skip)
            work["score_node"] = float(cand.size)
            work["score_call"] = float(cand.size * run)
            work["normalize"] = float(cand.size * sum(1 for name, _, norm, _, _ in self._score_fns
                                                      if norm is not None and name not in skip))
            total = np.zeros(cand.size, dtype=np.int64)
            uniform_total = 0
            record = result.scores.record  # type: ignore[attr-defined]
            for name, score, normalize, uniform, weight in self._score_fns:
                if name in skip:
                    continue
                if uniform is not None:
                    value = checked_uniform(self._fail, name, uniform, pod, state, nodes)
                    if value is not None:  # every candidate gets it: no per-node arrays
                        record(name, cand, value)
                        uniform_total += weight * value
                        continue
                raw = checked_scores(self._fail, name, pod, state, nodes, cand, score, normalize)
                record(name, cand, raw)
                if weight == 1:
                    total += raw
                else:
                    total += weight * raw
            if uniform_total:
                total += uniform_total
            result.cand, result.totals = cand, total
            best = cand[total == total[total.argmax()]]  # argmax: cheaper than max() on small arrays
        else:
            best = cand
        if best.size == 1:
            idx = int(best[0])
        elif self.tie_break == "first":
            idx = int(best[np.argmin(self.ranks(nodes)[best])])
        else:
            idx = int(best[self.rng.integers(best.size)])
        result.node, result.node_idx = nodes.names[idx], idx
        if not assume:
            result.gpus = tuple(state.get("gpus") or nodes.pick_gpus(pod, idx))
            return result
        return self._reserve_permit(pod, nodes, result, idx)

    def _reserve_permit(self, pod: Pod, nodes: NodeTable, result: ScheduleResult, idx: int) -> ScheduleResult:
        state = result.state
        done: list[str] = []
        for point, names, method in (("Reserve", self.points["reserve"], "reserve"),
                                     ("Permit", self.points["permit"], "permit")):
            state.add_work("point_call", len(names))
            for name in names:
                out = self._call(name, point, pod, method, state, pod, nodes, idx)
                # a SUCCESS verdict is not kept: no need to name its plugin
                st = out if type(out) is Status and out.code == Code.SUCCESS else self._status(name, point, pod, out)
                if method == "reserve":
                    done.append(name)
                if st.code == Code.WAIT and point == "Permit":
                    result.status = st
                elif not st.ok:
                    self._unreserve(pod, nodes, idx, state, done)
                    result.node = result.node_idx = None
                    result.status = st
                    return result
        gpus = tuple(state.get("gpus") or ())
        try:
            nodes.add_pod(pod, idx, gpus)
        except ValueError as err:
            self._unreserve(pod, nodes, idx, state, done)
            raise PolicyError(f"policy {self.profile.name!r} chose node {nodes.names[idx]!r} for pod {pod.key} at "
                              f"Reserve, but the pod does not fit its GPUs ({err}); the policy needs a GPU "
                              "filter such as GpuShare", source=self.profile.source) from None
        result.gpus = tuple(nodes.pod_gpus[idx][-1])
        return result

    def _unreserve(self, pod: Pod, nodes: NodeTable, idx: int, state: CycleState, names: list[str]) -> None:
        for name in reversed(names):
            if hasattr(self.plugins[name], "unreserve"):
                self._call(name, "Unreserve", pod, "unreserve", state, pod, nodes, idx)

    def unassume(self, pod: Pod, nodes: NodeTable, idx: int) -> None:
        """Undo ``assume``: run Unreserve on the Reserve plugins and remove the pod from the table."""
        self._unreserve(pod, nodes, idx, CycleState(), list(self.points["reserve"]))
        nodes.remove_pod(pod, idx)

    def bind(self, state: CycleState, pod: Pod, nodes: NodeTable, idx: int) -> Status:
        """Run the Bind plugins (the first non-SKIP verdict wins); SUCCESS when there are none."""
        for name in self.points["bind"]:
            st = self._status(name, "Bind", pod, self._call(name, "Bind", pod, "bind", state, pod, nodes, idx))
            if not st.is_skip:
                return st
        return Status.success()
