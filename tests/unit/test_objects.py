"""Pods, nodes, tolerations, selectors and the node table (docs/POLICY_CONTRACT.md)."""

from __future__ import annotations

import numpy as np
import pytest

from kbench.cluster.objects import (
    DEFAULT_MEMORY_REQUEST,
    Container,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeTable,
    Pod,
    Taint,
    Toleration,
    selector_matches,
    tolerates_all,
)

MI = 2**20


@pytest.mark.parametrize(("tol", "taint", "expected"), [
    # cases after k8s.io/api core/v1 toleration_test.go (TestTolerationToleratesTaint)
    (Toleration("foo", "Equal", "bar", "NoSchedule"), Taint("foo", "bar", "NoSchedule"), True),
    (Toleration("foo", "Equal", "bar", ""), Taint("foo", "bar", "NoExecute"), True),      # empty effect: all
    (Toleration("foo", "Equal", "bar", "NoExecute"), Taint("foo", "bar", "NoSchedule"), False),
    (Toleration("foo", "Exists", "", "NoSchedule"), Taint("foo", "anything", "NoSchedule"), True),
    (Toleration("", "Exists"), Taint("any", "v", "PreferNoSchedule"), True),             # wildcard
    (Toleration("foo", "Equal", "baz"), Taint("foo", "bar", "NoSchedule"), False),
    (Toleration("other", "Exists"), Taint("foo", "bar", "NoSchedule"), False),
    (Toleration("foo", "", "bar"), Taint("foo", "bar", "NoSchedule"), True),              # "" = Equal
])
def test_toleration_tolerates(tol, taint, expected):
    assert tol.tolerates(taint) is expected


def test_tolerates_all_only_checks_the_given_effects():
    taints = [Taint("a", "1", "NoSchedule"), Taint("b", "2", "PreferNoSchedule")]
    assert tolerates_all([Toleration("a", "Equal", "1")], taints, ("NoSchedule", "NoExecute"))
    assert not tolerates_all([], taints, ("NoSchedule",))


@pytest.mark.parametrize(("req", "labels", "expected"), [
    (NodeSelectorRequirement("zone", "In", ("a", "b")), {"zone": "b"}, True),
    (NodeSelectorRequirement("zone", "In", ("a",)), {}, False),
    (NodeSelectorRequirement("zone", "NotIn", ("a",)), {}, True),
    (NodeSelectorRequirement("zone", "NotIn", ("a",)), {"zone": "a"}, False),
    (NodeSelectorRequirement("gpu", "Exists"), {"gpu": ""}, True),
    (NodeSelectorRequirement("gpu", "DoesNotExist"), {"gpu": ""}, False),
    (NodeSelectorRequirement("cores", "Gt", ("8",)), {"cores": "16"}, True),
    (NodeSelectorRequirement("cores", "Lt", ("8",)), {"cores": "16"}, False),
    (NodeSelectorRequirement("cores", "Gt", ("8",)), {"cores": "many"}, False),
])
def test_node_selector_requirement(req, labels, expected):
    assert req.matches(labels) is expected


def test_node_selector_term_empty_matches_nothing_and_fields_match_the_name():
    assert not NodeSelectorTerm().matches({"a": "b"}, "n1")
    term = NodeSelectorTerm(match_fields=(NodeSelectorRequirement("metadata.name", "In", ("n1",)),))
    assert term.matches({}, "n1") and not term.matches({}, "n2")


def test_label_selector():
    assert not selector_matches(None, {"app": "x"})
    assert selector_matches({}, {"app": "x"})
    sel = {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}
    assert selector_matches(sel, {"app": "x", "tier": "web"})
    assert not selector_matches(sel, {"app": "x"})


def test_pod_requests_follow_e6_and_nonzero_requests_follow_e4():
    pod = Pod("p",
              containers=[Container("a", requests={"cpu": 200, "memory": 100 * MI}),
                          Container("b", requests={"cpu": 300})],
              init_containers=[Container("i", requests={"cpu": 800, "example.com/foo": 2})],
              overhead={"cpu": 50})
    # cpu = max(200 + 300, 800) + 50; memory only from container a
    assert pod.requests() == {"cpu": 850, "memory": 100 * MI, "example.com/foo": 2}
    # container b omits memory → 200 MiB; the init container omits memory → 200 MiB (max wins: 300 MiB sum)
    nz = pod.nonzero_requests()
    assert nz["cpu"] == 850 and nz["memory"] == 100 * MI + DEFAULT_MEMORY_REQUEST
    assert not pod.is_best_effort()


