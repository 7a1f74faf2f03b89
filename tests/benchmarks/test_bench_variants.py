"""``kbench bench --variant``: a scenario and its variants advanced side by side in one process
(:mod:`kbench.benchvariants`): each simulation is exactly its solo run, the CPU is split by variant,
and the CLI's shapes and errors."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from kbench import bench
from kbench.benchsets import apply_sets
from kbench.benchvariants import parse_variant, side_by_side
from kbench.cli import app
from kbench.errors import KbenchError
from kbench.experiment.runner import run
from kbench.validate.digest import digest_result

runner = CliRunner()


def _case(name):
    return next(c for c in bench.cases(quick=True) if c.name == name)


def _solo(data, sets, tmp_path):
    path = tmp_path / "solo.yaml"
    path.write_text(yaml.safe_dump(apply_sets(data, sets), sort_keys=False))
    return run(path).summary


@pytest.mark.parametrize("name", ["density-5k", "openb"])  # openb's replay ends on its stop event
def test_each_variant_is_exactly_its_solo_run(name, tmp_path):
    data = _case(name).data
    variants = [{"events.enabled": False}, {"kubelet.status_writes": "minimal", "kubelet.status_get": "off"}]
    res = side_by_side(data, variants, step_s=1.0)
    rows = res["variants"]
    assert [r["sets"] for r in rows] == [{}, *variants] and rows[0]["ratio"] == 1.0
    for row in rows:
        solo = _solo(data, row["sets"], tmp_path)
        side = digest_result({k: v for k, v in row["summary"].items() if k != "status"}, {})["summary"]
        alone = digest_result({k: v for k, v in solo.items() if k != "status"}, {})["summary"]
        assert side == alone, [k for k in side if side[k] != alone.get(k)]
        assert row["virtual_s"] == pytest.approx(solo["sim"]["virtual_s"])
        assert row["cpu_s"] > 0 and row["ratio"] == pytest.approx(row["cpu_s"] / rows[0]["cpu_s"], abs=1e-3)
    assert rows[1]["api_requests"] < rows[0]["api_requests"]  # the Events' writes are gone


def test_variant_pairs_split_at_commas_before_a_key():
    assert parse_variant("events.enabled=false,kubelet.status_writes=minimal") == {
        "events.enabled": False, "kubelet.status_writes": "minimal"}
    assert parse_variant("a.b=[1, 2],c=off") == {"a.b": [1, 2], "c": "off"}
    for bad in ("", ",", "novalue"):
        with pytest.raises(KbenchError):
            parse_variant(bad)


def test_cli_json_and_errors():
    res = runner.invoke(app, ["bench", "--quick", "--scenario", "density-5k", "--variant", "events.enabled=false",
                              "-o", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    rows = out["scenarios"]["density-5k"]["variants"]
    assert [r["sets"] for r in rows] == [{}, {"events.enabled": False}] and "summary" not in rows[0]
    assert {"cpu_s", "ratio", "api_requests", "pods_scheduled", "virtual_s"} <= rows[1].keys()
    for args, message in ((["--variant", "events.enabled=false"], "--variant needs --scenario"),
                          (["--scenario", "sync-list-watch", "--variant", "a=1"], "not a full-plane run scenario"),
                          (["--scenario", "density-5k", "--variant", "events.enabld=false"],
                           "events.enabld: unknown field"),
                          (["--scenario", "density-5k", "--variant", "a=1", "--baseline", "HEAD"], "choose one")):
        res = runner.invoke(app, ["bench", "--quick", *args])
        assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output, res.output


def test_each_step_collects_its_own_young_objects(monkeypatch):
    """The garbage collector's young collections are charged to the step that made the objects:
    automatic collection is off during the run, one young collection ends every step of every
    simulation, and the collector's state is restored afterwards."""
    import gc

    import kbench.benchvariants as bv

    calls = []
    real = gc.collect
    monkeypatch.setattr(bv.gc, "collect", lambda generation=2: calls.append((generation, gc.isenabled())) or real(generation))
    steps = []
    real_advance = bv._Sim.advance
    monkeypatch.setattr(bv._Sim, "advance", lambda self, until: steps.append(until) or real_advance(self, until))
    was = gc.isenabled()
    side_by_side(_case("density-5k").data, [{"events.enabled": False}], step_s=5.0)
    assert gc.isenabled() == was
    assert len(calls) == len(steps) > 0 and all(c == (0, False) for c in calls)
