"""Snapshots as kubectl prints them, and explain's JSON shape on the built-in policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbench.errors import KbenchError, PolicyError
from kbench.policy.explain import explain
from kbench.policy.snapshot import SnapshotError, load_pod, load_snapshot, load_snapshot_table

FIX = Path(__file__).parents[1] / "fixtures"
SNAP, GPU_SNAP = FIX / "cluster-snapshot.yaml", FIX / "gpu-snapshot.yaml"
GI = 2**30


def test_snapshot_quantities_taints_images_and_bound_pods():
    t = load_snapshot_table(SNAP)
    assert t.names == ["node-a", "node-b", "node-c", "node-d"]
    a = t.index["node-a"]
    assert t.allocatable_of("cpu")[a] == 3800                   # 3800m
    assert t.allocatable_of("memory")[a] == 15 * GI              # 15Gi
    assert t.allocatable_of("pods")[a] == 110                    # "110"
    assert t.allocatable_of("ephemeral-storage")[a] == 47233297124
    d = t.index["node-d"]                                        # no allocatable: capacity
    assert t.allocatable_of("cpu")[d] == 4000 and t.unschedulable[d]
    assert [x.effect for x in t.taints[t.index["node-b"]]] == ["PreferNoSchedule"]
    assert t.image_size("docker.io/library/nginx:1.25").tolist() == [196880357, 0, 0, 0]
    assert t.image_num_nodes("registry.k8s.io/pause:3.9") == 2
    # api pod: cpu request 1500m, memory from its limit (2Gi); db pod on node-b; the Succeeded pod is ignored
    assert t.requested_of("cpu").tolist() == [1500, 2000, 0, 0]
    assert t.requested_of("memory").tolist() == [2 * GI, 8 * GI, 0, 0]
    assert t.pod_count.tolist() == [1, 1, 0, 0]
    api = t.pods[a][0]
    assert api.owner == "ReplicaSet/api-7d9f8c6b5" and api.labels["app"] == "api"
    assert api.tolerations[0].operator == "Exists" and api.tolerations[0].toleration_seconds == 300


def test_gpu_snapshot_per_gpu_state():
    t = load_snapshot_table(GPU_SNAP)
    assert t.gpu_count.tolist() == [2, 8] and t.gpu_model == ["T4", "V100"]
    assert t.gpu_free_milli[0, :2].tolist() == [1000, 400]           # share-1 holds 600 of GPU 1
    assert t.gpu_free_milli[1].tolist() == [0] * 4 + [1000] * 4       # train-1: nvidia.com/gpu 4
    assert t.requested_of("nvidia.com/gpu").tolist() == [0, 4]
    pod = load_pod(FIX / "pod-gpu-share.yaml")
    assert (pod.gpu_count, pod.gpu_milli, pod.namespace) == (1, 300, "ml")


def test_pod_manifest_fields(tmp_path):
    path = tmp_path / "pod.yaml"
    path.write_text("""
apiVersion: v1
kind: Pod
metadata: {name: x}
spec:
  priority: 100
  nodeSelector: {disktype: ssd}
  overhead: {cpu: 250m}
  initContainers:
  - {name: init, image: busybox, resources: {requests: {cpu: "2"}}}
  containers:
  - {name: a, image: app, resources: {requests: {cpu: 100m, memory: 64Mi}}}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: zone, operator: In, values: [zone-1]}]
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 5
        preference:
          matchExpressions: [{key: disktype, operator: Exists}]
  tolerations: [{key: dedicated, operator: Equal, value: batch, effect: NoSchedule}]
  topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway,
     labelSelector: {matchLabels: {app: x}}}