def test_explicit_zero_stays_zero_and_no_containers_is_zero():
    pod = Pod("p", containers=[Container("a", requests={"cpu": 0, "memory": 0})])
    assert pod.nonzero_requests() == {"cpu": 0, "memory": 0}
    assert Pod("empty", overhead={"cpu": 10}).nonzero_requests() == {}


def test_best_effort_and_images():
    pod = Pod("p", containers=[Container("a", image="nginx")], init_containers=[Container("i", image="busybox")])
    assert pod.is_best_effort()
    assert pod.images() == ["busybox", "nginx"]
    assert pod.nonzero_requests() == {"cpu": 100, "memory": DEFAULT_MEMORY_REQUEST}


def test_gpu_fields_are_normalised():
    assert (Pod("a", gpu_count=2).gpu_milli, Pod("b", gpu_milli=300).gpu_count) == (1000, 1)
    assert Pod("c", gpu_milli=1500).gpu_milli == 1000
    assert Pod("d", gpu_count=2, gpu_milli=500).gpu_total_milli == 1000


def small_table() -> NodeTable:
    return NodeTable.from_nodes([
        Node("a", {"cpu": 4000, "memory": 8 * 2**30, "pods": 110}, labels={"zone": "z1"},
             images={"nginx:1": 100 * MI}, gpu_count=2, gpu_model="T4"),
        Node("b", {"cpu": 2000, "memory": 4 * 2**30, "pods": 110}, taints=[Taint("k", "v", "NoSchedule")],
             images={"nginx:1": 100 * MI, "redis:7": 50 * MI}),
        Node("c", {"cpu": 8000, "nvidia.com/gpu": 8}, unschedulable=True, gpu_count=8, gpu_model="V100"),
    ])


def test_node_table_columns():
    t = small_table()
    assert t.n == 3 and t.names == ["a", "b", "c"] and t.index["c"] == 2
    assert t.resources[:4] == ["cpu", "memory", "ephemeral-storage", "pods"]
    assert t.allocatable_of("nvidia.com/gpu").tolist() == [0, 0, 8]
    assert t.allocatable_of("unknown").tolist() == [0, 0, 0]
    assert t.unschedulable.tolist() == [False, False, True]
    assert t.gpu_count.tolist() == [2, 0, 8] and t.gpu_model == ["T4", None, "V100"]
    assert t.gpu_model_codes.tolist() == [0, -1, 1] and t.gpu_model_names == ["T4", "V100"]
    assert t.gpu_free_milli.shape == (3, 8)
    assert t.gpu_free_milli[0].tolist() == [1000, 1000] + [-1] * 6 and (t.gpu_free_milli[1] == -1).all()
    assert t.image_size("nginx:1").tolist() == [100 * MI, 100 * MI, 0]
    assert t.image_num_nodes("redis:7") == 1 and t.image_num_nodes("none") == 0
    assert t.label_column("zone").tolist() == ["z1", None, None]
    assert t.node_images(1) == {"nginx:1": 100 * MI, "redis:7": 50 * MI}


def test_add_and_remove_pod_update_every_column():
    t = small_table()
    p = Pod("p", containers=[Container("c", requests={"cpu": 500})], gpu_milli=300)
    q = Pod("q", containers=[Container("c", requests={"cpu": 100, "example.com/x": 1})])
    t.add_pod(p, 0, (1,))
    t.add_pod(q, 0)
    assert t.requested_of("cpu")[0] == 600 and t.requested_of("memory")[0] == 0
    assert t.nonzero_requested_of("memory")[0] == 2 * DEFAULT_MEMORY_REQUEST
    assert t.requested_of("example.com/x").tolist() == [1, 0, 0]       # new column added
    assert t.pod_count.tolist() == [2, 0, 0] and t.requested_of("pods")[0] == 2
    assert t.gpu_free_milli[0, :2].tolist() == [1000, 700]
    assert t.pods[0] == [p, q] and t.pod_gpus[0] == [(1,), ()]
    t.remove_pod(p, 0)
    assert t.requested_of("cpu")[0] == 100 and t.gpu_free_milli[0, :2].tolist() == [1000, 1000]
    assert t.pods[0] == [q] and t.pod_count[0] == 1


