"""DefaultPreemption (PostFilter): evict lower-priority pods to make room — a documented simplification.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go``
(``SelectVictimsOnNode``, ``calculateNumCandidates``) and ``pkg/scheduler/framework/preemption/preemption.go``
(``DryRunPreemption``, ``pickOneNodeForPreemption``); defaults CALIBRATION D7
(minCandidateNodesPercentage 10, minCandidateNodesAbsolute 100).

What kbench does, per upstream step:

1. Eligibility: a pod with ``preemption_policy == "Never"`` (attribute, if present) does not preempt.
2. Potential nodes: those whose filter status is UNSCHEDULABLE (UNSCHEDULABLE_AND_UNRESOLVABLE
   nodes, and nodes absent from ``statuses``, are skipped).
3. Dry run: starting at a random offset (drawn from ``handle.rng``), nodes are tried in row order,
   wrapping round, until ``max(n * pct / 100, abs)`` candidates are found. On a node, every pod of
   lower priority is removed; if the pod then fits, victims are reprieved from the most important
   (higher priority, then earlier bound) down, keeping a pod evicted only when adding it back breaks
   the fit. A node with no victims is not a candidate.
4. Choice, in upstream's order: fewest PDB violations (no PDBs in kbench: all 0), lowest
   highest-victim priority, smallest sum of ``priority + 2^31`` over victims, fewest victims, then
   the first candidate (upstream's "latest start time" tie-break needs start times kbench lacks).

Simplification: "fits" is NodeResourcesFit's check (pod count, cpu, memory, ephemeral storage,
scalar resources) plus the per-GPU share check of GPU pods (enough GPUs of the right model with
``gpu_milli`` free), not a re-run of every Filter plugin; a node that failed only for another reason
(e.g. PodTopologySpread) therefore yields no victims. The chosen node is returned as the nominated
node and its victims are left in ``state["victims"]`` (a list of pods) for the framework to evict.
The dry run is a Python loop over candidate nodes and their pods (preemption is rare).
"""

from __future__ import annotations

import numpy as np

from kbench.errors import PolicyError
from kbench.policy.api import Code, Status
from policies.resourceargs import NATIVE, check_keys, int_field, is_scalar

NAME = "DefaultPreemption"
_OFFSET = 2**31  # upstream adds MaxInt32 + 1 so negative priorities sum correctly


def _pod_fit_request(pod) -> dict[str, float]:
    reqs = pod.requests()
    return {k: v for k, v in reqs.items() if v > 0 and (k in NATIVE or is_scalar(k))}


def resolvable_rows(statuses, nodes) -> list[int]:
    """Rows whose status is UNSCHEDULABLE. ``statuses``: dict row (or node name) → Status or code."""
    out = set()
    for key, st in (statuses or {}).items():
        row = nodes.index.get(key) if isinstance(key, str) else int(key)
        if row is not None and 0 <= row < nodes.n and int(getattr(st, "code", st)) == int(Code.UNSCHEDULABLE):
            out.add(row)
    return sorted(out)


class DefaultPreemption:
    """PostFilter: nominate a node where evicting lower-priority pods lets the pod fit (simplified)."""

    NAME = NAME
    DESCRIPTION = "Preemption: evict the least important lower-priority pods on the best node (simplified)"

    def __init__(self, args: dict | None = None, handle=None):
        args = {} if args is None else args
        check_keys(args, ("minCandidateNodesPercentage", "minCandidateNodesAbsolute"), "args",
                   "DefaultPreemptionArgs")
        self.handle = handle
        self.pct = int_field(args.get("minCandidateNodesPercentage", 10), "args.minCandidateNodesPercentage")
        self.abs = int_field(args.get("minCandidateNodesAbsolute", 100), "args.minCandidateNodesAbsolute")
        if not 0 <= self.pct <= 100:
            raise PolicyError(f"not in valid range [0, 100], got {self.pct}", where="args.minCandidateNodesPercentage")
        if self.abs < 0:
            raise PolicyError(f"not in valid range [0, inf), got {self.abs}", where="args.minCandidateNodesAbsolute")
        if self.pct == 0 and self.abs == 0:
            raise PolicyError("numerator and denominator cannot both be zero",
                              where="args.minCandidateNodesPercentage")

    def num_candidates(self, n: int) -> int:
        """Upstream ``calculateNumCandidates``: max(n * pct / 100, abs), at most n."""
        k = n * self.pct // 100
        return min(max(k, self.abs), n)

    # -- fit on one node ------------------------------------------------------------------------

    def _fits(self, pod, request: dict, nodes, row: int, removed: list) -> bool:
        if nodes.pod_count[row] - len(removed) + 1 > nodes.allocatable_of("pods")[row]:
            return False
        for name, qty in request.items():
            freed = sum(p.requests().get(name, 0.0) for p in removed)
            if qty > nodes.allocatable_of(name)[row] - (nodes.requested_of(name)[row] - freed):
                return False
        if pod.gpu_count > 0:
            if pod.gpu_model is not None and nodes.gpu_model[row] != pod.gpu_model:
                return False
            g = int(nodes.gpu_count[row])
            free = nodes.gpu_free_milli[row, :g].astype(np.int64)
            bound, held = nodes.pods[row], nodes.pod_gpus[row]
            for p in removed:
                pos = next(i for i, q in enumerate(bound) if q is p)
                for j in held[pos]:
                    free[j] += p.gpu_milli
            if int((free >= pod.gpu_milli).sum()) < pod.gpu_count:
                return False
        return True

    def select_victims(self, pod, nodes, row: int) -> list | None:
        """Upstream ``SelectVictimsOnNode`` (simplified fit): victims most important first, or None."""
        bound = nodes.pods[row]
        lower = [p for p in bound if p.priority < pod.priority]
        if not lower:
            return None
        request = _pod_fit_request(pod)
        if not self._fits(pod, request, nodes, row, lower):
            return None
        order = sorted(range(len(bound)), key=lambda i: (-bound[i].priority, i))
        removed = list(lower)
        victims = []
        for i in order:
            p = bound[i]
            if p.priority >= pod.priority:
                continue
            removed.remove(p)
            if not self._fits(pod, request, nodes, row, removed):
                removed.append(p)
                victims.append(p)
        return victims or None

    # -- the extension point --------------------------------------------------------------------

    def post_filter(self, state, pod, nodes, statuses) -> tuple[Status, str | None]:
        """Nominate a node and leave its victims in ``state["victims"]``; UNSCHEDULABLE when none."""
        if getattr(pod, "preemption_policy", None) == "Never":
            return Status.unschedulable("not eligible due to preemptionPolicy=Never."), None
        potential = resolvable_rows(statuses, nodes)
        if not potential:
            return Status.unschedulable(f"0/{nodes.n} nodes are available: "
                                        "Preemption is not helpful for scheduling."), None
        rng = getattr(self.handle, "rng", None)
        offset = int(rng.integers(len(potential))) if rng is not None else 0
        want = self.num_candidates(len(potential))
        found: list[tuple[int, list]] = []
        for k in range(len(potential)):
            row = potential[(offset + k) % len(potential)]
            victims = self.select_victims(pod, nodes, row)
            if victims:
                found.append((row, victims))
                if len(found) >= want:
                    break
        if not found:
            return Status.unschedulable("No preemption victims found for incoming pod"), None
        row, victims = min(found, key=lambda rv: (max(p.priority for p in rv[1]),
                                                  sum(p.priority + _OFFSET for p in rv[1]), len(rv[1])))
        state["victims"] = victims
        return Status.success(), nodes.names[row]


PLUGINS = [DefaultPreemption]
