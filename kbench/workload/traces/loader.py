"""Trace formats by name, detecting a file's format, and reading it (docs/TRACE_CONTRACT.md).

Detection looks at the file, in this order:

1. Parquet magic bytes -> ``native``;
2. a ``.yaml`` / ``.yml`` suffix, a first line starting with ``apiVersion:``, ``kind:`` or
   ``---``, or a file that is one multi-line JSON object with ``apiVersion`` and ``kind`` ->
   ``k8s-manifests``;
3. a first line that is a JSON object: ``kind: Event`` with an ``audit.k8s.io/*`` apiVersion ->
   ``k8s-audit``; ``collection_id`` and ``instance_index`` -> ``google2019-instance-events``;
   ``machine_id`` with ``capacity`` or ``platform_id`` -> ``google2019-machine-events``;
4. a CSV header: the exact openb pod (11 or 5 columns) / node headers, the DLRM header, a native
   table's columns, or Google 2019 column names (as for JSON);
5. the headerless Alibaba 2018 tables: by file name (``batch_task*``, ``batch_instance*``,
   ``container_meta*``, ``machine_meta*``), else by the first line's shape: 9 fields with a
   ``j_<n>`` job in field 3 (batch_task), 14 fields with ``j_<n>`` in field 3 (batch_instance),
   8 fields starting ``c_<n>,m_<n>`` (container_meta), 7 fields starting ``m_<n>`` (machine_meta).

Anything else is an error that lists the formats (pass ``format`` explicitly).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from kbench.errors import TraceError, did_you_mean
from kbench.workload.traces import alibaba2018, audit, dlrm, google2019, manifests, native, openb
from kbench.workload.traces.common import Trace, plain_suffix, read_bytes, split_header

_LOADERS: dict[str, tuple[Callable[..., Trace], str]] = {
    "openb-pods": (openb.load_pods, "Alibaba cluster-trace-gpu-v2023 pod list (11 or 5 columns)"),
    "openb-nodes": (openb.load_nodes, "Alibaba cluster-trace-gpu-v2023 node list"),
    "dlrm": (dlrm.load, "Alibaba cluster-trace-gpu-v2025 DLRM instances"),
    "alibaba2018-batch-task": (alibaba2018.load_batch_task, "Alibaba cluster-trace-v2018 batch_task"),
    "alibaba2018-batch-instance": (alibaba2018.load_batch_instance, "Alibaba cluster-trace-v2018 batch_instance"),
    "alibaba2018-container-meta": (alibaba2018.load_container_meta, "Alibaba cluster-trace-v2018 container_meta"),
    "alibaba2018-machine-meta": (alibaba2018.load_machine_meta, "Alibaba cluster-trace-v2018 machine_meta"),
    "google2019-instance-events": (google2019.load_instance_events,
                                   "Google cluster-data 2019 instance_events (CSV or JSON lines)"),
    "google2019-machine-events": (google2019.load_machine_events,
                                  "Google cluster-data 2019 machine_events (CSV or JSON lines)"),
    "k8s-audit": (audit.load, "Kubernetes audit log (audit.k8s.io/v1 Event JSON lines)"),
    "k8s-manifests": (manifests.load, "Kubernetes manifests (Pods, Deployments, Jobs; multi-document YAML)"),
    "native": (native.load, "kbench native tables (Parquet or CSV)"),
}

FORMATS: tuple[str, ...] = tuple(_LOADERS)
"""Every format name, in the contract's order."""
DESCRIPTIONS: dict[str, str] = {name: desc for name, (_, desc) in _LOADERS.items()}
"""Format name -> one-line description."""

_HEADERS = {
    tuple(openb.POD_HEADER): "openb-pods", tuple(openb.POD_HEADER_SHORT): "openb-pods",
    tuple(openb.NODE_HEADER): "openb-nodes", tuple(dlrm.HEADER): "dlrm",
}
_STEMS = {"batch_task": "alibaba2018-batch-task", "batch_instance": "alibaba2018-batch-instance",
          "container_meta": "alibaba2018-container-meta", "machine_meta": "alibaba2018-machine-meta"}
