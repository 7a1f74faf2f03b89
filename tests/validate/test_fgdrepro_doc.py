"""The FGD reproduction driver and the VALIDATION.md regenerator, without running the experiment."""

from __future__ import annotations

import pytest

from kbench.config import load_scenario
from kbench.validate import fgdrepro
from kbench.validate.doc import DOC, replace_section


def test_scenario_copy_points_at_the_pod_list_and_loads(tmp_path):
    path = fgdrepro.scenario_copy("gpushare40", tmp_path, sample_nodes=0.05, max_pods=100)
    sc = load_scenario(path)
    assert sc.name == "fgd-openb-gpushare40"
    assert sc.workload.params["pods"] == "openb_pod_list_gpushare40.csv.gz"
    assert (fgdrepro.ROOT / sc.workload.params["traces"] / sc.workload.params["pods"]).is_file()
    trace = sc.workload.traces[0]
    assert trace.sample_nodes == 0.05 and trace.max_pods == 100
    assert sc.seed == 42  # --seeds 10 gives the paper's seeds 42-51


def test_table_reports_mean_and_sd_at_100_and_the_median_curve():
    metrics = {f"gpu.unallocated_pct_at_arrived.{x}": {p: {"median": float(x), "values": [1.0, 3.0]}
                                                      for p in fgdrepro.POLICIES} for x in fgdrepro.ARRIVED}
    text = fgdrepro.table({"default": {"metrics": metrics}})
    assert "| default | 2.00 ± 1.41 |" in text
    assert "| fgd | 80.00 | 90.00 |" in text


def test_doc_has_both_marked_sections_and_replacement_is_local():
    text = DOC.read_text()
    for name in ("validate", "fgd-table"):
        assert f"<!-- BEGIN {name}" in text and f"<!-- END {name} -->" in text
    new = replace_section(text, "fgd-table", "NEW TABLE")
    assert "NEW TABLE" in new and new.count("<!-- END fgd-table -->") == 1
    assert new.split("<!-- BEGIN fgd-table")[0] == text.split("<!-- BEGIN fgd-table")[0]
    with pytest.raises(SystemExit):
        replace_section(text, "nope", "x")


def test_fgd_only_copies_the_table_without_running_the_suite(tmp_path, monkeypatch):
    from kbench.validate import doc

    copy = tmp_path / "VALIDATION.md"
    copy.write_text(DOC.read_text())
    table = tmp_path / "fgd-table.md"
    table.write_text("header line\n\n| pod list | fgd |\n| --- | --- |\n| default | 4.77 ± 0.10 |\n")

    def no_suite(**kw):
        raise AssertionError("the validation suite must not run")

    monkeypatch.setattr("kbench.validate.suite.run_suite", no_suite)
    doc.main(["--fgd", str(table), "--fgd-only", "--doc", str(copy)])
    text = copy.read_text()
    assert "| default | 4.77 ± 0.10 |" in text and "header line" in text
    assert text.split("<!-- BEGIN fgd-table")[0] == DOC.read_text().split("<!-- BEGIN fgd-table")[0]
    with pytest.raises(SystemExit):
        doc.main(["--fgd-only", "--doc", str(copy)])


def test_durations_read_as_hours_and_minutes():
    assert fgdrepro._duration(59.6) == "1 min 0 s"
    assert fgdrepro._duration(3725) == "1 h 2 min 5 s"


def test_each_list_runs_one_compare_with_the_jobs_and_timing_is_recorded(tmp_path, monkeypatch):
    """main() passes --jobs to each compare (make fgd-repro: 2) and writes timing.json and the table
    under a line naming the command; the compare itself is faked here."""
    import json
    import subprocess

    metrics = {f"gpu.unallocated_pct_at_arrived.{x}": {p: {"median": 5.0, "values": [4.0, 6.0]}
                                                      for p in fgdrepro.POLICIES} for x in fgdrepro.ARRIVED}
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, json.dumps({"metrics": metrics, "comparison_dir": "x"}), "")

    monkeypatch.setattr(fgdrepro.subprocess, "run", fake_run)
    fgdrepro.main(["--lists", "default gpushare40", "--seeds", "2", "--jobs", "2", "--no-report",
                   "--out", str(tmp_path)])
    compares = [c for c in calls if "compare" in c]
    assert len(compares) == 2 and all(c[c.index("--jobs") + 1] == "2" for c in compares)
    timing = json.loads((tmp_path / "timing.json").read_text())
    assert timing["jobs"] == 2 and timing["runs"] == 24 and set(timing["lists"]) == {"default", "gpushare40"}
    assert timing["wall_s"] >= 0 and "loadavg_1m_before" in timing
    text = (tmp_path / "fgd-table.md").read_text()
    assert text.startswith('`python -m kbench.validate.fgdrepro --lists "default gpushare40" --seeds 2 --jobs 2`')
    assert "| gpushare40 | 5.00 ± 1.41 |" in text


