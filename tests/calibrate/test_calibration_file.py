"""Calibration files (kbench/config/calibration.py) and ``--calibration`` on the commands: the rules,
the precedence under a scenario's own values, the manifest record, and one-line errors (exit 2)."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml
from typer.testing import CliRunner

from kbench.cli import app
from kbench.config import load_scenario, scenario_from_dict
from kbench.config.calibration import format_duration, leaf_paths, load_calibration
from kbench.config.loader import config_hash
from kbench.errors import KbenchError

runner = CliRunner()

GOOD = {
    "kind": "kbench-calibration", "version": 1,
    "scenario": {"etcd": {"members": 1, "fsync_s": {"kind": "lognormal", "median": "124us", "p99": "992us"},
                          "write_cpu_s": "362us", "batch_cpu_s": "30us", "cores": 2},
                 "apiserver": {"request_base_cpu_s": "450us", "flowcontrol": {"max_requests_inflight": 500}}},
    "fits": {k: {"method": "test", "error_rel": 0.1, "from": "a test"} for k in (
        "etcd.members", "etcd.fsync_s", "etcd.write_cpu_s", "etcd.batch_cpu_s", "etcd.cores",
        "apiserver.request_base_cpu_s", "apiserver.flowcontrol.max_requests_inflight")},
}

SMALL = """
version: 1
name: small
seed: 2
duration_s: 20s
etcd: {cores: 4}
cluster:
  nodes: [{count: 3, cpu_cores: 4, memory_bytes: 8Gi}]
workload:
  deployments: [{name: web, replicas: 6, template: {cpu_cores: 100m}}]
