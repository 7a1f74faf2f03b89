"""Why a pod goes where it goes: every node's filter verdicts and scores for one pod.

:func:`explain` returns exactly the shape scripts rely on (``kbench explain -o json``)::

    {"selected": "node1",
     "nodes": {"node1": {"feasible": true,
                         "filters": {"NodeResourcesFit": "Success"},
                         "scores": {"NodeResourcesFit": 37, "NodeResourcesBalancedAllocation": null},
                         "total": 37}}}

* nodes are listed by name; every node is filtered and every feasible node scored
  (``percentageOfNodesToScore`` does not apply);
* ``filters`` holds each filter that looked at the node, in profile order: ``"Success"``, or for
  an infeasible node the reason of the first filter that rejected it (later filters are not run);
  a filter that skipped the pod at PreFilter (nothing to check) is not listed;
* ``scores`` are each Score plugin's normalized score before its weight; ``null`` means the
  plugin skipped the pod (e.g. NodeResourcesBalancedAllocation for a best-effort pod); an
  infeasible node has ``"scores": {}`` and ``"total": null``;
* ``total`` is the weighted sum (E1); ``selected`` is the chosen node (ties broken by the policy's
  seeded rule), or ``null`` when nothing fits.

The cluster is not changed (no Reserve/Permit, no assume).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kbench.cluster.objects import NodeTable, Pod
from kbench.policy.framework import Framework, ScheduleResult
from kbench.policy.profile import Profile
from kbench.policy.registry import Registry
from kbench.policy.resolve import resolve_policy
from kbench.policy.snapshot import load_pod, load_snapshot_table


@dataclass
class Explanation:
    """Everything the CLI shows: the JSON dict plus context for the table."""

    data: dict
    result: ScheduleResult
    framework: Framework
    nodes: NodeTable
    pod: Pod


def explain_table(framework: Framework, nodes: NodeTable, pod: Pod) -> Explanation:
    """Explain ``pod`` against ``nodes`` with an already built framework (nodes are not changed)."""
    result = framework.schedule(pod, nodes, assume=False, evaluate_all=True)
    out: dict[str, dict] = {}
    for idx in sorted(range(nodes.n), key=lambda i: nodes.names[i]):
        filters = {name: str(arr[idx]) for name, arr in result.filter_reasons.items() if arr[idx] is not None}
        feasible = bool(result.feasible[idx])
        scores: dict[str, int | None] = {}
        if feasible:
            for name, arr in result.scores.items():
                scores[name] = None if arr is None else int(arr[idx])
        out[nodes.names[idx]] = {"feasible": feasible, "filters": filters, "scores": scores,
                                 "total": int(result.total[idx]) if feasible else None}
    return Explanation({"selected": result.node, "nodes": out}, result, framework, nodes, pod)


def explain_full(policy: str | Profile, snapshot_path: str | Path, pod_path: str | Path, *,
                 seed: int = 0, registry: Registry | None = None) -> Explanation:
    """Like :func:`explain`, returning the :class:`Explanation` (for the table view)."""
    if isinstance(policy, str):
        profile, registry = resolve_policy(policy, registry)
    else:
        profile = policy
    nodes = load_snapshot_table(snapshot_path)
    pod = load_pod(pod_path)
    framework = Framework(profile, seed, registry=registry)
    return explain_table(framework, nodes, pod)


def explain(policy: str | Profile, snapshot_path: str | Path, pod_path: str | Path, *,
            seed: int = 0, registry: Registry | None = None) -> dict:
    """Filter verdicts and scores of every node of a snapshot for one pod.

    Args:
        policy: A policy name (``default``, ``fgd``, ...), a policy file, or a Profile.
        snapshot_path: ``kubectl get nodes,pods -o yaml`` output.
        pod_path: A Pod manifest.
        seed: Seed of the policy's random stream (tie-breaks).
        registry: Resolves names (default: the default registry).

    Returns:
        The dict described in the module docstring.

    Raises:
        KbenchError: Unknown policy, bad file, or a plugin that raised (PolicyError).
    """
    return explain_full(policy, snapshot_path, pod_path, seed=seed, registry=registry).data