def _fake_compare(monkeypatch, calls, tree="", fail_in=None):
    """subprocess.run faked: git sees a clean tree at commit abc123 (``tree``: porcelain status),
    each compare returns fixed metrics; a compare of the list ``fail_in`` raises KeyboardInterrupt."""
    import json
    import subprocess

    metrics = {f"gpu.unallocated_pct_at_arrived.{x}": {p: {"median": 5.0, "values": [4.0, 6.0]}
                                                      for p in fgdrepro.POLICIES} for x in fgdrepro.ARRIVED}

    def fake_run(cmd, **kw):
        if cmd[:2] == ["git", "status"]:
            return subprocess.CompletedProcess(cmd, 0, tree, "")
        if cmd[:2] == ["git", "rev-parse"]:
            return subprocess.CompletedProcess(cmd, 0, "abc123\n", "")
        calls.append(cmd)
        if fail_in is not None and any(fail_in in str(a) for a in cmd):
            raise KeyboardInterrupt
        return subprocess.CompletedProcess(cmd, 0, json.dumps({"metrics": metrics, "comparison_dir": "x"}), "")

    monkeypatch.setattr(fgdrepro.subprocess, "run", fake_run)


def test_an_interrupted_study_resumes_at_the_list_it_stopped_in(tmp_path, monkeypatch, capsys):
    """Ctrl-C in the second list: exit 130, the first list's record kept; the same command then
    reruns only the second list, and the table and timing.json say the first was reused."""
    import json

    args = ["--lists", "default gpushare40", "--seeds", "2", "--jobs", "1", "--no-report", "--out", str(tmp_path)]
    calls: list = []
    _fake_compare(monkeypatch, calls, fail_in="gpushare40")
    with pytest.raises(SystemExit) as stop:
        fgdrepro.main(args)
    assert stop.value.code == 130
    assert "1 of 2 lists finished and kept" in capsys.readouterr().err
    assert (tmp_path / "default" / fgdrepro.LIST_RECORD).is_file()
    assert not (tmp_path / "fgd-table.md").exists()

    calls.clear()
    _fake_compare(monkeypatch, calls)
    fgdrepro.main(args)
    assert len(calls) == 1 and any("gpushare40" in str(a) for a in calls[0])  # default reused
    timing = json.loads((tmp_path / "timing.json").read_text())
    assert timing["reused_lists"] == ["default"] and timing["lists"]["default"]["reused"]
    assert not timing["lists"]["gpushare40"]["reused"]
    assert "1 of the lists reused from an earlier invocation" in (tmp_path / "fgd-table.md").read_text()
    assert "| default | 5.00 ± 1.41 |" in (tmp_path / "fgd-table.md").read_text()


@pytest.mark.parametrize("change", ["fresh", "seeds", "report", "tracked-change"])
def test_a_finished_list_is_rerun_when_anything_it_depends_on_differs(tmp_path, monkeypatch, change):
    args = ["--lists", "default", "--seeds", "2", "--jobs", "1", "--no-report", "--out", str(tmp_path)]
    calls: list = []
    _fake_compare(monkeypatch, calls)
    fgdrepro.main(args)
    fgdrepro.main(args)
    assert len(calls) == 1  # the same inputs and code: reused
    again = {"fresh": [*args, "--fresh"], "seeds": [*args[:3], "3", *args[4:]],
             "report": [a for a in args if a != "--no-report"], "tracked-change": args}[change]
    _fake_compare(monkeypatch, calls, tree=" M kbench/cluster/world.py\n" if change == "tracked-change" else "")
    fgdrepro.main(again)
    assert len(calls) == 2
