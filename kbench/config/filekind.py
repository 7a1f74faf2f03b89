"""What kind of file a user gave, and how to use it with kbench when it was given in the wrong place.

``kbench run`` takes three kinds of YAML: a kbench scenario (``SCENARIO``), a cluster dump
(``--cluster``: ``kubectl get nodes,pods -A -o yaml``) and Kubernetes manifests (``--apply``:
Deployments, Jobs, DaemonSets, StatefulSets, Services, Namespaces, Pods). Users also hold
ClusterLoader2 test configs, scheduler_perf configs and KubeSchedulerConfigurations. When a file
reaches the wrong place, :func:`misplaced` gives the one-line message that says what the file is
and where it goes (the CLI prints it and exits 2).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

APPLY_KINDS = ("Namespace", "Service", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "Pod")
"""Kinds ``--apply`` creates or reads (ReplicaSets only to skip those a Deployment in the file owns)."""
_CL2_KEYS = ("steps", "tuningSets")
_SCENARIO_KEYS = ("version", "cluster", "workload", "ops", "workload_spec", "apiserver", "etcd", "scheduler",
                  "sync", "duration_s", "faults")


def _objects(docs: list) -> list[dict]:
    """Kubernetes objects of ``docs``, ``kind: List`` items opened."""
    out = []
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc:
            continue
        if str(doc.get("kind")).endswith("List") and isinstance(doc.get("items"), list):
            out += [x for x in doc["items"] if isinstance(x, dict)]
        else:
            out.append(doc)
    return out


def classify(docs: list) -> str:
    """The kind of a file from its YAML documents.

    Returns:
        ``scenario``, ``perf-config`` (scheduler_perf), ``cl2-config`` (ClusterLoader2),
        ``scheduler-config`` (KubeSchedulerConfiguration), ``dump`` (has Node objects),
        ``pods-dump`` (only Pods, some bound to nodes: ``kubectl get pods -o yaml``), ``manifests``
        (only kinds ``--apply`` knows), ``kubernetes`` (other Kubernetes objects),
        or ``unknown``.
    """
    docs = [d for d in docs if d is not None]
    if len(docs) == 1 and isinstance(docs[0], list):
        items = docs[0]
        if items and all(isinstance(x, dict) and "workloadTemplate" in x for x in items):
            return "perf-config"
        return "unknown"
    if len(docs) == 1 and isinstance(docs[0], dict) and "kind" not in docs[0]:
        d = docs[0]
        if any(k in d for k in _CL2_KEYS) and "workload" not in d:
            return "cl2-config"
        return "scenario" if any(k in d for k in _SCENARIO_KEYS) else "unknown"
    objs = _objects(docs)
    if not objs:
        return "unknown"
    kinds = {str(o.get("kind")) for o in objs}
    if "KubeSchedulerConfiguration" in kinds:
        return "scheduler-config"
    if "Node" in kinds:
        return "dump"
    if kinds == {"Pod"} and any((o.get("spec") or {}).get("nodeName") for o in objs if isinstance(o.get("spec"), dict)):
        return "pods-dump"
    if kinds <= set(APPLY_KINDS):
        return "manifests"
    return "kubernetes"


def summary(docs: list, limit: int = 3) -> str:
    """``Deployment web, Job pi and 2 more`` for the objects of ``docs``."""
    objs = _objects(docs)
    names = [f"{o.get('kind')} {(o.get('metadata') or {}).get('name', '?')}" for o in objs
             if isinstance(o.get("metadata") or {}, dict)]
    text = ", ".join(names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def counts(docs: list) -> str:
    """``3 Nodes, 5 Pods`` for the objects of ``docs``."""
    c = Counter(str(o.get("kind")) for o in _objects(docs))
    return ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(c.items()))


def read_docs(path: str | Path) -> list | None:
    """The YAML documents of ``path``, or None when it cannot be read as YAML."""
    try:
        return list(yaml.safe_load_all(Path(path).read_text()))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def misplaced(docs: list, used_as: str) -> str | None:
    """The message for a file of the wrong kind, or None when ``docs`` fit ``used_as``.

    Args:
        docs: The file's YAML documents.
        used_as: ``scenario`` (``kbench run SCENARIO``), ``cluster`` (``--cluster``) or ``apply``
            (``--apply``).
    """
    kind = classify(docs)
    fits = {"scenario": ("scenario", "unknown"), "cluster": ("dump",), "apply": ("manifests", "kubernetes")}
    if kind in fits[used_as]:
        return None
    if kind == "cl2-config":
        return ("a ClusterLoader2 test config (steps, tuningSets), which kbench does not run: `kbench run "
                "workloads/cl2-load.yaml` models CL2's load test, and the objects its templates create can be "
                "given to `kbench run --cluster DUMP.yaml --apply FILE`")
    if kind == "perf-config":
        return "a scheduler_perf config: run it as `kbench run FILE --case NAME --workload NAME`"
    if kind == "scheduler-config":
        return "a KubeSchedulerConfiguration: give it as `kbench run SCENARIO --policy FILE`"
    if kind == "scenario":
        return "a kbench scenario, not Kubernetes objects: run it as `kbench run FILE`"
    if kind == "dump":
        what = f"a kubectl dump ({counts(docs)})"
        if used_as == "scenario":
            return f"{what}, not a kbench scenario: run it as `kbench run --cluster FILE` (add --apply MANIFESTS.yaml)"
        return (f"{what}: give it to --cluster; --apply takes manifests of "
                f"{', '.join(k for k in APPLY_KINDS if k != 'ReplicaSet')}")
    if kind == "pods-dump":
        what = f"a dump of pods bound to nodes ({counts(docs)}) without the nodes"
        return (f"{what}: --cluster takes the nodes and their pods in one file (`kubectl get nodes,pods -A -o yaml`); "
                "--apply takes manifests of pods not yet bound")
    if kind in ("manifests", "kubernetes"):
        objs = _objects(docs)
        what = ("a Kubernetes Pod manifest" if len(objs) == 1 and objs[0].get("kind") == "Pod"
                else f"Kubernetes manifests ({summary(docs)})")
        if used_as == "cluster":
            return (f"{what} and no Node: give them to --apply; --cluster takes `kubectl get nodes,pods -A -o yaml` "
                    "output")
        if what.endswith("Pod manifest"):
            return (f"{what}, not a kbench scenario: create it with `kbench run --cluster DUMP.yaml --apply FILE`, "
                    "or see where it would go with `kbench explain --snapshot DUMP.yaml --pod FILE`")
        return f"{what}, not a kbench scenario: create them with `kbench run --cluster DUMP.yaml --apply FILE`"
    if used_as == "cluster":
        return "no Node objects: --cluster takes `kubectl get nodes,pods -A -o yaml` output"
    return "no Kubernetes objects: --apply takes manifests as `kubectl apply -f` does"
