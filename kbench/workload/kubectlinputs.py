"""A scenario's kubectl inputs (``cluster.dump``, ``workload.apply``; ``kbench run --cluster`` /
``--apply``) read into what the runner builds: the dump's nodes and existing pods
(:mod:`kbench.workload.clusterdump`), the manifests' objects as workload specs
(:mod:`kbench.workload.apply`), the namespaces that exist at 0 s, and the notes of what was left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kbench.cluster.objects import Node
from kbench.config.params import resolve_path
from kbench.workload.apply import Applied, read_manifests
from kbench.workload.clusterdump import LEFT_OUT, ClusterDump, ExistingPod, read_dump
from kbench.workload.inputnotes import Notes


@dataclass
class KubectlInputs:
    """What :func:`load_inputs` read.

    Attributes:
        scenario: The scenario with the applied objects added to its workload.
        nodes: The dump's nodes.
        existing: The dump's existing load (pods of applied objects taken out).
        namespaces: Namespaces that exist at 0 s besides ``default``, with their labels.
        namespace_labels: Labels of those and of the Namespaces the files create (the scheduler's
            namespace lister).
        applied: ``(kind, namespace, name)`` of every applied object.
        notes: What was left out, one line each (the run's ``ignored`` list).
        info: The summary's ``inputs`` block.
    """

    scenario: Any
    nodes: list[Node] = field(default_factory=list)
    existing: list[ExistingPod] = field(default_factory=list)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    applied: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def load_inputs(scenario) -> KubectlInputs | None:
    """Read the scenario's ``cluster.dump`` and ``workload.apply`` files (None when it has neither).

    Raises:
        ConfigError: A missing file, a file of another kind, a malformed object (one line naming
            the file and field).
    """
    wl = scenario.workload
    if not scenario.cluster.dump and not wl.apply:
        return None
    base = (wl.params or {}).get("scenario_dir")
    notes = Notes()
    dump = ClusterDump()
    info: dict[str, Any] = {}
    dump_name = Path(scenario.cluster.dump).name
    if scenario.cluster.dump:
        dump = read_dump(resolve_path(scenario.cluster.dump, base, where="cluster.dump"), notes)
    entries = [(e, resolve_path(e.file, base, where=f"workload.apply[{i}].file")) for i, e in enumerate(wl.apply)]
    applied = read_manifests(entries, notes)
    owners = {key for key in applied.objects if key[0] in ("Deployment", "Job", "DaemonSet", "StatefulSet")}
    existing = []
    for e in dump.pods:
        if e.top_owner in owners:
            dump.left_out["replaced_by_apply"] += 1
            notes.add(dump_name, "existing pods of objects given to --apply are left out (the applied "
                                       "objects make their own)", f"{e.top_owner[0]} {e.top_owner[1]}/{e.top_owner[2]}")
        else:
            existing.append(e)
    owned = Counter(e.top_owner[0] for e in existing if e.top_owner is not None)
    if owned:
        kinds = ", ".join(f"{n} of {k}s" for k, n in sorted(owned.items()))
        notes.add(dump_name, f"the controllers of existing pods are not in the run ({kinds}): the pods stay as load, "
                             "nothing scales, rolls or replaces them (give their objects to --apply to run them)")
    namespaces = {k: v for k, v in dump.namespaces.items() if k != "default"}
    created = {s.name for s in applied.namespaces}
    for kind, ns, name in applied.objects:
        if kind != "Namespace" and ns != "default" and ns not in namespaces and ns not in created:
            namespaces[ns] = {}
            notes.add(Path(entries[0][1]).name, f"namespace {ns} is in neither the dump nor the files: it is "
                                                "taken to exist from 0 s", f"{kind} {ns}/{name}")
    if scenario.cluster.dump:
        by_node = Counter(e.pod.node_name for e in existing)
        info["cluster"] = {"file": Path(scenario.cluster.dump).name, "nodes": len(dump.nodes),
                           "existing_pods": len(existing),
                           "existing_pods_running": sum(e.phase == "Running" for e in existing),
                           "existing_pods_by_node": {n.name: by_node.get(n.name, 0) for n in dump.nodes},
                           "left_out": {k: int(dump.left_out[k]) for k in LEFT_OUT}}
    if wl.apply:
        info["apply"] = [{"file": Path(e.file).name, "at_s": e.at_s} for e in wl.apply]
        info["applied_objects"] = dict(Counter(kind for kind, _ns, _name in applied.objects))
    return KubectlInputs(_merged(scenario, applied), dump.nodes, existing, namespaces,
                         {**namespaces, **applied.namespace_labels}, list(applied.objects), notes.lines(), info)


def _merged(scenario, a: Applied):
    wl = scenario.workload
    new = replace(wl, apply=[], namespaces=wl.namespaces + a.namespaces, services=wl.services + a.services,
                  deployments=wl.deployments + a.deployments, jobs=wl.jobs + a.jobs,
                  daemonsets=wl.daemonsets + a.daemonsets, statefulsets=wl.statefulsets + a.statefulsets,
                  pods=wl.pods + a.pods)
    return replace(scenario, workload=new)
