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
from policies.noderesources import PROFILES, NodeResourcesFit, broken_linear
from tests.policy.builders import MB, node, pod, run_filter, scores, table

DEFAULT = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
EXT = "example.com/foo"  # upstream extendedRes = "abc.com/xyz"; any extended name behaves alike
EXT_SET = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}, {"name": EXT, "weight": 1}]
P_3000_5000 = dict(reqs=[{"cpu": 1000, "memory": 2000}, {"cpu": 2000, "memory": 3000}])


def fit(strategy: str, resources, shape=None) -> NodeResourcesFit:
    s = {"type": strategy, "resources": resources}
    if shape is not None:
        s["requestedToCapacityRatio"] = {"shape": shape}
    return NodeResourcesFit({"scoringStrategy": s})


def n2(c1, m1, c2, m2, **ext2):
    return [node("node1", c1, m1), node("node2", c2, m2, **ext2)]


LEAST = [  # (case name, pod kwargs, nodes, existing pods, resources, expected)
    # CPU ((4000 - 0) * 100) / 4000 = 100, memory 100 -> (100 + 100) / 2 = 100 on both nodes
    ("nothing scheduled, nothing requested", {}, n2(4000, 10000, 4000, 10000), [], DEFAULT, [100, 100]),
    # node1: cpu ((4000 - 3000) * 100) / 4000 = 25, mem ((10000 - 5000) * 100) / 10000 = 50 -> 37
    # node2: cpu ((6000 - 3000) * 100) / 6000 = 50, mem 50 -> 50
    ("nothing scheduled, resources requested, differently sized nodes", P_3000_5000,
     n2(4000, 10000, 6000, 10000), [], DEFAULT, [37, 50]),
    # existing pods have no containers, so they count 0 (E4): 100 / 100
    ("no resources requested, pods scheduled", {}, n2(4000, 10000, 4000, 10000),
     [pod("e1", node="node1"), pod("e2", node="node1"), pod("e3", node="node2"), pod("e4", node="node2")],
     DEFAULT, [100, 100]),
    # node1: cpu ((10000 - 6000) * 100) / 10000 = 40, mem ((20000 - 0) * 100) / 20000 = 100 -> 70
    # node2: cpu 40, mem ((20000 - 5000) * 100) / 20000 = 75 -> (40 + 75) / 2 = 57
    ("no resources requested, pods scheduled with resources", {}, n2(10000, 20000, 10000, 20000),
     [pod("e1", node="node1", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e2", node="node1", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e3", node="node2", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e4", node="node2", reqs=[{"cpu": 3000, "memory": 5000}])], DEFAULT, [70, 57]),
    # node1: cpu 40, mem ((20000 - 5000) * 100) / 20000 = 75 -> 57
    # node2: cpu 40, mem ((20000 - 10000) * 100) / 20000 = 50 -> 45
    ("resources requested, pods scheduled with resources", P_3000_5000, n2(10000, 20000, 10000, 20000),
     [pod("e1", node="node1", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e2", node="node2", reqs=[{"cpu": 3000, "memory": 5000}])], DEFAULT, [57, 45]),
    # node2: mem ((50000 - 10000) * 100) / 50000 = 80 -> (40 + 80) / 2 = 60
    ("resources requested, pods scheduled with resources, differently sized nodes", P_3000_5000,
     n2(10000, 20000, 10000, 50000),
     [pod("e1", node="node1", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e2", node="node2", reqs=[{"cpu": 3000, "memory": 5000}])], DEFAULT, [57, 60]),
    # cpu 6000 > 4000 -> 0; node1 mem 100 -> 50; node2 mem ((10000 - 5000) * 100) / 10000 = 50 -> 25
    ("requested resources exceed node capacity", dict(reqs=[{"cpu": 3000, "memory": 0}]),
     n2(4000, 10000, 4000, 10000),
     [pod("e1", node="node1", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e2", node="node2", reqs=[{"cpu": 3000, "memory": 5000}])], DEFAULT, [50, 25]),
    # allocatable 0 everywhere: no resource enters the mean -> 0
    ("zero node resources, pods scheduled with resources", {}, [node("node1"), node("node2")],
     [pod("e1", node="node1", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e2", node="node2", reqs=[{"cpu": 3000, "memory": 5000}])], DEFAULT, [0, 0]),
    # node1: (25 * 1 + 50 * 2) / (1 + 2) = 41; node2: (50 * 1 + 50 * 2) / 3 = 50
    ("nothing scheduled, resources requested with different weight on CPU and memory, differently sized nodes",
     P_3000_5000, n2(4000, 10000, 6000, 10000), [],
     [{"name": "memory", "weight": 2}, {"name": "cpu", "weight": 1}], [41, 50]),
    # the extended resource is not requested: bypassed -> (50 + 50) / 2 = 50 on both
    ("bypass extended resource if the pod does not request", P_3000_5000,
     n2(6000, 10000, 6000, 10000, **{EXT: 4}), [], EXT_SET, [50, 50]),
    # node1 ext ((4 - 2) * 100) / 4 = 50 -> (50 + 50 + 50) / 3 = 50; node2 ((10 - 2) * 100) / 10 = 80 -> 60
    ("honor extended resource if the pod requests", dict(reqs=[{"cpu": 3000, "memory": 5000, EXT: 2}]),
     [node("node1", 6000, 10000, **{EXT: 4}), node("node2", 6000, 10000, **{EXT: 10})], [], EXT_SET, [50, 60]),
    # cpu ((6000 - 3000) * 100) / 6000 = 50, mem ((10000 - 4000) * 100) / 10000 = 60 -> 55 (ext skipped)
    ("if the node doesn't have a resource", dict(reqs=[{"cpu": 3000, "memory": 4000}]),
     n2(6000, 10000, 6000, 10000, **{EXT: 4}), [],
     [{"name": EXT, "weight": 2}, {"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}], [55, 55]),
]

MOST = [
    # cpu (0 * 100) / 4000 = 0, mem 0 -> 0
    ("nothing scheduled, nothing requested", {}, n2(4000, 10000, 4000, 10000), [], DEFAULT, [0, 0]),
    # node1: cpu (3000 * 100) / 4000 = 75, mem (5000 * 100) / 10000 = 50 -> 62; node2: 50, 50 -> 50
    ("nothing scheduled, resources requested, differently sized nodes", P_3000_5000,
     n2(4000, 10000, 6000, 10000), [], DEFAULT, [62, 50]),
    # node1: cpu (6000 * 100) / 10000 = 60, mem 0 -> 30; node2: 60, (5000 * 100) / 20000 = 25 -> 42
    ("no resources requested, pods scheduled with resources", {}, n2(10000, 20000, 10000, 20000),
     [pod("e1", node="node1", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e2", node="node1", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e3", node="node2", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e4", node="node2", reqs=[{"cpu": 3000, "memory": 5000}])], DEFAULT, [30, 42]),
    # node1: 60, (5000 * 100) / 20000 = 25 -> 42; node2: 60, (10000 * 100) / 20000 = 50 -> 55
    ("resources requested, pods scheduled with resources", P_3000_5000, n2(10000, 20000, 10000, 20000),
     [pod("e1", node="node1", reqs=[{"cpu": 3000, "memory": 0}]),
      pod("e2", node="node2", reqs=[{"cpu": 3000, "memory": 5000}])], DEFAULT, [42, 55]),
    # node1: 5000 * 100 / 5000 = 100, (9000 * 100) / 10000 = 90 -> 95; node2: 50, 100 -> 75
    ("resources requested equal node capacity",
     dict(reqs=[{"cpu": 2000, "memory": 4000}, {"cpu": 3000, "memory": 5000}]),
     n2(5000, 10000, 10000, 9000), [], DEFAULT, [95, 75]),
    # node1: (75 * 1 + 50 * 2) / (1 + 2) = 58; node2: (50 * 1 + 50 * 2) / 3 = 50
    ("nothing scheduled, resources requested, differently sized nodes (weights)", P_3000_5000,
     n2(4000, 10000, 6000, 10000), [], [{"name": "memory", "weight": 2}, {"name": "cpu", "weight": 1}], [58, 50]),
    # E4 defaults: node1 cpu 300m / 250m -> clamped 100, mem 600Mi / 1000Mi = 60 -> 80;
    # node2 cpu 100 / 250 = 40, mem 200 / 1000 = 20 -> 30
    ("no resources requested, pods scheduled, nonzero request for resource", dict(reqs=[{}]),
     n2(250, 1000 * MB, 250, 1000 * MB),
     [pod("e1", node="node1", reqs=[{}]), pod("e2", node="node1", reqs=[{}])], DEFAULT, [80, 30]),
    ("bypass extended resource if the pod does not request", P_3000_5000,
     n2(6000, 10000, 6000, 10000, **{EXT: 4}), [], EXT_SET, [50, 50]),
    # node1 ext 2 / 4 * 100 = 50 -> 50; node2 2 / 10 * 100 = 20 -> (50 + 50 + 20) / 3 = 40
    ("honor extended resource if the pod request", dict(reqs=[{"cpu": 3000, "memory": 5000, EXT: 2}]),
     [node("node1", 6000, 10000, **{EXT: 4}), node("node2", 6000, 10000, **{EXT: 10})], [], EXT_SET, [50, 40]),
    # cpu (3000 * 100) / 6000 = 50, mem (4000 * 100) / 10000 = 40 -> 45
    ("if the node doesn't have a resource", dict(reqs=[{"cpu": 3000, "memory": 4000}]),
     n2(6000, 10000, 6000, 10000, **{EXT: 4}), [],
     [{"name": EXT, "weight": 2}, {"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}], [45, 45]),
]

SHAPE_LEAST = [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]
SHAPE_PACK = [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 1}]
FOO, BAR = "intel.com/foo", "intel.com/bar"


def ext_nodes(r1: dict, r2: dict):  # upstream makeNode(name, 4000, 10000*1024*1024, extended)
    return [node("node1", 4000, 10000 * MB, **r1), node("node2", 4000, 10000 * MB, **r2)]


RTCR = [  # (case name, pod kwargs, nodes, existing, resources, shape, expected)
    # utilisation 0 -> f(0) = 100 on both
    ("nothing scheduled, nothing requested (default - least requested nodes have priority)", {},
     n2(4000, 10000, 4000, 10000), [pod("e1", node="node1"), pod("e2", node="node1")], DEFAULT, SHAPE_LEAST,
     [100, 100]),
    # node1: cpu u = 75 -> 100 + (0 - 100) * 75 / 100 = 25, mem u = 50 -> 50; round((25 + 50) / 2) = 38
    # node2: cpu u = 50 -> 50, mem 50 -> 50
    ("nothing scheduled, resources requested, differently sized nodes (default - least requested nodes have priority)",
     P_3000_5000, n2(4000, 10000, 6000, 10000), [pod("e1", node="node1"), pod("e2", node="node1")], DEFAULT,
     SHAPE_LEAST, [38, 50]),
    ("no resources requested, pods scheduled with resources (default - least requested nodes have priority)", {},
     n2(4000, 10000, 6000, 10000),
     [pod("e1", node="node1", reqs=[{"cpu": 3000, "memory": 5000}]),
      pod("e2", node="node2", reqs=[{"cpu": 3000, "memory": 5000}])], DEFAULT, SHAPE_LEAST, [38, 50]),
    # SingleExtended: the pod requests no intel.com/foo -> bypassed -> weight sum 0 -> 0
    ("SingleExtended: nothing scheduled, nothing requested", {}, ext_nodes({FOO: 8}, {FOO: 4}),
     [], [{"name": FOO, "weight": 1}], SHAPE_PACK, [0, 0]),
    # node1: u = 2 / 8 * 100 = 25 -> 10 * 25 / 100 = 2; node2: u = 2 / 4 * 100 = 50 -> 5
    ("SingleExtended: resources requested, pods scheduled with less resources", dict(reqs=[{FOO: 2}]),
     ext_nodes({FOO: 8}, {FOO: 4}), [pod("e1")], [{"name": FOO, "weight": 1}], SHAPE_PACK, [2, 5]),
    # node2: u = (2 + 2) / 4 * 100 = 100 -> 10
    ("SingleExtended: resources requested, pods scheduled with resources, on node with existing pod running",
     dict(reqs=[{FOO: 2}]), ext_nodes({FOO: 8}, {FOO: 4}), [pod("e1", node="node2", reqs=[{FOO: 2}])],
     [{"name": FOO, "weight": 1}], SHAPE_PACK, [2, 10]),
    # node1: u = 4 / 8 -> 5; node2: u = 4 / 4 -> 10
    ("SingleExtended: resources requested, pods scheduled with more resources", dict(reqs=[{FOO: 4}]),
     ext_nodes({FOO: 8}, {FOO: 4}), [pod("e1")], [{"name": FOO, "weight": 1}], SHAPE_PACK, [5, 10]),
    ("MultipleExtended: nothing scheduled, nothing requested", {}, ext_nodes({FOO: 8, BAR: 4}, {FOO: 4, BAR: 8}),
     [], [{"name": FOO, "weight": 3}, {"name": BAR, "weight": 5}], SHAPE_PACK, [0, 0]),
    # node1: foo 2 / 8 -> 2, bar 2 / 4 -> 5: round((2 * 3 + 5 * 5) / 8) = round(3.875) = 4
    # node2: foo 2 / 4 -> 5, bar 2 / 8 -> 2: round((5 * 3 + 2 * 5) / 8) = round(3.125) = 3
    ("MultipleExtended: resources requested, pods scheduled with less resources", dict(reqs=[{FOO: 2, BAR: 2}]),
     ext_nodes({FOO: 8, BAR: 4}, {FOO: 4, BAR: 8}), [pod("e1")],
     [{"name": FOO, "weight": 3}, {"name": BAR, "weight": 5}], SHAPE_PACK, [4, 3]),
    # node2: foo (2 + 2) / 4 -> 10, bar (2 + 2) / 8 -> 5: round((10 * 3 + 5 * 5) / 8) = round(6.875) = 7
    ("MultipleExtended: resources requested, pods scheduled with resources, on node with existing pod running",
     dict(reqs=[{FOO: 2, BAR: 2}]), ext_nodes({FOO: 8, BAR: 4}, {FOO: 4, BAR: 8}),
     [pod("e1", node="node2", reqs=[{FOO: 2, BAR: 2}])], [{"name": FOO, "weight": 3}, {"name": BAR, "weight": 5}],
     SHAPE_PACK, [4, 7]),
    # node1: foo 4 / 8 -> 5, bar 2 / 4 -> 5 -> 5; node2: foo 4 / 4 -> 10, bar 2 / 8 -> 2: round(40 / 8) = 5
    ("MultipleExtended: resources requested, pods scheduled with more resources", dict(reqs=[{FOO: 4, BAR: 2}]),
     ext_nodes({FOO: 8, BAR: 4}, {FOO: 4, BAR: 8}), [pod("e1")],
     [{"name": FOO, "weight": 3}, {"name": BAR, "weight": 5}], SHAPE_PACK, [5, 5]),
]


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