def test_gpu_pods_get_the_best_gpus_by_default():
    t = small_table()
    t.add_pod(Pod("s1", gpu_milli=600), 0, (0,))
    t.add_pod(Pod("s2", gpu_milli=300), 0)       # best fit: GPU 0 has 400 free, the least that fits
    assert t.gpu_free_milli[0, :2].tolist() == [100, 1000]
    t.add_pod(Pod("w", gpu_count=3), 2)          # lowest-indexed whole GPUs
    assert t.gpu_free_milli[2].tolist() == [0, 0, 0] + [1000] * 5


def test_node_table_errors():
    t = small_table()
    with pytest.raises(ValueError, match="duplicate node"):
        t.add_node(Node("a"))
    with pytest.raises(ValueError, match="cannot take"):
        t.add_pod(Pod("big", gpu_milli=600), 0, (5,))
    with pytest.raises(ValueError, match="does not fit"):
        t.add_pod(Pod("g", gpu_count=3), 0)
    with pytest.raises(ValueError, match="not bound"):
        t.remove_pod(Pod("x"), 0)
    with pytest.raises(KeyError):
        NodeTable.from_nodes([Node("a")], [Pod("p", node_name="zz")])


def test_copy_is_independent():
    t = small_table()
    c = t.copy()
    c.add_pod(Pod("p", containers=[Container("c", requests={"cpu": 1})], gpu_milli=500), 0)
    c.add_node(Node("d", {"cpu": 1}))
    assert t.pod_count.tolist() == [0, 0, 0] and t.n == 3 and c.n == 4
    assert t.gpu_free_milli[0, 0] == 1000 and t.pods[0] == []
    assert np.array_equal(t.allocatable, small_table().allocatable)


def test_from_nodes_binds_pods_with_their_gpus():
    pods = [Pod("s", node_name="a", gpu_milli=250, gpu_indices=(1,)), Pod("free")]
    t = NodeTable.from_nodes([Node("a", {"cpu": 1000}, gpu_count=2)], pods)
    assert t.gpu_free_milli[0].tolist() == [1000, 750] and t.pod_count.tolist() == [1]


def test_sidecar_requests_follow_component_helpers_pod_requests():
    """PodRequests with restartable init containers: max(app + sidecars, each init + the sidecars
    started before it). app 100m; sidecar 50m (first init); init 300m after it -> max(150, 350) = 350m;
    a plain init before the sidecar -> max(150, 300) = 300m. Non-zero requests substitute 100m / 200Mi
    per container that omits them (E4)."""
    from kbench.cluster.objects import Container, Pod

    app = Container("app", requests={"cpu": 100.0, "memory": 1.0})
    side = Container("side", requests={"cpu": 50.0, "memory": 1.0}, restart_policy="Always")
    init = Container("init", requests={"cpu": 300.0, "memory": 1.0})
    assert Pod("a", containers=[app], init_containers=[side, init]).requests()["cpu"] == 350.0
    assert Pod("b", containers=[app], init_containers=[init, side]).requests()["cpu"] == 300.0
    assert Pod("c", containers=[app], init_containers=[side]).requests()["cpu"] == 150.0
    bare_side = Container("s", restart_policy="Always")
    assert Pod("d", containers=[app], init_containers=[bare_side]).nonzero_requests()["cpu"] == 200.0


def test_pod_evolve_copies_every_field_and_leaves_the_old_version():
    """PodObj.evolve copies field by field (for speed): a field added later must be copied too."""
    import dataclasses

    from kbench.cluster.objects.stored import PodObj

    fields = [f.name for f in dataclasses.fields(PodObj)]
    old = PodObj(**{name: f"v-{name}" for name in fields})
    new = old.evolve()
    assert all(getattr(new, name) == f"v-{name}" for name in fields)
    changed = old.evolve(phase="Running", owner_uid="u2")
    assert (changed.phase, changed.owner_uid, old.phase) == ("Running", "u2", "v-phase")
    assert changed is not old and changed.key == old.key
