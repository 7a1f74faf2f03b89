"""The summary's blocks for a run with kubectl inputs (``kbench run --cluster`` / ``--apply``).

* ``inputs``: what was read (``cluster``: the dump's file, nodes, existing pods, by node, and the
  pods left out by reason; ``apply``: the files; ``applied_objects``: objects created by kind).
* ``applied``: one row per applied object, read from etcd at the end of the run: its status as its
  controller last wrote it and the live pods it owns (through its ReplicaSets for a Deployment) with
  the nodes they are on; a Service's EndpointSlices and their endpoints.
* ``cluster_nodes`` (with a dump): per node of the dump, the pods on it at the end (existing ones
  apart) and the CPU and memory its scheduler's cache holds as requested (existing load included)
  against its allocatable.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kbench.workload.apps import PodsByOwner

_RESOURCE = {"Deployment": "deployments", "Job": "jobs", "DaemonSet": "daemonsets", "StatefulSet": "statefulsets",
             "Service": "services", "Namespace": "namespaces", "Pod": "pods"}


def _pods(world) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Counter]]:
    """Live pods by top-level owner (``(kind, ns/name)``: count, running, nodes) and by node."""
    by_owner: dict[tuple[str, str], dict[str, Any]] = {}
    by_node: dict[str, Counter] = {}
    existing = world.existing_uids
    for pod in world.plane.etcd.values("pods").values():
        if pod is None or pod.finished:
            continue
        if pod.node_name is not None:
            c = by_node.setdefault(pod.node_name, Counter())
            c["pods"] += 1
            c["existing"] += pod.uid in existing
        top = PodsByOwner.top(pod.owner) if pod.owner else None
        if top is None:
            continue
        row = by_owner.setdefault(top, {"pods": 0, "running": 0, "nodes": Counter()})
        row["pods"] += 1
        row["running"] += pod.phase == "Running"
        if pod.node_name is not None:
            row["nodes"][pod.node_name] += 1
    return by_owner, by_node


def _row(world, kind: str, ns: str, name: str, owned: dict) -> dict[str, Any]:
    key = name if kind == "Namespace" else f"{ns}/{name}"
    etcd = world.plane.etcd
    cur = etcd.values(_RESOURCE[kind]).get(key) if kind != "Pod" else None
    row: dict[str, Any] = {"kind": kind, "namespace": "" if kind == "Namespace" else ns, "name": name}
    if kind == "Pod":  # a bare pod of the group <name>: <name>-0
        pod = etcd.values("pods").get(f"{ns}/{name}-0")
        row.update(present=pod is not None, phase=getattr(pod, "phase", None), node=getattr(pod, "node_name", None))
        return row
    row["present"] = cur is not None
    if cur is None:
        return row
    data = cur.data
    mine = owned.get((kind.lower(), key), {"pods": 0, "running": 0, "nodes": Counter()})
    if kind == "Deployment":
        st = data.get("status") or {}
        row.update(replicas=data["spec"].replicas, ready=st.get("ready", 0), available=st.get("available", 0),
                   updated=st.get("updated", 0))
    elif kind == "Job":
        spec = data["spec"]
        row.update(completions=spec.completions, parallelism=spec.parallelism, succeeded=data.get("succeeded", 0),
                   failed=data.get("failed", 0), active=data.get("active", 0), complete=bool(data.get("complete")))
    elif kind == "DaemonSet":
        st = data.get("status") or (0, 0, 0, 0, 0, 0, 0)
        row.update(desired=st[0], current=st[1], ready=st[2], available=st[3], updated=st[4])
    elif kind == "StatefulSet":
        st = data.get("status") or (0, 0, 0, 0, 0)
        row.update(replicas=data["spec"].replicas, ready=st[1], updated=st[3])
    elif kind == "Service":
        slices = [v for v in etcd.values("endpointslices").values()
                  if v is not None and v.data.get("service") == key]
        eps = sorted(e for v in slices for e in v.data.get("endpoints", ()))
        row.update(selector=dict(data.get("selector") or {}), endpointslices=len(slices), endpoints=len(eps),
                   endpoint_pods=[e.partition("/")[2] for e in eps[:100]])
        return row
    elif kind == "Namespace":
        row["phase"] = data.get("phase")
        return row
    row.update(pods=mine["pods"], running=mine["running"], nodes=dict(sorted(mine["nodes"].items())))
    return row


def inputs_summary(world, scheduler: Any = None) -> dict[str, Any]:
    """The ``inputs``, ``applied`` and ``cluster_nodes`` blocks (see the module docstring)."""
    inputs = world.inputs
    owned, by_node = _pods(world)
    out: dict[str, Any] = {"inputs": inputs.info}
    if inputs.applied:
        out["applied"] = [_row(world, kind, ns, name, owned) for kind, ns, name in inputs.applied]
    if inputs.nodes:
        table = getattr(scheduler, "nodes", None)
        rows = []
        for node in inputs.nodes:
            c = by_node.get(node.name, Counter())
            row = {"node": node.name, "pods": int(c["pods"]), "existing_pods": int(c["existing"]),
                   "cpu_allocatable_cores": node.allocatable.get("cpu", 0.0) / 1000.0,
                   "memory_allocatable_bytes": node.allocatable.get("memory", 0.0)}
            if table is not None and node.name in table.index:
                i = table.index[node.name]
                row["cpu_requested_cores"] = round(float(table.requested_of("cpu")[i]) / 1000.0, 6)
                row["memory_requested_bytes"] = float(table.requested_of("memory")[i])
            rows.append(row)
        out["cluster_nodes"] = rows
    return out
