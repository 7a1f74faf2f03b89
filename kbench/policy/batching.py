"""Opportunistic batching (KEP-5598, feature gate ``OpportunisticBatching``, beta and on in v1.35).

What upstream kube-scheduler does (kubernetes/kubernetes ``pkg/scheduler/framework/runtime/batch.go``
@ 05890762, ``framework.go`` ``computeBatchablePlugins`` / ``SignPod``, ``schedule_one.go``):

* **Signatures.** A profile signs pods only if every PreFilter, Filter, PreScore and Score plugin
  implements ``SignPlugin`` (and it has no extenders). A pod's signature is its ``schedulerName``
  plus the fragments each plugin returns (the pod fields its feasibility and score depend on); a
  plugin may refuse to sign a pod (PodTopologySpread refuses every pod while default constraints are
  configured, so the default profile, with its system default constraints, never batches).
* **After a cycle** that scored at least two feasible nodes, the other feasible nodes are kept in
  score order with the signature and the time; a cycle with one feasible node keeps nothing.
* **Next cycle**, after PreFilter: the kept state is used only if this is the very next cycle, the
  previous one succeeded, the signature is equal, the state is at most 0.5 s old, and the node
  chosen last time now *rejects* the pod (the previous pod filled it, so every other node's score
  is unchanged). Then the next kept node is the *hint*: only it is filtered and, if it passes, it is
  chosen without scoring (and the round-robin start index does not move). Otherwise the cycle runs
  as usual and its results replace the kept state.

kbench: a plugin signs a pod with ``sign(pod) -> tuple | None`` (None: this pod cannot be signed;
a plugin without ``sign`` disables signatures for its profile, as upstream); the node list is kept
as node names; time is the scheduler's virtual clock.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

MAX_BATCH_AGE_S = 0.5
"""batch.go ``maxBatchAge``: kept results older than this are dropped."""

CHECKED_POINTS = ("preFilter", "filter", "preScore", "score")
"""Extension points whose plugins must all sign (framework.go ``computeBatchablePlugins``)."""


class OpportunisticBatch:
    """The batching state of one profile (see the module docstring).

    Args:
        framework: The profile's :class:`~kbench.policy.framework.Framework`.

    Attributes:
        enabled: The profile signs pods (every checked plugin has ``sign``).
        unsupported: Checked plugins without ``sign``, sorted (why ``enabled`` is False).
        hinted: Cycles given a hint.
        batched: Pods placed on their hint (upstream's ``batchedPods``).
        hint_not_used: Hints that did not pass the filters.
        flushed: Kept states dropped, by upstream's reason (``metrics.BatchCacheFlushed``).
    """

    def __init__(self, framework):
        plugins = framework.plugins
        names: list[str] = []
        for point in CHECKED_POINTS:
            for name in framework.points[point]:
                if name not in names:
                    names.append(name)
        self.unsupported = sorted(n for n in names if not hasattr(plugins[n], "sign"))
        self.enabled = not self.unsupported
        self.never = next((n for n in names if getattr(plugins[n], "never_signs", False)), None)
        """A plugin that refuses every pod (PodTopologySpread with default constraints), or None."""
        self.signers = [plugins[n].sign for n in names] if self.enabled else []
        self._state: tuple | None = None  # (signature, node names best last, created at s)
        self._last: tuple[int, str] | None = None  # (cycle, chosen node) of the last success
        self.hinted = 0
        self.batched = 0
        self.hint_not_used = 0
        self.flushed: Counter[str] = Counter()

    def sign(self, pod) -> tuple | None:
        """The pod's signature (None: some plugin cannot sign it, or signatures are disabled)."""
        if not self.enabled or self.never is not None:
            return None
        parts: list = [pod.scheduler_name]
        for fn in self.signers:
            part = fn(pod)
            if part is None:
                return None
            parts.append(part)
        return tuple(parts)

    def _flush(self, reason: str) -> None:
        self.flushed[reason] += 1
        self._state = None

    def hint(self, signature: tuple | None, cycle: int, now: float, nodes, rejects) -> int | None:
        """The row to try first this cycle, or None (batch.go ``GetNodeHint``).

        Args:
            signature: This pod's :meth:`sign`.
            cycle: This cycle's number (consecutive cycles of one scheduler differ by 1).
            now: Virtual time, seconds.
            nodes: The node table.
            rejects: ``f(row) -> bool``: the filters reject the pod on that row.
        """
        state = self._state
        if state is None or not state[1]:
            return None
        last = self._last
        if last is None or cycle != last[0] + 1:
            self._flush("pod_skipped")
            return None
        if signature is None or signature != state[0]:
            self._flush("pod_incompatible")
            return None
        if now > state[2] + MAX_BATCH_AGE_S:
            self._flush("expired")
            return None
        row = nodes.index.get(last[1])
        if row is None:
            self._flush("node_missing")
            return None
        if not rejects(row):
            self._flush("node_not_full")
            return None
        names = state[1]
        while names:
            hint = nodes.index.get(names.pop())
            if hint is not None:
                self.hinted += 1
                return hint
        return None

    def store(self, signature: tuple, hinted: int | None, chosen: int, others: list[str] | None,
              cycle: int, now: float, nodes) -> None:
        """Record a successful cycle of a signed pod (batch.go ``StoreScheduleResults``): ``others``
        are the other feasible nodes best first (None when one node was feasible)."""
        if self._used(hinted, chosen, cycle, nodes):
            return
        if others:
            self._state = (signature, others[::-1], now)
        else:
            self._flush("empty_list")

    def store_unsigned(self, hinted: int | None, chosen: int, had_others: bool, cycle: int, nodes) -> None:
        """:meth:`store` for a pod without a signature: nothing is kept (upstream's flush reason
        is ``empty_list`` when one node was feasible, else ``pod_not_batchable``)."""
        if not self._used(hinted, chosen, cycle, nodes):
            self._flush("pod_not_batchable" if had_others else "empty_list")

    def _used(self, hinted: int | None, chosen: int, cycle: int, nodes) -> bool:
        """Note the cycle's success; True when it took its hint (the kept state stays)."""
        self._last = (cycle, nodes.names[chosen])
        if hinted is not None:
            if hinted == chosen:
                self.batched += 1
                return True
            self.hint_not_used += 1
        return False


def describe(batch: OpportunisticBatch | None, pod) -> str | None:
    """One line on whether ``pod`` can be batched under this profile (None with the gate off), for
    ``kbench explain``."""
    if batch is None:
        return None
    head = "OpportunisticBatching: "
    if not batch.enabled:
        return head + f"this profile never batches: {', '.join(batch.unsupported)} cannot sign pods"
    if batch.never is not None:
        return head + (f"this profile never batches: {batch.never} refuses to sign pods while default "
                       "constraints are configured")
    if batch.sign(pod) is None:
        return head + "this pod cannot be signed (pod affinity or topology spread constraints)"
    return head + ("pods with this one's signature may reuse a cycle's sorted nodes when each fills the "
                   "node it is placed on")


def sorted_others(cand: np.ndarray, total: np.ndarray, chosen: int, names: list[str]) -> list[str]:
    """Feasible nodes other than ``chosen``, best total score first; ties in row order (upstream pops
    them from a heap whose tie-breaker is 0 without extenders: an order kbench does not copy)."""
    order = np.argsort(-total, kind="stable")
    return [names[int(r)] for r in cand[order] if int(r) != chosen]
