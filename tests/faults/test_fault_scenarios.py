"""Each bundled fault scenario runs and its ``faults`` section shows the fault's expected effect.

The two quickest run in ``make test``; the rest are marked slow (each takes several seconds).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kbench.experiment.runner import run

FAULTS = Path(__file__).resolve().parents[2] / "workloads" / "faults"


def _fault(name: str, i: int = 0) -> dict:
    res = run(FAULTS / f"{name}.yaml")
    assert res.summary["status"] == "complete"
    row = res.summary["faults"][i]
    assert row["fired"]
    return row, res


def test_apiserver_restart_shows_relist_storm_and_recovery():
    row, res = _fault("apiserver-restart")
    storm = row["relist_storm"]
    assert storm["relists"] > 0
    assert storm["first_s"] >= row["at_s"] + row["params"]["downtime_s"]
    assert 0 < storm["duration_s"] < 30
    assert row["errors"]["during"] > 0  # requests failed while the apiserver was down
    assert row["recovered"] and row["at_s"] + row["params"]["downtime_s"] - row["at_s"] <= row["recovery_s"] < 60
    assert row["slo_burn"]["api_availability"] > 0
    series = res.frames["series"]
    up = series[series["metric"] == "apiserver_up"]
    assert (up["value"] == 0).sum() >= 4  # ~5 s down on a 1 s grid
    assert res.summary["pods"]["running"] == res.summary["pods"]["created"]


def test_etcd_leader_election_stalls_writes_for_the_election_timeout():
    row, _ = _fault("etcd-leader-election")
    timeout = row["election_timeout_s"]
    assert timeout == 2.0
    assert timeout <= row["write_stall_s"] < timeout + 0.1
    assert row["relist_storm"]["relists"] == 0


@pytest.mark.slow
def test_etcd_slow_disk_raises_commit_latency():
    row, _ = _fault("etcd-slow-disk")
    lat = row["etcd_write_latency_mean_s"]
    assert lat["during"] > 20 * lat["before"]
    assert row["recovered"]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "nodes"), [("node-failure", 1), ("zone-failure", 4), ("node-partition", 2)])
def test_node_faults_evict_and_reschedule(name, nodes):
    row, res = _fault(name)
    assert row["nodes"]["count"] == nodes
    assert row["nodes_not_ready"] == nodes
    assert row["pods_evicted"] > 0
    assert row["pods_rescheduled"] == row["pods_evicted"]
    assert row["recovered"]
    assert res.summary["pods"]["running"] == 160  # the Deployments are whole again


@pytest.mark.slow
def test_slow_watchers_are_terminated_and_rewatch():
    """A22: terminated slow watchers re-watch from the last revision they received (client-go's
    reflector, I19); they relist only when that revision left the cache's history (410)."""
    row, res = _fault("slow-watchers")
    terminated = row["slow_watchers_terminated"]
    assert terminated > 0
    st = res.world.informer_stats["slow-watchers"]
    assert st.rewatches + st.relists_after_410 + st.short_watches >= terminated


@pytest.mark.slow
def test_watch_cache_disabled_sends_lists_to_etcd():
    """The informers' re-syncs after the restart (WatchList initial states) read their objects from
    etcd instead of the cache. Counted in keys read, not in range requests: served by the cache,
    each consistent re-sync still asks etcd for the current revision (I20), one request either way."""
    from kbench.config import load_scenario, scenario_from_dict
    from kbench.config.loader import to_dict

    sc = load_scenario(FAULTS / "watch-cache-disabled.yaml")
    faulted = run(sc)
    with_fault = faulted.world.plane.etcd.stats
    data = to_dict(sc)
    data["faults"] = [f for f in data["faults"] if f["fault"] != "watch-cache-disabled"]
    without = run(scenario_from_dict(data)).world.plane.etcd.stats
    assert with_fault.range_keys > 2 * without.range_keys
    assert with_fault.current_rv_requests < without.current_rv_requests  # no cache to check against
    row = faulted.summary["faults"][0]
    assert row["etcd_range_keys_per_s"]["during"] > row["etcd_range_keys_per_s"]["before"]


def test_random_node_choice_comes_from_the_seed_tree():
    from kbench.config import scenario_from_dict
    base = {"duration_s": 5, "cluster": {"nodes": [{"count": 20}]},
            "faults": [{"at_s": 1, "fault": "node-failure", "params": {"fraction": 0.25}}]}
    a = run(scenario_from_dict(base)).summary["faults"][0]["nodes"]
    b = run(scenario_from_dict(base)).summary["faults"][0]["nodes"]
    c = run(scenario_from_dict({**base, "seed": 7})).summary["faults"][0]["nodes"]
    assert a == b and a["count"] == 5
    assert c["names"] != a["names"]


def test_fault_after_the_end_does_not_fire():
    from kbench.config import scenario_from_dict
    s = scenario_from_dict({"duration_s": 5, "cluster": {"nodes": [{"count": 2}]},
                            "faults": [{"at_s": 60, "fault": "apiserver-restart"}]})
    row = run(s).summary["faults"][0]
    assert row["fired"] is False


def test_apiserver_restart_report_shows_the_fault_table_and_timeline(tmp_path):
    from kbench.report import write_report

    res = run(FAULTS / "apiserver-restart.yaml", out_dir=tmp_path)
    html = write_report([res.run_dir], tmp_path / "report.html").read_text()
    assert "Fault timeline: relists, 429s, errors and evictions" in html
    assert "SLO burn (% of error budget)" in html and "apiserver-restart" in html
    assert "informer relists" in html
