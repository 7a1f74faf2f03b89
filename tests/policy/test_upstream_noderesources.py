"""NodeResourcesFit against upstream's own test tables, exact to the integer.

Sources (kubernetes/kubernetes, pkg/scheduler/framework/plugins/noderesources/):

* least_allocated_test.go @ 008b3652959ca58af8be3fb5b6ecfe9ae7638282 (TestLeastAllocatedScoringStrategy)
* most_allocated_test.go @ 072825f9a367e9ca0f73f91830945f1b7f46e0d9 (TestMostAllocatedScoringStrategy)
* requested_to_capacity_ratio_test.go @ 8519d3399f10be33a45da368a48ee763acbe3999
  (TestRequestedToCapacityRatioScoringStrategy, TestBrokenLinearFunction,
  TestResourceBinPackingSingleExtended, TestResourceBinPackingMultipleExtended)
* fit_test.go @ 24fbb13eafec665e6f4b64961930774babd8b6d1 (TestEnoughRequests, TestNotEnoughRequests,
  TestStorageRequests)

Upstream writes ``"cpu": "1000"`` (cores) against node capacities in cores; here the same numbers are
millicores, which leaves every ratio and integer score unchanged (see builders.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.errors import PolicyError
from kbench.validate.upstream_cases import (  # the tables, shared with kbench validate
    DEFAULT,
    LEAST,
    MOST,
    RTCR,
)
from policies.noderesources import PROFILES, NodeResourcesFit, broken_linear
from tests.policy.builders import node, pod, run_filter, scores, table


def fit(strategy: str, resources, shape=None) -> NodeResourcesFit:
    s = {"type": strategy, "resources": resources}
    if shape is not None:
        s["requestedToCapacityRatio"] = {"shape": shape}
    return NodeResourcesFit({"scoringStrategy": s})




@pytest.mark.parametrize("name,pod_kw,nodes,existing,resources,expected", LEAST, ids=[c[0] for c in LEAST])
def test_least_allocated(name, pod_kw, nodes, existing, resources, expected):
    assert scores(fit("LeastAllocated", resources), pod(**pod_kw), table(nodes, existing)) == expected


@pytest.mark.parametrize("name,pod_kw,nodes,existing,resources,expected", MOST, ids=[c[0] for c in MOST])
def test_most_allocated(name, pod_kw, nodes, existing, resources, expected):
    assert scores(fit("MostAllocated", resources), pod(**pod_kw), table(nodes, existing)) == expected


@pytest.mark.parametrize("name,pod_kw,nodes,existing,resources,shape,expected", RTCR, ids=[c[0] for c in RTCR])
def test_requested_to_capacity_ratio(name, pod_kw, nodes, existing, resources, shape, expected):
    plugin = fit("RequestedToCapacityRatio", resources, shape)
    assert scores(plugin, pod(**pod_kw), table(nodes, existing)) == expected


BROKEN_LINEAR = [  # TestBrokenLinearFunction: (points, [(p, expected)])
    ([(10, 1), (90, 9)], [(-10, 1), (0, 1), (9, 1), (10, 1), (15, 1), (19, 1), (20, 2), (89, 8), (90, 9),
                          (99, 9), (100, 9), (110, 9)]),
    # 70 -> 10 + (0 - 10) * (70 - 40) / (100 - 40) = 10 - 300 / 60 = 5 (truncated toward zero)
    ([(0, 2), (40, 10), (100, 0)], [(-10, 2), (0, 2), (20, 6), (30, 8), (40, 10), (70, 5), (100, 0), (110, 0)]),
    ([(0, 2), (40, 2), (100, 2)], [(-10, 2), (0, 2), (20, 2), (30, 2), (40, 2), (70, 2), (100, 2), (110, 2)]),
]


@pytest.mark.parametrize("points,checks", BROKEN_LINEAR)
def test_broken_linear_function(points, checks):
    util = np.array([u for u, _ in points], dtype=np.int64)
    score = np.array([s for _, s in points], dtype=np.int64)
    got = broken_linear(np.array([p for p, _ in checks]), util, score)
    assert got.tolist() == [e for _, e in checks]


# ----- Filter: TestEnoughRequests / TestNotEnoughRequests / TestStorageRequests ------------------

A, B = "example.com/aaa", "example.com/bbb"
K8S_A, K8S_B, HUGE = "kubernetes.io/something", "subdomain.kubernetes.io/something", "hugepages-2Mi"
NODE_10_20 = dict(cpu=10, memory=20, pods=32, **{A: 5, "ephemeral-storage": 20, HUGE: 5})


def rp(*containers):
    """upstream newResourcePod: one container per request dict."""
    return [dict(c) for c in containers]


ENOUGH = [  # (case name, pod kwargs, existing pod's container requests, args, expected reason)
    ("no resources requested always fits", {}, rp({"cpu": 10, "memory": 20}), {}, ""),
    ("too many resources fails", dict(reqs=rp({"cpu": 1, "memory": 1})), rp({"cpu": 10, "memory": 20}), {},
     "Insufficient cpu, Insufficient memory"),
    ("too many resources fails due to init container cpu",
     dict(reqs=rp({"cpu": 1, "memory": 1}), init=rp({"cpu": 3, "memory": 1})), rp({"cpu": 8, "memory": 19}), {},
     "Insufficient cpu"),
    ("too many resources fails due to highest init container cpu",
     dict(reqs=rp({"cpu": 1, "memory": 1}), init=rp({"cpu": 3, "memory": 1}, {"cpu": 2, "memory": 1})),
     rp({"cpu": 8, "memory": 19}), {}, "Insufficient cpu"),
    ("too many resources fails due to init container memory",
     dict(reqs=rp({"cpu": 1, "memory": 1}), init=rp({"cpu": 1, "memory": 3})), rp({"cpu": 9, "memory": 19}), {},
     "Insufficient memory"),
    ("init container fits because it's the max, not sum, of containers and init containers",
     dict(reqs=rp({"cpu": 1, "memory": 1}), init=rp({"cpu": 1, "memory": 1})), rp({"cpu": 9, "memory": 19}), {}, ""),
    ("both resources fit", dict(reqs=rp({"cpu": 1, "memory": 1})), rp({"cpu": 5, "memory": 5}), {}, ""),
    ("one resource memory fits", dict(reqs=rp({"cpu": 2, "memory": 1})), rp({"cpu": 9, "memory": 5}), {},
     "Insufficient cpu"),
    ("one resource cpu fits", dict(reqs=rp({"cpu": 1, "memory": 2})), rp({"cpu": 5, "memory": 19}), {},
     "Insufficient memory"),
    ("equal edge case", dict(reqs=rp({"cpu": 5, "memory": 1})), rp({"cpu": 5, "memory": 19}), {}, ""),
    ("equal edge case for init container", dict(reqs=rp({"cpu": 4, "memory": 1}), init=rp({"cpu": 5, "memory": 1})),
     rp({"cpu": 5, "memory": 19}), {}, ""),
    ("extended resource fits", dict(reqs=rp({A: 1})), rp({}), {}, ""),
    ("extended resource fits for init container", dict(reqs=rp({}), init=rp({A: 1})), rp({}), {}, ""),
    ("extended resource capacity enforced", dict(reqs=rp({"cpu": 1, "memory": 1, A: 10})), rp({A: 0}), {},
     f"Insufficient {A}"),
    ("extended resource allocatable enforced", dict(reqs=rp({"cpu": 1, "memory": 1, A: 1})), rp({A: 5}), {},
     f"Insufficient {A}"),
    ("extended resource allocatable enforced for multiple containers",
     dict(reqs=rp({"cpu": 1, "memory": 1, A: 3}, {"cpu": 1, "memory": 1, A: 3})), rp({A: 2}), {}, f"Insufficient {A}"),
    ("extended resource allocatable admits multiple init containers",
     dict(reqs=rp({}), init=rp({"cpu": 1, "memory": 1, A: 3}, {"cpu": 1, "memory": 1, A: 3})), rp({A: 2}), {}, ""),
    ("extended resource allocatable enforced for multiple init containers",
     dict(reqs=rp({}), init=rp({"cpu": 1, "memory": 1, A: 6}, {"cpu": 1, "memory": 1, A: 3})), rp({A: 2}), {},
     f"Insufficient {A}"),
    ("extended resource allocatable enforced for unknown resource", dict(reqs=rp({"cpu": 1, "memory": 1, B: 1})),
     rp({}), {}, f"Insufficient {B}"),
    ("kubernetes.io resource capacity enforced", dict(reqs=rp({"cpu": 1, "memory": 1, K8S_A: 10})), rp({}), {},
     f"Insufficient {K8S_A}"),
    ("kubernetes.io resource capacity enforced for init container",
     dict(reqs=rp({}), init=rp({"cpu": 1, "memory": 1, K8S_B: 10})), rp({}), {}, f"Insufficient {K8S_B}"),
    ("hugepages resource capacity enforced", dict(reqs=rp({"cpu": 1, "memory": 1, HUGE: 10})), rp({HUGE: 0}), {},
     f"Insufficient {HUGE}"),
    ("hugepages resource allocatable enforced for multiple containers",
     dict(reqs=rp({"cpu": 1, "memory": 1, HUGE: 3}, {"cpu": 1, "memory": 1, HUGE: 3})), rp({HUGE: 2}), {},
     f"Insufficient {HUGE}"),
    ("skip checking ignored extended resource", dict(reqs=rp({"cpu": 1, "memory": 1, B: 1})), rp({}),
     {"ignoredResources": [B]}, ""),
    ("resources + pod overhead fits", dict(reqs=rp({"cpu": 1, "memory": 1}), overhead={"cpu": 3, "memory": 13}),
     rp({"cpu": 5, "memory": 5}), {}, ""),
    ("requests + overhead does not fit for memory",
     dict(reqs=rp({"cpu": 1, "memory": 1}), overhead={"cpu": 1, "memory": 15}), rp({"cpu": 5, "memory": 5}), {},
     "Insufficient memory"),
    ("skip checking ignored extended resource via resource groups",
     dict(reqs=rp({"cpu": 1, "memory": 1, B: 1, K8S_A: 1})), rp({}), {"ignoredResourceGroups": ["example.com"]},
     f"Insufficient {K8S_A}"),
    ("skip checking extended resource request with quantity zero via resource groups",
     dict(reqs=rp({"cpu": 1, "memory": 1, A: 0})), rp({A: 6}), {}, ""),
    ("skip checking resource request with quantity zero", dict(reqs=rp({A: 1})),
     rp({"cpu": 20, "memory": 30, A: 1}), {}, ""),
    # TestNotEnoughRequests: allocatable pods 1 and one pod bound -> "Too many pods"
    ("even without specified resources, predicate fails when there's no space for additional pod", {},
     rp({"cpu": 10, "memory": 20}), "pods=1", "Too many pods"),
    ("even if both resources fit, predicate fails when there's no space for additional pod",
     dict(reqs=rp({"cpu": 1, "memory": 1})), rp({"cpu": 5, "memory": 5}), "pods=1", "Too many pods"),
    ("even for equal edge case, predicate fails when there's no space for additional pod",
     dict(reqs=rp({"cpu": 5, "memory": 1})), rp({"cpu": 5, "memory": 19}), "pods=1", "Too many pods"),
    # TestStorageRequests
    ("empty storage requested, and pod fits", dict(reqs=rp({"cpu": 1, "memory": 1})), rp({"cpu": 2, "memory": 10}),
     {}, ""),
    ("storage ephemeral local storage request exceeds allocatable", dict(reqs=rp({"ephemeral-storage": 25})),
     rp({"cpu": 2, "memory": 2}), {}, "Insufficient ephemeral-storage"),
    ("ephemeral local storage is sufficient", dict(reqs=rp({"ephemeral-storage": 5})),
     rp({"cpu": 2, "memory": 2, "ephemeral-storage": 10}), {}, ""),
    ("pod fits", dict(reqs=rp({"ephemeral-storage": 10})), rp({"cpu": 2, "memory": 2}), {}, ""),
]


@pytest.mark.parametrize("name,pod_kw,existing,args,reason", ENOUGH, ids=[c[0] for c in ENOUGH])
def test_fit_filter(name, pod_kw, existing, args, reason):
    spec = dict(NODE_10_20)
    if args == "pods=1":  # TestNotEnoughRequests: cpu 10, memory 20, pods 1, nothing else
        spec, args = dict(cpu=10, memory=20, pods=1), {}
    n = table([node("n", **spec)], [pod("e", node="n", reqs=existing)])
    [(ok, got, code)] = run_filter(NodeResourcesFit(args), pod(**pod_kw), n)
    assert (ok, got) == (reason == "", reason)
    assert code == (0 if ok else 2)  # Code.UNSCHEDULABLE


def test_fit_args_validation():
    """Weight errors name the path (upstream field paths, prefixed with ``args.``); 0 is defaulted (v1)."""
    with pytest.raises(PolicyError) as err:  # upstream "resource with negative weight"
        fit("LeastAllocated", [{"name": "memory", "weight": -1}, {"name": "cpu", "weight": 1}])
    assert err.value.where == "args.scoringStrategy.resources[0].weight"
    with pytest.raises(PolicyError) as err:  # upstream "resource weight larger than MaxNodeScore"
        fit("MostAllocated", [{"name": "memory", "weight": 1}, {"name": "cpu", "weight": 101}])
    assert err.value.where == "args.scoringStrategy.resources[1].weight"
    # upstream "resource with zero weight" is an error of the internal API; v1 defaulting makes it 1
    assert fit("LeastAllocated", [{"name": "memory", "weight": 1}, {"name": "cpu", "weight": 0}]).weights.tolist() == [1, 1]
    with pytest.raises(PolicyError) as err:
        NodeResourcesFit({"scoringStrategy": {"type": "Bogus"}})
    assert err.value.where == "args.scoringStrategy.type"
    with pytest.raises(PolicyError) as err:
        fit("RequestedToCapacityRatio", DEFAULT, [{"utilization": 50, "score": 1}, {"utilization": 40, "score": 2}])
    assert err.value.where == "args.scoringStrategy.requestedToCapacityRatio.shape[1].utilization"
    with pytest.raises(PolicyError) as err:
        NodeResourcesFit({"scoringStratgy": {}})
    assert err.value.where == "args.scoringStratgy"


def test_profiles_are_well_formed():
    for name, prof in PROFILES.items():
        assert prof["plugins"]["filter"][0] == "NodeUnschedulable", name
        assert len(prof["plugins"]["score"]) == 1 and prof["description"]
        NodeResourcesFit(prof["pluginConfig"]["NodeResourcesFit"])
