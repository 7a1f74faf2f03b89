"""Quantities, durations, distributions, the seed tree and the scenario loader."""

import math

import numpy as np
import pytest

from kbench.config import Scenario, load_scenario, scenario_from_dict
from kbench.config.loader import config_hash, to_dict
from kbench.dist import Dist
from kbench.errors import ConfigError, KbenchError
from kbench.quantity import parse_duration, parse_quantity
from kbench.rng import SeedTree


@pytest.mark.parametrize("text,expected", [
    ("100m", 0.1), ("3800m", 3.8), ("1.5Gi", 1.5 * 2**30), ("15Gi", 15 * 2**30), ("110", 110.0),
    ("1e3", 1000.0), ("2k", 2000.0), ("512Mi", 512 * 2**20), (7, 7.0), ("1Ki", 1024.0),
])
def test_quantities_parse_as_kubernetes_writes_them(text, expected):
    assert parse_quantity(text) == pytest.approx(expected)


@pytest.mark.parametrize("text,expected", [
    ("250ms", 0.25), ("5m", 300.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("10", 10.0), ("300us", 3e-4),
    (2, 2.0),
])
def test_durations_parse_like_go(text, expected):
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("bad", ["1.5Gx", "abc", "", "1..2", True, None])
def test_malformed_quantity_names_field(bad):
    with pytest.raises(ConfigError, match="etcd.quota_bytes"):
        parse_quantity(bad, where="etcd.quota_bytes")


@pytest.mark.parametrize("bad", ["5 minutes", "m5", "1mm", ""])
def test_malformed_duration(bad):
    with pytest.raises(ConfigError):
        parse_duration(bad)


def test_lognormal_matches_its_median_and_p99():
    d = Dist.lognormal(0.001, 0.005)
    x = d.sample(np.random.default_rng(1), 200_000)
    assert np.median(x) == pytest.approx(0.001, rel=0.02)
    assert np.quantile(x, 0.99) == pytest.approx(0.005, rel=0.05)
    assert x.mean() == pytest.approx(d.expected(), rel=0.02)


def test_sampler_draws_the_same_values_as_sample():
    d = Dist.exponential(2.0)
    f = d.sampler(np.random.default_rng(5), batch=16)
    got = [f() for _ in range(40)]
    ref = []
    rng = np.random.default_rng(5)
    for _ in range(3):
        ref.extend(d.sample(rng, 16).tolist())
    assert got == ref[:40]


def test_seed_tree_streams_are_independent_of_each_other():
    a = SeedTree(7).stream("workload").random(5)
    tree = SeedTree(7)
    tree.stream("policy").random(100)  # another component drawing does not perturb "workload"
    assert np.array_equal(tree.stream("workload").random(5), a)
    assert not np.array_equal(SeedTree(8).stream("workload").random(5), a)
    assert not np.array_equal(SeedTree(7).stream("etcd").random(5), a)


def test_effective_config_resolves_every_default_and_hashes_stably():
    s = scenario_from_dict({"name": "x", "etcd": {"fsync_s": "2ms"}})
    d = to_dict(s)
    assert d["etcd"]["fsync_s"]["value"] == pytest.approx(0.002)
    assert d["apiserver"]["flowcontrol"]["levels"]["workload-low"]["shares"] == 100  # A8
    assert d["clients"]["controller-manager"]["qps"] == 20  # C3
    assert config_hash(s) == config_hash(scenario_from_dict({"name": "x", "etcd": {"fsync_s": 0.002}}))
    assert config_hash(s) != config_hash(Scenario(name="x"))


def test_distribution_fields_accept_durations():
    s = scenario_from_dict({"etcd": {"rtt_s": {"kind": "lognormal", "median": "300us", "p99": "2ms"}}})
    assert s.etcd.rtt_s.median == pytest.approx(3e-4)
    assert s.etcd.rtt_s.p99 == pytest.approx(2e-3)


def test_client_classes_merge_over_defaults():
    s = scenario_from_dict({"clients": {"kubelet": {"qps": 5}}})
    assert s.clients["kubelet"].qps == 5
    assert s.clients["kubelet"].burst == 100  # C4 default kept
    assert s.clients["scheduler"].qps == 50  # C2


@pytest.mark.parametrize("data,where,what", [
    ({"etcdd": {}}, "etcdd", "did you mean 'etcd'"),
    ({"sync": {"changes_per_sec": 3}}, "sync.changes_per_sec", "did you mean 'changes_per_s'"),
    ({"sync": {"changes_per_s": -3}}, "sync.changes_per_s", ">= 0"),
    ({"etcd": {"quota_bytes": "2Gx"}}, "etcd.quota_bytes", "malformed quantity"),
    ({"duration_s": "ten minutes"}, "duration_s", "malformed duration"),
    ({"etcd": {"rtt_s": {"kind": "gamma"}}}, "etcd.rtt_s", "unknown distribution kind"),
    ({"sync": {"strategies": ["push"]}}, "sync.strategies", "unknown strategy"),
    ({"apiserver": {"flowcontrol": {"levels": {"x": {"shares": "many"}}}}},
     "apiserver.flowcontrol.levels.x.shares", "malformed quantity"),
])
def test_bad_scenario_fields_name_the_field(data, where, what):
    with pytest.raises(ConfigError) as info:
        scenario_from_dict(data)
    assert info.value.where == where
    assert what in info.value.message
    assert "\n" not in info.value.one_line()


def test_load_scenario_names_the_file(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("version: 1\netcd:\n  membrs: 3\n")
    with pytest.raises(KbenchError) as info:
        load_scenario(p)
    assert str(p) in info.value.one_line() and "etcd.membrs" in info.value.one_line()
    with pytest.raises(KbenchError, match="no such file"):
        load_scenario(tmp_path / "missing.yaml")
    p.write_text("etcd: [1, 2\n")
    with pytest.raises(KbenchError, match="invalid YAML"):
        load_scenario(p)


def test_sigma_of_constant_lognormal_is_zero():
    assert Dist.lognormal(1.0, 1.0).sigma == 0.0
    assert math.isclose(Dist.uniform(1, 3).expected(), 2.0)
