"""kbench sweep: the sweep file, parameters, cell ids, the sweep folder, resume, bad input (in process)."""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from kbench.cli import app
from kbench.config import load_scenario
from kbench.errors import KbenchError
from kbench.experiment import sweep_params
from kbench.experiment.sweep import load_sweep, run_sweep

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]

SCENARIO = """\
version: 1
name: micro
seed: 1
duration_s: 20s
cluster:
  nodes:
    - {count: 4, name_prefix: node, cpu_cores: 4, memory_bytes: 16Gi}
workload:
  deployments:
    - name: web
      replicas: 24
      template: {cpu_cores: 300m, memory_bytes: 256Mi}
"""
"""A scenario whose run takes a fraction of a second."""

BASIC = """\
name: basic
scenario: micro.yaml
grid:
  nodes: [3, 4]
policies: [default, most-allocated]
seeds: 1
metrics: [pod_startup_s.p99, scheduling.throughput_pods_per_s]
"""


def write_sweep(folder: Path, body: str, name: str = "sw.yaml") -> Path:
    """Write the micro scenario and a sweep file ``body`` (referring to ``micro.yaml``) in ``folder``."""
    (folder / "micro.yaml").write_text(SCENARIO)
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def without_wall_clock(summary: dict) -> dict:
    """A summary without the fields that depend on the wall clock or the folder (``sim.wall_s``, ``run_dir``)."""
    s = json.loads(json.dumps(summary))
    s.pop("run_dir", None)
    s.get("sim", {}).pop("wall_s", None)
    return s


# ------------------------------------------------------------------------------------ parameters


@pytest.mark.parametrize("text, tokens", [
    ("cluster.nodes[0].count", ["cluster", "nodes", 0, "count"]),
    ("sync_strategies.kubelet", ["sync_strategies", "kubelet"]),
    ('workload.params["a.b"]', ["workload", "params", "a.b"]),
    ("duration_s", ["duration_s"]),
])
def test_parse_path(text, tokens):
    assert sweep_params.parse_path(text, "grid") == tokens


@pytest.mark.parametrize("text", ["a..b", ".a", "a.", "a[0]b", "a[x]"])
def test_parse_path_rejects_malformed(text):
    with pytest.raises(KbenchError, match="malformed"):
        sweep_params.parse_path(text, "grid")


def test_resolve_checks_fields_against_the_scenario(micro_scenario):
    r = sweep_params.resolve
    assert r(micro_scenario, "cluster.nodes[0].count", "g") == ("cluster", "nodes", 0, "count")
    assert r(micro_scenario, "clients.controller-manager.qps", "g") == ("clients", "controller-manager", "qps")
    assert r(micro_scenario, "apiserver.flowcontrol.max-requests-inflight", "g") == (
        "apiserver", "flowcontrol", "max_requests_inflight")
    assert r(micro_scenario, "sync_strategies.kubelet", "g") == ("sync_strategies", "kubelet")  # a new key
    assert r(micro_scenario, "duration", "g") == ("duration_s",)
    assert r(micro_scenario, "params.pods", "g") == ("workload", "params", "pods")
    with pytest.raises(KbenchError, match="has no field 'cpu_core'.*did you mean 'cpu_cores'"):
        r(micro_scenario, "cluster.nodes[0].cpu_core", "g")
    with pytest.raises(KbenchError, match=r"has 1 item\(s\), no \[3\]"):
        r(micro_scenario, "cluster.nodes[3].count", "g")
    with pytest.raises(KbenchError, match="is a list"):
        r(micro_scenario, "cluster.nodes.count", "g")
    with pytest.raises(KbenchError, match="use 'seeds:'"):
        r(micro_scenario, "seed", "g")
    with pytest.raises(KbenchError, match="use 'policies:'"):
        r(micro_scenario, "scheduler.policy", "g")


@pytest.fixture
def micro_scenario(tmp_path):
    (tmp_path / "micro.yaml").write_text(SCENARIO)
    return load_scenario(tmp_path / "micro.yaml")


@pytest.mark.parametrize("counts, total, expected", [
    ([4], 10, [10]),
    ([3, 1], 10, [8, 2]),      # shares 7.5 and 2.5: tie on the remainder, the first group gets the extra node
    ([2, 2, 3], 14, [4, 4, 6]),  # exact shares
    ([1, 1, 1], 4, [2, 1, 1]),  # shares 1.33 each: one extra node, to the first
])
def test_nodes_alias_scales_groups_to_the_exact_total(counts, total, expected):
    data = {"cluster": {"nodes": [{"count": c} for c in counts]}}
    sweep_params.apply(data, ("nodes",), total, "grid.nodes")
    assert [g["count"] for g in data["cluster"]["nodes"]] == expected


