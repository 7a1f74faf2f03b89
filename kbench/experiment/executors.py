"""Where sweep cells run: in this process, on a local process pool, or on a Dask cluster.

Every executor takes a list of :class:`CellTask` and yields one record per task as tasks finish
(any order). A task carries plain data only (the cell's scenario as a dict), so it pickles to a
spawned process or a remote Dask worker. Workers write the run folder (``runner.run(...,
out_dir=...)``) at the path the task names, so a remote cluster needs a shared filesystem for the
run folders; the cell records and the table are written by the client.

- ``--jobs 1``: :class:`InlineExecutor`, in this process.
- ``--jobs N`` (default ``os.cpu_count()``): :class:`ProcessExecutor`, N spawned processes; each
  exits when its parent dies (a killed sweep leaves no worker behind).
- ``--dask tcp://HOST:PORT``: :class:`DaskExecutor` connects to that scheduler and no other; one
  that does not answer within :data:`CONNECT_TIMEOUT_S` is a one-line error.
- ``--dask local``: a ``distributed.LocalCluster`` of N single-threaded worker processes on loopback.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kbench.errors import KbenchError

CONNECT_TIMEOUT_S = 3.0
"""How long to wait for a Dask scheduler to answer, seconds."""

_ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx)://[^\s/]+:\d+/?$")


@dataclass(frozen=True)
class CellTask:
    """One cell to run, as plain data.

    Attributes:
        cell_id: The cell id.
        scenario: The cell's scenario in ``to_dict`` form.
        policy: Policy name or absolute file path.
        seed: Master seed.
        runs_dir: Absolute folder for the run folder.
    """

    cell_id: str
    scenario: dict[str, Any]
    policy: str
    seed: int
    runs_dir: str


def run_cell(task: CellTask) -> dict[str, Any]:
    """Run one cell and return its record (without the cell's params, which the client adds).

    Returns:
        ``{"cell_id", "status", "wall_s", "summary", "run_dir"}``; ``status`` is the run's
        (``complete``), ``failed`` (a model error, with ``error``; the run folder still exists) or
        ``error`` (bad input met inside the cell, with ``error``: the sweep stops, nothing is recorded).
    """
    from kbench.config import scenario_from_dict
    from kbench.experiment.runner import run

    t0 = time.perf_counter()
    rec: dict[str, Any] = {"cell_id": task.cell_id}
    try:
        res = run(scenario_from_dict(task.scenario), policy=task.policy, seed=task.seed, out_dir=task.runs_dir)
        rec.update(status=res.summary.get("status", "complete"), summary=res.summary,
                   run_dir=str(res.run_dir) if res.run_dir else None)
    except KbenchError as err:
        rec.update(status="error", error=err.one_line(), summary={}, run_dir=None)
    except Exception as err:  # a model error: the runner wrote a run folder marked failed
        where = re.search(r"\(partial results in (.+)\)$", str(err))
        rec.update(status="failed", error=f"{type(err).__name__}: {err}", summary={},
                   run_dir=where.group(1) if where else None)
    rec["wall_s"] = round(time.perf_counter() - t0, 3)
    return rec


class InlineExecutor:
    """Runs the cells one after another in this process."""

    def __enter__(self) -> InlineExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def run(self, tasks: list[CellTask]) -> Iterator[dict[str, Any]]:
        """Yield each task's record."""
        for t in tasks:
            yield run_cell(t)


def _exit_with_parent(parent_pid: int) -> None:
    """Pool-worker initializer: exit as soon as the parent process is gone (checked every 0.2 s)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="kbench-parent-watch").start()


class ProcessExecutor:
    """A pool of ``jobs`` spawned worker processes.

    Args:
        jobs: Number of processes.
    """

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.pool: Any = None

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self.pool is None:
            return
        if exc_type is not None:  # stop now: running cells are dropped, their half-written folders cleaned later
            for p in list(getattr(self.pool, "_processes", {}).values()):
                p.terminate()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None

    def run(self, tasks: list[CellTask]) -> Iterator[dict[str, Any]]:
        """Yield each task's record as it finishes."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        self.pool = ProcessPoolExecutor(max_workers=max(1, min(self.jobs, len(tasks))),
                                        mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_exit_with_parent, initargs=(os.getpid(),))
        futures = [self.pool.submit(run_cell, t) for t in tasks]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        except BrokenProcessPool:
            raise KbenchError("a worker process died (out of memory?); rerun the sweep to resume it") from None


class DaskExecutor:
    """Cells as Dask tasks, on an existing scheduler or a LocalCluster.

    Args:
        address: ``tcp://HOST:PORT`` (or ``HOST:PORT``), or ``local``.
        jobs: Worker processes of a LocalCluster.
    """

    def __init__(self, address: str, jobs: int):
        address = address.strip()
        if address != "local" and "://" not in address:
            address = f"tcp://{address}"
        if address != "local" and not _ADDRESS.match(address):
            raise KbenchError(f"expected tcp://HOST:PORT or local, got {address!r}", where="--dask")
        self.address = address
        self.jobs = jobs
        self.client: Any = None
        self.cluster: Any = None
        self.futures: list[Any] = []

    def __enter__(self) -> DaskExecutor:
        import logging

        from distributed import Client, LocalCluster

        if self.address == "local":
            self.cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                        host="127.0.0.1", dashboard_address=None, memory_limit=0,
                                        silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            return self
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            self.client = Client(self.address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as err:
            raise KbenchError(f"cannot reach the Dask scheduler at {self.address}: {str(err).splitlines()[0]}",
                              where="--dask") from None
        finally:
            quiet.setLevel(level)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.client is not None:
            pending = [f for f in self.futures if not f.done()]
            if pending:
                self.client.cancel(pending)
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def run(self, tasks: list[CellTask]) -> Iterator[dict[str, Any]]:
        """Yield each task's record as it finishes."""
        from distributed import as_completed

        self.futures = [self.client.submit(run_cell, t, key=f"kbench-sweep-{t.cell_id}", pure=False)
                        for t in tasks]
        for fut in as_completed(self.futures):
            try:
                rec = fut.result()
            except Exception as err:  # the worker could not run run_cell at all (e.g. kbench missing there)
                raise KbenchError(f"a Dask worker failed: {type(err).__name__}: {err}", where="--dask") from None
            yield rec


def make_executor(jobs: int | None = None, dask: str | None = None) -> Any:
    """The executor for ``--jobs`` and ``--dask`` (nothing is started or connected yet).

    Raises:
        KbenchError: ``jobs`` < 1 or a malformed Dask address.
    """
    if jobs is not None and jobs < 1:
        raise KbenchError(f"expected a number of processes >= 1, got {jobs}", where="--jobs")
    n = jobs or os.cpu_count() or 1
    if dask:
        return DaskExecutor(dask, n)
    return InlineExecutor() if n == 1 else ProcessExecutor(n)