"""


def write(tmp_path, doc, name="cal.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def bad(**changes):
    """GOOD with ``changes``: a path with ``/`` between keys -> value (None deletes it)."""
    doc = json.loads(json.dumps(GOOD))
    for path, value in changes.items():
        node = doc
        keys = path.split("/")
        for k in keys[:-1]:
            node = node[k]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return doc


def test_good_file_loads_in_model_units(tmp_path):
    cal = load_calibration(write(tmp_path, GOOD))
    etcd = cal.overlay["etcd"]
    assert etcd["write_cpu_s"] == pytest.approx(362e-6) and etcd["fsync_s"]["p99"] == pytest.approx(992e-6)
    assert cal.leaves() == sorted(GOOD["fits"])
    assert cal.sha256 == hashlib.sha256((tmp_path / "cal.yaml").read_bytes()).hexdigest()


@pytest.mark.parametrize("change, where, says", [
    ({"scenario/etcd/fsync_sec": "1ms"}, "scenario.etcd.fsync_sec", "unknown field"),
    ({"scenario/etcd/write_cpu_s": "-5us"}, "scenario.etcd.write_cpu_s", "must be >= 0"),
    ({"scenario/etcd/fsync_s": {"kind": "lognormal", "median": "-1ms", "p99": "2ms"}},
     "scenario.etcd.fsync_s.median", "must be >= 0"),
    ({"scenario/etcd/write_cpu_s": 0.000362}, "scenario.etcd.write_cpu_s", "expected a duration with a unit"),
    ({"scenario/etcd/write_cpu_s": "362"}, "scenario.etcd.write_cpu_s", "expected a duration with a unit"),
    ({"scenario/etcd/write_cpu_s": "5MB"}, "scenario.etcd.write_cpu_s", "expected a duration with a unit"),
    ({"scenario/etcd/max_request_bytes": 1.5}, "scenario.etcd.max_request_bytes", "expected a size with a unit"),
    ({"scenario/etcd/cores": -2}, "scenario.etcd.cores", "must be >= 0"),
    ({"scenario/workload": {"pods": []}}, "scenario.workload", "control-plane costs only"),
    ({"kind": "kbench-scenario"}, "kind", "expected 'kbench-calibration'"),
    ({"version": 2}, "version", "unsupported version"),
    ({"scenarios": {}}, "scenarios", "unknown key"),
    ({"fits/etcd.cores": None}, "fits", "'etcd.cores' has no fits entry"),
    ({"fits/etcd.quota_bytes": {"method": "x"}}, "fits.etcd.quota_bytes", "not a field the calibration sets"),
])
def test_bad_file_names_the_field(tmp_path, change, where, says):
    path = write(tmp_path, bad(**change))
    with pytest.raises(KbenchError) as info:
        load_calibration(path)
    err = info.value
    assert err.where == where and says in err.message and err.source == str(path)


@pytest.mark.parametrize("args", [["run"], ["sync"], ["validate", "--quick", "--only", "etcd"]])
def test_commands_refuse_a_bad_file_in_one_line(tmp_path, args):
    scen = tmp_path / "small.yaml"
    scen.write_text(SMALL)
    cal = write(tmp_path, bad(**{"scenario/etcd/write_cpu_s": "-1ms"}))
    argv = [*args, *([str(scen)] if args == ["run"] else []), "--calibration", str(cal)]
    res = runner.invoke(app, argv)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "scenario.etcd.write_cpu_s: must be >= 0" in lines[0]
    assert "Traceback" not in res.output


def test_calibration_goes_under_the_scenario_and_into_the_manifest(tmp_path):
    scen = tmp_path / "small.yaml"
    scen.write_text(SMALL)
    cal = write(tmp_path, GOOD)
    res = runner.invoke(app, ["run", str(scen), "--calibration", str(cal), "--out", str(tmp_path / "r"), "-o", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    manifest = json.loads((tmp_path / "r").glob("*/manifest.json").__next__().read_text())
    rec = manifest["calibration"]
    assert rec["path"] == str(cal) and rec["sha256"] == hashlib.sha256(cal.read_bytes()).hexdigest()
    assert rec["content"] == yaml.safe_load(cal.read_text())
    assert rec["shadowed"] == ["etcd.cores"]  # the scenario sets cores: 4 itself
    assert "etcd.write_cpu_s" in rec["applied"] and "etcd.cores" not in rec["applied"]
    cfg = manifest["config"]
    assert cfg["etcd"]["cores"] == 4 and cfg["etcd"]["write_cpu_s"] == pytest.approx(362e-6)
    assert cfg["apiserver"]["flowcontrol"]["max_requests_inflight"] == 500
    assert cfg["apiserver"]["flowcontrol"]["max_mutating_requests_inflight"] == 200  # a default stays
    assert "etcd.cores" in res.output.splitlines()[0] and "warning" in res.output.splitlines()[0]
    assert out["pods"]["created"] == 6


def test_config_hash_follows_the_values_not_the_provenance(tmp_path):
    scen = tmp_path / "small.yaml"
    scen.write_text(SMALL)
    plain = load_scenario(scen)
    cal = load_scenario(scen, calibration=write(tmp_path, GOOD))
    assert config_hash(plain) != config_hash(cal)
    # the same values written in the scenario itself hash the same as the calibration
    data = yaml.safe_load(SMALL)
    data["etcd"].update(members=1, fsync_s={"kind": "lognormal", "median": "124us", "p99": "992us"},
                        write_cpu_s="362us", batch_cpu_s="30us")
    data["apiserver"] = {"request_base_cpu_s": "450us", "flowcontrol": {"max_requests_inflight": 500}}
    by_hand = tmp_path / "byhand.yaml"
    by_hand.write_text(yaml.safe_dump(data))
    assert config_hash(load_scenario(by_hand)) == config_hash(cal)
    assert plain.calibration is None and cal.calibration.path.endswith("cal.yaml")


def test_sync_without_a_scenario_takes_the_calibration(tmp_path):
    sc = scenario_from_dict({"name": "sync"}, calibration=write(tmp_path, GOOD))
    assert sc.etcd.cores == 2 and sc.calibration.shadowed == []


def test_format_duration_round_trips_through_the_loader():
    from kbench.quantity import parse_duration

    for v in (0.0, 2.5e-9, 1.8e-6, 185.3e-6, 1.27e-3, 0.6, 42.0):
        assert parse_duration(format_duration(v)) == pytest.approx(v, rel=1e-3)


def test_leaf_paths_walk_sections_but_not_distributions():
    assert leaf_paths({"etcd": {"fsync_s": {"kind": "constant", "value": 1e-3}},
                       "apiserver": {"flowcontrol": {"levels": {"x": {"shares": 1}}, "max_requests_inflight": 3}}}) == {
        "etcd.fsync_s", "apiserver.flowcontrol.levels", "apiserver.flowcontrol.max_requests_inflight"}
