"""Kubernetes manifests as a workload: Pods, Deployments, ReplicaSets, StatefulSets and Jobs.

A multi-document YAML (or JSON) file as ``kubectl apply -f`` takes it; ``kind: List`` objects are
opened, other kinds (Services, ConfigMaps, ...) are ignored. Every object becomes pods that all
arrive at 0 s, in document order:

* Pod: one pod;
* Deployment, ReplicaSet, StatefulSet: ``spec.replicas`` (default 1) pods from
  ``spec.template``, named ``<name>-<i>``;
* Job: ``spec.completions`` pods (default: ``spec.parallelism``, else 1), named ``<name>-<i>``.

Requests, GPUs (``nvidia.com/gpu`` or the ``alibabacloud.com/gpu-milli`` annotations) and priority
are read as for cluster snapshots (:mod:`kbench.policy.snapshot`); ``owner`` is ``Kind/name`` of the
workload object, ``app`` the ``app`` (or ``app.kubernetes.io/name``) label, ``qos`` the Kubernetes
QoS class the pod would get (Guaranteed, Burstable, BestEffort). A run time can be given with the
``kbench/duration-s`` annotation (seconds) on the object or its pod template; without it pods run
until deleted (``duration_s`` NaN). Errors name the line where the bad document starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from kbench.errors import KbenchError
from kbench.policy.snapshot import parse_pod
from kbench.quantity import parse_quantity
from kbench.workload.traces.common import Trace, line_error, pods_table, read_text

DURATION_ANNOTATION = "kbench/duration-s"
"""Annotation giving a pod's run time in seconds."""
_REPLICATED = ("Deployment", "ReplicaSet", "StatefulSet")


def _documents(path, text: str) -> list[tuple[int, object]]:
    """``(first line, object)`` for every YAML document."""
    out = []
    loader = None
    try:
        loader = yaml.SafeLoader(text)
        while loader.check_node():
            node = loader.get_node()
            out.append((node.start_mark.line + 1, loader.construct_document(node)))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        if mark is not None:
            line = mark.line + 1
        else:
            line = text.count("\n", 0, max(0, getattr(e, "position", 0))) + 1
        problem = getattr(e, "problem", None) or str(e).split("\n", 1)[0]
        raise line_error(path, line, f"expected Kubernetes manifests in YAML: {problem}") from None
    except (ValueError, TypeError, RecursionError) as e:
        raise line_error(path, 1, f"expected Kubernetes manifests in YAML: {e}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return out


def _qos(pod_spec: dict) -> str:
    """The QoS class of a pod spec (upstream ``GetPodQOS``; requests default to limits).

    Raises:
        ConfigError: A quantity is malformed.
    """
    requests = {"cpu": 0.0, "memory": 0.0}
    limits = {"cpu": 0.0, "memory": 0.0}
    guaranteed = True
    for c in [*(pod_spec.get("containers") or []), *(pod_spec.get("initContainers") or [])]:
        res = c.get("resources") if isinstance(c, dict) and isinstance(c.get("resources"), dict) else {}
        lim = res.get("limits") if isinstance(res.get("limits"), dict) else {}
        req = {**lim, **(res.get("requests") if isinstance(res.get("requests"), dict) else {})}
        found = set()
        for r in ("cpu", "memory"):
            if r in req:
                requests[r] += parse_quantity(req[r], where=f"resources.requests.{r}")
            if r in lim and parse_quantity(lim[r], where=f"resources.limits.{r}"):
                limits[r] += parse_quantity(lim[r], where=f"resources.limits.{r}")
                found.add(r)
        guaranteed &= found == {"cpu", "memory"}
    if not any(requests.values()) and not any(limits.values()):
        return "BestEffort"
    return "Guaranteed" if guaranteed and requests == limits else "Burstable"


def _expand(path, line: int, obj: dict) -> list[dict]:
    """The pod rows one workload object stands for."""
    kind = obj.get("kind")
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = str(meta.get("name") or "")
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    if not name:
        raise line_error(path, line, f"expected metadata.name in the {kind}")
    if kind == "Pod":
        template, count = {"metadata": meta, "spec": spec}, 1
    else:
        template = spec.get("template")
        if not isinstance(template, dict):
            raise line_error(path, line, f"expected spec.template in the {kind} {name!r}")
        if kind in _REPLICATED:
            count = spec.get("replicas", 1)
        else:
            count = spec.get("completions", spec.get("parallelism", 1))
        count = 1 if count is None else count
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise line_error(path, line, f"expected a whole number >= 0 of pods in the {kind} {name!r}, "
                                         f"got {count!r}")
    t_meta = template.get("metadata") if isinstance(template.get("metadata"), dict) else {}
    t_spec = template.get("spec") if isinstance(template.get("spec"), dict) else {}
    try:
        annotations = {**(meta.get("annotations") or {}), **(t_meta.get("annotations") or {})}
        pod = parse_pod({"metadata": {**t_meta, "name": name}, "spec": t_spec})
        requests, qos = pod.requests(), _qos(t_spec)
        duration = float(annotations[DURATION_ANNOTATION]) if DURATION_ANNOTATION in annotations else np.nan
    except KbenchError as e:
        raise line_error(path, line, f"expected a valid pod template in the {kind} {name!r}: "
                                     f"{e.one_line()}") from None
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        raise line_error(path, line, f"expected a valid pod template in the {kind} {name!r}: {e}") from None
    if not duration >= 0 and not np.isnan(duration):
        raise line_error(path, line, f"expected {DURATION_ANNOTATION} >= 0 (seconds), got {duration!r}")
    row = {"arrival_s": 0.0, "duration_s": duration, "cpu_milli": requests.get("cpu", 0.0),
           "memory_bytes": requests.get("memory", 0.0), "gpu_count": pod.gpu_count, "gpu_milli": pod.gpu_milli,
           "gpu_model": pod.gpu_model or "", "priority": pod.priority, "qos": qos,
           "owner": "" if kind == "Pod" else f"{kind}/{name}",
           "app": pod.labels.get("app") or pod.labels.get("app.kubernetes.io/name", "")}
    if kind == "Pod":
        return [{**row, "name": name}]
    return [{**row, "name": f"{name}-{i}"} for i in range(count)]


def load(path: str | Path, *, skip_bad_rows: bool = False) -> Trace:
    """Read Kubernetes manifests into the pods table.

    Args:
        path: The YAML (or JSON) file.
        skip_bad_rows: Skip and count malformed workload objects instead of raising (a YAML syntax
            error is never skipped).

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    rows: list[dict] = []
    bad = 0
    pending = list(reversed(_documents(path, read_text(path))))
    while pending:
        line, obj = pending.pop()
        if obj is None:
            continue
        try:
            if not isinstance(obj, dict):
                raise line_error(path, line, f"expected a Kubernetes object (a mapping), got {type(obj).__name__}")
            kind = obj.get("kind")
            if kind == "List":
                items = obj.get("items")
                if not isinstance(items, list):
                    raise line_error(path, line, "expected items in the List")
                pending.extend((line, item) for item in reversed(items))
            elif kind == "Pod" or kind in _REPLICATED or kind == "Job":
                rows.extend(_expand(path, line, obj))
        except KbenchError:
            if not skip_bad_rows:
                raise
            bad += 1
    data = {c: [r[c] for r in rows] for c in (rows[0] if rows else {})}
    return Trace("k8s-manifests", str(path), pods_table(data, len(rows)), None, None, bad)
