"""Registry (discovery, files, entry points, versions, errors) and profiles (KubeSchedulerConfiguration)."""

from __future__ import annotations

import sys
import textwrap
import types

import pytest

from kbench.errors import PolicyError
from kbench.policy.ksc import load_ksc
from kbench.policy.profile import profile_from_dict
from kbench.policy.registry import Registry, default_registry
from kbench.policy.resolve import resolve_policy
from tests.policy.fakes import Fixed, fake_registry

FIXTURES = __import__("pathlib").Path(__file__).parents[1] / "fixtures"


# ----- registry -------------------------------------------------------------------------------

def test_unknown_policy_name_suggests_the_closest():
    reg = Registry()
    reg.register_profile("least-allocated", {"description": "x"})
    with pytest.raises(PolicyError, match=r"unknown policy 'least-alocated' \(did you mean 'least-allocated'\?\)"):
        reg.profile("least-alocated")


def test_unknown_plugin_name_suggests_the_closest():
    with pytest.raises(PolicyError, match="did you mean 'Fixed'"):
        fake_registry().plugin("Fixd")


def test_versioned_names_resolve_to_the_unversioned_entry():
    reg = fake_registry()
    reg.register_profile("packing", {"version": 1})
    assert reg.profile("packing-v1").name == "packing"
    assert reg.plugin("Fixed-v1").cls is Fixed
    with pytest.raises(PolicyError, match="version 1, not 2"):
        reg.profile("packing-v2")


def test_duplicate_plugin_and_profile_names_are_errors():
    reg = fake_registry()
    clone = type("Fixed", (Fixed,), {})
    with pytest.raises(PolicyError, match="duplicate plugin name 'Fixed'"):
        reg.register_plugin(clone, "file", "mine.py")
    reg.register_plugin(Fixed, "built-in", "again")        # the same class twice is fine
    reg.register_profile("p", {})
    with pytest.raises(PolicyError, match="duplicate profile name 'p'"):
        reg.register_profile("p", {}, "entry point", "pkg")


def test_plugin_without_name_is_an_error():
    with pytest.raises(PolicyError, match="has no NAME"):
        Registry().register_plugin(type("Anon", (), {}))


POLICY_FILE = '''
import numpy as np
from kbench.policy.api import Plugin

class Emptiest(Plugin):
    """Prefer the node with the most free cpu."""
    NAME = "Emptiest"
    def score(self, state, pod, nodes, candidates):
        free = nodes.allocatable_of("cpu") - nodes.requested_of("cpu")
        return (free[candidates] * 100 // max(free.max(), 1)).astype(np.int64)

PLUGINS = [Emptiest]
PROFILES = {"emptiest": {"plugins": {"filter": ["CpuFit"], "score": [["Emptiest", 3]]},
                         "description": "most free cpu"}}
'''


def test_file_policy_is_loaded_by_path_without_touching_sys_path(tmp_path):
    path = tmp_path / "my_policy.py"
    path.write_text(POLICY_FILE)
    before = list(sys.path)
    prof, reg = resolve_policy(str(path), fake_registry())
    assert sys.path == before
    assert prof.name == "emptiest" and prof.origin == "file"
    assert reg.plugins["Emptiest"].origin == "file" and reg.plugins["Emptiest"].source == str(path)
    plugins, weights = prof.expand(reg)
    assert plugins["filter"] == ["CpuFit"] and weights == {"Emptiest": 3}


def test_file_plugin_by_name_runs_on_top_of_default(tmp_path):
    path = tmp_path / "my_policy.py"
    path.write_text(POLICY_FILE)
    prof, reg = resolve_policy(f"{path}:Emptiest", fake_registry())
    plugins, weights = prof.expand(reg)
    assert weights == {"Emptiest": 1}
    assert plugins["filter"][:2] == ["NodeUnschedulable", "NodeName"]


