"""Windowed filtering against a node-by-node reference; the node table's change counters and the caches on them.

The framework filters windows of nodes in one numpy call per plugin (kbench.policy.framework); the
reference below walks the nodes one at a time from the rotating start index, as upstream's
``findNodesThatPassFilters`` does with a single worker, and must give the same feasible nodes (in
the same order), the same evaluated nodes and next start index, the same per-node filter reasons
and, scored by the same code, the same chosen node.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbench.cluster.objects import Container, Node, NodeTable, Pod, Taint, Toleration
from kbench.policy.api import CycleState
from kbench.policy.framework import Framework
from kbench.policy.profile import profile_from_dict
from kbench.policy.results import FilterLog, FilterReasons, ScheduleResult, ScoreArrays

GI = 2**30
ZONES = ("a", "b", "c")
TAINT = Taint("dedicated", "infra", "NoSchedule")


def reference_cycle(fw: Framework, pod: Pod, nodes: NodeTable):
    """The sequential rule: ``(feasible rows in walk order, evaluated rows, reasons, next start)``.

    Walk from the start index, one node at a time through every filter (the first failure stops
    that node); stop at the (k+1)-th feasible node. With more than k feasible, the first k count
    and the nodes up to the k-th are the evaluated ones; otherwise every node is evaluated.
    """
    n = nodes.n
    state = CycleState()
    skip = set()
    for name in fw.pre_filters:
        st_ = fw.plugins[name].pre_filter(state, pod, nodes)
        if st_ is not None and st_.is_skip:
            skip.add(name)
        elif st_ is not None and not st_.ok:
            raise AssertionError("the generated pods are never rejected at PreFilter")
    k = fw.num_feasible_nodes_to_find(n)
    start = fw._next_start % n if k < n else 0
    feasible, verdicts, more = [], [], False
    for i in range(n):
        row = (start + i) % n
        seen = {}
        for name in fw.filters:
            if name in skip:
                continue
            res = fw.plugins[name].filter(state, pod, nodes, np.array([row], dtype=np.int64))
            seen[name] = "Success" if res.ok[0] else res.reason_at(0)
            if not res.ok[0]:
                break
        verdicts.append((row, seen))
        if all(v == "Success" for v in seen.values()):
            if len(feasible) == k:
                more = True
                break
            feasible.append(row)
    processed = (feasible[-1] - start) % n + 1 if more else n
    reasons = {row: seen for row, seen in verdicts[:processed]}
    next_start = (start + processed) % n if k < n else fw._next_start
    return feasible, sorted(reasons), reasons, next_start


def reference_choice(fw: Framework, pod: Pod, nodes: NodeTable, feasible: list[int]) -> int | None:
    """Score ``feasible`` (walk order) with the framework's own scoring code; the chosen row."""
    if not feasible:
        return None
    n = nodes.n
    result = ScheduleResult(None, None, np.zeros(n, bool), np.zeros(n, bool), FilterReasons(FilterLog(n, [])),
                            ScoreArrays(n, fw.score_plugins), np.zeros(n, dtype=np.int64), np.zeros(n, bool),
                            dict(fw.weights), state=CycleState())
    return fw._score_and_select(pod, nodes, result, np.array(feasible, dtype=np.int64), True, False).node_idx


def build(n: int, p_small: float, p_cordon: float, p_taint: float, seed: int) -> NodeTable:
    """``n`` nodes (1-8 cores, a small one with probability ``p_small``; cordoned, tainted and zoned
    at random) with some pods already bound."""
    rng = np.random.default_rng(seed)
    nodes = []
    for i in range(n):
        cores = 1 if rng.random() < p_small else int(rng.integers(2, 9))
        nodes.append(Node(f"n{i:03d}", {"cpu": cores * 1000.0, "memory": 16.0 * GI, "pods": 6},
                          labels={"kubernetes.io/hostname": f"n{i:03d}",
                                  "topology.kubernetes.io/zone": ZONES[int(rng.integers(3))]},
                          taints=[TAINT] if rng.random() < p_taint else [], unschedulable=bool(rng.random() < p_cordon)))
    table = NodeTable.from_nodes(nodes)
    for j in range(n):  # some load, so that cpu and pod count fit differently per node
        table.add_pod(Pod(f"bg-{j}", labels={"app": f"bg{j % 3}"}, owner="ReplicaSet/bg",
                          containers=[Container("c", requests={"cpu": float(rng.integers(1, 8) * 250)})]),
                      int(rng.integers(n)))
    return table


