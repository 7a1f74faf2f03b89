"""``-o markdown``: Markdown tables for pull-request comments."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from kbench.cli import app
from kbench.report.markdown import comparison_markdown, md_table, run_markdown

from .conftest import EVIL_SCENARIO


def test_md_table_escapes_cells_and_checks_rows():
    out = md_table(["a", "b"], [["x|y", None], [1.23456789, "<script>\nz"]])
    lines = out.splitlines()
    assert lines[0] == "| a | b |" and lines[1] == "| --- | --- |"
    assert lines[2] == "| x\\|y | - |"
    assert lines[3] == "| 1.235 | &lt;script&gt; z |"
    with pytest.raises(ValueError):
        md_table(["a"], [[1, 2]])


def test_run_markdown_flags_a_failed_slo():
    s = {"scenario": "s", "policy": "p", "seed": 1, "pods": {"created": 3},
         "slo": [{"name": "pod_startup_p99_s", "threshold": 5.0, "value": 7.5, "pass": False, "source": "F1"}]}
    out = run_markdown(s)
    assert "SLO FAIL: pod_startup_p99_s" in out
    assert "| pod_startup_p99_s | 5 | 7.5 | **FAIL** | F1 |" in out


def test_comparison_markdown(evil_comparison):
    comp = json.loads((evil_comparison / "comparison.json").read_text())
    out = comparison_markdown(comp)
    assert "**pod_startup_s.p99** (lower is better)" in out
    assert "(baseline)" in out and "&lt;script&gt;" in out and "<script>" not in out
    assert out.count("| policy | median [bootstrap 95 % CI, n=6] |") == 2  # 6 seeds: a bootstrap CI


def test_run_markdown_from_the_cli(tmp_path):
    (tmp_path / "s.yaml").write_text(EVIL_SCENARIO.replace('"<script>alert(1)</script>"', "small"))
    res = CliRunner().invoke(app, ["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "r"), "-o", "markdown",
                                   "--report"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("### kbench run: small · policy default · seed 2 · all SLOs pass")
    assert "| pods created / scheduled | 20 / 20 |" in res.stdout
    reports = list((tmp_path / "r").glob("*/report.html"))
    assert len(reports) == 1 and f"report: {reports[0]}" in res.output


def test_compare_markdown_and_report_from_the_cli(tmp_path):
    res = CliRunner().invoke(app, ["compare", "workloads/sweeps/tiny.yaml", "--policy", "default", "--policy",
                                   "most-allocated", "--seeds", "2", "--metric", "pod_startup_s.p99",
                                   "--out", str(tmp_path), "-o", "markdown", "--report"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("### kbench compare: tiny · baseline default · 2 seeds")
    # 2 seeds: the interval is the range, and the header says so
    assert "| policy | median [min–max, n=2] | diff vs baseline [min–max, n=2] | p (Holm) | verdict |" in res.stdout
    (report,) = tmp_path.glob("*/report.html")
    assert f"report: {report}" in res.output
    text = report.read_text()
    assert "pod_startup_s.p99 per policy" in text and "Pod startup per policy, all seeds pooled" in text
