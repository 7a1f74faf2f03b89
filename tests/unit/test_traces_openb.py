"""The openb importer reads every shipped cluster-trace-gpu-v2023 file exactly (SOURCES.md, FGD.md §1)."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest

from kbench.bundled import TRACES
from kbench.cluster.objects import CPU, GPU, MEMORY, PODS
from kbench.workload.traces import (
    NODE_COLUMNS,
    POD_COLUMNS,
    detect_format,
    load_trace,
    nodes_from_trace,
    pods_from_trace,
)

MIB = 2**20

# data rows of each pod list (wc -l minus the header), checked again by counting lines below
VARIANTS = {
    "default": 8152, "cpu050": 7439, "cpu100": 7853, "cpu200": 8832, "cpu250": 9420,
    "gpushare40": 8152, "gpushare60": 8152, "gpushare80": 8152, "gpushare100": 8152,
    "gpuspec10": 8152, "gpuspec20": 8152, "gpuspec25": 8152, "gpuspec33": 8152,
    "multigpu20": 8324, "multigpu30": 8508, "multigpu40": 8746, "multigpu50": 9061,
}


def _data_lines(path: Path) -> int:
    with gzip.open(path, "rb") as f:
        return sum(1 for line in f if line.strip()) - 1


@pytest.fixture(scope="module")
def default():
    return load_trace(TRACES / "openb_pod_list_default.csv.gz")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_pod_list_loads_with_its_own_row_count(variant):
    """Each shipped pod list gives one pod per data line, detected as openb-pods, in well under a second."""
    path = TRACES / f"openb_pod_list_{variant}.csv.gz"
    start = time.perf_counter()
    trace = load_trace(path)
    elapsed = time.perf_counter() - start
    assert detect_format(path) == "openb-pods"
    assert trace.format == "openb-pods" and trace.bad_rows == 0
    assert len(trace.pods) == VARIANTS[variant] == _data_lines(path)
    assert list(trace.pods.columns) == list(POD_COLUMNS)
    assert trace.pods["name"].is_unique
    assert elapsed < 2.0
    # per SOURCES.md: CPU-only pods have gpu_milli 0, multi-GPU pods 1000
    p = trace.pods
    assert (p.loc[p.gpu_count == 0, "gpu_milli"] == 0).all()
    assert (p.loc[p.gpu_count > 1, "gpu_milli"] == 1000).all()
    assert ((p.gpu_milli >= 0) & (p.gpu_milli <= 1000)).all()


def test_default_list_matches_sources_md(default):
    """8,152 pods: 1,088 CPU-only, 6,989 one-GPU (3,078 sharing), 75 multi-GPU; QoS and phase counts."""
    p = default.pods
    assert len(p) == 8152
    assert (p.gpu_count == 0).sum() == 1088
    assert (p.gpu_count == 1).sum() == 6989
    assert (p.gpu_count > 1).sum() == 75
    assert p.loc[p.gpu_count > 1, "gpu_count"].value_counts().to_dict() == {8: 44, 2: 16, 4: 15}
    assert ((p.gpu_count == 1) & (p.gpu_milli < 1000)).sum() == 3078     # FGD.md §1.2
    assert (p.gpu_count * p.gpu_milli).sum() == 6_086_800                 # 6,086.8 GPUs
    assert (p.gpu_model == "").all()
    assert p.qos.value_counts().to_dict() == {"LS": 4647, "BE": 3398, "Burstable": 100, "Guaranteed": 7}
    assert p.phase.value_counts().to_dict() == {"Running": 5193, "Failed": 1870, "Pending": 897, "Succeeded": 192}
    assert p.cpu_milli.min() == 1000 and p.cpu_milli.max() == 120_200
    assert p.memory_bytes.min() == 0 and p.memory_bytes.max() == 737_280 * MIB


def test_default_list_times(default):
    """Rows stay in file order (sorted by creation); lifetimes as SOURCES.md describes them."""
    p = default.pods
    assert p.name.iloc[0] == "openb-pod-0000" and p.name.iloc[-1] == "openb-pod-8151"
    assert p.arrival_s.is_monotonic_increasing and p.arrival_s.iloc[0] == 0
    assert p.arrival_s.max() == 12_901_761
    assert not p.deletion_s.isna().any()
    assert (p.deletion_s >= p.arrival_s).all()
    assert np.median(p.deletion_s - p.arrival_s) == 540
    assert p.deletion_s.min() >= 9.96e6 and p.deletion_s.max() <= 12.91e6
    # duration: deletion - scheduled, or - creation for the 897 Pending pods (no scheduled time)
    first = p.iloc[1]
    assert (first.arrival_s, first.deletion_s, first.duration_s) == (427061, 12902960, 12902960 - 427061)
    assert (p.duration_s >= 0).all()
    row = p.iloc[0]
    assert (row.cpu_milli, row.memory_bytes, row.gpu_count, row.gpu_milli) == (12000, 16384 * MIB, 1, 1000)


def test_resampled_variants_are_put_in_arrival_order():
    """cpu050 is not sorted in the file; the pods table is, stably."""
    p = load_trace(TRACES / "openb_pod_list_cpu050.csv.gz").pods
    assert p.arrival_s.is_monotonic_increasing
    assert (p.gpu_count == 0).sum() == 375


def test_multigpu_lists_have_five_columns():
    """multigpu* carry no times, QoS or phase: all arrive at 0 s in file order and never leave."""
    p = load_trace(TRACES / "openb_pod_list_multigpu50.csv.gz").pods
    assert (p.arrival_s == 0).all() and p.deletion_s.isna().all() and p.duration_s.isna().all()
    assert (p.qos == "").all() and (p.phase == "").all()
    assert list(p.name[:2]) == ["openb-pod-0000", "openb-pod-0001"]
    assert (p.gpu_count > 1).sum() == 984
    assert (p.gpu_count == 0).sum() == 1088


def test_gpuspec33_constrains_2388_gpu_pods():
    """gpu_spec is set for 2,388 of the 7,064 GPU pods, as `A|B` model lists."""
    p = load_trace(TRACES / "openb_pod_list_gpuspec33.csv.gz").pods
    constrained = p[p.gpu_model != ""]
    assert len(constrained) == 2388
    assert (constrained.gpu_count > 0).all()
    assert (p.gpu_count > 0).sum() == 7064
    assert {"T4", "G2", "V100M16|V100M32"} <= set(constrained.gpu_model)


@pytest.mark.parametrize(("name", "count"), [("all_node", 1523), ("gpu_node", 1213)])
def test_node_lists(name, count):
    """Both node lists: row counts, 6,212 GPUs, GPU models; the pods table is empty."""
    path = TRACES / f"openb_node_list_{name}.csv.gz"
    trace = load_trace(path)
    n = trace.nodes
    assert detect_format(path) == "openb-nodes" and trace.format == "openb-nodes"
    assert len(n) == count == _data_lines(path)
    assert list(n.columns) == list(NODE_COLUMNS) and len(trace.pods) == 0
    assert n.gpu_count.sum() == 6212
    models = n.gpu_model.value_counts().to_dict()
    assert {k: v for k, v in models.items() if k} == {"G2": 549, "T4": 404, "P100": 134, "V100M16": 55,
                                                       "G3": 39, "V100M32": 30, "A10": 2}
    assert models.get("", 0) == (310 if name == "all_node" else 0)
    assert (n.loc[n.gpu_count == 0, "gpu_model"] == "").all()
    assert n.cpu_milli.sum() == (125_514_000 if name == "all_node" else 107_018_000)


def test_gpu_node_list_is_the_all_node_list_filtered():
    """FGD.md §1.1: same specs in the same order, only the GPU nodes."""
    all_nodes = load_trace(TRACES / "openb_node_list_all_node.csv.gz").nodes
    gpu_nodes = load_trace(TRACES / "openb_node_list_gpu_node.csv.gz").nodes
    cols = ["cpu_milli", "memory_bytes", "gpu_count", "gpu_model"]
    filtered = all_nodes[all_nodes.gpu_count > 0][cols].reset_index(drop=True)
    assert filtered.equals(gpu_nodes[cols])


def test_pods_and_nodes_from_trace(default):
    """Specs the GPU-sharing way; nodes with 1001 pods allocatable and nvidia.com/gpu."""
    pods = pods_from_trace(default.pods)
    assert len(pods) == 8152
    share = pods[1]                        # openb-pod-0001: 6000 m, 12288 MiB, 1 GPU at 460
    assert share.name == "openb-pod-0001"
    assert share.requests() == {CPU: 6000.0, MEMORY: 12288.0 * MIB}
    assert (share.gpu_count, share.gpu_milli, share.gpu_model) == (1, 460, None)
    assert share.duration_s == 12902960 - 427061
    assert share.annotations["kbench/trace-qos"] == "LS"
    nodes = nodes_from_trace(load_trace(TRACES / "openb_node_list_gpu_node.csv.gz").nodes)
    assert len(nodes) == 1213
    first = nodes[0]
    assert first.allocatable == {CPU: 64000.0, MEMORY: 262144.0 * MIB, PODS: 1001.0, GPU: 2.0}
    assert (first.gpu_count, first.gpu_model) == (2, "P100")
    assert sum(n.gpu_count for n in nodes) == 6212


def test_gpu_share_is_capped_and_defaulted(tmp_path):
    """gpu_milli > 1000 is capped (FGD.md §5.3); a GPU pod giving 0 takes whole GPUs; CPU-only pods 0."""
    path = tmp_path / "pods.csv"
    path.write_text("name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"
                    "a,1000,0,1,1500\nb,1000,0,2,0\nc,1000,0,0,300\n")
    p = load_trace(path).pods
    assert list(p.gpu_milli) == [1000, 1000, 0] and list(p.gpu_count) == [1, 2, 0]