""")
    pod = load_pod(path)
    assert pod.priority == 100 and pod.node_selector == {"disktype": "ssd"}
    assert pod.requests() == {"cpu": 2250, "memory": 64 * 2**20}     # max(100m, 2) + 250m overhead
    assert pod.required_affinity[0].matches({"zone": "zone-1"})
    assert pod.preferred_affinity[0][0] == 5
    assert pod.tolerations[0].value == "batch"
    assert pod.topology_spread[0].when_unsatisfiable == "ScheduleAnyway"
    assert pod.topology_spread[0].label_selector == {"matchLabels": {"app": "x"}}


@pytest.mark.parametrize(("text", "match"), [
    ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", "expected exactly one Pod"),
    ("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: a\n    resources: {requests: {cpu: lots}}\n",
     "spec.containers\\[0\\].resources.requests.cpu: malformed quantity"),
    ("kind: Pod\nmetadata: {name: p\n", "invalid YAML"),
])
def test_bad_pod_files_name_file_and_field(tmp_path, text, match):
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    with pytest.raises(SnapshotError, match=match) as info:
        load_pod(path)
    assert str(path) in str(info.value)


def test_snapshot_without_nodes_and_pod_on_unknown_node(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    with pytest.raises(SnapshotError, match="no Node objects"):
        load_snapshot(path)
    path.write_text("kind: Node\nmetadata: {name: n}\n---\nkind: Pod\nmetadata: {name: p}\nspec: {nodeName: m}\n")
    with pytest.raises(SnapshotError, match="not in the snapshot"):
        load_snapshot_table(path)


# ----- explain on the built-in plugins ---------------------------------------------------------

def test_explain_default_profile_exact_scores():
    """Default profile on the kubectl-style fixture, scores worked out by hand.

    pod web: 500m cpu, 512Mi memory, image docker.io/library/nginx:1.25 (196880357 bytes, on node-a only).
    node-a: 3800m / 15Gi, holds 1500m / 2Gi.   node-b: 7800m / 31Gi, holds 2000m / 8Gi, PreferNoSchedule taint.
    node-c: untolerated NoSchedule taint.      node-d: unschedulable.
    TaintToleration (E12): raw a=0, b=1 → 100, 0.
    NodeResourcesFit LeastAllocated (E7): a cpu (3800-2000)*100/3800 = 47, mem (15-2.5)/15 = 83 → (47+83)/2 = 65;
        b cpu (7800-2500)*100/7800 = 67, mem (31-8.5)/31 = 72 → (67+72)/2 = 69.
    BalancedAllocation (E10): a |2000/3800 - 2.5/15|/2 = 0.1798 → int(82.01) = 82; b |2500/7800 - 8.5/31|/2 → 97.
    ImageLocality (E11): a 196880357 × 1/4 = 49220089; 100 × (49220089 - 23Mi) / (1000Mi - 23Mi) = 2; b 0.
    NodeAffinity and PodTopologySpread skip (no preferences; no constraints and no owning controller).
    total a = 3×100 + 65 + 82 + 2 = 449; b = 0 + 69 + 97 + 0 = 166.
    """
    out = explain("default", SNAP, FIX / "pod-web.yaml")
    assert out["selected"] == "node-a"
    a, b = out["nodes"]["node-a"], out["nodes"]["node-b"]
    assert a["scores"] == {"TaintToleration": 100, "NodeAffinity": None, "NodeResourcesFit": 65,
                           "PodTopologySpread": None, "InterPodAffinity": None, "NodeResourcesBalancedAllocation": 82,
                           "ImageLocality": 2}
    assert b["scores"] == {"TaintToleration": 0, "NodeAffinity": None, "NodeResourcesFit": 69,
                           "PodTopologySpread": None, "InterPodAffinity": None, "NodeResourcesBalancedAllocation": 97,
                           "ImageLocality": 0}
    assert (a["total"], b["total"]) == (449, 166)
    # NodeAffinity, NodePorts, PodTopologySpread and InterPodAffinity return Skip at PreFilter (nothing to
    # check), so they are not listed
    assert a["filters"] == {"NodeUnschedulable": "Success", "NodeName": "Success", "TaintToleration": "Success",
                            "NodeResourcesFit": "Success"}
    c, d = out["nodes"]["node-c"], out["nodes"]["node-d"]
    assert c["feasible"] is False and c["scores"] == {} and c["total"] is None
    assert list(c["filters"]) == ["NodeUnschedulable", "NodeName", "TaintToleration"]
    assert c["filters"]["TaintToleration"] == "node(s) had untolerated taint(s)"
    assert list(d["filters"]) == ["NodeUnschedulable"] and d["filters"]["NodeUnschedulable"] != "Success"
    json.dumps(out)


def test_explain_shape_is_exactly_the_documented_one():
    out = explain("least-allocated", SNAP, FIX / "pod-web.yaml")
    assert set(out) == {"selected", "nodes", "prefilter", "prescore", "status", "profile", "notes",
                        "preenqueue"}
    assert list(out["nodes"]) == sorted(out["nodes"])
    for row in out["nodes"].values():
        assert set(row) == {"feasible", "filters", "statuses", "scores", "total"}
        if row["feasible"]:
            assert row["total"] == sum(v for v in row["scores"].values() if v is not None)
        for name, verdict in row["filters"].items():  # statuses say the same, as {code, reasons}
            st = row["statuses"][name]
            assert (st["code"] == "Success") == (verdict == "Success")
            assert st["reasons"] == ([] if verdict == "Success" else [verdict])


def test_explain_best_effort_pod_skips_balanced_allocation():
    out = explain("default", SNAP, FIX / "pod-besteffort.yaml")
    feasible = [r for r in out["nodes"].values() if r["feasible"]]
    assert feasible and all(r["scores"]["NodeResourcesBalancedAllocation"] is None for r in feasible)


def test_explain_nothing_fits():
    out = explain("default", SNAP, FIX / "pod-huge.yaml")
    assert out["selected"] is None
    assert not any(r["feasible"] for r in out["nodes"].values())
    assert "Insufficient cpu" in out["nodes"]["node-b"]["filters"]["NodeResourcesFit"]


@pytest.mark.parametrize("policy", ["fgd", "best-fit", "dot-prod", "packing", "clustering", "first-fit",
                                    "random", "most-allocated", "balanced", "requested-to-capacity-ratio"])
def test_explain_every_named_policy_on_gpu_snapshot(policy):
    out = explain(policy, GPU_SNAP, FIX / "pod-gpu-share.yaml")
    assert out["selected"] in ("gpu-t4", "gpu-v100")
    for row in out["nodes"].values():
        assert all(v is None or (isinstance(v, int) and 0 <= v <= 100) for v in row["scores"].values())
    assert out == explain(policy, GPU_SNAP, FIX / "pod-gpu-share.yaml")     # deterministic


def test_explain_with_a_ksc_file():
    out = explain(str(FIX / "kube-scheduler-config.yaml"), SNAP, FIX / "pod-web.yaml")
    a = out["nodes"]["node-a"]
    # MostAllocated (E8): a cpu 2000*100/3800 = 52, mem 2.5/15 → 16 → (52+16)/2 = 34; weight 2 in the file
    assert a["scores"]["NodeResourcesFit"] == 34
    assert "NodeResourcesBalancedAllocation" not in a["scores"]


def test_ksc_bad_weight_names_the_full_path():
    with pytest.raises(PolicyError) as info:
        explain(str(FIX / "kube-scheduler-bad-weight.yaml"), SNAP, FIX / "pod-web.yaml")
    assert info.value.where == "profiles[0].pluginConfig[1].args.scoringStrategy.resources[0].weight"


def test_policy_file_that_raises_names_policy_pod_and_point(tmp_path):
    path = tmp_path / "bad_policy.py"
    path.write_text("from kbench.policy.api import Plugin\n\n"
                    "class Oops(Plugin):\n    NAME = 'Oops'\n"
                    "    def score(self, state, pod, nodes, candidates):\n        raise KeyError('gpu')\n\n"
                    "PLUGINS = [Oops]\n")
    with pytest.raises(KbenchError) as info:
        explain(str(path), SNAP, FIX / "pod-web.yaml")
    msg = str(info.value)
    assert "'Oops'" in msg and "default/web" in msg and "at Score" in msg and "KeyError" in msg


def test_unknown_policy_name():
    with pytest.raises(PolicyError, match="did you mean 'most-allocated'"):
        explain("most-alocated", SNAP, FIX / "pod-web.yaml")


def test_explain_says_whether_the_pod_can_be_batched(tmp_path):
    """OpportunisticBatching (kbench/policy/batching.py): the default profile never batches (System
    default spreading), a List-defaulting profile may; with the gate off explain says nothing."""
    from kbench.config.features import FeatureGates
    out = explain("default", SNAP, FIX / "pod-web.yaml")
    assert "OpportunisticBatching: this profile never batches: PodTopologySpread refuses to sign pods" \
           " while default constraints are configured" in out["notes"]
    ksc = tmp_path / "list.yaml"
    ksc.write_text("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                   "profiles:\n- schedulerName: default-scheduler\n  pluginConfig:\n"
                   "  - name: PodTopologySpread\n    args: {defaultingType: List}\n")
    notes = explain(str(ksc), SNAP, FIX / "pod-web.yaml")["notes"]
    assert any(n.startswith("OpportunisticBatching: pods with this one's signature may reuse") for n in notes)
    off = explain("default", SNAP, FIX / "pod-web.yaml", feature_gates=FeatureGates({"OpportunisticBatching": False}))
    assert not any(n.startswith("OpportunisticBatching") for n in off["notes"])