# ----------------------------------------------------------------------------------- sweep file


def test_cells_are_the_grid_product_with_stable_distinct_ids(tmp_path):
    path = write_sweep(tmp_path, """\
        scenario: micro.yaml
        grid:
          nodes: [3, 4, 5]
          sync_strategies.kubelet: [list-watch, "poll:10s"]
        policies: [default, most-allocated]
        seeds: 2
        """)
    sweep = load_sweep(path)
    cells = sweep.cells()
    assert len(cells) == 3 * 2 * 2 * 2
    assert len({c.cell_id for c in cells}) == len(cells)
    assert [c.cell_id for c in load_sweep(path).cells()] == [c.cell_id for c in cells]
    assert sweep.name == "sw" and sweep.seeds == [1, 2]
    first = cells[0]
    assert first.params == {"nodes": 3, "sync_strategies.kubelet": "list-watch"} and first.policy == "default"
    data = sweep.scenarios[first.combo]
    assert data["cluster"]["nodes"][0]["count"] == 3 and data["sync_strategies"]["kubelet"] == "list-watch"
    last = cells[-1]
    assert last.params == {"nodes": 5, "sync_strategies.kubelet": "poll:10s"} and last.seed == 2
    assert sweep.scenarios[last.combo]["sync_strategies"]["kubelet"] == "poll:10s"
    # changing one value of the grid changes only the ids of the cells that hold it
    path.write_text(path.read_text().replace("[3, 4, 5]", "[3, 4, 6]"))
    changed = {c.cell_id for c in load_sweep(path).cells()} ^ {c.cell_id for c in cells}
    assert len(changed) == 2 * 8


def test_seed_list_and_single_policy_default(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, "scenario: micro.yaml\ngrid: {duration: [10s, 1m]}\nseeds: [7, 3]\n"))
    assert sweep.seeds == [7, 3] and sweep.policies == ["default"]
    assert [d["duration_s"] for d in sweep.scenarios] == ["10s", "1m"]


# ------------------------------------------------------------------------------------ bad input


BAD = {
    "empty grid": ("scenario: micro.yaml\ngrid: {}\n", "grid is empty"),
    "no grid": ("scenario: micro.yaml\n", "grid is empty"),
    "empty values": ("scenario: micro.yaml\ngrid: {nodes: []}\n", "grid.nodes: expected a non-empty list"),
    "unknown parameter": ("scenario: micro.yaml\ngrid: {apiserver.corez: [1, 2]}\n",
                          "unknown parameter 'apiserver.corez'.*did you mean 'cores'"),
    "unknown policy": ("scenario: micro.yaml\ngrid: {nodes: [3]}\npolicies: [default, most-alocated]\n",
                       "policies: .*most-alocated.*did you mean 'most-allocated'"),
    "bad value": ("scenario: micro.yaml\ngrid: {duration: [10s, -5s]}\n", "duration=.*-5s"),
    "unknown key": ("scenario: micro.yaml\ngrid: {nodes: [3]}\npolicy: [default]\n",
                    "unknown key 'policy'.*did you mean 'policies'"),
    "repeated value": ("scenario: micro.yaml\ngrid: {nodes: [3, 3]}\n", "given twice"),
    "same setting twice": ("scenario: micro.yaml\ngrid: {duration: [1m], duration_s: [2m]}\n", "same setting"),
    "bad seeds": ("scenario: micro.yaml\ngrid: {nodes: [3]}\nseeds: 0\n", "seeds"),
    "negative seed": ("scenario: micro.yaml\ngrid: {nodes: [3]}\nseeds: [-1]\n", "seeds: expected whole numbers >= 0"),
    "no scenario file": ("scenario: nope.yaml\ngrid: {nodes: [3]}\n", "no such file nope.yaml"),
}


def _one_error_line(res) -> str:
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sweep_file_is_one_line_exit_2_before_any_run(tmp_path, case):
    body, pattern = BAD[case]
    path = write_sweep(tmp_path, body)
    line = _one_error_line(runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "out"), "-j", "1"]))
    assert str(path) in line
    import re
    assert re.search(pattern, line), line
    assert not (tmp_path / "out").exists()  # nothing ran, no folder


def test_unknown_metric_is_one_line_exit_2(tmp_path):
    path = write_sweep(tmp_path, BASIC.replace("scheduling.throughput_pods_per_s", "pod_startup_s.p999"))
    line = _one_error_line(runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path), "-j", "1"]))
    assert "metrics: unknown metric 'pod_startup_s.p999'" in line and "did you mean" in line


