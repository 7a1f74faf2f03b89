"""The curve figures: GPU curves per policy of a comparison, and the fault timeline of a run."""

import pandas as pd
import pytest

from kbench.report import curvefigures as C
from kbench.report.base import MissingData


def _run(policy, seed, curve):
    return {"manifest": {"policy": policy, "seed": seed},
            "summary": {"policy": policy, "gpu": {"unallocated_pct_at_arrived": curve}}}


def test_policy_gpu_curves_take_the_median_over_seeds_and_a_min_max_band():
    runs = [_run("fgd", 1, {"50": 1.0, "100": 5.0}), _run("fgd", 2, {"50": 3.0, "100": 7.0}),
            _run("fgd", 3, {"50": 2.0, "100": 9.0}), _run("random", 1, {"50": 4.0, "100": 14.0})]
    fig = C.policy_gpu_curves(runs)
    lines = {t.name: t for t in fig.data if t.mode == "lines"}
    assert list(lines["fgd (median of 3)"].y) == [2.0, 7.0]
    assert list(lines["random (median of 1)"].y) == [4.0, 14.0]
    band = [t for t in fig.data if t.fill == "toself"]
    assert len(band) == 1 and list(band[0].y) == [3.0, 9.0, 5.0, 1.0]  # max forward, min backward
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text and fig.layout.meta["caption"]


def test_policy_gpu_curves_need_gpu_runs():
    with pytest.raises(MissingData):
        C.policy_gpu_curves([{"summary": {"policy": "a"}}])


def _series(rows):
    return pd.DataFrame(rows, columns=["time_s", "metric", "labels", "value"])


def test_fault_timeline_plots_counters_that_moved_and_shades_the_fault():
    rows = []
    for t in range(10):
        rows.append((float(t), "fault_active", "", 1.0 if 3 <= t <= 5 else 0.0))
        rows.append((float(t), "informer_relists_total", "", 0.0 if t < 6 else 22.0))
        rows.append((float(t), "api_rejected_429_total", "", 0.0))
    fig = C.fault_timeline(_series(rows), {"faults": [{"fault": "apiserver-restart", "at_s": 3.0}]})
    assert [t.name for t in fig.data] == ["informer relists"]  # 429s never moved: not drawn
    shapes = fig.layout.shapes
    assert any(s.x0 == 3.0 and s.x1 == 5.0 for s in shapes) and any(s.x0 == 3.0 == s.x1 for s in shapes)


def test_fault_timeline_is_missing_without_faults():
    with pytest.raises(MissingData):
        C.fault_timeline(_series([(0.0, "apf_seats_in_use", "level=exempt", 0.0)]))


def test_fault_rows_say_when_a_fault_did_not_recover():
    rows = C.fault_rows({"faults": [{"fault": "node-failure", "at_s": 60.0, "recovered": False,
                                     "relist_storm": {"relists": 0}, "slo_burn": {"pod_startup": 12.5}}]})
    assert rows[0][0] == "node-failure" and rows[0][8] == "not recovered" and rows[0][9] == "pod_startup 1,250 %"
    assert len(rows[0]) == len(C.FAULT_HEADERS)


def test_policy_gpu_curves_crop_to_the_paper_window_when_arrivals_pass_capacity():
    fig = C.policy_gpu_curves([_run("fgd", 1, {"0": 100.0, "80": 20.0, "100": 5.0, "130": 4.0})])
    assert tuple(fig.layout.xaxis.range) == (C.CROP_FROM_PCT, 130.0)
    assert fig.layout.yaxis.range[1] == 20.0 * 1.05  # the largest value shown in the window, not the 100 at 0
    uncropped = C.policy_gpu_curves([_run("fgd", 1, {"0": 100.0, "100": 5.0})])
    assert uncropped.layout.xaxis.range is None


def test_envelope_curve_shows_every_replication_the_threshold_and_the_boundary():
    from tests.report.conftest import ENVELOPE

    fig = C.envelope_curve(ENVELOPE)
    by = {t.name: t for t in fig.data}
    assert list(by["median of the replications"].x) == [20, 40, 80, 160, 180, 200, 240, 320]  # sorted by value
    failed = by["replication failed"]
    assert sorted(zip(failed.x, failed.y, strict=True)) == [(200, 11.2), (240, 12.9), (240, 13.3), (320, 15.5),
                                                             (320, 16.0)]
    assert list(by["SLO threshold 10.5"].y) == [10.5, 10.5]
    band = by["boundary: between 180 and 200"]
    assert min(band.x) == 180 and max(band.x) == 200
    assert "first fail: clients = 200" in by
    assert fig.layout.xaxis.type == "log"  # 20 .. 320 clients: more than a decade
    assert "between clients = 180 and 200" in fig.layout.title.text
    with pytest.raises(MissingData):
        C.envelope_curve({**ENVELOPE, "steps": []})


def test_paired_differences_are_per_seed_against_the_baseline():
    from kbench.experiment.compare import analyse

    values = {"base": [[10.0, 12.0, 11.0, 13.0, 9.0, 10.0]], "better": [[8.0, 11.0, 9.0, 10.0, 8.5, 9.0]]}
    comp = analyse(values, ["pod_startup_s.p99"], [1, 2, 3, 4, 5, 6], "base")
    fig = C.comparison_paired(comp, "pod_startup_s.p99")
    dots, med = fig.data[0], fig.data[1]
    assert list(dots.y) == [-2.0, -1.0, -2.0, -3.0, -0.5, -1.0] and len(set(dots.x)) == 1
    assert dots.x[0].startswith("better<br>(")
    assert med.y[0] == pytest.approx(comp["paired"]["pod_startup_s.p99"]["better"]["diff_median"])
    assert med.text[0] in ("significant", "not significant")
    assert "bootstrap 95 % CI, n=6" in med.name
    with pytest.raises(MissingData):
        C.comparison_paired({**comp, "baseline": "gone"}, "pod_startup_s.p99")
