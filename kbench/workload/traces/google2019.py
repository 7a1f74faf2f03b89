"""Google cluster-data 2019 (Borg, trace format v3): ``instance_events`` and ``machine_events``.

The tables (``google/cluster-data``, ``clusterdata_trace_format_v3.proto``) are published in
BigQuery and as JSON-lines downloads. Both exports are read:

* **JSON lines**, one object per line as the downloads and BigQuery's JSON export write them, with
  nested ``resource_request`` / ``capacity`` objects (``{"cpus": ..., "memory": ...}``) and 64-bit
  integers possibly written as strings;
* **CSV** with a header, as BigQuery exports a flattened query; a nested field may be named
  ``resource_request.cpus``, ``resource_request_cpus`` or just ``cpus`` (``capacity`` likewise).

``instance_events`` needs ``time, type, collection_id, instance_index`` and the request columns;
``priority, scheduling_class, collection_type, alloc_collection_id`` are read when present.
``machine_events`` needs ``time, machine_id, type`` and the capacity columns.

Units: ``time`` in **microseconds** on the trace clock (the window opens at 600 s); 0 means before
the window and 2^63 − 1 after it. CPU in normalized compute units and memory normalized, both
relative to the largest machine (1.0). Assumption: that machine has :data:`MACHINE_CPU_MILLI`
(96 cores) and :data:`MACHINE_MEMORY_BYTES` (512 GiB); pass ``machine_cpu_milli`` /
``machine_memory_bytes`` to the loaders to change it.

Pods: one per instance (``collection_id``, ``instance_index``), named ``<collection_id>-<index>``:
arrival at its first SUBMIT (NaN when submitted before the window or never seen submitted), the
request in effect at its first SCHEDULE (the last one seen if never scheduled), the deletion at its last event if that is EVICT, FAIL, FINISH, KILL
or LOST, duration from its first SCHEDULE. ``priority`` as given, ``qos`` the scheduling class name
(``MOST_INSENSITIVE`` … ``MOST_SENSITIVE``), ``owner`` the collection id, ``phase`` the last event type.
Tasks running inside an alloc set are left out: the alloc instance already reserves their resources.
Nodes: one per machine, with its latest known capacity (machines never given one are left out).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from kbench.errors import TraceError
from kbench.workload.traces.common import (
    GIB,
    Rows,
    Trace,
    check_header,
    nodes_table,
    pods_table,
    read_rows,
    read_text,
    split_header,
)

MACHINE_CPU_MILLI = 96_000.0
"""Assumed CPU of a machine of normalized capacity 1.0, millicores."""
MACHINE_MEMORY_BYTES = 512.0 * GIB
"""Assumed memory of a machine of normalized capacity 1.0, bytes."""

EVENT_TYPES = ("SUBMIT", "QUEUE", "ENABLE", "SCHEDULE", "EVICT", "FAIL", "FINISH", "KILL", "LOST",
               "UPDATE_PENDING", "UPDATE_RUNNING")
"""Instance event types by number (proto ``EventType``)."""
SCHEDULING_CLASSES = ("MOST_INSENSITIVE", "INSENSITIVE", "SENSITIVE", "MOST_SENSITIVE")
"""Latency sensitivity by number (proto ``LatencySensitivity``), the ``qos`` column."""
_END_TYPES = (4, 5, 6, 7, 8)
_AFTER_END_US = 2.0**63 - 2**12   # 2^63 - 1 as a float64
INSTANCE_REQUIRED = ("time", "type", "collection_id", "instance_index")
INSTANCE_OPTIONAL = ("priority", "scheduling_class", "collection_type", "alloc_collection_id")
MACHINE_REQUIRED = ("time", "machine_id", "type")
_NESTED = {"resource_request": ("cpus", "memory"), "capacity": ("cpus", "memory")}
_TIME = "a time >= 0 (microseconds)"


def _aliases(nest: str, field: str) -> tuple[str, ...]:
    return f"{nest}.{field}", f"{nest}_{field}", field


def _columns(header: list[str], nest: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
    """Map our column names to the header's (``cpus``/``memory`` from any alias)."""
    found = {c: c for c in (*required, *optional) if c in header}
    for field in _NESTED[nest]:
        for alias in _aliases(nest, field):
            if alias in header:
                found[field] = alias
                break
    return found


def _missing(found: dict, required: tuple[str, ...], nest: str) -> list[str]:
    return [c for c in required if c not in found] + [f"{nest}.{f}" for f in _NESTED[nest] if f not in found]


