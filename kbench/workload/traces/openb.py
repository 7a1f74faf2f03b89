"""Alibaba cluster-trace-gpu-v2023 ("openb", the FGD paper's trace): pod lists and node lists.

Files (``alibaba/clusterdata``, ``cluster-trace-gpu-v2023/csv/``; bundled in workloads/traces, see its SOURCES.md):

* **pod lists** ``openb_pod_list_*.csv``, 11 columns
  ``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time``
  or, for the ``multigpu*`` variants, only the first 5 (no times, QoS or phase). CPU in millicores,
  memory in MiB, ``num_gpu`` whole GPUs, ``gpu_milli`` the share of each GPU in thousandths,
  ``gpu_spec`` allowed GPU models joined by ``|`` (empty = any), times in integer seconds on an
  anonymised clock starting at 0 (``scheduled_time`` empty for pods still Pending).
* **node lists** ``openb_node_list_*.csv``: ``sn,cpu_milli,memory_mib,gpu,model``.

Normalization: memory MiB → bytes; ``gpu_milli`` capped at 1000 (FGD.md §5.3), 1000 for a GPU pod
that gives 0, and 0 for CPU-only pods; ``duration_s`` = deletion − scheduled (else − creation). The pods are put in arrival
order (the re-sampled variants are not sorted in the file); the ``multigpu*`` lists have no times,
so their pods all arrive at 0 s in file order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kbench.workload.traces.common import (
    MIB,
    Trace,
    check_header,
    duration_from,
    nodes_table,
    pods_table,
    read_rows,
    read_text,
)

POD_HEADER = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase",
              "creation_time", "deletion_time", "scheduled_time")
"""The 11-column pod-list header."""
POD_HEADER_SHORT = POD_HEADER[:5]
"""The 5-column header of the ``multigpu*`` pod lists."""
NODE_HEADER = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
"""The node-list header."""

_TIME = "a time >= 0 (seconds)"
_POD_NUMERIC = ("cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "creation_time", "deletion_time", "scheduled_time")


def load_pods(path: str | Path, *, skip_bad_rows: bool = False) -> Trace:
    """Read an openb pod list (11- or 5-column).

    Args:
        path: The CSV file.
        skip_bad_rows: Skip and count malformed rows instead of raising.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    text = read_text(path)
    cols = check_header(path, text, (POD_HEADER, POD_HEADER_SHORT), "openb pod list")
    rows = read_rows(path, text, cols, header=True, numeric=_POD_NUMERIC)
    name = rows.text("name")
    rows.flag(name == "", lambda r: "expected a pod name in column name, got ''")
    cpu = rows.number("cpu_milli", min_value=0)
    mem = rows.number("memory_mib", min_value=0)
    gpus = rows.number("num_gpu", integer=True, min_value=0)
    milli = rows.number("gpu_milli", integer=True, min_value=0)
    data = {"name": name}
    scheduled = None
    if len(cols) == len(POD_HEADER):
        data["gpu_model"] = rows.text("gpu_spec")
        data["qos"] = rows.text("qos")
        data["phase"] = rows.text("pod_phase")
        data["arrival_s"] = rows.number("creation_time", min_value=0, what=_TIME)
        data["deletion_s"] = rows.number("deletion_time", required=False, min_value=0, what=_TIME)
        scheduled = rows.number("scheduled_time", required=False, min_value=0, what=_TIME)
    keep = rows.finish(skip_bad_rows)
    gpus = gpus[keep].astype(np.int64)
    milli = milli[keep]
    milli = np.where(gpus > 0, np.where(milli > 0, np.minimum(milli, 1000), 1000), 0).astype(np.int64)
    data = {k: v[keep] for k, v in data.items()}
    data.update(cpu_milli=cpu[keep], memory_bytes=mem[keep] * MIB, gpu_count=gpus, gpu_milli=milli)
    if scheduled is None:
        data["arrival_s"] = np.zeros(int(keep.sum()))
    else:
        data["duration_s"] = duration_from(data["arrival_s"], scheduled[keep], data["deletion_s"])
    pods = pods_table(data, int(keep.sum()))
    return Trace("openb-pods", str(path), pods, None, None, rows.bad_count)


def load_nodes(path: str | Path, *, skip_bad_rows: bool = False) -> Trace:
    """Read an openb node list (``sn,cpu_milli,memory_mib,gpu,model``); the pods table is empty.

    Args:
        path: The CSV file.
        skip_bad_rows: Skip and count malformed rows instead of raising.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    text = read_text(path)
    check_header(path, text, (NODE_HEADER,), "openb node list")
    rows = read_rows(path, text, NODE_HEADER, header=True, numeric=("cpu_milli", "memory_mib", "gpu"))
    name = rows.text("sn")
    rows.flag(name == "", lambda r: "expected a node name in column sn, got ''")
    cpu = rows.number("cpu_milli", min_value=0)
    mem = rows.number("memory_mib", min_value=0)
    gpus = rows.number("gpu", integer=True, min_value=0)
    model = rows.text("model")
    keep = rows.finish(skip_bad_rows)
    n = int(keep.sum())
    nodes = nodes_table({"name": name[keep], "cpu_milli": cpu[keep], "memory_bytes": mem[keep] * MIB,
                         "gpu_count": gpus[keep].astype(np.int64), "gpu_model": model[keep]}, n)
    return Trace("openb-nodes", str(path), pods_table({}, 0), nodes, None, rows.bad_count)
