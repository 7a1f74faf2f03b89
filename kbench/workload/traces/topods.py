"""Pod and node specs from the normalized trace tables (docs/TRACE_CONTRACT.md).

A pods-table row becomes a :class:`~kbench.cluster.objects.Pod` with one container requesting
``cpu_milli`` millicores and ``memory_bytes`` bytes; GPUs are set the GPU-sharing way
(``gpu_count`` GPUs of ``gpu_milli`` thousandths each, no ``nvidia.com/gpu`` extended resource,
FGD.md §2) with ``gpu_model`` as the required model (None for ""). The row's ``app`` becomes the
pod's ``app`` label, ``max_per_node`` (when >= 0) the :data:`MAX_PER_NODE_ANNOTATION`
annotation, ``qos`` and ``phase`` the :data:`QOS_ANNOTATION` / :data:`PHASE_ANNOTATION`
annotations, and ``duration_s`` the pod's run time (None when NaN). Arrival and deletion times stay
in the table for the workload driver.

A nodes-table row becomes a :class:`~kbench.cluster.objects.Node` with allocatable cpu
(millicores), memory (bytes), pods (1001 by default, as the FGD simulator sets it, FGD.md §1.1, so
the pod count never binds) and ``nvidia.com/gpu`` (the GPU count, when > 0), plus the
``kubernetes.io/hostname`` label and, for GPU nodes, the GPU model label the snapshots use.
"""

from __future__ import annotations

import math

import pandas as pd

from kbench.cluster.objects import CPU, GPU, MEMORY, PODS, Container, Node, Pod

MAX_PER_NODE_ANNOTATION = "kbench/max-per-node"
"""At most this many pods with the same ``app`` label on one node (the trace's spread limit)."""
QOS_ANNOTATION = "kbench/trace-qos"
"""The QoS / class the trace gave the pod."""
PHASE_ANNOTATION = "kbench/trace-phase"
"""The phase the trace recorded for the pod."""
GPU_MODEL_LABEL = "alibabacloud.com/gpu-card-model"
HOSTNAME_LABEL = "kubernetes.io/hostname"


def pods_from_trace(df: pd.DataFrame, *, namespace: str = "default") -> list[Pod]:
    """One pod spec per pods-table row, in row order.

    Args:
        df: A pods table (:data:`kbench.workload.traces.common.POD_COLUMNS`).
        namespace: Namespace of every pod.
    """
    pods = []
    # column lists, not itertuples: per-cell access of arrow-backed columns costs ~30 us a row
    cols = [df[c].tolist() for c in ("name", "app", "max_per_node", "qos", "phase", "duration_s", "cpu_milli",
                                     "memory_bytes", "priority", "gpu_count", "gpu_milli", "gpu_model", "owner")]
    for (name, app, max_per_node, qos, phase, duration_s, cpu_milli, memory_bytes, priority, gpu_count, gpu_milli,
         gpu_model, owner) in zip(*cols, strict=True):
        labels = {"app": app} if app else {}
        annotations = {}
        if max_per_node >= 0:
            annotations[MAX_PER_NODE_ANNOTATION] = str(int(max_per_node))
        if qos:
            annotations[QOS_ANNOTATION] = qos
        if phase:
            annotations[PHASE_ANNOTATION] = phase
        duration = float(duration_s)
        pods.append(Pod(
            name=name, namespace=namespace, labels=labels,
            containers=[Container("main", "", {CPU: float(cpu_milli), MEMORY: float(memory_bytes)})],
            priority=int(priority), gpu_count=int(gpu_count),
            gpu_milli=int(gpu_milli) if gpu_count else 0, gpu_model=gpu_model or None,
            owner=owner or None, duration_s=None if math.isnan(duration) else duration,
            annotations=annotations))
    return pods


def nodes_from_trace(df: pd.DataFrame, *, max_pods: int = 1001) -> list[Node]:
    """One node spec per nodes-table row, in row order.

    Args:
        df: A nodes table (:data:`kbench.workload.traces.common.NODE_COLUMNS`).
        max_pods: Allocatable ``pods`` of every node.
    """
    nodes = []
    for row in df.itertuples(index=False):
        allocatable = {CPU: float(row.cpu_milli), MEMORY: float(row.memory_bytes), PODS: float(max_pods)}
        labels = {HOSTNAME_LABEL: row.name}
        if row.gpu_count > 0:
            allocatable[GPU] = float(row.gpu_count)
            if row.gpu_model:
                labels[GPU_MODEL_LABEL] = row.gpu_model
        nodes.append(Node(name=row.name, allocatable=allocatable, labels=labels, gpu_count=int(row.gpu_count),
                          gpu_model=row.gpu_model or None))
    return nodes