_JOB = re.compile(r"^j_\d+$")
_CONTAINER = re.compile(r"^c_\d+$")
_MACHINE = re.compile(r"^m_\d+$")


def _first_line(path: Path) -> str:
    head = read_bytes(path, 65536)
    text = head.decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
    for line in text.split("\n"):
        if line.strip():
            return line.strip()
    return ""


def _google(keys: set[str]) -> str | None:
    if {"collection_id", "instance_index"} <= keys:
        return "google2019-instance-events"
    if "machine_id" in keys and "collection_id" not in keys and (
            keys & {"capacity", "platform_id", "capacity.cpus", "capacity_cpus", "cpus"}):
        return "google2019-machine-events"
    return None


def _json_manifest(path: Path) -> bool:
    """Whether the file is one (multi-line) JSON Kubernetes object, as ``kubectl get -o json`` prints."""
    try:
        if path.stat().st_size > 64 * 2**20:
            return False
        obj = json.loads(read_bytes(path).decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError, TraceError):
        return False
    return isinstance(obj, dict) and "kind" in obj and "apiVersion" in obj


def detect_format(path: str | Path) -> str:
    """The format of a trace file, from its content (see the module docstring for the rules).

    Raises:
        TraceError: The format cannot be told; the message lists the formats.
    """
    path = Path(path)
    if native.is_parquet(path):
        return "native"
    first = _first_line(path)
    if plain_suffix(path) in (".yaml", ".yml") or first.startswith(("apiVersion:", "kind:", "---")):
        return "k8s-manifests"
    if first.startswith("{"):
        try:
            obj = json.loads(first)
        except (ValueError, RecursionError):
            obj = None
        if obj is None and _json_manifest(path):
            return "k8s-manifests"
        if isinstance(obj, dict):
            if obj.get("kind") == "Event" and str(obj.get("apiVersion", "")).startswith("audit.k8s.io/"):
                return "k8s-audit"
            found = _google(set(obj))
            if found:
                return found
    header = split_header(first)
    if tuple(header) in _HEADERS:
        return _HEADERS[tuple(header)]
    if native.table_of(header):
        return "native"
    found = _google(set(header))
    if found:
        return found
    for stem, fmt in _STEMS.items():
        if path.name.startswith(stem):
            return fmt
    if len(header) == 9 and _JOB.match(header[2]):
        return "alibaba2018-batch-task"
    if len(header) == 14 and _JOB.match(header[2]):
        return "alibaba2018-batch-instance"
    if len(header) == 8 and _CONTAINER.match(header[0]) and _MACHINE.match(header[1]):
        return "alibaba2018-container-meta"
    if len(header) == 7 and _MACHINE.match(header[0]):
        return "alibaba2018-machine-meta"
    raise TraceError(f"cannot tell the trace format from {first[:120]!r}: expected one of the known headers; "
                     f"pass the format explicitly, one of {', '.join(FORMATS)}", source=f"{path}:1")


def load_trace(path: str | Path, format: str | None = None, *, skip_bad_rows: bool = False) -> Trace:
    """Read a trace file into the normalized tables.

    Args:
        path: The trace file.
        format: One of :data:`FORMATS`, or None to detect it (:func:`detect_format`).
        skip_bad_rows: Skip malformed rows and count them in :attr:`Trace.bad_rows` instead of
            raising.

    Returns:
        The :class:`~kbench.workload.traces.common.Trace`.

    Raises:
        TraceError: ``path:line: what was expected`` (the CLI prints it and exits with code 2).
    """
    path = Path(path)
    if format is None:
        format = detect_format(path)
    elif format not in _LOADERS:
        raise TraceError(f"unknown trace format {format!r}{did_you_mean(format, FORMATS)}: expected one of "
                         f"{', '.join(FORMATS)}", source=f"{path}:1")
    if not path.is_file():
        raise TraceError("expected a trace file, found none", source=str(path))
    return _LOADERS[format][0](path, skip_bad_rows=skip_bad_rows)
