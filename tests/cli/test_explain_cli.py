"""`kbench explain` and `kbench policies` through typer's CliRunner (a local app with the two commands)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kbench.policy.commands import explain_cmd, policies_cmd

FIX = Path(__file__).parents[1] / "fixtures"
app = typer.Typer()
app.command("explain")(explain_cmd)
app.command("policies")(policies_cmd)


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def explain_args(policy: str, pod: str = "pod-gpu-share.yaml", snap: str = "gpu-snapshot.yaml") -> list[str]:
    return ["explain", "--policy", policy, "--snapshot", str(FIX / snap), "--pod", str(FIX / pod)]


def test_explain_json_output_is_the_documented_shape():
    res = run(*explain_args("best-fit"), "-o", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"selected", "nodes"} <= set(data) and data["selected"] == "gpu-t4"  # keys may be added, never renamed
    row = data["nodes"]["gpu-t4"]
    assert {k: row[k] for k in ("feasible", "filters", "scores", "total")} == {
        "feasible": True, "filters": {"NodeResourcesFit": "Success", "GpuShare": "Success"},
        "scores": {"BestFit": 100}, "total": 100}
    assert row["statuses"] == {"NodeResourcesFit": {"code": "Success", "reasons": []},
                               "GpuShare": {"code": "Success", "reasons": []}}
    assert data["status"] == {"code": "Success", "reasons": []}


def test_explain_table_marks_the_chosen_node():
    res = run(*explain_args("best-fit"))
    assert res.exit_code == 0, res.output
    assert "▶ gpu-t4" in res.stdout and "BestFit ×1" in res.stdout
    assert "selected: gpu-t4" in res.stdout


def test_explain_table_shows_failing_filter_reasons():
    res = run(*explain_args("least-allocated", pod="pod-huge.yaml", snap="cluster-snapshot.yaml"))
    assert res.exit_code == 0, res.output
    assert "Insufficient cpu" in res.stdout and "selected: none" in res.stdout


@pytest.mark.parametrize(("args", "message"), [
    (explain_args("fdg"), "did you mean 'fgd'"),
    (explain_args("fgd", pod="missing.yaml"), "no such file"),
    (explain_args(str(FIX / "kube-scheduler-bad-weight.yaml"), pod="pod-web.yaml", snap="cluster-snapshot.yaml"),
     "profiles[0].pluginConfig[1].args.scoringStrategy.resources[0].weight"),
    ([*explain_args("fgd"), "-o", "xml"], "-o xml: expected one of table, json, yaml"),
])
def test_bad_input_prints_one_error_line_and_exits_2(args, message):
    res = run(*args)
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert res.stdout == ""


def test_policy_file_that_raises_exits_2_naming_plugin_pod_and_point(tmp_path):
    path = tmp_path / "crash.py"
    path.write_text("from kbench.policy.api import Plugin\n"
                    "class Crash(Plugin):\n    NAME = 'Crash'\n"
                    "    def filter(self, state, pod, nodes, candidates):\n        raise ValueError('bad')\n"
                    "PLUGINS = [Crash]\n")
    res = run(*explain_args(str(path)))
    assert res.exit_code == 2
    line = res.stderr.strip()
    assert "'Crash'" in line and "ml/share-2" in line and "at Filter" in line and "\n" not in line


def test_policies_lists_profiles_and_plugins_with_origin():
    res = run("policies", "-o", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    names = {p["name"] for p in data["policies"]}
    assert {"default", "fgd", "best-fit", "least-allocated"} <= names
    fit = next(p for p in data["plugins"] if p["name"] == "NodeResourcesFit")
    assert fit["origin"] == "built-in" and "filter" in fit["points"] and fit["description"]
    table = run("policies")
    assert table.exit_code == 0 and "default" in table.stdout and "built-in" in table.stdout
