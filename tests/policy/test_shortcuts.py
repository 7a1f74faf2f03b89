"""The framework's ``passes_all`` / ``uniform_score`` shortcuts give exactly the full calls' results.

Every case schedules a pod twice with the default profile, once as is and once with the shortcuts
turned off (every Filter and Score called on its candidates), and compares everything a cycle
records: chosen node, feasible / evaluated / scored rows, per-plugin filter verdicts and scores,
totals, the status and the distinct reasons the scheduler counts.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.policy.api import CycleState
from kbench.policy.framework import Framework
from tests.policy.builders import MB, node, pod, table, taint, toleration

IMAGE = "registry.example.com/app:1.0"


def _nodes(kind: str):
    out = []
    for i in range(40):
        taints, images, unsched = [], {}, False
        if kind == "tainted" and i % 5 == 0:
            taints = [taint("spot", "true", "PreferNoSchedule")]
        if kind == "tainted" and i % 7 == 0:
            taints.append(taint("gpu", "yes", "NoSchedule"))
        if kind in ("tainted", "images") and i % 3 == 0:
            images = {IMAGE: 500 * MB}
        if kind == "all-prefer":
            taints = [taint("spot", "true", "PreferNoSchedule")]
        if kind == "all-images":
            images = {IMAGE: 500 * MB}
        if kind == "cordoned" and i % 4 == 0:
            unsched = True
        out.append(node(f"n{i:02d}", cpu=4000 + 1000 * (i % 3), memory=8000 * MB, images=images,
                        labels={"kubernetes.io/hostname": f"n{i:02d}"}, unschedulable=unsched))
        out[-1].taints = taints
    return out


PODS = {
    "plain": dict(reqs=[{"cpu": 500, "memory": 100 * MB}]),
    "image": dict(reqs=[{"cpu": 500, "memory": 100 * MB}], images=[IMAGE]),
    "tolerant": dict(reqs=[{"cpu": 500}], tolerations=[toleration("spot", "true", "PreferNoSchedule"),
                                                       toleration("gpu", "yes", "NoSchedule")]),
    "pinned": dict(reqs=[{"cpu": 500}], node="n07"),
    "too-big": dict(reqs=[{"cpu": 64000}]),
}


def _without_shortcuts(fw: Framework) -> None:
    fw._pass_checks = []
    fw._score_fns = [(n, s, norm, None, w) for n, s, norm, _, w in fw._score_fns]


def _same(a, b) -> None:
    assert (a.node, a.node_idx, a.status) == (b.node, b.node_idx, b.status)
    for field in ("feasible", "evaluated", "scored", "total"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert dict(a.weights) == dict(b.weights)
    assert list(a.filter_reasons) == list(b.filter_reasons)
    for name in a.filter_reasons:
        assert a.filter_reasons[name].tolist() == b.filter_reasons[name].tolist(), name
    for name in a.scores:
        x, y = a.scores[name], b.scores[name]
        assert (x is None) == (y is None) and (x is None or np.array_equal(x, y)), name
    assert a.filter_reasons.distinct() == b.filter_reasons.distinct()


@pytest.mark.parametrize("kind", ["plain", "tainted", "images", "all-prefer", "all-images", "cordoned"])
@pytest.mark.parametrize("which", sorted(PODS))
@pytest.mark.parametrize("evaluate_all", [False, True])
def test_shortcuts_change_nothing(kind, which, evaluate_all):
    nodes = table(_nodes(kind))
    p = pod("p", **PODS[which])
    fast, slow = Framework("default", 3), Framework("default", 3)
    _without_shortcuts(slow)
    for _ in range(3):  # the rotating start index moves in step
        _same(fast.schedule(p, nodes, assume=False, evaluate_all=evaluate_all),
              slow.schedule(p, nodes, assume=False, evaluate_all=evaluate_all))


@pytest.mark.parametrize("kind", ["plain", "tainted", "images", "all-prefer", "all-images", "cordoned"])
@pytest.mark.parametrize("which", sorted(PODS))
def test_plugin_shortcuts_agree_with_full_calls(kind, which):
    """``passes_all`` True means Filter passes every node; a ``uniform_score`` is every node's score."""
    nodes = table(_nodes(kind))
    p = pod("p", **PODS[which])
    fw = Framework("default", 0)
    every = np.arange(nodes.n, dtype=np.int64)
    state = CycleState()
    for _name, fn in fw._pre_filter_fns:
        fn(state, p, nodes)
    for name, check in fw._pass_checks:
        if check(state, p, nodes):
            assert fw.plugins[name].filter(state, p, nodes, every).ok.all(), name
    for _name, fn in fw._pre_score_fns:
        fn(state, p, nodes, every)
    for name, score, normalize, uniform, _ in fw._score_fns:
        if uniform is None:
            continue
        value = uniform(state, p, nodes)
        if value is not None:
            raw = score(state, p, nodes, every)
            full = normalize(state, p, raw) if normalize is not None else raw
            assert np.all(full == value), name


def test_uniform_scores_are_used_for_a_template_cluster():
    """On identical untainted nodes holding the pod's image, TaintToleration and ImageLocality give
    uniform scores, and the default filters that have nothing to check are not called."""
    nodes = table(_nodes("all-images"))
    p = pod("p", **PODS["image"])
    fw = Framework("default", 0)
    state = CycleState()
    passing = [name for name, check in fw._pass_checks if check(state, p, nodes)]
    assert passing == ["NodeUnschedulable", "NodeName", "TaintToleration", "NodePorts"]
    uniform = {name: u(state, p, nodes) for name, _, _, u, _ in fw._score_fns if u is not None}
    assert uniform["TaintToleration"] == 100 and uniform["ImageLocality"] is not None