def test_file_that_raises_names_the_file(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('oops')\n")
    with pytest.raises(PolicyError) as info:
        resolve_policy(str(path), fake_registry())
    assert str(path) in str(info.value) and "RuntimeError" in str(info.value)


def test_missing_file_and_unknown_name_in_file(tmp_path):
    with pytest.raises(PolicyError, match="no such policy file"):
        resolve_policy(str(tmp_path / "nope.py"), fake_registry())
    path = tmp_path / "p.py"
    path.write_text(POLICY_FILE)
    with pytest.raises(PolicyError, match="did you mean 'Emptiest'"):
        resolve_policy(f"{path}:Emptyest", fake_registry())


class FakeEntryPoint:
    """What importlib.metadata.EntryPoint offers the registry."""

    def __init__(self, name, value, obj):
        self.name, self.value, self._obj = name, value, obj

    def load(self):
        if isinstance(self._obj, Exception):
            raise self._obj
        return self._obj


def test_entry_points_register_modules_classes_and_profile_dicts():
    module = types.ModuleType("thirdparty")
    module.PLUGINS = [type("Tp", (Fixed,), {"NAME": "ThirdParty"})]
    module.PROFILES = {"tp": {"plugins": {"score": ["ThirdParty"]}}}
    single = type("One", (Fixed,), {"NAME": "OnePlugin"})
    reg = Registry()
    reg.load_entry_points([FakeEntryPoint("a", "thirdparty", module), FakeEntryPoint("b", "x:One", single),
                           FakeEntryPoint("c", "x:PROFILES", {"cp": {}})])
    assert reg.plugins["ThirdParty"].origin == "entry point"
    assert reg.plugins["OnePlugin"].source == "b = x:One"
    assert {"tp", "cp"} <= set(reg.profiles)


def test_entry_point_that_fails_to_load_is_named():
    with pytest.raises(PolicyError, match="bad = pkg.mod"):
        Registry().load_entry_points([FakeEntryPoint("bad", "pkg.mod", ImportError("no module"))])


def test_default_registry_finds_builtins_of_the_policies_package():
    reg = default_registry()
    assert "default" in reg.profiles
    assert all(info.origin == "built-in" for info in reg.plugins.values())
    assert all(info.source.startswith("policies.") for info in reg.plugins.values())


# ----- profiles -------------------------------------------------------------------------------

def expand(data: dict, reg=None):
    reg = reg or fake_registry()
    return profile_from_dict("t", data).expand(reg)


def test_default_profile_matches_kube_scheduler():
    """M3, E2: default plugins in upstream order and score weights (the volume plugins are phantoms)."""
    plugins, weights = expand({"base": "default"})
    assert plugins["preEnqueue"] == ["SchedulingGates"]
    assert plugins["queueSort"] == ["PrioritySort"]
    assert plugins["filter"] == ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts",
                                 "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"]
    assert plugins["postFilter"] == ["DefaultPreemption"]
    assert plugins["bind"] == ["DefaultBinder"]
    assert weights == {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1, "PodTopologySpread": 2,
                       "InterPodAffinity": 2, "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}
    prof = profile_from_dict("default", {"base": "default"})
    assert prof.phantoms == ["VolumeRestrictions", "NodeVolumeLimits", "VolumeBinding", "VolumeZone"]


def write(tmp_path, text: str):
    path = tmp_path / "sched.yaml"
    path.write_text(text)
    return path


HEAD = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"


def test_ksc_disable_star_weights_and_percentage(tmp_path):
    path = write(tmp_path, HEAD + textwrap.dedent("""\
        percentageOfNodesToScore: 40
        profiles:
        - schedulerName: default-scheduler
          percentageOfNodesToScore: 70
          plugins:
            score:
              disabled:
              - name: "*"
              enabled:
              - name: NodeResourcesFit
                weight: 5
              - name: Fixed
            filter:
              disabled:
              - name: TaintToleration
              enabled:
              - name: CpuFit
        - schedulerName: other
    """))
    reg = fake_registry()
    prof = load_ksc(path, reg)
    plugins, weights = prof.expand(reg)
    assert weights == {"NodeResourcesFit": 5, "Fixed": 1}
    assert plugins["filter"] == ["NodeUnschedulable", "NodeName", "NodeAffinity", "NodePorts", "NodeResourcesFit",
                                 "PodTopologySpread", "InterPodAffinity", "CpuFit"]
    assert "TaintToleration" in plugins["preScore"]          # disabled only at filter and score
    assert prof.percentage_of_nodes_to_score == 70
    assert any("other profiles: ['other']" in n for n in prof.notes)


def test_ksc_top_level_percentage_and_multipoint_disable_all(tmp_path):
    path = write(tmp_path, HEAD + "percentageOfNodesToScore: 40\nprofiles:\n- plugins:\n    multiPoint:\n"
                 "      disabled: [{name: '*'}]\n      enabled: [{name: CpuFit}, {name: Fixed, weight: 4}]\n")
    reg = fake_registry()
    prof = load_ksc(path, reg)
    plugins, weights = prof.expand(reg)
    assert plugins["filter"] == ["CpuFit"] and weights == {"Fixed": 4} and plugins["queueSort"] == []
    assert prof.percentage_of_nodes_to_score == 40


def test_ksc_reweighting_a_default_plugin_keeps_its_place(tmp_path):
    path = write(tmp_path, HEAD + "profiles:\n- plugins:\n    score:\n      enabled:\n"
                 "      - {name: ImageLocality, weight: 9}\n")
    reg = fake_registry()
    plugins, weights = load_ksc(path, reg).expand(reg)
    assert weights["ImageLocality"] == 9 and weights["TaintToleration"] == 3
    assert plugins["score"][0] == "ImageLocality"           # re-enabled plugins come first (upstream)


def test_ksc_unknown_plugin_names_its_path(tmp_path):
    path = write(tmp_path, HEAD + "profiles:\n- plugins:\n    score:\n      enabled:\n"
                 "      - {name: ImageLocality}\n      - {name: NodeResourceFit, weight: 2}\n")
    with pytest.raises(PolicyError) as info:
        load_ksc(path, fake_registry())
    assert str(info.value) == (f"{path}: profiles[0].plugins.score.enabled[1].name: unknown plugin "
                               "'NodeResourceFit' (did you mean 'NodeResourcesFit'?)")


def test_ksc_bad_arg_names_the_full_field_path(tmp_path):
    path = write(tmp_path, HEAD + """\
profiles:
- plugins:
    score:
      enabled: [{name: Strict}]
  pluginConfig:
  - name: Fixed
    args: {scores: {}}
  - name: Strict
    args:
      scoringStrategy:
        resources:
        - name: cpu
          weight: 0
""")
    with pytest.raises(PolicyError) as info:
        load_ksc(path, fake_registry())
    assert info.value.where == "profiles[0].pluginConfig[1].args.scoringStrategy.resources[0].weight"


def test_ksc_not_built_upstream_plugins_are_accepted_with_a_note(tmp_path):
    path = write(tmp_path, HEAD + "profiles:\n- plugins:\n    filter:\n      enabled: [{name: VolumeBinding}]\n"
                 "  pluginConfig:\n  - name: VolumeBinding\n    args: {bindTimeoutSeconds: 600}\n")
    reg = fake_registry()
    prof = load_ksc(path, reg)
    assert "VolumeBinding" not in prof.expand(reg)[0]["filter"]
    assert any("VolumeBinding is not built" in n for n in prof.notes)
    assert any("pluginConfig for VolumeBinding" in n for n in prof.notes)


@pytest.mark.parametrize(("text", "where", "match"), [
    ("apiVersion: kubescheduler.config.k8s.io/v1beta2\nkind: KubeSchedulerConfiguration\n", "apiVersion",
     "expected apiVersion"),
    (HEAD + "percentageOfNodeToScore: 5\n", "percentageOfNodeToScore", "did you mean 'percentageOfNodesToScore'"),
    (HEAD + "percentageOfNodesToScore: 101\n", "percentageOfNodesToScore", "0 to 100"),
    (HEAD + "profiles:\n- plugins:\n    scores: {}\n", "profiles[0].plugins.scores", "did you mean 'score'"),
    (HEAD + "profiles:\n- plugins:\n    filter:\n      enabled: [{name: Fixed}]\n",
     "profiles[0].plugins.filter.enabled[0].name", "does not implement filter"),
    (HEAD + "profiles:\n- plugins:\n    score:\n      enabled: [{name: Fixed, weight: -1}]\n",
     "profiles[0].plugins.score.enabled[0].weight", "weight"),
    (HEAD + "profiles:\n- pluginConfig:\n  - name: Fixd\n    args: {}\n", "profiles[0].pluginConfig[0].name",
     "did you mean 'Fixed'"),
])
def test_ksc_errors_name_their_field(tmp_path, text, where, match):
    with pytest.raises(PolicyError, match=match) as info:
        load_ksc(write(tmp_path, text), fake_registry())
    assert info.value.where == where


def test_profile_dict_errors_and_auto_reserve():
    with pytest.raises(PolicyError, match="tieBreak"):
        profile_from_dict("x", {"tieBreak": "last"})
    with pytest.raises(PolicyError, match="did you mean 'score'"):
        profile_from_dict("x", {"plugins": {"scor": []}})
    plugins, _ = expand({"plugins": {"score": ["Flat"], "filter": ["CpuFit"]},
                         "pluginConfig": {}}, fake_registry())
    assert plugins["reserve"] == []
    plugins, _ = expand({"plugins": {"multiPoint": ["GpuPick", "Flat"]}})
    assert plugins["reserve"] == ["GpuPick"] and plugins["score"] == ["Flat"]


def test_resolve_yaml_and_name(tmp_path):
    path = write(tmp_path, HEAD)
    prof, reg = resolve_policy(str(path), fake_registry())
    assert prof.origin == "file" and prof.expand(reg)[1]["TaintToleration"] == 3
    reg = fake_registry()
    reg.register_profile("mine", {"plugins": {"score": ["Flat"]}})
    prof, _ = resolve_policy("mine-v1", reg)
    assert prof.expand(reg)[1] == {"Flat": 1}


def test_ksc_fixture_from_the_repo_parses():
    reg = fake_registry()
    prof = load_ksc(FIXTURES / "kube-scheduler-config.yaml", reg)
    plugins, weights = prof.expand(reg)
    assert weights == {"NodeResourcesFit": 2, "TaintToleration": 3, "NodeAffinity": 2, "PodTopologySpread": 2,
                       "ImageLocality": 1}
    assert prof.percentage_of_nodes_to_score == 50
    assert prof.plugin_config["NodeResourcesFit"]["scoringStrategy"]["type"] == "MostAllocated"