def _read(path, nest: str, required: tuple[str, ...], optional: tuple[str, ...], what: str) -> Rows:
    """Read a CSV or JSON-lines export into rows named after our columns."""
    text = read_text(path)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _read_json(path, text, nest, required, optional)
    header = split_header(text.split("\n", 1)[0])
    if len(set(header)) != len(header):
        raise TraceError(f"expected distinct column names in the header, got {','.join(header)[:200]!r}",
                         source=f"{path}:1")
    found = _columns(header, nest, required, optional)
    missing = _missing(found, required, nest)
    if missing:
        check_header(path, text, ((*required, *(f"{nest}.{f}" for f in _NESTED[nest])),), what)
    rows = read_rows(path, text, header, header=True, numeric=[c for c in header if c in found.values()])
    rows.frame = rows.frame.rename(columns={v: k for k, v in found.items()})
    return rows


def _read_json(path, text: str, nest: str, required: tuple[str, ...], optional: tuple[str, ...]) -> Rows:
    """JSON lines: every object flattened into our columns, values kept as text."""
    wanted = (*required, *optional)
    cols: dict[str, list] = {c: [] for c in (*wanted, *_NESTED[nest])}
    lines: list[int] = []
    first, dropped = None, 0
    for i, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError
        except (ValueError, RecursionError):
            dropped += 1
            first = first or (i, f"expected a JSON object per line, got {line[:80]!r}")
            continue
        inner = obj.get(nest)
        inner = inner if isinstance(inner, dict) else {}
        missing = [c for c in required if c not in obj]
        if missing:
            dropped += 1
            first = first or (i, f"expected the field {missing[0]!r} in every line")
            continue
        lines.append(i)
        for c in wanted:
            v = obj.get(c)
            cols[c].append("" if v is None else str(v))
        for f in _NESTED[nest]:
            v = inner.get(f)
            cols[f].append("" if v is None else str(v))
    frame = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in cols.items()})
    return Rows(path, frame, np.asarray(lines, dtype=np.int64), first, dropped)


def _optional(rows: Rows, col: str, default: float, **rules) -> np.ndarray:
    if col not in rows.frame:
        return np.full(len(rows), default)
    return np.nan_to_num(rows.number(col, required=False, **rules), nan=default)


