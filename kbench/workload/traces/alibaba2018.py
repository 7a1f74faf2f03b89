"""Alibaba cluster-trace-v2018: batch tasks and instances, containers, machines.

The files (``alibaba/clusterdata``, ``cluster-trace-v2018/schema.md``) are headerless CSVs; the
columns, in file order, are:

* ``batch_task.csv``: task_name, instance_num, job_name, task_type, status, start_time, end_time,
  plan_cpu, plan_mem;
* ``batch_instance.csv``: instance_name, task_name, job_name, task_type, status, start_time,
  end_time, machine_id, seq_no, total_seq_no, cpu_avg, cpu_max, mem_avg, mem_max;
* ``container_meta.csv``: container_id, machine_id, time_stamp, app_du, status, cpu_request,
  cpu_limit, mem_size;
* ``machine_meta.csv``: machine_id, time_stamp, failure_domain_1, failure_domain_2, cpu_num,
  mem_size, status.

Units: times in seconds from the start of the 8-day window, where **0 means before or after the
window**; CPU of tasks, instances and containers in hundredths of a core (100 = 1 core, so
millicores = value × 10); machine CPU in cores; **memory normalized to 0–100**, 100 being the
largest machine's memory. Assumption: that machine has :data:`MACHINE_MEMORY_BYTES` (512 GiB), so
bytes = value / 100 × 512 GiB (pass ``machine_memory_bytes`` to the loaders to change it).

Pods:

* batch_task: one pod per instance (``instance_num`` rows per task), named
  ``job/task/i``, with ``plan_cpu`` / ``plan_mem`` as requests (empty = 0), ``owner`` = job,
  ``phase`` = status. Task names carry the job's DAG: ``M5_3_4`` is task 5, which waits for tasks 3
  and 4 (:func:`parse_task_name`, :func:`task_dag`); random names (``task_...``) are independent.
* batch_instance: one pod per row (an attempt; ``#seq`` appended when ``total_seq_no`` > 1), named
  ``job/task/instance``, with ``cpu_max`` / ``mem_max`` (the peak usage; instances carry no request)
  as requests.
* container_meta: one pod per container (rows are status events), requests from its first row,
  arrival at its first time stamp, ``app`` and ``owner`` = ``app_du``, ``phase`` = last status.
* machine_meta: the nodes table, one node per machine (its first row), pods table empty.

Start times of 0 read as NaN (present before the window), end times of 0 as NaN (not ended in it).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from kbench.workload.traces.common import (
    GIB,
    Trace,
    duration_from,
    nodes_table,
    pods_table,
    read_rows,
    read_text,
)

MACHINE_MEMORY_BYTES = 512 * GIB
"""Assumed memory of the largest machine (normalized memory 100), bytes."""

BATCH_TASK = ("task_name", "instance_num", "job_name", "task_type", "status", "start_time", "end_time",
              "plan_cpu", "plan_mem")
BATCH_INSTANCE = ("instance_name", "task_name", "job_name", "task_type", "status", "start_time", "end_time",
                  "machine_id", "seq_no", "total_seq_no", "cpu_avg", "cpu_max", "mem_avg", "mem_max")
CONTAINER_META = ("container_id", "machine_id", "time_stamp", "app_du", "status", "cpu_request", "cpu_limit",
                  "mem_size")
MACHINE_META = ("machine_id", "time_stamp", "failure_domain_1", "failure_domain_2", "cpu_num", "mem_size",
                "status")

_TIME = "a time >= 0 (seconds, 0 = outside the window)"
_MEM = "a normalized memory size >= 0 (0-100)"
_DAG = re.compile(r"^[A-Za-z]+(\d+)((?:_\d+)*)$")


def parse_task_name(name: str) -> tuple[int, tuple[int, ...]] | None:
    """The DAG position of a batch task name.

    Args:
        name: A task name such as ``M5_3_4`` (task 5 depends on tasks 3 and 4) or ``R2_1``.

    Returns:
        ``(task number, dependencies)``, e.g. ``(5, (3, 4))``; None for names outside the DAG
        convention (``task_Nzg3...==``), which are independent tasks.
    """
    m = _DAG.match(name)
    if not m:
        return None
    deps = tuple(int(d) for d in m.group(2).split("_") if d)
    return int(m.group(1)), deps


def task_dag(job_names: list[str], task_names: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The dependency edges of every job: job name -> ``[(task, task it waits for), ...]``.

    Edges refer to tasks by their full names; a dependency on a task number no task of the job
    has is left out.
    """
    numbers: dict[tuple[str, int], str] = {}
    parsed = []
    for job, task in zip(job_names, task_names, strict=True):
        pos = parse_task_name(task)
        parsed.append((job, task, pos))
        if pos is not None:
            numbers[(job, pos[0])] = task
    edges: dict[str, list[tuple[str, str]]] = {}
    for job, task, pos in parsed:
        for dep in pos[1] if pos else ():
            if (job, dep) in numbers:
                edges.setdefault(job, []).append((task, numbers[(job, dep)]))
    return edges


