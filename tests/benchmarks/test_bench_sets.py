"""``kbench bench --set KEY=VALUE``: scenario overrides by dotted key (:mod:`kbench.benchsets`), the
tool that splits a speed ratio between the changes that caused it (a later issue's writes switched
off in the benchmark scenarios)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kbench import bench
from kbench.benchsets import apply_sets, as_args, parse_sets
from kbench.cli import app
from kbench.errors import KbenchError

runner = CliRunner()


def test_values_are_yaml_and_keys_dotted():
    got = parse_sets(["events.enabled=false", "apiserver.cores=8", "a.b=10s", "c=[x, y]", "d=", "a.b=2",
                      "kubelet.status_get=off", "e=yes", "f=True"])
    assert got == {"events.enabled": False, "apiserver.cores": 8, "a.b": 2, "c": ["x", "y"], "d": "",
                   "kubelet.status_get": "off", "e": "yes", "f": True}  # YAML 1.2 booleans: off is text
    assert parse_sets(as_args(got)[1::2]) == got  # as_args gives the same overrides back


@pytest.mark.parametrize("item", ["events", "=1", "a..b=1", ".a=1", "a=[unclosed",
                                  "a=!!python/object/apply:os.system [echo]"])  # a safe loader: no objects
def test_malformed_items_are_rejected(item):
    with pytest.raises(KbenchError, match="--set"):
        parse_sets([item])


def test_apply_sets_copies_and_makes_the_missing_mappings():
    data = {"kubelet": {"pods": 110}, "workload": {"deployments": [{"name": "a"}]}}
    out = apply_sets(data, {"kubelet.status_writes": "minimal", "events.ttl_s": 60})
    assert out == {"kubelet": {"pods": 110, "status_writes": "minimal"}, "events": {"ttl_s": 60},
                   "workload": {"deployments": [{"name": "a"}]}}
    assert data == {"kubelet": {"pods": 110}, "workload": {"deployments": [{"name": "a"}]}}  # untouched
    assert out["workload"]["deployments"] is not data["workload"]["deployments"]
    with pytest.raises(KbenchError, match="workload.deployments is not a mapping"):
        apply_sets(data, {"workload.deployments.x": 1})


def test_an_override_reaches_the_benchmark_child(tmp_path):
    """Events off in the quick density case: the child makes fewer API requests (its pods' Events:
    SuccessfulCreate, Scheduled, Pulled, Created, Started...) and schedules the same pods."""
    case = next(c for c in bench.cases(quick=True) if c.name == "density-5k")
    on = bench.run_case(case, tmp_path)
    off = bench.run_case(case, tmp_path, {"events.enabled": False})
    assert off["pods_scheduled"] == on["pods_scheduled"] == 600
    assert off["api_requests"] < on["api_requests"] - 600 * 3  # at least 3 Event writes per pod gone


def test_a_misspelt_key_is_one_line_and_exit_2():
    res = runner.invoke(app, ["bench", "--quick", "--no-growth", "--set", "events.enabld=false"])
    assert res.exit_code == 2 and "events.enabld: unknown field 'enabld' (did you mean 'enabled'?)" in res.output
    res = runner.invoke(app, ["bench", "--quick", "--set", "events"])
    assert res.exit_code == 2 and "expected KEY=VALUE" in res.output and "Traceback" not in res.output
