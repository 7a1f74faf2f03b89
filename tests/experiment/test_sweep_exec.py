"""kbench sweep on real executors: a process pool, a Dask LocalCluster (TCP on loopback), and a
sweep killed with SIGKILL part-way then resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kbench.cli import app
from kbench.experiment.executors import CellTask, DaskExecutor, run_cell
from kbench.experiment.sweep import load_sweep
from tests.experiment.test_sweep import BASIC, without_wall_clock, write_sweep

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def _records(folder: Path) -> dict[str, dict]:
    return {f.stem: json.loads(f.read_text()) for f in sorted((folder / "cells").glob("*.json"))}


@pytest.fixture(scope="module")
def two_ways(tmp_path_factory):
    """The BASIC sweep (4 cells) run through the CLI on a Dask LocalCluster and on a process pool.

    The LocalCluster is started by ``DaskExecutor("local")`` (what ``--dask local`` does) and the
    CLI connects to its scheduler by address (what ``--dask tcp://HOST:PORT`` does): one cluster
    start covers both paths.
    """
    tmp = tmp_path_factory.mktemp("sweep-exec")
    path = write_sweep(tmp, BASIC)
    out = {}
    with DaskExecutor("local", 2) as cluster:
        address = cluster.client.scheduler.address
        assert address.startswith("tcp://127.0.0.1:")
        worker_pids = set(cluster.client.run(os.getpid).values())
        assert len(worker_pids) == 2 and os.getpid() not in worker_pids  # real worker processes
        res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp / "dask"), "-o", "json", "--dask", address])
        assert res.exit_code == 0, res.output
        out["dask"] = (json.loads(res.stdout), tmp / "dask" / "basic")
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp / "pool"), "-o", "json", "-j", "2"])
    assert res.exit_code == 0, res.output
    out["pool"] = (json.loads(res.stdout), tmp / "pool" / "basic")
    return path, out


def test_dask_local_cluster_matches_the_process_pool(two_ways):
    _, out = two_ways
    (dask_obj, dask_dir), (pool_obj, pool_dir) = out["dask"], out["pool"]
    assert (dask_obj["ran"], dask_obj["failed"]) == (4, 0) and (pool_obj["ran"], pool_obj["failed"]) == (4, 0)
    dask_recs, pool_recs = _records(dask_dir), _records(pool_dir)
    assert len(dask_recs) == 4 and set(dask_recs) == set(pool_recs)
    for cid, rec in dask_recs.items():
        assert rec["status"] == "complete" and Path(rec["run_dir"]).is_relative_to(dask_dir / "runs" / cid)
        assert without_wall_clock(rec["summary"]) == without_wall_clock(pool_recs[cid]["summary"])
    cols = ["cell_id", "param.nodes", "policy", "seed", "pod_startup_s.p99", "scheduling.throughput_pods_per_s"]
    pd.testing.assert_frame_equal(pd.read_parquet(dask_dir / "cells.parquet")[cols],
                                  pd.read_parquet(pool_dir / "cells.parquet")[cols])
    # the policies do differ on this grid, so equal summaries are not a trivial match
    by = {(r["params"]["nodes"], r["policy"]): r["summary"]["pod_startup_s"]["p99"] for r in dask_recs.values()}
    assert by[(3, "default")] != by[(3, "most-allocated")]


def test_same_cell_in_process_on_the_pool_and_on_dask_is_identical(two_ways, tmp_path):
    path, out = two_ways
    sweep = load_sweep(path)
    cell = sweep.cells()[-1]
    local = run_cell(CellTask(cell.cell_id, sweep.scenarios[cell.combo], sweep.policy_args[cell.policy], cell.seed,
                              str(tmp_path)))
    assert local["status"] == "complete"
    expected = without_wall_clock(local["summary"])
    assert expected["pods"]["created"] == 24
    for label in ("pool", "dask"):
        rec = json.loads((out[label][1] / "cells" / f"{cell.cell_id}.json").read_text())
        assert without_wall_clock(rec["summary"]) == expected, label


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to watch the worker processes")
def test_resume_after_sigkill_runs_every_cell_exactly_once(tmp_path):
    path = write_sweep(tmp_path, """\
        name: killed
        scenario: micro.yaml
        grid:
          nodes: [3, 4, 5]
        policies: [default]
        seeds: 2
        metrics: [pod_startup_s.p99]
        """)
    out = tmp_path / "results"
    folder = out / "killed"
    script = Path(sys.executable).with_name("kbench")  # the console script, as a user runs it
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "kbench.cli"]
    cmd += ["sweep", str(path), "--out", str(out), "-j", "2", "-o", "json"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not list((folder / "cells").glob("*.json")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no cell finished in time"
            time.sleep(0.02)
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    done_at_kill = _records(folder)
    assert 1 <= len(done_at_kill) < 6
    t0 = time.monotonic()  # the pool's workers notice their parent is gone and exit
    while any(_alive(w) for w in workers) and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]
    # a record cut short by the kill, as a stray temp file, must not count
    todo = next(c for c in load_sweep(path).cells() if c.cell_id not in done_at_kill)
    (folder / "cells" / f".{todo.cell_id}.json.tmp-99999").write_text('{"cell_id": "' + todo.cell_id)
    snapshot = {cid: (folder / "cells" / f"{cid}.json").read_bytes() for cid in done_at_kill}

    res = runner.invoke(app, ["sweep", str(path), "--out", str(out), "-j", "1", "-o", "json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    assert (obj["skipped"], obj["ran"], obj["total"]) == (len(done_at_kill), 6 - len(done_at_kill), 6)
    recs = _records(folder)
    assert len(recs) == 6 and all(r["status"] == "complete" for r in recs.values())
    assert {cid: (folder / "cells" / f"{cid}.json").read_bytes() for cid in done_at_kill} == snapshot
    assert sorted(p.name for p in (folder / "cells").iterdir()) == sorted(f"{cid}.json" for cid in recs)
    runs = sorted((folder / "runs").iterdir())
    assert [p.name for p in runs] == sorted(recs)
    for cell_dir in runs:  # exactly one finished run folder per cell, the one its record names
        assert [p.name for p in cell_dir.iterdir()] == [Path(recs[cell_dir.name]["run_dir"]).name]
    df = pd.read_parquet(folder / "cells.parquet")
    assert len(df) == 6 and df["cell_id"].is_unique and set(df["cell_id"]) == set(recs)
    assert df["pod_startup_s.p99"].notna().all()