def _window(values: np.ndarray) -> np.ndarray:
    """0 means outside the window: NaN."""
    return np.where(values > 0, values, np.nan)


def _trace(fmt: str, path, data: dict, n: int, bad: int) -> Trace:
    return Trace(fmt, str(path), pods_table(data, n), None, None, bad)


def load_batch_task(path: str | Path, *, skip_bad_rows: bool = False,
                    machine_memory_bytes: float = MACHINE_MEMORY_BYTES) -> Trace:
    """Read ``batch_task.csv``: one pod per task instance.

    Args:
        path: The headerless CSV file.
        skip_bad_rows: Skip and count malformed rows instead of raising.
        machine_memory_bytes: Bytes of normalized memory 100.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    rows = read_rows(path, read_text(path), BATCH_TASK, header=False,
                     numeric=("instance_num", "start_time", "end_time", "plan_cpu", "plan_mem"))
    task, job, status = rows.text("task_name"), rows.text("job_name"), rows.text("status")
    rows.flag(task == "", lambda r: "expected a task name in column task_name, got ''")
    count = rows.number("instance_num", integer=True, min_value=0)
    start = rows.number("start_time", min_value=0, what=_TIME)
    end = rows.number("end_time", min_value=0, what=_TIME)
    cpu = rows.number("plan_cpu", required=False, min_value=0)
    mem = rows.number("plan_mem", required=False, min_value=0, what=_MEM)
    keep = rows.finish(skip_bad_rows)
    count = count[keep].astype(np.int64)
    rep = np.repeat(np.flatnonzero(keep), count)
    index = np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)
    names = pd.Series(job[rep]).str.cat([pd.Series(task[rep]), pd.Series(index.astype(str))], sep="/")
    arrival, deletion = _window(start[rep]), _window(end[rep])
    data = {"name": names.to_numpy(dtype=object), "arrival_s": arrival, "deletion_s": deletion,
            "duration_s": duration_from(arrival, np.full(len(rep), np.nan), deletion),
            "cpu_milli": np.nan_to_num(cpu[rep]) * 10.0,
            "memory_bytes": np.nan_to_num(mem[rep]) / 100.0 * machine_memory_bytes,
            "owner": job[rep], "phase": status[rep]}
    return _trace("alibaba2018-batch-task", path, data, len(rep), rows.bad_count)


def load_batch_instance(path: str | Path, *, skip_bad_rows: bool = False,
                        machine_memory_bytes: float = MACHINE_MEMORY_BYTES) -> Trace:
    """Read ``batch_instance.csv``: one pod per instance attempt, peak usage as its request.

    Args:
        path: The headerless CSV file.
        skip_bad_rows: Skip and count malformed rows instead of raising.
        machine_memory_bytes: Bytes of normalized memory 100.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    rows = read_rows(path, read_text(path), BATCH_INSTANCE, header=False,
                     numeric=("start_time", "end_time", "seq_no", "total_seq_no", "cpu_avg", "cpu_max",
                              "mem_avg", "mem_max"))
    inst, task, job = rows.text("instance_name"), rows.text("task_name"), rows.text("job_name")
    rows.flag(inst == "", lambda r: "expected an instance name in column instance_name, got ''")
    status = rows.text("status")
    start = rows.number("start_time", min_value=0, what=_TIME)
    end = rows.number("end_time", min_value=0, what=_TIME)
    seq = rows.number("seq_no", required=False, integer=True, min_value=0)
    total = rows.number("total_seq_no", required=False, integer=True, min_value=0)
    rows.number("cpu_avg", required=False, min_value=0)
    cpu = rows.number("cpu_max", required=False, min_value=0)
    rows.number("mem_avg", required=False, min_value=0, what=_MEM)
    mem = rows.number("mem_max", required=False, min_value=0, what=_MEM)
    keep = rows.finish(skip_bad_rows)
    names = pd.Series(job[keep]).str.cat([pd.Series(task[keep]), pd.Series(inst[keep])], sep="/")
    retried = np.nan_to_num(total[keep]) > 1
    suffix = np.where(retried, "#" + pd.Series(np.nan_to_num(seq[keep]).astype(np.int64)).astype(str), "")
    arrival, deletion = _window(start[keep]), _window(end[keep])
    data = {"name": (names + suffix).to_numpy(dtype=object), "arrival_s": arrival, "deletion_s": deletion,
            "duration_s": duration_from(arrival, np.full(len(arrival), np.nan), deletion),
            "cpu_milli": np.nan_to_num(cpu[keep]) * 10.0,
            "memory_bytes": np.nan_to_num(mem[keep]) / 100.0 * machine_memory_bytes,
            "owner": job[keep], "phase": status[keep]}
    return _trace("alibaba2018-batch-instance", path, data, int(keep.sum()), rows.bad_count)


