"""The cluster-trace-v2018 importers (batch_task, batch_instance, container_meta, machine_meta).

The fixtures under tests/fixtures/traces/ are hand-made in the exact published schema
(alibaba/clusterdata cluster-trace-v2018/schema.md: headerless, columns in the documented order);
several rows are modelled on real rows quoted in public analyses of the trace. No sample of
this trace ships in workloads/traces.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kbench.errors import TraceError
from kbench.workload.traces import detect_format, load_trace
from kbench.workload.traces.alibaba2018 import (
    MACHINE_MEMORY_BYTES,
    load_batch_task,
    parse_task_name,
    task_dag,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
GIB = 2**30


@pytest.mark.parametrize(("name", "fmt"), [
    ("batch_task.csv", "alibaba2018-batch-task"), ("batch_instance.csv", "alibaba2018-batch-instance"),
    ("container_meta.csv", "alibaba2018-container-meta"), ("machine_meta.csv", "alibaba2018-machine-meta"),
])
def test_detected_by_name_and_by_content(tmp_path, name, fmt):
    """The file name tells the table; so does the first line's shape when the name does not."""
    assert detect_format(FIXTURES / name) == fmt
    renamed = tmp_path / "trace.csv"
    renamed.write_bytes((FIXTURES / name).read_bytes())
    assert detect_format(renamed) == fmt


def test_batch_task_one_pod_per_instance():
    """instance_num pods per task; plan_cpu 100 = 1 core; plan_mem normalized to 512 GiB; 0 = outside the window."""
    trace = load_trace(FIXTURES / "batch_task.csv")
    p = trace.pods.set_index("name")
    assert len(p) == 2 + 1 + 1 + 3 + 1 + 1
    m1 = p.loc["j_3/M1/1"]
    assert (m1.arrival_s, m1.deletion_s, m1.duration_s) == (157213, 157295, 82)
    assert m1.cpu_milli == 1000 and m1.memory_bytes == pytest.approx(0.3 / 100 * 512 * GIB)
    assert (m1.owner, m1.phase) == ("j_3", "Terminated")
    assert [n for n in p.index if n.startswith("j_3/M4_2_3/")] == ["j_3/M4_2_3/0", "j_3/M4_2_3/1", "j_3/M4_2_3/2"]
    assert p.loc["j_3/M4_2_3/2", "cpu_milli"] == 500
    running = p.loc["j_7/task_LTg0MTUwNTA5Mjg4MDkwNjIzMA==/0"]     # empty plan_cpu/plan_mem, end 0
    assert (running.cpu_milli, running.memory_bytes) == (0, 0)
    assert running.arrival_s == 86400 and math.isnan(running.deletion_s)
    waiting = trace.pods.iloc[0]                                  # start 0: present before the window
    assert waiting["name"] == "j_9/M1/0" and math.isnan(waiting.arrival_s)


def test_machine_memory_assumption_can_change():
    """plan_mem is a share of the largest machine's memory, 512 GiB unless told otherwise."""
    assert MACHINE_MEMORY_BYTES == 512 * GIB
    p = load_batch_task(FIXTURES / "batch_task.csv", machine_memory_bytes=100 * GIB).pods.set_index("name")
    assert p.loc["j_3/M1/0", "memory_bytes"] == pytest.approx(0.3 * GIB)


def test_dag_from_task_names():
    """M5_3_4 is task 5 waiting for tasks 3 and 4; random names are independent tasks."""
    assert parse_task_name("M1") == (1, ())
    assert parse_task_name("M5_3_4") == (5, (3, 4))
    assert parse_task_name("R2_1") == (2, (1,))
    assert parse_task_name("task_LTg0MTUwNTA5Mjg4MDkwNjIzMA==") is None
    jobs = ["j_3", "j_3", "j_3", "j_3", "j_7"]
    tasks = ["M1", "R2_1", "R3_1", "M4_2_3", "task_Nzg3ODAwNDgzMTAwNTc2NTQ2Mw=="]
    assert task_dag(jobs, tasks) == {"j_3": [("R2_1", "M1"), ("R3_1", "M1"), ("M4_2_3", "R2_1"), ("M4_2_3", "R3_1")]}


def test_batch_instance_attempts():
    """One pod per row; retried instances get #seq; cpu_max/mem_max stand in for the request."""
    p = load_trace(FIXTURES / "batch_instance.csv").pods.set_index("name")
    assert list(p.index) == ["j_3/M1/ins_74901673", "j_3/M1/ins_74901674#1", "j_3/M1/ins_74901674#2",
                             "j_3/R2_1/ins_815418"]
    first = p.loc["j_3/M1/ins_74901673"]
    assert (first.cpu_milli, first.duration_s) == (160, 37)
    assert first.memory_bytes == pytest.approx(0.02 / 100 * 512 * GIB)
    assert p.loc["j_3/M1/ins_74901674#1", "phase"] == "Failed"
    running = p.loc["j_3/R2_1/ins_815418"]
    assert math.isnan(running.deletion_s) and running.cpu_milli == 0


def test_container_meta_one_pod_per_container():
    """Rows are status events: a container arrives at its first time stamp (0 = before the window)."""
    p = load_trace(FIXTURES / "container_meta.csv").pods.set_index("name")
    assert list(p.index) == ["c_1", "c_2"]
    assert math.isnan(p.loc["c_1", "arrival_s"]) and p.loc["c_2", "arrival_s"] == 12000
    assert p.loc["c_1", "cpu_milli"] == 4000 and p.loc["c_2", "cpu_milli"] == 8000
    assert p.loc["c_2", "memory_bytes"] == pytest.approx(3.13 / 100 * 512 * GIB)
    assert (p.loc["c_2", "app"], p.loc["c_2", "owner"], p.loc["c_2", "phase"]) == ("app_77", "app_77", "started")


def test_machine_meta_nodes():
    """One node per machine: cpu_num cores, mem_size share of 512 GiB."""
    trace = load_trace(FIXTURES / "machine_meta.csv")
    n = trace.nodes
    assert list(n.name) == ["m_1", "m_2", "m_3"] and len(trace.pods) == 0
    assert list(n.cpu_milli) == [96000, 96000, 64000]
    assert list(n.memory_bytes) == [512 * GIB, 512 * GIB, 256 * GIB]


@pytest.mark.parametrize(("text", "line", "message"), [
    ("M1,1,j_3,1,Terminated,157213,157295,100.0,0.3\nM2,1,j_3,1,Terminated,-1,157295,100.0,0.3\n", 2,
     "expected a time >= 0 (seconds, 0 = outside the window) in column start_time, got '-1'"),
    ("M1,1,j_3,1,Terminated,157213,157295,100.0,0.3\nM2,x,j_3,1,Terminated,1,157295,100.0,0.3\n", 2,
     "expected a whole number >= 0 in column instance_num, got 'x'"),
    ("M1,1,j_3,1,Terminated,157213,157295,100.0\n", 1,
     "expected 9 comma-separated fields (task_name,instance_num,job_name,task_type,status,start_time,"
     "end_time,plan_cpu,plan_mem), got 8"),
])
def test_malformed_batch_task(tmp_path, text, line, message):
    """Headerless files count lines from 1; skip_bad_rows drops the line."""
    path = tmp_path / "batch_task.csv"
    path.write_text(text)
    with pytest.raises(TraceError) as err:
        load_trace(path)
    assert err.value.one_line() == f"{path}:{line}: {message}"
    assert load_trace(path, skip_bad_rows=True).bad_rows == 1
