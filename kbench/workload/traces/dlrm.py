"""Alibaba cluster-trace-gpu-v2025: disaggregated DLRM inference instances (NSDI '25).

File ``disaggregated_DLRM_trace.csv`` (see workloads/traces/SOURCES.md), header
``instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,rdma_request,rdma_limit,``
``memory_request,memory_limit,disk_request,disk_limit,max_instance_per_node,creation_time,``
``scheduled_time,deletion_time``. One row per long-running instance (a pod). CPU in whole vCPUs,
GPUs 0 or 1, RDMA share in percent, memory and disk in GiB, times in float seconds since the trace
start (about 31 days). ``role`` is ``CN`` (CPU node, no GPU) or ``HN`` (GPU node, one GPU).

Normalization: ``cpu_request`` × 1000 → millicores, ``memory_request`` GiB → bytes,
``gpu_request`` → whole GPUs (``gpu_milli`` 1000); ``app_name`` → ``app`` and ``owner``;
``max_instance_per_node`` → ``max_per_node`` (at most that many pods of the app on one node, -1 =
no limit). An empty ``creation_time`` means created before the window (``arrival_s`` NaN, present
at the start); an empty ``deletion_time`` means not deleted within it. Limits, RDMA and disk are
checked but not carried over (the pods table has no columns for them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kbench.workload.traces.common import (
    GIB,
    Trace,
    check_header,
    duration_from,
    pods_table,
    read_rows,
    read_text,
)

HEADER = ("instance_sn", "role", "app_name", "cpu_request", "cpu_limit", "gpu_request", "gpu_limit",
          "rdma_request", "rdma_limit", "memory_request", "memory_limit", "disk_request", "disk_limit",
          "max_instance_per_node", "creation_time", "scheduled_time", "deletion_time")
"""The published header."""

_TIME = "a time >= 0 (seconds) or an empty field"


def load(path: str | Path, *, skip_bad_rows: bool = False) -> Trace:
    """Read the DLRM instance trace.

    Args:
        path: The CSV file.
        skip_bad_rows: Skip and count malformed rows instead of raising.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    text = read_text(path)
    check_header(path, text, (HEADER,), "DLRM trace (cluster-trace-gpu-v2025)")
    rows = read_rows(path, text, HEADER, header=True, numeric=HEADER[3:])
    name = rows.text("instance_sn")
    rows.flag(name == "", lambda r: "expected an instance name in column instance_sn, got ''")
    role = rows.text("role")
    rows.flag(~np.isin(role, ["CN", "HN"]), lambda r: f"expected CN or HN in column role, got {role[r]!r}")
    app = rows.text("app_name")
    cpu = rows.number("cpu_request", min_value=0)
    for col in ("cpu_limit", "rdma_request", "rdma_limit", "memory_limit", "disk_request", "disk_limit"):
        rows.number(col, min_value=0)
    gpu = rows.number("gpu_request", integer=True, min_value=0)
    rows.number("gpu_limit", integer=True, min_value=0)
    mem = rows.number("memory_request", min_value=0)
    spread = rows.number("max_instance_per_node", integer=True, min_value=-1)
    created = rows.number("creation_time", required=False, min_value=0, what=_TIME)
    scheduled = rows.number("scheduled_time", required=False, min_value=0, what=_TIME)
    deleted = rows.number("deletion_time", required=False, min_value=0, what=_TIME)
    keep = rows.finish(skip_bad_rows)
    gpus = gpu[keep].astype(np.int64)
    data = {
        "name": name[keep], "arrival_s": created[keep], "deletion_s": deleted[keep],
        "duration_s": duration_from(created[keep], scheduled[keep], deleted[keep]),
        "cpu_milli": cpu[keep] * 1000.0, "memory_bytes": mem[keep] * GIB, "gpu_count": gpus,
        "gpu_milli": np.where(gpus > 0, 1000, 0), "owner": app[keep], "app": app[keep],
        "max_per_node": spread[keep].astype(np.int64),
    }
    return Trace("dlrm", str(path), pods_table(data, int(keep.sum())), None, None, rows.bad_count)