def load_container_meta(path: str | Path, *, skip_bad_rows: bool = False,
                        machine_memory_bytes: float = MACHINE_MEMORY_BYTES) -> Trace:
    """Read ``container_meta.csv``: one pod per container (its first event row).

    Args:
        path: The headerless CSV file.
        skip_bad_rows: Skip and count malformed rows instead of raising.
        machine_memory_bytes: Bytes of normalized memory 100.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    rows = read_rows(path, read_text(path), CONTAINER_META, header=False,
                     numeric=("time_stamp", "cpu_request", "cpu_limit", "mem_size"))
    cid = rows.text("container_id")
    rows.flag(cid == "", lambda r: "expected a container id in column container_id, got ''")
    app, status = rows.text("app_du"), rows.text("status")
    stamp = rows.number("time_stamp", min_value=0, what=_TIME)
    cpu = rows.number("cpu_request", required=False, min_value=0)
    rows.number("cpu_limit", required=False, min_value=0)
    mem = rows.number("mem_size", required=False, min_value=0, what=_MEM)
    keep = rows.finish(skip_bad_rows)
    events = pd.DataFrame({"id": cid[keep], "t": stamp[keep], "app": app[keep], "status": status[keep],
                           "cpu": np.nan_to_num(cpu[keep]), "mem": np.nan_to_num(mem[keep])})
    groups = events.groupby("id", sort=False)
    first, last = groups.first(), groups.last()
    data = {"name": first.index.to_numpy(dtype=object), "arrival_s": _window(groups["t"].min().to_numpy()),
            "cpu_milli": first["cpu"].to_numpy() * 10.0,
            "memory_bytes": first["mem"].to_numpy() / 100.0 * machine_memory_bytes,
            "owner": first["app"].to_numpy(dtype=object), "app": first["app"].to_numpy(dtype=object),
            "phase": last["status"].to_numpy(dtype=object)}
    return _trace("alibaba2018-container-meta", path, data, len(first), rows.bad_count)


def load_machine_meta(path: str | Path, *, skip_bad_rows: bool = False,
                      machine_memory_bytes: float = MACHINE_MEMORY_BYTES) -> Trace:
    """Read ``machine_meta.csv`` into the nodes table (one node per machine, its first row).

    Args:
        path: The headerless CSV file.
        skip_bad_rows: Skip and count malformed rows instead of raising.
        machine_memory_bytes: Bytes of normalized memory 100.

    Raises:
        TraceError: ``path:line: what was expected``.
    """
    rows = read_rows(path, read_text(path), MACHINE_META, header=False,
                     numeric=("time_stamp", "cpu_num", "mem_size"))
    mid = rows.text("machine_id")
    rows.flag(mid == "", lambda r: "expected a machine id in column machine_id, got ''")
    rows.number("time_stamp", min_value=0, what=_TIME)
    cores = rows.number("cpu_num", min_value=0)
    mem = rows.number("mem_size", min_value=0, what=_MEM)
    keep = rows.finish(skip_bad_rows)
    machines = pd.DataFrame({"id": mid[keep], "cores": cores[keep], "mem": mem[keep]})
    first = machines.groupby("id", sort=False).first()
    nodes = nodes_table({"name": first.index.to_numpy(dtype=object), "cpu_milli": first["cores"].to_numpy() * 1000.0,
                         "memory_bytes": first["mem"].to_numpy() / 100.0 * machine_memory_bytes}, len(first))
    return Trace("alibaba2018-machine-meta", str(path), pods_table({}, 0), nodes, None, rows.bad_count)
