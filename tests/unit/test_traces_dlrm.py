"""The DLRM importer reads cluster-trace-gpu-v2025 exactly as SOURCES.md describes it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kbench.bundled import TRACES
from kbench.errors import TraceError
from kbench.workload.traces import POD_COLUMNS, detect_format, load_trace, pods_from_trace
from kbench.workload.traces.dlrm import HEADER

DLRM = TRACES / "disaggregated_DLRM_trace.csv.gz"
GIB = 2**30


@pytest.fixture(scope="module")
def trace():
    return load_trace(DLRM)


def test_row_count_and_speed():
    """23,871 instances, detected from the header, read in well under a second."""
    start = time.perf_counter()
    trace = load_trace(DLRM)
    assert time.perf_counter() - start < 2.0
    assert detect_format(DLRM) == "dlrm" and trace.format == "dlrm"
    assert len(trace.pods) == 23871 and trace.bad_rows == 0
    assert list(trace.pods.columns) == list(POD_COLUMNS)
    assert trace.nodes is None


def test_roles_and_resources(trace):
    """CN 16,485 instances without GPU, HN 7,386 with exactly one; units converted."""
    p = trace.pods
    assert (p.gpu_count == 0).sum() == 16485
    assert (p.gpu_count == 1).sum() == 7386
    assert (p.loc[p.gpu_count == 1, "gpu_milli"] == 1000).all()
    assert (p.loc[p.gpu_count == 0, "gpu_milli"] == 0).all()
    assert p.cpu_milli.min() == 2000 and p.cpu_milli.max() == 192_000
    assert p.memory_bytes.min() == 16 * GIB and p.memory_bytes.max() == 1000 * GIB
    assert p.app.nunique() == 156 and (p.owner == p.app).all()


def test_spread_limits(trace):
    """max_instance_per_node -> max_per_node; -1 (no limit) in about half the rows."""
    counts = trace.pods.max_per_node.value_counts().to_dict()
    assert counts == {-1: 12248, 2: 6778, 4: 3588, 8: 724, 10: 469, 16: 64}


def test_empty_times_mean_outside_the_window(trace):
    """7,280 created before the window, 8,878 not deleted in it, 4,677 with no times at all."""
    p = trace.pods
    assert p.arrival_s.isna().sum() == 7280
    assert p.deletion_s.isna().sum() == 8878
    assert (p.arrival_s.isna() & p.deletion_s.isna()).sum() == 4677
    # pods present at the start come first, then arrivals in order
    assert p.arrival_s.iloc[:7280].isna().all()
    assert p.arrival_s.iloc[7280:].is_monotonic_increasing
    assert p.arrival_s.max() < 2.68e6 and p.deletion_s.max() < 2.68e6
    known = p.duration_s.dropna()
    assert (known >= 0).all()


def test_first_row():
    """instance_0: HN, app_0, 12 vCPU, 1 GPU, 120 GiB, at most 8 per node, no times."""
    p = load_trace(DLRM).pods
    row = p[p.name == "instance_0"].iloc[0]
    assert (row.cpu_milli, row.memory_bytes, row.gpu_count, row.app, row.max_per_node) == (
        12000, 120 * GIB, 1, "app_0", 8)
    pod = pods_from_trace(p[p.name == "instance_0"])[0]
    assert pod.labels == {"app": "app_0"} and pod.annotations["kbench/max-per-node"] == "8"
    assert pod.duration_s is None


def _write(tmp_path, rows: list[str]) -> Path:
    path = tmp_path / "dlrm.csv"
    path.write_text(",".join(HEADER) + "\n" + "\n".join(rows) + "\n")
    return path


GOOD = "instance_0,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,"


@pytest.mark.parametrize(("row", "message"), [
    ("instance_1,XN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,", "expected CN or HN in column role, got 'XN'"),
    ("instance_1,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,-2,,,",
     "expected a whole number >= -1 in column max_instance_per_node, got '-2'"),
    ("instance_1,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,-1.5,,",
     "expected a time >= 0 (seconds) or an empty field in column creation_time, got '-1.5'"),
    ("instance_1,HN,app_0,twelve,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,",
     "expected a number >= 0 in column cpu_request, got 'twelve'"),
])
def test_malformed_rows(tmp_path, row, message):
    """A bad row names its line and what was expected; skip_bad_rows drops and counts it."""
    path = _write(tmp_path, [GOOD, row])
    with pytest.raises(TraceError) as err:
        load_trace(path)
    assert err.value.one_line() == f"{path}:3: {message}"
    trace = load_trace(path, skip_bad_rows=True)
    assert len(trace.pods) == 1 and trace.bad_rows == 1