def load_instance_events(path: str | Path, *, skip_bad_rows: bool = False,
                         machine_cpu_milli: float = MACHINE_CPU_MILLI,
                         machine_memory_bytes: float = MACHINE_MEMORY_BYTES) -> Trace:
    """Read an ``instance_events`` export (CSV or JSON lines): one pod per instance.

    Args:
        path: The file.
        skip_bad_rows: Skip and count malformed rows instead of raising.
        machine_cpu_milli: Millicores of normalized CPU 1.0.
        machine_memory_bytes: Bytes of normalized memory 1.0.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    rows = _read(path, "resource_request", INSTANCE_REQUIRED, INSTANCE_OPTIONAL,
                 "Google 2019 instance_events")
    time = rows.number("time", min_value=0, what=_TIME)
    kind = rows.number("type", integer=True, min_value=0, what="an event type 0-10")
    rows.flag(kind > 10, lambda r: f"expected an event type 0-10 in column type, got {rows.raw(r, 'type')!r}")
    coll = rows.number("collection_id", integer=True)
    index = rows.number("instance_index", integer=True, min_value=0)
    cpus = rows.number("cpus", required=False, min_value=0)
    mem = rows.number("memory", required=False, min_value=0)
    prio = _optional(rows, "priority", 0, integer=True)
    klass = _optional(rows, "scheduling_class", -1, integer=True, min_value=0)
    ctype = _optional(rows, "collection_type", 0, integer=True, min_value=0)
    alloc = _optional(rows, "alloc_collection_id", 0, integer=True)
    keep = rows.finish(skip_bad_rows)
    ev = pd.DataFrame({"t": time[keep], "type": kind[keep].astype(np.int64), "coll": coll[keep].astype(np.int64),
                       "idx": index[keep].astype(np.int64), "cpus": cpus[keep], "mem": mem[keep],
                       "prio": prio[keep].astype(np.int64), "klass": klass[keep].astype(np.int64),
                       "in_alloc": (ctype[keep] == 0) & (alloc[keep] != 0)})
    ev = ev.sort_values("t", kind="stable")
    ev["t_s"] = np.where((ev["t"] > 0) & (ev["t"] < _AFTER_END_US), ev["t"] / 1e6, np.nan)
    groups = ev.groupby(["coll", "idx"], sort=False)
    inst = groups.agg(prio=("prio", "last"), klass=("klass", "first"), in_alloc=("in_alloc", "any"))
    # the request in effect at the first SCHEDULE (the last one seen when never scheduled)
    first_sched = ev["t"].where(ev["type"] == 3).groupby([ev["coll"], ev["idx"]]).transform("min")
    before = ev[first_sched.isna() | (ev["t"] <= first_sched)]
    inst = inst.join(before.groupby(["coll", "idx"]).agg(cpus=("cpus", "last"), mem=("mem", "last")))
    last = ev.drop_duplicates(["coll", "idx"], keep="last").set_index(["coll", "idx"])
    inst = inst.join(last["type"].rename("last_type")).join(last["t_s"].rename("last_t"))
    submit = ev[ev["type"] == 0].groupby(["coll", "idx"])["t_s"].first()
    sched = ev[ev["type"] == 3].groupby(["coll", "idx"])["t_s"].first()
    inst = inst.join(submit.rename("submit")).join(sched.rename("sched"))
    inst = inst[~inst["in_alloc"]]
    ended = inst["last_type"].isin(_END_TYPES).to_numpy()
    arrival = inst["submit"].to_numpy(dtype=np.float64)
    deletion = np.where(ended, inst["last_t"].to_numpy(dtype=np.float64), np.nan)
    start = np.where(np.isnan(inst["sched"].to_numpy(dtype=np.float64)), arrival, inst["sched"].to_numpy())
    coll_s = inst.index.get_level_values(0).astype(str)
    klass_v = inst["klass"].to_numpy()
    data = {
        "name": (coll_s + "-" + inst.index.get_level_values(1).astype(str)).to_numpy(dtype=object),
        "arrival_s": arrival, "deletion_s": deletion, "duration_s": deletion - start,
        "cpu_milli": np.nan_to_num(inst["cpus"].to_numpy(dtype=np.float64)) * machine_cpu_milli,
        "memory_bytes": np.nan_to_num(inst["mem"].to_numpy(dtype=np.float64)) * machine_memory_bytes,
        "priority": inst["prio"].to_numpy(), "owner": coll_s.to_numpy(dtype=object),
        "qos": np.array(("", *SCHEDULING_CLASSES), dtype=object)[np.clip(klass_v + 1, 0, 4)],
        "phase": np.array(EVENT_TYPES, dtype=object)[inst["last_type"].to_numpy()],
    }
    return Trace("google2019-instance-events", str(path), pods_table(data, len(inst)), None, None,
                 rows.bad_count)


def load_machine_events(path: str | Path, *, skip_bad_rows: bool = False,
                        machine_cpu_milli: float = MACHINE_CPU_MILLI,
                        machine_memory_bytes: float = MACHINE_MEMORY_BYTES) -> Trace:
    """Read a ``machine_events`` export (CSV or JSON lines) into the nodes table.

    Args:
        path: The file.
        skip_bad_rows: Skip and count malformed rows instead of raising.
        machine_cpu_milli: Millicores of normalized CPU 1.0.
        machine_memory_bytes: Bytes of normalized memory 1.0.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    rows = _read(path, "capacity", MACHINE_REQUIRED, (), "Google 2019 machine_events")
    time = rows.number("time", min_value=0, what=_TIME)
    mid = rows.number("machine_id", integer=True)
    rows.number("type", integer=True, min_value=0, what="a machine event type 0-3")
    cpus = rows.number("cpus", required=False, min_value=0)
    mem = rows.number("memory", required=False, min_value=0)
    keep = rows.finish(skip_bad_rows)
    ev = pd.DataFrame({"t": time[keep], "id": mid[keep].astype(np.int64), "cpus": cpus[keep], "mem": mem[keep]})
    ev = ev.sort_values("t", kind="stable")
    latest = ev.groupby("id", sort=False).agg(cpus=("cpus", "last"), mem=("mem", "last"))
    latest = latest.dropna(how="all").sort_index()
    nodes = nodes_table({"name": latest.index.astype(str).to_numpy(dtype=object),
                         "cpu_milli": np.nan_to_num(latest["cpus"].to_numpy()) * machine_cpu_milli,
                         "memory_bytes": np.nan_to_num(latest["mem"].to_numpy()) * machine_memory_bytes},
                        len(latest))
    return Trace("google2019-machine-events", str(path), pods_table({}, 0), nodes, None, rows.bad_count)

