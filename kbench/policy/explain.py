"""Why a pod goes where it goes: every node's filter verdicts and scores for one pod.

:func:`explain` returns exactly the shape scripts rely on (``kbench explain -o json``)::

    {"selected": "node1",
     "nodes": {"node1": {"feasible": true,
                         "filters": {"NodeResourcesFit": "Success"},
                         "statuses": {"NodeResourcesFit": {"code": "Success", "reasons": []},
                                      "NodePorts": {"code": "Skip", "reasons": []}},
                         "scores": {"NodeResourcesFit": 37, "NodeResourcesBalancedAllocation": null},
                         "total": 37}},
     "prefilter": {"NodePorts": {"code": "Skip", "reasons": []}},
     "prescore": {"NodeAffinity": {"code": "Skip", "reasons": []}},
     "status": {"code": "Success", "reasons": []}, "preenqueue": {},
     "profile": "default-scheduler", "notes": []}

* nodes are listed by name; every node is filtered and every feasible node scored
  (``percentageOfNodesToScore`` does not apply). With ``score_nodes`` only those nodes are filtered,
  scored and listed (upstream tests' "nodes"); every node of the snapshot still counts in PreFilter
  and PreScore (topology, affinity: upstream's "failedNodes");
* ``filters`` holds each filter that looked at the node, in profile order: ``"Success"``, or for
  an infeasible node the reason of the first filter that rejected it (later filters are not run);
  a filter that skipped the pod at PreFilter (nothing to check) is not listed;
* ``statuses`` holds the same verdicts as ``{"code", "reasons"}`` with upstream's code names
  (``Success``, ``Unschedulable``, ``UnschedulableAndUnresolvable``, ``Error``), plus ``Skip`` for
  filters skipped at PreFilter;
* ``scores`` are each Score plugin's normalized score before its weight; ``null`` means the
  plugin skipped the pod (e.g. NodeResourcesBalancedAllocation for a best-effort pod); an
  infeasible node has ``"scores": {}`` and ``"total": null``;
* ``total`` is the weighted sum (E1); ``selected`` is the chosen node (ties broken by the policy's
  seeded rule), or ``null`` when nothing fits;
* ``prefilter`` / ``prescore``: the PreFilter and PreScore statuses that were not Success (Skip,
  a rejection, an error); ``preenqueue``: a PreEnqueue rejection (a pod with scheduling gates: it
  would not be scheduled, ``selected`` is null; the nodes show the verdicts it would get without the
  gates); ``status``: the attempt's outcome (``0/N nodes are available: ...``);
  ``profile``: the schedulerName whose profile ran; ``notes``: what the snapshot or configuration
  left out.

The cluster is not changed (no Reserve/Permit, no assume).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kbench.cluster.objects import NodeTable, Pod
from kbench.config.features import FeatureGates
from kbench.errors import KbenchError
from kbench.policy.api import Code, Handle, Status
from kbench.policy.batching import describe
from kbench.policy.framework import Framework, ScheduleResult
from kbench.policy.profile import Profile
from kbench.policy.registry import Registry
from kbench.policy.resolve import resolve_scheduler_config
from kbench.policy.snapshot import load_pod, load_snapshot_objects


@dataclass
class Explanation:
    """Everything the CLI shows: the JSON dict plus context for the table."""

    data: dict
    result: ScheduleResult
    framework: Framework
    nodes: NodeTable
    pod: Pod


def _status(st: Status) -> dict:
    return {"code": st.code.text, "reasons": list(st.reasons)}


def explain_table(framework: Framework, nodes: NodeTable, pod: Pod, only_rows: np.ndarray | None = None,
                  notes: list[str] | None = None) -> Explanation:
    """Explain ``pod`` against ``nodes`` with an already built framework (nodes are not changed).

    Args:
        framework: The profile's plugins (its handle carries the objects and feature gates).
        nodes: The cluster.
        pod: The pod to place.
        only_rows: Filter, score and list only these rows (see the module docstring).
        notes: Extra notes for the JSON (what the inputs left out).
    """
    gate = framework.pre_enqueue(pod)
    result = framework.schedule(pod, nodes, assume=False, evaluate_all=True, only_rows=only_rows)
    statuses = result.log.statuses() if result.log is not None else {}
    skipped = [n for n in framework.filters if n in result.pre_filter and result.pre_filter[n].is_skip]
    rows = range(nodes.n) if only_rows is None else [int(r) for r in only_rows]
    out: dict[str, dict] = {}
    for idx in sorted(rows, key=lambda i: nodes.names[i]):
        filters = {name: str(arr[idx]) for name, arr in result.filter_reasons.items() if arr[idx] is not None}
        per: dict[str, dict] = {}
        for name in framework.filters:
            if name in skipped:
                per[name] = {"code": "Skip", "reasons": []}
                continue
            got = statuses.get(name)
            if got is None or got[idx] is None:
                continue
            code, why = got[idx]
            per[name] = {"code": Code(code).text, "reasons": [why] if why else []}
        feasible = bool(result.feasible[idx])
        scores: dict[str, int | None] = {}
        if feasible:
            for name, arr in result.scores.items():
                scores[name] = None if arr is None else int(arr[idx])
        out[nodes.names[idx]] = {"feasible": feasible, "filters": filters, "statuses": per, "scores": scores,
                                 "total": int(result.total[idx]) if feasible else None}
    data = {"selected": result.node, "nodes": out,
            "prefilter": {n: _status(st) for n, st in result.pre_filter.items()},
            "prescore": {n: _status(st) for n, st in result.pre_score.items()},
            "status": _status(result.status), "profile": framework.profile.scheduler_name,
            "notes": list(notes or []) + list(framework.profile.notes),
            "preenqueue": {} if gate is None else {gate.plugin: _status(gate)}}
    if gate is not None:  # a gated pod never reaches a cycle: the nodes show what would happen without the gate
        data["selected"], data["status"] = None, _status(gate)
    return Explanation(data, result, framework, nodes, pod)


def explain_full(policy: str | Profile, snapshot_path: str | Path, pod_path: str | Path, *,
                 seed: int = 0, registry: Registry | None = None, score_nodes: list[str] | None = None,
                 feature_gates: FeatureGates | None = None) -> Explanation:
    """Like :func:`explain`, returning the :class:`Explanation` (for the table view).

    Raises:
        KbenchError: As :func:`explain`, plus unknown ``score_nodes`` or no profile for the pod's
            schedulerName.
    """
    gates = feature_gates if feature_gates is not None else FeatureGates()
    match_keys = gates["MatchLabelKeysInPodAffinity"]
    snap = load_snapshot_objects(snapshot_path, match_keys)
    pod = load_pod(pod_path, match_keys)
    if isinstance(policy, str):
        config, registry = resolve_scheduler_config(policy, registry)
        profiles = config.by_name()
        if len(config.profiles) == 1:
            profile = config.profiles[0]
        elif pod.scheduler_name in profiles:
            profile = profiles[pod.scheduler_name]
        else:
            raise KbenchError(f"no profile for the pod's schedulerName {pod.scheduler_name!r} "
                              f"(profiles: {sorted(profiles)})", source=policy)
    else:
        profile = policy
    only = None
    if score_nodes is not None:
        missing = [n for n in score_nodes if n not in snap.nodes.index]
        if missing:
            raise KbenchError(f"--score-nodes names nodes the snapshot does not hold: {', '.join(missing)}",
                              where="--score-nodes")
        only = np.array(sorted(snap.nodes.index[n] for n in dict.fromkeys(score_nodes)), dtype=np.int64)
    handle = Handle(objects=snap.objects, features=gates, profile=profile.name)
    framework = Framework(profile, seed, registry=registry, handle=handle)
    handle.rng = framework.rng
    notes = snap.notes + [f"ignored: {line}" for line in gates.ignored()]
    batching = describe(framework.batch, pod)
    if batching is not None:
        notes.append(batching)
    return explain_table(framework, snap.nodes, pod, only, notes)


def explain(policy: str | Profile, snapshot_path: str | Path, pod_path: str | Path, *,
            seed: int = 0, registry: Registry | None = None, score_nodes: list[str] | None = None,
            feature_gates: FeatureGates | None = None) -> dict:
    """Filter verdicts and scores of every node of a snapshot for one pod.

    Args:
        policy: A policy name (``default``, ``fgd``, ...), a policy file, or a Profile.
        snapshot_path: ``kubectl get nodes,pods -o yaml`` output.
        pod_path: A Pod manifest.
        seed: Seed of the policy's random stream (tie-breaks).
        registry: Resolves names (default: the default registry).
        score_nodes: Filter and score only these nodes (the others still count for topology).
        feature_gates: Gates in force (upstream defaults when None).

    Returns:
        The dict described in the module docstring.

    Raises:
        KbenchError: Unknown policy, bad file, or a plugin that raised (PolicyError).
    """
    return explain_full(policy, snapshot_path, pod_path, seed=seed, registry=registry, score_nodes=score_nodes,
                        feature_gates=feature_gates).data
