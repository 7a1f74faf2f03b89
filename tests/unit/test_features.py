"""Kubernetes version and feature gates: versioned defaults (I21), overrides, errors, the effective
config."""

from __future__ import annotations

import pytest

from kbench.config import scenario_from_dict
from kbench.config.features import DEFAULT_VERSION, parse_gates, resolve
from kbench.config.loader import config_hash, from_dict, to_dict
from kbench.config.scenario import Scenario
from kbench.errors import ConfigError


@pytest.mark.parametrize("version,gate,value", [
    ("1.30", "ConsistentListFromCache", False), ("1.31", "ConsistentListFromCache", True),
    ("1.33", "ListFromCacheSnapshot", False), ("1.34", "ListFromCacheSnapshot", True),
    ("1.31", "WatchList", False), ("1.32", "WatchList", True), ("1.33", "WatchList", False),
    ("1.34", "WatchList", True), ("1.34", "WatchListClient", False), ("1.35", "WatchListClient", True),
    ("1.33", "SizeBasedListCostEstimate", False), ("1.34", "SizeBasedListCostEstimate", True),
    ("1.26", "StreamingCollectionEncoding", False), ("v1.33.2", "StreamingCollectionEncoding", True),
])
def test_gate_defaults_follow_the_release(version, gate, value):
    assert resolve(version)[gate] is value


def test_default_release_is_the_newest_in_calibration():
    assert DEFAULT_VERSION == "1.35"
    assert Scenario().gates == resolve("1.35")


def test_overrides_and_errors():
    assert resolve("1.35", {"ConsistentListFromCache": False})["ConsistentListFromCache"] is False
    with pytest.raises(ConfigError, match="did you mean 'WatchList'"):
        resolve("1.35", {"WatchLst": True})
    with pytest.raises(ConfigError, match="1.16 to 1.35"):
        resolve("1.99")
    assert parse_gates("WatchList=true, ConsistentListFromCache=False") == {
        "WatchList": True, "ConsistentListFromCache": False}
    with pytest.raises(ConfigError, match="NAME=true|false"):
        parse_gates("WatchList=maybe")


def test_resolved_gates_are_in_the_effective_config_and_the_hash():
    """The manifest prints every gate's value; loading it back does not freeze them (a later
    --kubernetes-version still moves the defaults)."""
    sc = scenario_from_dict({"kubernetes_version": "1.33", "feature_gates": {"WatchList": True}})
    data = to_dict(sc)
    assert data["gates"]["WatchList"] is True and data["gates"]["ListFromCacheSnapshot"] is False
    again = from_dict(Scenario, {**data, "kubernetes_version": "1.35"})
    assert again.gates["ListFromCacheSnapshot"] is True and again.gates["WatchList"] is True
    assert config_hash(sc) != config_hash(scenario_from_dict({"kubernetes_version": "1.34"}))
    with pytest.raises(ConfigError, match="feature_gates.Bogus"):
        scenario_from_dict({"feature_gates": {"Bogus": True}})
