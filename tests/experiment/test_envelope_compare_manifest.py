"""The comparison folder's manifest.json (written with the envelope's), and `compare` bad input on the CLI."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kbench.results
from kbench.errors import KbenchError
from kbench.experiment.compare import compare
from kbench.results.commands import list_runs, show_run
from kbench.results.store import SCHEMA_VERSION

TINY = """
version: 1
name: tiny
seed: 1
duration_s: 20s
cluster:
  nodes: [{count: 2, cpu_cores: 4, memory_bytes: 8Gi}]
workload:
  deployments: [{name: web, replicas: 6, template: {cpu_cores: 100m}}]
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    p = tmp_path_factory.mktemp("cmpm") / "tiny.yaml"
    p.write_text(TINY)
    return p


@pytest.fixture(scope="module")
def done(scenario, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return compare(scenario, ["least-allocated", "most-allocated"], 2, ["pod_startup_s.p50"], out_dir=out), out


def test_comparison_folder_has_a_manifest(done):
    result, _ = done
    folder = Path(result["comparison_dir"])
    m = json.loads((folder / "manifest.json").read_text())
    assert m["kind"] == "comparison" and m["schema_version"] == SCHEMA_VERSION and m["status"] == "complete"
    assert m["scenario"] == "tiny" and m["policies"] == ["least-allocated", "most-allocated"]
    assert m["seeds"] == [1, 2] and m["metrics"] == ["pod_startup_s.p50"] and m["test"] == "wilcoxon"
    assert m["run_id"] == folder.name and m["kbench"] and m["python"] and m["created"] and m["finished"]
    assert not [f for f in folder.iterdir() if f.name.startswith(".")]  # no temporary file left


def test_results_ls_show_and_load_read_the_comparison_folder(done):
    result, out = done
    folder = Path(result["comparison_dir"])
    rows, _ = list_runs(out)
    assert [(r["kind"], r["status"], r["scenario"]) for r in rows] == [("comparison", "complete", "tiny")]
    assert rows[0]["headline"] == {"runs": 4, "policies": ["least-allocated", "most-allocated"], "seeds": [1, 2]}
    inner, _ = list_runs(folder)
    assert len(inner) == 4 and {r["kind"] for r in inner} == {"run"}
    assert show_run(folder)["manifest"]["kind"] == "comparison"
    loaded = kbench.results.load(folder)
    assert loaded["manifest"]["policies"] == ["least-allocated", "most-allocated"]
    assert loaded["comparison"]["paired"] == json.loads(json.dumps(result["paired"]))
    from kbench.cli import app

    res = CliRunner().invoke(app, ["results", "ls", str(out), "-o", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["kind"] == "comparison"


def test_an_unknown_metric_fails_before_any_run(scenario, tmp_path):
    with pytest.raises(KbenchError, match="unknown metric 'nope.p50'"):
        compare(scenario, ["least-allocated", "most-allocated"], 2, ["nope.p50"], out_dir=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing ran, no folder


def test_a_failed_comparison_is_marked_failed_and_names_the_run(scenario, tmp_path, monkeypatch):
    from kbench.errors import RunFailed
    from kbench.experiment import runner as runner_mod

    real_run = runner_mod.run

    def crash(sc, *, policy=None, seed=None, **kw):
        if policy == "most-allocated":
            raise RuntimeError("run failed: ZeroDivisionError: boom")
        return real_run(sc, policy=policy, seed=seed, **kw)

    monkeypatch.setattr(runner_mod, "run", crash)
    with pytest.raises(RunFailed, match="run of policy most-allocated seed 1 failed: run failed: ZeroDivisionError"):
        compare(scenario, ["least-allocated", "most-allocated"], 2, ["pod_startup_s.p50"], out_dir=tmp_path)
    (folder,) = [d for d in tmp_path.iterdir() if d.is_dir()]
    m = json.loads((folder / "manifest.json").read_text())
    assert m["status"] == "failed" and "most-allocated seed 1" in m["error"]
    from kbench.cli import app

    res = CliRunner().invoke(app, ["compare", str(scenario), "--policy", "least-allocated", "--policy",
                                   "most-allocated", "--seeds", "2", "--out", str(tmp_path / "cli")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.stderr.strip().splitlines()[-1].startswith("error: run of policy most-allocated seed 1 failed")


@pytest.mark.parametrize("extra, text", [
    (["--policy", "least-allocated", "--policy", "most-alocated"], "did you mean 'most-allocated'"),
    (["--policy", "least-allocated", "--policy", "no-such-policy"], "no-such-policy"),
    (["--policy", "least-allocated", "--policy", "most-allocated", "--metric", "pod_startup_s.p999"],
     "unknown metric 'pod_startup_s.p999'"),
])
def test_compare_unknown_policy_or_metric_is_one_line_exit_2(scenario, tmp_path, extra, text):
    from kbench.cli import app

    res = CliRunner().invoke(app, ["compare", str(scenario), "--seeds", "2", "--out", str(tmp_path), *extra])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.stderr.strip().splitlines() if not ln.startswith("run ")]  # progress lines
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0]
    assert "Traceback" not in res.output and res.stdout == ""
