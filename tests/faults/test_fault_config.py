"""The fault timeline in the scenario: validation, defaults, round trip, CLI errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kbench.cli import app
from kbench.config import Scenario, scenario_from_dict
from kbench.config.loader import to_dict
from kbench.errors import ConfigError


def test_default_scenario_has_no_faults():
    assert Scenario().faults == []


def test_fault_params_are_resolved_with_defaults_and_round_trip():
    s = scenario_from_dict({"faults": [{"at_s": "2m", "fault": "etcd-slow-disk", "params": {"factor": 5}},
                                       {"at_s": "3m", "fault": "apiserver-restart"}]})
    assert s.faults[0].at_s == 120.0
    assert s.faults[0].params == {"factor": 5.0, "duration_s": 30.0}
    assert s.faults[1].params == {"downtime_s": 5.0}
    again = scenario_from_dict(to_dict(s))
    assert again.faults == s.faults


def test_durations_in_params_accept_units():
    s = scenario_from_dict({"faults": [{"at_s": 1, "fault": "node-partition",
                                        "params": {"fraction": 0.5, "duration_s": "90s"}}]})
    assert s.faults[0].spec().duration_s == 90.0


@pytest.mark.parametrize(("fault", "needle"), [
    ({"at_s": 1, "fault": "apiserver-restrat"}, "did you mean 'apiserver-restart'"),
    ({"at_s": 1, "fault": "etcd-slow-disk", "params": {"factr": 2}}, "did you mean 'factor'"),
    ({"at_s": 1, "fault": "node-failure", "params": {"fraction": 3}}, "must be <= 1"),
    ({"at_s": -1, "fault": "apiserver-restart"}, "must be >= 0"),
    ({"at": 1, "fault": "apiserver-restart"}, "did you mean 'at_s'"),
])
def test_bad_faults_are_config_errors_naming_the_problem(fault, needle):
    with pytest.raises(ConfigError) as info:
        scenario_from_dict({"faults": [fault]})
    assert needle in info.value.one_line()
    assert "faults[0]" in info.value.one_line()


def test_cli_unknown_fault_is_one_line_exit_2(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\nfaults:\n  - {at_s: 1m, fault: etcd-leader-elektion}\n")
    res = CliRunner().invoke(app, ["run", str(p), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    out = res.output.strip()
    assert "did you mean 'etcd-leader-election'" in out
    assert "Traceback" not in out
    assert len(out.splitlines()) == 1


def test_node_fault_naming_unknown_node_or_zone_fails_before_the_run(tmp_path):
    from kbench.experiment.runner import build
    base = {"cluster": {"nodes": [{"count": 2, "zones": 1}]}}
    for params, needle in (({"nodes": ["nope"]}, "unknown node 'nope'"), ({"zone": "zone-9"}, "zone-9")):
        s = scenario_from_dict({**base, "faults": [{"at_s": 1, "fault": "node-failure", "params": params}]})
        with pytest.raises(ConfigError, match=needle):
            build(s)
