"""``kbench validate``: the quick suite passes, the suite can fail, the outputs are well formed."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from kbench.cli import app
from kbench.validate.filtering import filter_cases, ipa_score_cases, run_filter_case
from kbench.validate.record import Record
from kbench.validate.scoring import case_passes, run_case
from kbench.validate.suite import FAMILIES
from kbench.validate.upstream_cases import score_cases

runner = CliRunner()
KEYS = {"name", "expected", "simulated", "ci_low", "ci_high", "tolerance", "pass", "source"}


@pytest.fixture(scope="module")
def quick_json():
    res = runner.invoke(app, ["validate", "--quick", "-o", "json"])
    return res.exit_code, res.stdout


def test_quick_suite_passes_and_covers_every_family(quick_json):
    code, out = quick_json
    records = json.loads(out)
    failed = [r["name"] for r in records if not r["pass"]]
    assert code == 0, failed
    assert not failed
    assert all(set(r) >= KEYS for r in records)
    families = {r["name"].split("/")[0] for r in records}
    if {"proxy", "events"} <= families:  # the write-mix family names its checks by component
        families.add("writemix")
    assert set(FAMILIES) - {"queueing"} <= families and "little" in families
    names = {r["name"] for r in records}
    for must in ("queueing/mm1_wait", "queueing/mmc_wait", "queueing/md1_wait", "little/apf_queue",
                 "little/scheduler_queue", "little/etcd_proposals_1000", "sync/poll_list_rate",
                 "sync/poll_staleness_mean", "scheduler/throughput_5000_nodes", "clients/controller_create_rate",
                 "clients/kubelet_status_rate", "etcd/write_rate_1000_clients", "etcd/latency_shape",
                 "density/pod_startup_p99", "sync/kep2340_etcd_list_p50", "sync/kep2340_cache_list_p50",
                 "sync/kep2340_etcd_apiserver_cores", "sync/kep3157_watchlist_memory", "sync/kep3157_memory_ratio",
                 "sync/gzip_pod_list_bytes"):
        assert must in names, must
    scoring = [r for r in records if r["name"].startswith("scoring/")]
    assert sum(r["expected"] for r in scoring) == len(score_cases()) + len(ipa_score_cases()) >= 80
    filtering = [r for r in records if r["name"].startswith("filtering/")]
    assert sum(r["expected"] for r in filtering) == len(filter_cases()) >= 60


def test_every_upstream_score_case_matches_through_explain():
    cases = score_cases() + ipa_score_cases()
    bad = [c.name for c in cases if not case_passes(c)]
    assert not bad
    skip = [c for c in cases if c.expected is None]
    assert skip and all(v is None for v in run_case(skip[0]))


def test_every_upstream_filter_case_matches_through_explain():
    bad = [c.name for c in filter_cases() if run_filter_case(c) != c.expected]
    assert not bad


def test_reordering_inter_pod_affinity_checks_fails_the_filtering_family(monkeypatch):
    """The family can fail: reporting existing pods' anti-affinity before the pod's own breaks
    upstream's "first failure wins" order in the symmetry cases."""
    import policies.interpodaffinity as ipa

    monkeypatch.setattr(ipa, "_TEXTS", (None, ipa.ERR_AFFINITY, ipa.ERR_EXISTING, ipa.ERR_ANTI))
    res = runner.invoke(app, ["validate", "--quick", "--only", "filtering", "-o", "json"])
    assert res.exit_code == 1


def test_swapping_least_for_most_allocated_fails_the_suite(monkeypatch):
    import policies.noderesources as nr

    monkeypatch.setattr(nr, "least_allocated", nr.most_allocated)
    res = runner.invoke(app, ["validate", "--quick", "--only", "scoring", "-o", "json"])
    assert res.exit_code == 1
    by_name = {r["name"]: r for r in json.loads(res.stdout)}
    fit = by_name["scoring/NodeResourcesFit"]
    assert not fit["pass"] and fit["simulated"] < fit["expected"]
    assert by_name["scoring/TaintToleration"]["pass"]  # the other plugins are untouched


def test_halving_apf_seats_fails_the_queueing_checks(monkeypatch):
    import kbench.cluster.apiserver.flowcontrol as fc

    real = fc.nominal_concurrency
    monkeypatch.setattr(fc, "nominal_concurrency", lambda cfg: {k: max(1, v // 2) for k, v in real(cfg).items()})
    res = runner.invoke(app, ["validate", "--quick", "--only", "queueing", "-o", "json"])
    assert res.exit_code == 1
    by_name = {r["name"]: r for r in json.loads(res.stdout)}
    assert not by_name["queueing/mmc_wait"]["pass"]  # M/M/4 at rho 0.65 became M/M/2 at rho 1.3


def test_sabotaged_list_costs_fail_the_kep2340_latency_check(monkeypatch):
    """The I6 latency check can fail: four times the apiserver's per-key cost of a LIST from etcd
    puts its p50 above 2 x 10.49 s; the cache path (which does not use that cost) still passes."""
    from dataclasses import replace

    import kbench.validate.kep as kep

    real = kep.kep2340_scenario

    def slow(path, quick, calibration=None):
        sc = real(path, quick, calibration)
        return replace(sc, apiserver=replace(sc.apiserver,
                                             list_etcd_cpu_s_per_object=4 * sc.apiserver.list_etcd_cpu_s_per_object))

    monkeypatch.setattr(kep, "kep2340_scenario", slow)
    by_name = {r.name: r for r in kep.check_kep2340(quick=True)}
    assert not by_name["sync/kep2340_etcd_list_p50"].passed
    assert not by_name["sync/kep2340_etcd_apiserver_cores"].passed
    assert by_name["sync/kep2340_cache_list_p50"].passed


def test_markdown_and_table_outputs():
    res = runner.invoke(app, ["validate", "--quick", "--only", "sync", "-o", "markdown"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("| check | compared | expected |")
    assert "sync/poll_list_rate" in res.stdout and "11/11 checks passed" in res.stdout
    assert "Not covered" in res.stdout
    res = runner.invoke(app, ["validate", "--quick", "--only", "sync"])
    assert res.exit_code == 0 and "11/11 checks passed" in res.stdout


@pytest.mark.parametrize("args", [["-o", "xml"], ["--only", "bogus"]])
def test_bad_input_exits_2(args):
    res = runner.invoke(app, ["validate", "--quick", *args])
    assert res.exit_code == 2
    assert "error:" in res.output and "Traceback" not in res.output


def test_record_rules():
    assert Record("a", "", 10.0, 10.9, tolerance=0.1).passed
    assert not Record("a", "", 10.0, 11.1, tolerance=0.1).passed
    assert Record("a", "", 0.0, 0.01, tolerance=0.02).passed and not Record("a", "", 0.0, -0.03, tolerance=0.02).passed
    assert Record("a", "", 270.0, 136.0, tolerance=2.0, kind="factor").passed
    assert not Record("a", "", 270.0, 134.0, tolerance=2.0, kind="factor").passed
    assert not Record("a", "", 270.0, 541.0, tolerance=2.0, kind="factor").passed
    assert Record("a", "", 5.0, 5.0, kind="max").passed and not Record("a", "", 5.0, 5.01, kind="max").passed
    assert Record("a", "", 7.0, 7.0, kind="exact").passed and not Record("a", "", 7.0, 6.0, kind="exact").passed
    assert not Record("a", "", 5.0, math.nan, kind="max").passed
    assert Record("a", "", 5.0, math.nan).to_json()["simulated"] is None
