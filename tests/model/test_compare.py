"""`compare`: a clearly better policy is significant in the right direction; a renamed copy is not."""

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kbench.cli import guarded
from kbench.errors import KbenchError
from kbench.experiment.compare import analyse, compare, direction_of, extract, normalize_metric
from kbench.experiment.compare_cmd import compare_cmd

# 4 small nodes, 24 pods: most-allocated packs them onto one node, whose kubelet starts them one
# after another, so pod startup is several seconds slower than with least-allocated.
TINY = """
version: 1
name: tiny
seed: 1
duration_s: 40s
cluster:
  nodes: [{count: 4, cpu_cores: 4, memory_bytes: 8Gi}]
workload:
  deployments: [{name: web, replicas: 24, template: {cpu_cores: 100m}}]
"""

POLICIES = ["least-allocated", "most-allocated", "least-allocated-v1"]
METRICS = ["pod_startup_s.p50", "scheduling.throughput_pods_per_s"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    p = tmp_path_factory.mktemp("cmp") / "tiny.yaml"
    p.write_text(TINY)
    return p


@pytest.fixture(scope="module")
def result(scenario, tmp_path_factory):
    return compare(scenario, POLICIES, 10, METRICS, "least-allocated", tmp_path_factory.mktemp("out"))


def test_clearly_worse_policy_is_significant_in_the_right_direction(result):
    pr = result["paired"]["pod_startup_s.p50"]["most-allocated"]
    assert pr["significant"] and pr["p_value"] <= 0.05
    assert pr["diff_median"] > 0 and pr["ci_low"] > 0  # slower than the baseline
    assert result["ranking"]["pod_startup_s.p50"][-1] == "most-allocated"
    assert result["warning"] is None


def test_identical_policies_under_different_names_are_not_significant(result):
    for m in METRICS:
        pr = result["paired"][m]["least-allocated-v1"]
        assert not pr["significant"] and pr["p_value"] == 1.0 and pr["diff_median"] == 0.0


def test_output_has_the_keys_scripts_rely_on(result):
    assert result["seeds"] == list(range(1, 11)) and result["baseline"] == "least-allocated"
    assert result["test"] == "wilcoxon" and "warning" in result
    for m in METRICS:
        for p in POLICIES:
            v = result["metrics"][m][p]
            assert set(v) >= {"median", "ci_low", "ci_high", "values"} and len(v["values"]) == 10
            assert v["ci_low"] <= v["median"] <= v["ci_high"]
        assert set(result["paired"][m]) == {"most-allocated", "least-allocated-v1"}
        for pr in result["paired"][m].values():
            assert set(pr) >= {"diff_median", "ci_low", "ci_high", "p_value", "significant"}
        assert sorted(result["ranking"][m]) == sorted(POLICIES)


def test_comparison_folder_holds_json_and_run_folders(result):
    from pathlib import Path

    folder = Path(result["comparison_dir"])
    saved = json.loads((folder / "comparison.json").read_text())
    assert saved["paired"] == result["paired"]
    assert len([d for d in folder.iterdir() if d.is_dir()]) == 30


def test_common_random_numbers_make_renamed_copies_identical(result):
    m = result["metrics"]["pod_startup_s.p50"]
    assert m["least-allocated"]["values"] == m["least-allocated-v1"]["values"]


def test_five_seeds_warn_that_nothing_can_be_significant():
    vals = {"a": [[1.0, 2.0, 3.0, 4.0, 5.0]], "b": [[11.0, 12.0, 13.0, 14.0, 15.0]]}
    out = analyse(vals, ["pod_startup_s.p50"], [1, 2, 3, 4, 5], "a")
    assert out["paired"]["pod_startup_s.p50"]["b"]["p_value"] == 0.0625
    assert not out["paired"]["pod_startup_s.p50"]["b"]["significant"]
    assert "0.0625" in out["warning"]


def test_directions_table_and_metric_paths():
    assert direction_of("pod_startup_s.p99") == "lower"
    assert direction_of("scheduling.throughput_pods_per_s") == "higher"
    assert direction_of("gpu.unallocated_pct_at_arrived.100") == "lower"
    assert direction_of("pod_startup_s.p99", {"pod_startup_s.p99": "higher"}) == "higher"
    assert normalize_metric('gpu.unallocated_pct_at_arrived["100"]') == "gpu.unallocated_pct_at_arrived.100"
    assert extract({"gpu": {"u": {"100": 3}}}, 'gpu.u["100"]') == 3.0


@pytest.mark.parametrize("kwargs, text", [
    ({"policies": ["least-allocated"]}, "at least 2 policies"),
    ({"seeds": 1}, "at least 2 seeds"),
    ({"metrics": ["pod_startup_s.p999"]}, "did you mean 'pod_startup_s.p99'"),
    ({"policies": ["least-allocated", "most-alocated"]}, "did you mean 'most-allocated'"),
    ({"baseline": "nope"}, "baseline"),
    ({"test": "z"}, "unknown test"),
])
def test_bad_input_is_a_kbench_error(scenario, kwargs, text):
    args = {"policies": ["least-allocated", "most-allocated"], "seeds": 2, "metrics": None} | kwargs
    with pytest.raises(KbenchError, match=text):
        compare(scenario, args.pop("policies"), args.pop("seeds"), args.pop("metrics"), **args)


def _app():
    app = typer.Typer()
    app.command("compare")(guarded(compare_cmd))
    app.command("noop")(lambda: None)  # two commands, so "compare" stays a subcommand
    return app


def test_cli_table_and_json(scenario, tmp_path):
    cli = CliRunner()
    args = ["compare", str(scenario), "--policy", "least-allocated", "--policy", "most-allocated",
            "--seeds", "5", "--metric", "pod_startup_s.p50", "--out", str(tmp_path)]
    res = cli.invoke(_app(), args)
    assert res.exit_code == 0, res.output
    assert "not significant" in res.stdout and "ranking" in res.stdout and "0.0625" in res.stdout
    res = cli.invoke(_app(), args + ["-o", "json", "--metric", "scheduling.throughput_pods_per_s:lower"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["directions"]["scheduling.throughput_pods_per_s"] == "lower"
    assert out["metrics"]["pod_startup_s.p50"]["most-allocated"]["median"] > 0


@pytest.mark.parametrize("extra, text", [
    (["--policy", "least-allocated"], "at least 2 policies"),
    (["--policy", "a", "--policy", "b", "--seeds", "1"], "at least 2 seeds"),
    (["--policy", "least-allocated", "--policy", "most-allocated", "--seeds", "2", "--metric", "nope.p50"],
     "unknown metric"),
    (["--policy", "least-allocated", "--policy", "most-allocated", "--param", "novalue"], "KEY=VALUE"),
])
def test_cli_bad_input_is_one_line_exit_2(scenario, tmp_path, extra, text):
    res = CliRunner().invoke(_app(), ["compare", str(scenario), "--out", str(tmp_path), *extra])
    assert res.exit_code == 2
    assert text in res.output and "Traceback" not in res.output


def test_numeric_summary_keys_are_reachable_by_path():
    """FGD summaries key the arrival percentage by a number: ``gpu.unallocated_pct_at_arrived[100]``."""
    s = {"gpu": {"unallocated_pct_at_arrived": {100: 2.5}}}
    assert extract(s, "gpu.unallocated_pct_at_arrived.100") == 2.5
    assert extract(s, 'gpu.unallocated_pct_at_arrived["100"]') == 2.5


def test_fgd_openb_reduced_ranks_unallocated_gpu(tmp_path):
    """The FGD scenario's headline metric comes through by default and fgd beats random on it."""
    from tests.model.test_fgd_openb import reduced

    path = reduced(tmp_path, "fgd-openb.yaml", sample_nodes=0.03, max_pods=150)
    out = compare(path, ["random", "fgd"], 2, ['gpu.unallocated_pct_at_arrived["100"]'], None, None)
    m = "gpu.unallocated_pct_at_arrived.100"
    assert out["ranking"][m] == ["fgd", "random"]
    assert out["directions"][m] == "lower" and out["warning"] is not None


def test_jobs_2_gives_the_comparison_of_jobs_1(tmp_path):
    """``--jobs 2`` runs the cells in two spawned processes and joins them in seed × policy order:
    the comparison and every run's summary.json are those of ``--jobs 1``."""
    from tests.model.test_fgd_openb import reduced

    path = reduced(tmp_path, "fgd-openb.yaml", sample_nodes=0.03, max_pods=120)
    out = {}
    for jobs in ("1", "2"):
        res = CliRunner().invoke(_app(), ["compare", str(path), "--policy", "random", "--policy", "best-fit",
                                          "--policy", "fgd", "--seeds", "3", "--metric",
                                          "gpu.unallocated_pct_at_arrived.100", "--metric", "gpu.frag_amount_pct",
                                          "--out", str(tmp_path / f"j{jobs}"), "--jobs", jobs, "-o", "json"])
        assert res.exit_code == 0, res.output
        result = json.loads(res.stdout)
        folder = Path(result.pop("comparison_dir"))
        runs = {}
        for summary in folder.glob("*/summary.json"):
            s = json.loads(summary.read_text())
            runs[(s["policy"], s["seed"])] = summary.read_text()
        out[jobs] = (result, runs)
    assert out["1"][0] == out["2"][0]
    assert len(out["1"][1]) == 9 and out["1"][1] == out["2"][1]
    values = out["1"][0]["metrics"]["gpu.unallocated_pct_at_arrived.100"]["random"]["values"]
    assert len(set(values)) > 1  # seeds differ, so a mix-up of the order would show


def test_jobs_below_1_is_refused(tmp_path):
    res = CliRunner().invoke(_app(), ["compare", "x.yaml", "--policy", "a", "--policy", "b", "--jobs", "0"])
    assert res.exit_code == 2 and "--jobs" in res.output
