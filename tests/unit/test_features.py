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


@pytest.mark.parametrize("version,gate,value", [
    ("1.34", "OpportunisticBatching", False), ("1.35", "OpportunisticBatching", True),
    ("1.32", "SchedulerPopFromBackoffQ", False), ("1.33", "SchedulerPopFromBackoffQ", True),
    ("1.26", "MatchLabelKeysInPodTopologySpread", False), ("1.27", "MatchLabelKeysInPodTopologySpread", True),
    ("1.25", "NodeInclusionPolicyInPodTopologySpread", False), ("1.26", "NodeInclusionPolicyInPodTopologySpread", True),
    ("1.33", "DynamicResourceAllocation", False), ("1.34", "DynamicResourceAllocation", True),
    ("1.30", "SchedulerQueueingHints", True),  # not in the scheduler's versioned table: the kbench default
])
def test_scheduler_gate_defaults_follow_the_release(version, gate, value):
    """kube-scheduler's versioned gate table (docs/VALIDATION.md "Sources"): off before a gate exists."""
    from kbench.config.features import FeatureGates
    assert FeatureGates(version=version)[gate] is value
    assert FeatureGates({gate: not value}, version=version)[gate] is (not value)


def test_scheduler_gates_at_the_default_release_are_the_defaults():
    from kbench.config.features import DEFAULTS, FeatureGates, scheduler_defaults
    assert scheduler_defaults(DEFAULT_VERSION) == DEFAULTS
    assert dict(FeatureGates(version=DEFAULT_VERSION)) == dict(FeatureGates())


def test_the_scheduler_reads_its_gates_at_the_scenario_release():
    """A v1.34 cluster has no OpportunisticBatching: the scheduler's frameworks have no batch."""
    from kbench.cluster.scheduler.scheduler import Scheduler
    from kbench.cluster.world import World
    for version, batching in (("1.34", False), ("1.35", True)):
        w = World(scenario_from_dict({"name": "g", "seed": 1, "duration_s": 10, "kubernetes_version": version}))
        s = Scheduler(w)
        assert (s.framework.batch is not None) is batching
