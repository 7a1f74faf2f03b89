"""Kubernetes API audit logs: ``audit.k8s.io/v1`` Event objects, one JSON object per line.

This is what the kube-apiserver's log backend writes (``--audit-log-path``, JSON format). Each
request is logged once per stage (``RequestReceived``, ``ResponseStarted``, ``ResponseComplete``,
``Panic``) under the same ``auditID``; a request is read from its ``ResponseComplete`` (or
``Panic``) event where the log has one, else from the first event seen.

Tables:

* ``requests``: one row per request, in the log's order: ``time_s`` (``requestReceivedTimestamp``
  in seconds after the earliest request of the file), ``verb``, ``resource`` (``pods``,
  ``pods/binding``, ...; the URI path for non-resource requests such as ``/healthz``),
  ``namespace``, ``name``, ``user`` (``user.username``), ``user_agent``, ``client`` (the user agent
  up to its first ``/``, e.g. ``kube-scheduler``; the user name when there is no user agent) and
  ``code`` (``responseStatus.code``, 0 when absent).
* ``pods``: every pod created (``create`` on ``pods`` that did not fail) or deleted (``delete`` on
  ``pods``) in the log. Arrival at its create (NaN if it was created before the log starts),
  deletion at its first successful delete, duration from its binding (``create`` on
  ``pods/binding``) or else its creation. Requests, GPUs, priority, owner and labels come from the
  pod in ``responseObject`` or ``requestObject`` when the audit level recorded one (levels
  ``Request`` / ``RequestResponse``); at level ``Metadata`` they are unknown and read as 0. ``app``
  is the pod's ``app`` (or ``app.kubernetes.io/name``) label, ``qos`` its ``status.qosClass``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from kbench.errors import KbenchError, TraceError
from kbench.policy.snapshot import parse_pod
from kbench.workload.traces.common import Trace, line_error, pods_table, read_text, requests_table

_FINAL = ("ResponseComplete", "Panic")
_FRACTION = re.compile(r"(\.\d{6})\d+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time(value: object) -> int | None:
    """An RFC 3339 timestamp as whole microseconds since the POSIX epoch, or None."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(microseconds=1)


def client_of(user_agent: str, user: str = "") -> str:
    """The client a user agent names: ``kube-scheduler/v1.29.0 (linux/amd64) ...`` -> ``kube-scheduler``."""
    name = user_agent.split("/", 1)[0].strip()
    return name or user


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _events(path, text: str, skip_bad_rows: bool) -> tuple[list[tuple[int, int, dict]], int]:
    """The chosen event of every request, as ``(line, time, event)``, and the bad-line count."""
    chosen: dict[str, int] = {}
    events: list[tuple[int, int, dict]] = []
    bad = 0
    for i, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        problem = None
        try:
            ev = json.loads(line)
        except (ValueError, RecursionError):
            ev, problem = None, f"expected a JSON audit Event per line, got {line[:80]!r}"
        if problem is None and (not isinstance(ev, dict) or ev.get("kind") != "Event"
                                or not str(ev.get("apiVersion", "")).startswith("audit.k8s.io/")):
            kind = ev.get("kind") if isinstance(ev, dict) else type(ev).__name__
            problem = f"expected an audit.k8s.io/v1 Event, got kind {kind!r}"
        if problem is None and not (isinstance(ev.get("verb"), str) and ev["verb"]):
            problem = f"expected a verb in every audit Event, got {ev.get('verb')!r}"
        t = None
        if problem is None:
            t = _time(ev.get("requestReceivedTimestamp") or ev.get("stageTimestamp"))
            if t is None:
                got = ev.get("requestReceivedTimestamp", ev.get("stageTimestamp"))
                problem = f"expected an RFC 3339 time in requestReceivedTimestamp, got {got!r}"
        if problem is not None:
            if not skip_bad_rows:
                raise line_error(path, i, problem)
            bad += 1
            continue
        audit_id = ev.get("auditID")
        if not isinstance(audit_id, str) or not audit_id:
            events.append((i, t, ev))
        elif audit_id not in chosen:
            chosen[audit_id] = len(events)
            events.append((i, t, ev))
        elif ev.get("stage") in _FINAL:
            j = chosen[audit_id]
            events[j] = (events[j][0], events[j][1], ev)
    return events, bad


def _pod_object(ev: dict) -> dict | None:
    for key in ("responseObject", "requestObject"):
        obj = ev.get(key)
        if isinstance(obj, dict) and obj.get("kind") == "Pod":
            return obj
    return None