def test_unreachable_dask_scheduler_fails_fast(tmp_path):
    path = write_sweep(tmp_path, BASIC)
    t0 = time.monotonic()
    line = _one_error_line(runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path), "--dask",
                                               "tcp://127.0.0.1:1"]))
    assert time.monotonic() - t0 < 20
    assert "--dask: cannot reach the Dask scheduler at tcp://127.0.0.1:1" in line
    assert not list((tmp_path / "basic" / "cells").glob("*.json"))


@pytest.mark.parametrize("args, pattern", [
    (["--dask", "http://x:80"], "expected tcp://HOST:PORT or local"),
    (["--jobs", "0"], "--jobs: expected a number of processes >= 1"),
    (["-o", "xml"], "expected one of table, json, yaml"),
])
def test_bad_options(tmp_path, args, pattern):
    path = write_sweep(tmp_path, BASIC)
    assert pattern in _one_error_line(runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path), *args]))


# --------------------------------------------------------------------------- folder and resume


def test_sweep_folder_contract_and_rerun_skips_every_cell(tmp_path):
    path = write_sweep(tmp_path, BASIC)
    out = tmp_path / "results"
    res = runner.invoke(app, ["sweep", str(path), "--out", str(out), "-j", "1", "-o", "json"])
    assert res.exit_code == 0, res.output
    obj = json.loads(res.stdout)
    folder = out / "basic"
    assert obj["sweep_dir"] == str(folder) and (obj["ran"], obj["skipped"], obj["failed"], obj["total"]) == (4, 0, 0, 4)
    assert obj["metrics"] == ["pod_startup_s.p99", "scheduling.throughput_pods_per_s"]

    meta = json.loads((folder / "sweep.json").read_text())
    assert {k: meta[k] for k in ("kind", "schema_version", "name", "grid", "policies", "seeds", "metrics")} == {
        "kind": "sweep", "schema_version": 1, "name": "basic", "grid": {"nodes": [3, 4]},
        "policies": ["default", "most-allocated"], "seeds": [1], "metrics": obj["metrics"]}
    assert meta["scenario"].endswith("micro.yaml") and meta["created"]

    files = sorted((folder / "cells").glob("*.json"))
    assert len(files) == 4
    for f in files:
        rec = json.loads(f.read_text())
        assert set(rec) == {"cell_id", "params", "policy", "seed", "status", "wall_s", "summary", "run_dir"}
        assert f.stem == rec["cell_id"] and rec["status"] == "complete"
        assert Path(rec["run_dir"]).parent == folder / "runs" / rec["cell_id"]
        assert (Path(rec["run_dir"]) / "manifest.json").is_file()
        assert rec["summary"]["policy"] == rec["policy"] and rec["summary"]["seed"] == rec["seed"]
        assert rec["summary"]["pods"]["created"] == 24
    by_cell = {c["cell_id"]: c for c in obj["cells"]}
    assert set(by_cell) == {f.stem for f in files}
    ls = runner.invoke(app, ["results", "ls", str(out), "-o", "json"])
    assert ls.exit_code == 0, ls.output
    sweep_row = next(r for r in json.loads(ls.stdout) if r.get("kind") == "sweep")
    assert sweep_row["headline"]["runs"] == 4  # runs/<cell_id>/<run-id>/ are counted

    df = pd.read_parquet(folder / "cells.parquet")
    assert list(df.columns) == ["cell_id", "param.nodes", "policy", "seed", "status", "wall_s",
                                "pod_startup_s.p99", "scheduling.throughput_pods_per_s"]
    assert len(df) == 4 and df["cell_id"].is_unique and set(df["cell_id"]) == set(by_cell)
    assert df["param.nodes"].tolist() == [3, 3, 4, 4] and str(df["param.nodes"].dtype) == "int64"
    for cid, p99 in zip(df["cell_id"], df["pod_startup_s.p99"], strict=True):
        assert p99 == by_cell[cid]["metrics"]["pod_startup_s.p99"] and p99 > 0

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["status"] == "complete" and manifest["cells"] == 4

    before = {f.name: (f.stat().st_mtime_ns, f.read_bytes()) for f in files}
    runs_before = sorted(p for p in (folder / "runs").glob("*/*"))
    again = runner.invoke(app, ["sweep", str(path), "--out", str(out), "-j", "1", "-o", "json"])
    assert again.exit_code == 0, again.output
    obj2 = json.loads(again.stdout)
    assert (obj2["ran"], obj2["skipped"]) == (0, 4) and obj2["cells"] == obj["cells"]
    assert {f.name: (f.stat().st_mtime_ns, f.read_bytes()) for f in (folder / "cells").glob("*.json")} == before
    assert sorted(p for p in (folder / "runs").glob("*/*")) == runs_before