pod_spec = st.tuples(st.integers(0, 12).map(lambda c: c * 250.0), st.booleans(), st.sampled_from([None, None, "a"]))
fraction = st.sampled_from([0.0, 0.0, 0.1, 0.5])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.one_of(st.integers(1, 99), st.integers(100, 400), st.integers(250, 400)), p_small=fraction,
       p_cordon=fraction, p_taint=fraction, pods=st.lists(pod_spec, min_size=1, max_size=4),
       pct=st.sampled_from([None, 0, 5, 5, 30, 100]),
       seed=st.integers(0, 2**16))
def test_windowed_filter_matches_the_sequential_rule(n, p_small, p_cordon, p_taint, pods, pct, seed):
    prof = profile_from_dict("w", {"base": "default", "percentageOfNodesToScore": pct})
    fw, ref = Framework(prof, seed), Framework(prof, seed)
    nodes, ref_nodes = (build(n, p_small, p_cordon, p_taint, seed) for _ in range(2))
    for i, (cpu, tolerate, zone) in enumerate(pods):
        pod = Pod(f"p{i}", labels={"app": "web"}, owner="ReplicaSet/web",
                  containers=[Container("c", requests={"cpu": cpu})],
                  tolerations=[Toleration("dedicated", "Equal", "infra", "NoSchedule")] if tolerate else [],
                  node_selector={"topology.kubernetes.io/zone": zone} if zone else {})
        feasible, evaluated, reasons, next_start = reference_cycle(ref, pod, ref_nodes)
        chosen = reference_choice(ref, pod, ref_nodes, feasible)
        ref._next_start = next_start
        res = fw.schedule(pod, nodes, assume=True)
        assert np.flatnonzero(res.feasible).tolist() == sorted(feasible)
        assert np.flatnonzero(res.evaluated).tolist() == evaluated
        assert fw._next_start == next_start
        assert res.node_idx == chosen
        for row in (evaluated[0], evaluated[-1], evaluated[len(evaluated) // 2]):
            got = {name: arr[row] for name, arr in res.filter_reasons.items() if arr[row] is not None}
            assert got == reasons[row]
        not_evaluated = np.flatnonzero(~res.evaluated)
        if not_evaluated.size:
            assert all(arr[not_evaluated[0]] is None for arr in res.filter_reasons.values())


def test_a_window_too_small_continues_with_the_next_nodes():
    """Every second node fits: the first window (489 nodes) finds too few, a second one follows."""
    nodes = NodeTable.from_nodes([Node(f"n{i:04d}", {"cpu": (8 if i % 2 == 0 else 1) * 1000.0, "memory": 16.0 * GI,
                                                     "pods": 110}) for i in range(1000)])
    fw = Framework("default", 0)
    pod = Pod("big", containers=[Container("c", requests={"cpu": 4000.0})])
    res = fw.schedule(pod, nodes, assume=False)
    assert fw.num_feasible_nodes_to_find(1000) == 420
    assert np.flatnonzero(res.feasible).tolist() == list(range(0, 840, 2))  # the 420th is row 838
    assert np.flatnonzero(res.evaluated).tolist() == list(range(839)) and fw._next_start == 839
    reasons = res.filter_reasons["NodeResourcesFit"]
    assert reasons[1] == "Insufficient cpu" and reasons[838] == "Success" and reasons[840] is None


def test_taints_version_refreshes_the_taint_cache():
    nodes = NodeTable.from_nodes([Node(f"n{i}", {"cpu": 4000.0, "memory": 8.0 * GI, "pods": 110}) for i in range(3)])
    fw = Framework("default", 0)
    pod = Pod("p", containers=[Container("c", requests={"cpu": 100.0})])
    assert fw.schedule(pod, nodes, assume=False, evaluate_all=True).feasible.all()
    before = nodes.taints_version
    nodes.set_taints(1, [TAINT])
    assert nodes.taints_version == before + 1
    res = fw.schedule(pod, nodes, assume=False, evaluate_all=True)
    assert res.feasible.tolist() == [True, False, True]
    assert res.filter_reasons["TaintToleration"][1] == "node(s) had untolerated taint(s)"
    nodes.set_taints(1, [TAINT])  # unchanged: no bump
    assert nodes.taints_version == before + 1
    nodes.set_taints(1, [])
    nodes.set_unschedulable(2, True)
    assert fw.schedule(pod, nodes, assume=False, evaluate_all=True).feasible.tolist() == [True, True, False]


def test_labels_version_refreshes_the_label_caches():
    nodes = NodeTable.from_nodes([Node(f"n{i}", {"cpu": 4000.0, "memory": 8.0 * GI, "pods": 110},
                                       labels={"disk": "hdd"}) for i in range(3)])
    fw = Framework("default", 0)
    pod = Pod("p", containers=[Container("c", requests={"cpu": 100.0})], node_selector={"disk": "ssd"})
    assert not fw.schedule(pod, nodes, assume=False, evaluate_all=True).feasible.any()
    nodes.set_labels(2, {"disk": "ssd"})
    assert fw.schedule(pod, nodes, assume=False, evaluate_all=True).feasible.tolist() == [False, False, True]
    assert nodes.label_column("disk").tolist() == ["hdd", "hdd", "ssd"]


def test_rounded_quantities_follow_binding():
    nodes = NodeTable.from_nodes([Node("n", {"cpu": 1000.4, "memory": 8.0 * GI, "pods": 110})])
    pod = Pod("p", containers=[Container("c", requests={"cpu": 2.5})])
    cpu = nodes.res_index["cpu"]
    assert nodes.allocatable_int[0, cpu] == 1000
    nodes.add_pod(pod, 0)
    assert nodes.requested_int[0, cpu] == 2 and nodes.requested_int[0, nodes.res_index["pods"]] == 1  # ties to even
    assert nodes.free_int[0, cpu] == 998 and nodes.free_int[0, nodes.res_index["pods"]] == 109
    assert nodes.pod_changes_since(nodes.pods_version - 1) == [(0, pod, 1)]
    nodes.remove_pod(pod, 0)
    assert nodes.requested_int[0].tolist() == [0, 0, 0, 0] and nodes.pods_changed_since(nodes.pods_version - 2) == [0, 0]
    assert nodes.free_int[0].tolist() == nodes.allocatable_int[0].tolist()
    assert nodes.copy().requested_int.tolist() == nodes.requested_int.tolist()


def _spread_scores(plugin, pod, nodes) -> list[int]:
    state, cand = CycleState(), np.arange(nodes.n, dtype=np.int64)
    assert plugin.pre_score(state, pod, nodes, cand).ok
    return plugin.normalize_scores(state, pod, plugin.score(state, pod, nodes, cand)).tolist()


def test_spread_counts_follow_binding_changes(monkeypatch):
    """The delta-maintained counts (per node and per zone) equal a fresh table's after random
    binds and unbinds, through the change log and, when it is too short, through the recount."""
    from kbench.cluster.objects import nodetable
    from kbench.cluster.objects.clusterobjects import ClusterObjects
    from kbench.policy.api import Handle
    from policies.podtopologyspread import PodTopologySpread

    objects = ClusterObjects()
    for a in range(3):  # one Service per app: the pods' default spreading selector
        objects.add_service("default", f"app{a}", {"app": f"app{a}"})
    handle = Handle(objects=objects)

    rng = np.random.default_rng(7)
    nodes = NodeTable.from_nodes([Node(f"n{i}", {"cpu": 64000.0, "memory": 64.0 * GI, "pods": 110},
                                       labels={"kubernetes.io/hostname": f"n{i}",
                                               "topology.kubernetes.io/zone": ZONES[i % 3]}) for i in range(30)])
    probes = [Pod(f"probe-{a}", labels={"app": f"app{a}"}, owner="ReplicaSet/x") for a in range(3)]
    plugin, bound = PodTopologySpread(None, handle), []
    for step in range(40):
        if step == 20:
            monkeypatch.setattr(nodetable, "_PODS_LOG", 2)  # from now on the log keeps only a few changes
        for _ in range(int(rng.integers(1, 8))):
            if bound and rng.random() < 0.4:
                pod, row = bound.pop(int(rng.integers(len(bound))))
                nodes.remove_pod(pod, row)
            else:
                pod = Pod(f"p{step}-{len(bound)}", labels={"app": f"app{int(rng.integers(3))}"}, owner="ReplicaSet/x")
                row = int(rng.integers(nodes.n))
                nodes.add_pod(pod, row)
                bound.append((pod, row))
        for probe in probes:
            assert _spread_scores(plugin, probe, nodes) == _spread_scores(PodTopologySpread(None, handle), probe,
                                                                          nodes.copy())