def load(path: str | Path, *, skip_bad_rows: bool = False) -> Trace:
    """Read an audit log (JSON lines) into the ``requests`` and ``pods`` tables.

    Args:
        path: The log file.
        skip_bad_rows: Skip and count malformed lines instead of raising.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    events, bad = _events(path, read_text(path), skip_bad_rows)
    t0 = min((t for _, t, _ in events), default=0)
    req: dict[str, list] = {c: [] for c in ("time_s", "verb", "resource", "namespace", "name", "user",
                                            "user_agent", "client", "code")}
    pods: dict[str, dict] = {}
    order: list[str] = []
    for line, t, ev in events:
        ref = _dict(ev.get("objectRef"))
        resource = str(ref.get("resource") or "")
        if resource and ref.get("subresource"):
            resource = f"{resource}/{ref['subresource']}"
        if not resource:
            resource = str(ev.get("requestURI") or "").split("?", 1)[0]
        user = str(_dict(ev.get("user")).get("username") or "")
        agent = str(ev.get("userAgent") or "")
        code = _dict(ev.get("responseStatus")).get("code")
        code = int(code) if isinstance(code, int | float) and not isinstance(code, bool) else 0
        obj = _pod_object(ev)
        meta = _dict(obj.get("metadata")) if obj else {}
        name = str(ref.get("name") or meta.get("name") or "")
        namespace = str(ref.get("namespace") or meta.get("namespace") or "")
        verb, time_s = ev["verb"], (t - t0) / 1e6
        creates = code < 400 and resource == "pods" and verb == "create"
        spec = None
        if creates and obj is not None:
            try:
                spec = _spec(path, line, obj, name)
            except TraceError:
                if not skip_bad_rows:
                    raise
                bad += 1
                continue
        for col, v in zip(req, (time_s, verb, resource, namespace, name, user, agent,
                                client_of(agent, user), code), strict=True):
            req[col].append(v)
        if code >= 400 or resource not in ("pods", "pods/binding") or verb not in ("create", "delete"):
            continue
        key = f"{namespace or 'default'}/{name}"
        pod = pods.get(key)
        if pod is None:
            pod = pods[key] = {"name": name, "arrival_s": np.nan, "deletion_s": np.nan, "scheduled": np.nan}
            order.append(key)
        if resource == "pods/binding":
            if np.isnan(pod["scheduled"]):
                pod["scheduled"] = time_s
        elif verb == "delete":
            if np.isnan(pod["deletion_s"]):
                pod["deletion_s"] = time_s
        else:
            pod["arrival_s"] = time_s
            pod.update(spec or {})
    n = len(order)
    rows = [pods[k] for k in order]
    data = {c: [r.get(c, d) for r in rows] for c, d in (
        ("name", ""), ("arrival_s", np.nan), ("deletion_s", np.nan), ("cpu_milli", 0.0), ("memory_bytes", 0.0),
        ("gpu_count", 0), ("gpu_milli", 0), ("gpu_model", ""), ("priority", 0), ("qos", ""), ("owner", ""),
        ("app", ""))}
    arrival, deletion = np.asarray(data["arrival_s"], float), np.asarray(data["deletion_s"], float)
    scheduled = np.asarray([r["scheduled"] for r in rows], float)
    data["duration_s"] = deletion - np.where(np.isnan(scheduled), arrival, scheduled)
    return Trace("k8s-audit", str(path), pods_table(data, n), None, requests_table(req, len(req["verb"])), bad)


def _spec(path, line: int, obj: dict, name: str) -> dict:
    """The pod-table fields of a Pod object recorded in an audit Event."""
    obj = {**obj, "metadata": {**_dict(obj.get("metadata")), "name": name or "unnamed"}}
    try:
        pod = parse_pod(obj)
        requests = pod.requests()
    except KbenchError as e:
        raise line_error(path, line, f"expected a valid Pod in the audit Event: {e.one_line()}") from None
    except (ValueError, TypeError, AttributeError, KeyError) as e:
        raise line_error(path, line, f"expected a valid Pod in the audit Event: {e}") from None
    return {"cpu_milli": requests.get("cpu", 0.0), "memory_bytes": requests.get("memory", 0.0),
            "gpu_count": pod.gpu_count, "gpu_milli": pod.gpu_milli, "gpu_model": pod.gpu_model or "",
            "priority": pod.priority, "owner": pod.owner or "",
            "app": pod.labels.get("app") or pod.labels.get("app.kubernetes.io/name", ""),
            "qos": str(_dict(obj.get("status")).get("qosClass") or "")}