def test_changed_grid_is_refused_changed_metrics_rebuild_the_table(tmp_path):
    path = write_sweep(tmp_path, BASIC)
    out = tmp_path / "r"
    run_sweep(path, out, jobs=1)
    path.write_text(BASIC.replace("[3, 4]", "[3, 5]"))
    line = _one_error_line(runner.invoke(app, ["sweep", str(path), "--out", str(out), "-j", "1"]))
    assert "different grid" in line and "use another --out" in line
    path.write_text(BASIC.replace("seeds: 1", "seeds: 2"))
    assert "different seeds" in _one_error_line(runner.invoke(app, ["sweep", str(path), "--out", str(out)]))
    path.write_text(BASIC.replace("scheduling.throughput_pods_per_s", "pods.scheduled"))
    result = run_sweep(path, out, jobs=1)
    assert (result.ran, result.skipped) == (0, 4)
    df = pd.read_parquet(out / "basic" / "cells.parquet")
    assert df["pods.scheduled"].tolist() == [24.0] * 4
    assert json.loads((out / "basic" / "sweep.json").read_text())["metrics"] == ["pod_startup_s.p99", "pods.scheduled"]


def test_half_written_and_corrupt_records_are_not_done(tmp_path):
    path = write_sweep(tmp_path, BASIC)
    out = tmp_path / "r"
    first = run_sweep(path, out, jobs=1)
    cells = tmp_path / "r" / "basic" / "cells"
    victim, corrupt = first.records[0]["cell_id"], first.records[1]["cell_id"]
    text = (cells / f"{victim}.json").read_text()
    (cells / f"{victim}.json").unlink()
    (cells / f".{victim}.json.tmp-4242").write_text(text[: len(text) // 2])  # a write cut short by a kill
    (cells / f"{corrupt}.json").write_text(text[: len(text) // 3])
    again = run_sweep(path, out, jobs=1)
    assert (again.ran, again.skipped) == (2, 2)
    assert sorted(p.name for p in cells.iterdir()) == sorted(f"{c.cell_id}.json" for c in again.sweep.cells())
    for cid in (victim, corrupt):
        rec = json.loads((cells / f"{cid}.json").read_text())
        assert rec["cell_id"] == cid and rec["status"] == "complete"
        assert [p.name for p in (out / "basic" / "runs" / cid).iterdir()] == [Path(rec["run_dir"]).name]
    df = pd.read_parquet(out / "basic" / "cells.parquet")
    assert len(df) == 4 and df["cell_id"].is_unique


def test_mixed_value_types_become_text_columns_and_table_output(tmp_path):
    path = write_sweep(tmp_path, """\
        name: mixed
        scenario: micro.yaml
        grid:
          sync_strategies.kubelet: [list-watch, "poll:5s"]
          etcd.fsync_s: [1ms, 0.002]
        """)
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path), "-j", "1"])
    assert res.exit_code == 0, res.output
    assert "sweep folder: " in res.stdout and "4/4 cells done: ran 4, skipped 0" in res.stdout
    df = pd.read_parquet(tmp_path / "mixed" / "cells.parquet")
    assert df["param.sync_strategies.kubelet"].tolist() == ["list-watch", "list-watch", "poll:5s", "poll:5s"]
    assert df["param.etcd.fsync_s"].tolist() == ["1ms", "0.002", "1ms", "0.002"]
    # default metrics: those of kbench compare present in the summary
    assert "pod_startup_s.p99" in df.columns and "gpu.unallocated_pct_at_arrived.100" not in df.columns


def test_example_sweep_file_is_valid():
    sweep = load_sweep(REPO / "workloads" / "sweeps" / "nodes-x-policy.yaml")
    assert len(sweep.cells()) == 8 and sweep.base.name == "tiny"
    assert [d["cluster"]["nodes"][0]["count"] for d in sweep.scenarios] == [6, 12]


def test_sweep_lock_refuses_a_second_writer(tmp_path, monkeypatch):
    from kbench.experiment import sweep_store

    path = write_sweep(tmp_path, BASIC)
    sweep = load_sweep(path)
    monkeypatch.setattr(sweep_store, "LOCK_WAIT_S", 0.3)
    held = sweep_store.SweepFolder.open(tmp_path / "basic", sweep, 4)
    try:
        with pytest.raises(KbenchError, match="another kbench sweep is writing this folder"):
            sweep_store.SweepFolder.open(tmp_path / "basic", sweep, 4)
    finally:
        held.close()
    sweep_store.SweepFolder.open(tmp_path / "basic", sweep, 4).close()
    assert os.path.exists(tmp_path / "basic" / "sweep.json")


def test_a_failed_cell_is_recorded_and_a_bad_cell_stops_the_sweep(tmp_path, monkeypatch):
    """A model error marks the cell failed (done, NaN metrics); bad input met inside a cell is exit 2, not done."""
    from kbench.experiment import runner as runner_mod

    real_run = runner_mod.run

    def flaky(scenario, *, policy=None, seed=None, out_dir=None, **kw):
        if policy == "most-allocated":
            raise RuntimeError(f"run failed: ZeroDivisionError: boom (partial results in {out_dir}/x)")
        return real_run(scenario, policy=policy, seed=seed, out_dir=out_dir, **kw)

    monkeypatch.setattr(runner_mod, "run", flaky)
    path = write_sweep(tmp_path, BASIC)
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path), "-j", "1", "-o", "json"])
    assert res.exit_code == 1, res.output  # failed cells: the data is printed, then exit 1 naming them
    obj = json.loads(res.stdout)
    assert (obj["ran"], obj["failed"]) == (4, 2)
    failed = [c for c in obj["cells"] if c["status"] == "failed"]
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: 2 of 4 cells failed: ") and "Traceback" not in res.output
    assert all(c["cell_id"] in err[0] for c in failed) and "ZeroDivisionError: boom" in err[0]
    assert {c["policy"] for c in failed} == {"most-allocated"}
    assert all(c["metrics"]["pod_startup_s.p99"] is None and c["run_dir"].endswith("/x") for c in failed)
    rec = json.loads((tmp_path / "basic" / "cells" / f"{failed[0]['cell_id']}.json").read_text())
    assert rec["error"].startswith("RuntimeError: run failed: ZeroDivisionError")
    df = pd.read_parquet(tmp_path / "basic" / "cells.parquet")
    assert df.loc[df["policy"] == "most-allocated", "pod_startup_s.p99"].isna().all()
    assert df.loc[df["policy"] == "default", "pod_startup_s.p99"].notna().all()

    def bad(scenario, **kw):
        raise KbenchError("no such file pods.csv", where="workload.traces[0].path")

    monkeypatch.setattr(runner_mod, "run", bad)
    path2 = write_sweep(tmp_path, BASIC.replace("name: basic", "name: bad"), "bad.yaml")
    line = _one_error_line(runner.invoke(app, ["sweep", str(path2), "--out", str(tmp_path), "-j", "1"]))
    assert "workload.traces[0].path: no such file pods.csv" in line
    assert not list((tmp_path / "bad" / "cells").glob("*.json"))


def test_report_flag_writes_the_sweep_report(tmp_path):
    path = write_sweep(tmp_path, BASIC)
    run_sweep(path, tmp_path, jobs=1)
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path), "-j", "1", "--report", "-o", "json"])
    assert res.exit_code == 0, res.output
    report = Path(json.loads(res.stdout)["report"])
    assert report == tmp_path / "basic" / "report.html" and "basic" in report.read_text()


def test_cli_md_sweep_file_example_is_valid(tmp_path):
    text = (REPO / "CLI.md").read_text()
    section = text[text.index("## kbench sweep"):]
    example = section[section.index("```yaml\n") + 8:]
    example = example[:example.index("```")]
    (tmp_path / "tiny.yaml").write_text((REPO / "workloads" / "sweeps" / "tiny.yaml").read_text())
    (tmp_path / "example.yaml").write_text(example)
    sweep = load_sweep(tmp_path / "example.yaml")
    assert len(sweep.cells()) == 2 * 2 * 2 * 2 * 3
    assert {d["apiserver"]["flowcontrol"]["max_requests_inflight"] for d in sweep.scenarios} == {200, 400}


def test_a_sweep_whose_every_cell_failed_exits_1(tmp_path, monkeypatch):
    """Every cell failing is not a success: the table is printed, then one error line and exit 1."""
    from kbench.experiment import runner as runner_mod

    def crash(scenario, **kw):
        raise RuntimeError("run failed: ValueError: nope")

    monkeypatch.setattr(runner_mod, "run", crash)
    path = write_sweep(tmp_path, BASIC)
    res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path), "-j", "1"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "failed 4" in res.stdout  # the table still says what happened
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: 4 of 4 cells failed: ")
