"""Upstream kube-scheduler score-plugin test tables, ported case by case, exact to the integer.

The tables are kubernetes/kubernetes's own unit-test cases (files and commits named per section and
in the tests under ``tests/policy/test_upstream_*.py``, which run the same tables plugin by plugin).
:func:`score_cases` turns every row into a :class:`ScoreCase` that ``kbench validate`` runs through
``kbench explain``'s code path (:func:`kbench.policy.explain.explain_table` on a one-plugin profile).

Units follow :mod:`kbench.validate.builders`: cpu in millicores, memory in bytes (upstream's
"cores" columns read as millicores, which leaves every integer score unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kbench.cluster.objects import NodeTable, Pod
from kbench.validate.builders import MB, node, pod, req, table, taint, term, toleration

# ----- NodeResourcesFit: least_allocated_test.go @ 008b3652, most_allocated_test.go @ 072825f9,
# requested_to_capacity_ratio_test.go @ 8519d339 (kubernetes/kubernetes, pkg/scheduler/framework/plugins/noderesources)
DEFAULT = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
EXT = "example.com/foo"  # upstream extendedRes = "abc.com/xyz"; any extended name behaves alike
EXT_SET = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}, {"name": EXT, "weight": 1}]
P_3000_5000 = dict(reqs=[{"cpu": 1000, "memory": 2000}, {"cpu": 2000, "memory": 3000}])


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


# ----- NodeResourcesBalancedAllocation: balanced_allocation_test.go (current content; see tests/policy)
GPU = "nvidia.com/gpu"
CPU_MEM = [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]
CPU_MEM_GPU = [*CPU_MEM, {"name": GPU, "weight": 1}]
CPU_AND_MEMORY = [{"cpu": 1000, "memory": 2000}, {"cpu": 2000, "memory": 3000}]
CPU_ONLY = [{"cpu": 1000, "memory": 0}, {"cpu": 2000, "memory": 0}]
CPU_MEM_GPU_REQ = [{"cpu": 1000, "memory": 2000}, {"cpu": 2000, "memory": 3000, GPU: 3}]


def nodes2(c1, m1, c2, m2, s1=None, s2=None):
    return [node("node1", c1, m1, **(s1 or {})), node("node2", c2, m2, **(s2 or {}))]


# upstream: cpuOnly is bound to node1, cpuAndMemory to node2, cpuAndMemoryAndGPU to node1
EXISTING = [pod("cpuOnly", node="node1", reqs=CPU_ONLY), pod("cpuAndMemory", node="node2", reqs=CPU_AND_MEMORY)]

BALANCED = [  # (case name, pod containers, nodes, existing pods, resources, expected or None for Skip)
    ("nothing scheduled, nothing requested, skip in PreScore", [], nodes2(4000, 10000, 4000, 10000), [],
     CPU_MEM, None),
    # node1: cpu 3000 / 4000 = 0.75, mem 5000 / 10000 = 0.5, std (0.75 - 0.5) / 2 = 0.125 -> (1 - 0.125) * 100 = 87
    # node2: cpu 3000 / 6000 = 0.5, mem 0.5, std 0 -> 100
    ("nothing scheduled, resources requested, differently sized nodes", CPU_AND_MEMORY,
     nodes2(4000, 10000, 6000, 10000), [], CPU_MEM, [87, 100]),
    # node1: cpu 6000 / 10000 = 0.6, mem 5000 / 20000 = 0.25, std 0.175 -> 82
    # node2: cpu 0.6, mem 10000 / 20000 = 0.5, std 0.05 -> 95
    ("resources requested, pods scheduled with resources", CPU_AND_MEMORY, nodes2(10000, 20000, 10000, 20000),
     EXISTING, CPU_MEM, [82, 95]),
    # node2: mem 10000 / 50000 = 0.2, std (0.6 - 0.2) / 2 = 0.2 -> 80
    ("resources requested, pods scheduled with resources, differently sized nodes", CPU_AND_MEMORY,
     nodes2(10000, 20000, 10000, 50000), EXISTING, CPU_MEM, [82, 80]),
    # node1: cpu 6000 / 6000 = 1, mem 0 -> std 0.5 -> 50; node2: cpu 1, mem 0.5 -> std 0.25 -> 75
    ("requested resources at node capacity", CPU_ONLY, nodes2(6000, 10000, 6000, 10000), EXISTING, CPU_MEM,
     [50, 75]),
    # node1: cpu 3000 / 3500 = 0.857, mem 5000 / 40000 = 0.125, gpu (3 + 1) / 8 = 0.5
    #   mean 0.494, std sqrt(((0.857 - 0.494)^2 + (0.125 - 0.494)^2 + (0.5 - 0.494)^2) / 3) = 0.300 -> 70
    # node2: cpu 0.857, mem 0.125, gpu 1 / 8 = 0.125 -> std 0.345 -> 65
    ("include scalar resource on a node for balanced resource allocation", [{"memory": 0, GPU: 1}],
     nodes2(3500, 40000, 3500, 40000, {GPU: 8}, {GPU: 8}),
     [pod("cpuAndMemory", node="node2", reqs=CPU_AND_MEMORY), pod("gpu", node="node1", reqs=CPU_MEM_GPU_REQ)],
     CPU_MEM_GPU, [70, 65]),
    # the pod does not request the GPU: it is left out; cpu 0.857, mem 0.125, std 0.366 -> 63 on both
    ("node without the scalar resource should skip the scalar resource", CPU_AND_MEMORY,
     nodes2(3500, 40000, 3500, 40000, {GPU: 8}, None), [], CPU_MEM_GPU, [63, 63]),
]


# ----- TaintToleration: taint_toleration_test.go @ cb6ff2d8 (TestTaintTolerationScore)
PNS = "PreferNoSchedule"
T_ARM = taint("cpu-type", "arm64", PNS)
T_SSD = taint("disk-type", "ssd", PNS)

TAINT_SCORE = [  # (case name, tolerations, taints per node, expected)
    # nodeA tolerated (raw 0), nodeB intolerable (raw 1): max 1 -> 100 - 100 * 0 / 1 = 100, 100 - 100 = 0
    ("node with taints tolerated by the pod, gets a higher score than those node with intolerable taints",
     [toleration("foo", "bar", PNS)], [[taint("foo", "bar", PNS)], [taint("foo", "blah", PNS)]], [100, 0]),
    # every raw count is 0 -> all 100
    ("the nodes that all of their taints are tolerated by the pod, get the same score, "
     "no matter how many tolerable taints a node has",
     [toleration("cpu-type", "arm64", PNS), toleration("disk-type", "ssd", PNS)], [[], [T_ARM], [T_ARM, T_SSD]],
     [100, 100, 100]),
    # raw 0 / 1 / 2, max 2 -> 100, 100 - 100 * 1 / 2 = 50, 0
    ("the more intolerable taints a node has, the lower score it gets.", [toleration("foo", "bar", PNS)],
     [[], [T_ARM], [T_ARM, T_SSD]], [100, 50, 0]),
    # NoSchedule tolerations do not count for scoring, NoSchedule taints are not scored: raw 0 / 0 / 2
    ("only taints and tolerations that have effect PreferNoSchedule are checked by taints-tolerations priority function",
     [toleration("cpu-type", "arm64", "NoSchedule"), toleration("disk-type", "ssd", "NoSchedule")],
     [[], [taint("cpu-type", "arm64", "NoSchedule")], [T_ARM, T_SSD]], [100, 100, 0]),
    ("Default behaviour No taints and tolerations, lands on node with no taints", [], [[], [T_ARM]], [100, 0]),
]


# ----- ImageLocality: image_locality_test.go (TestImageLocalityPriority, current content)
def imgs(*pairs):
    """Image names → size; a pair is (names tuple, size in MB)."""
    return {name: size * MB for names, size in pairs for name in names}


N_40_300_2000 = imgs((("gcr.io/40:latest", "gcr.io/40:v1"), 40), (("gcr.io/300:latest", "gcr.io/300:v1"), 300),
                     (("gcr.io/2000:latest",), 2000))
N_250_10 = imgs((("gcr.io/250:latest",), 250), (("gcr.io/10:latest", "gcr.io/10:v1"), 10))
N_600_40_900 = imgs((("gcr.io/600:latest",), 600), (("gcr.io/40:latest",), 40), (("gcr.io/900:latest",), 900))
N_300_600_900 = imgs((("gcr.io/300:latest",), 300), (("gcr.io/600:latest",), 600), (("gcr.io/900:latest",), 900))
N_4000_30 = imgs((("gcr.io/4000:latest",), 4000), (("gcr.io/30:latest",), 30))
N_20_30_40 = imgs((("gcr.io/20:latest",), 20), (("gcr.io/30:latest",), 30), (("gcr.io/40:latest",), 40))


def image_nodes(*image_maps):
    return [node(f"node{i + 1}", images=m) for i, m in enumerate(image_maps)]


IMAGE_LOCALITY = [  # (case name, app images, init images, node image maps, expected)
    # node1: 40M * 1/2 < 23M -> 0; node2: 100 * (250M * 1/2 - 23M) / (1000M * 2 - 23M) = 5
    ("two images spread on two nodes, prefer the larger image one", ["gcr.io/40", "gcr.io/250"], [],
     [N_40_300_2000, N_250_10], [0, 5]),
    # node1: 100 * ((40M + 300M) * 1/2 - 23M) / (1000M * 2 - 23M) = 7; node2: 0
    ("two images on one node, prefer this node", ["gcr.io/40", "gcr.io/300"], [], [N_40_300_2000, N_250_10], [7, 0]),
    # node1: 4000M * 1/2 >= 1000M * 2 -> 100; node2: 10M * 1/2 < 23M -> 0
    ("if exceed limit, use limit", ["gcr.io/10", "gcr.io/4000"], [], [N_4000_30, N_250_10], [100, 0]),
    # node1: 100 * (4000M * 1/3 - 23M) / (1000M * 2 - 23M) = 66; node2, node3: 0
    ("if exceed limit, use limit (with node which has no images present)", ["gcr.io/10", "gcr.io/4000"], [],
     [N_4000_30, N_250_10, {}], [66, 0, 0]),
    # node1: 100 * (600M * 2/3 + 900M * 2/3 - 23M) / (1000M * 3 - 23M) = 32
    # node2: 100 * (300M * 1/3 + 600M * 2/3 + 900M * 2/3 - 23M) / (1000M * 3 - 23M) = 36
    ("pod with multiple large images, node2 is preferred", ["gcr.io/300", "gcr.io/600", "gcr.io/900"], [],
     [N_600_40_900, N_300_600_900, {}], [32, 36, 0]),
    # node1: 100 * (30M * 1/2 + 40M * 1/2 - 23M) / (1000M * 2 - 23M) = 1 (30M is on both nodes); node2: 0
    ("pod with multiple small images", ["gcr.io/30", "gcr.io/40"], [], [N_20_30_40, N_4000_30], [1, 0]),
    # node1: 100 * (300M * 1/2 - 23M) / (1000M * 2 - 23M) = 6; node2: 30M * 1/2 < 23M -> 0
    ("include InitContainers: two images spread on two nodes, prefer the larger image one", ["gcr.io/30"],
     ["gcr.io/300"], [N_40_300_2000, N_20_30_40], [6, 0]),
]


# ----- NodeAffinity: node_affinity_test.go @ 17bae91f (TestNodeAffinityPriority)
L1, L2, L3 = {"foo": "bar"}, {"key": "value"}, {"az": "az1"}
L4, L5 = {"abc": "az11", "def": "az22"}, {"foo": "bar", "key": "value", "az": "az1"}
AFF1 = [(2, term(req("foo", "In", "bar")))]
AFF2 = [(2, term(req("foo", "In", "bar"))), (4, term(req("key", "In", "value"))),
        (5, term(req("foo", "In", "bar"), req("key", "In", "value"), req("az", "In", "az1")))]
ADDED_PREF_KEY = {"addedAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 3, "preference": {"matchExpressions": [{"key": "key", "operator": "In", "values": ["value"]}]}}]}}
ADDED_PREF_FOO = {"addedAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 2, "preference": {"matchExpressions": [{"key": "foo", "operator": "In", "values": ["bar"]}]}}]}}

AFFINITY_SCORE = [  # (case name, preferred terms, node (name, labels), args, expected; None = PreScore SKIP)
    ("Skip is returned in PreScore when NodeAffinity is nil", [], [("node1", L1)], {}, None),
    ("no node matches preferred scheduling requirements in NodeAffinity of pod so all nodes' priority is zero", AFF1,
     [("node1", L4), ("node2", L2), ("node3", L3)], {}, [0, 0, 0]),
    # raw 2 / 0 / 0 -> 100 * 2 / 2 = 100, 0, 0
    ("only node1 matches the preferred scheduling requirements of pod", AFF1,
     [("node1", L1), ("node2", L2), ("node3", L3)], {}, [100, 0, 0]),
    # raw node1 2, node5 2 + 4 + 5 = 11, node2 4 -> 100 * 2 / 11 = 18, 100, 100 * 4 / 11 = 36
    ("all nodes matches the preferred scheduling requirements of pod but with different priorities ", AFF2,
     [("node1", L1), ("node5", L5), ("node2", L2)], {}, [18, 100, 36]),
    ("added affinity", [], [("node1", L1), ("node2", L2)], ADDED_PREF_FOO, [100, 0]),
    # raw node1 2, node2 3 (added), node3 2 + 3 = 5 -> 40, 60, 100
    ("added affinity and pod has default affinity", AFF1, [("node1", L1), ("node2", L2), ("node3", L5)],
     ADDED_PREF_KEY, [40, 60, 100]),
]


# ------------------------------------------------------------------------------------- as cases
@dataclass(frozen=True)
class ScoreCase:
    """One upstream score case.

    Attributes:
        plugin: Score plugin name (as in a profile).
        name: Upstream case name.
        args: The plugin's args (``pluginConfig``).
        make_pod: Builds the incoming pod.
        make_nodes: Builds the node table (existing pods bound).
        expected: Normalized scores in node-table order, None when PreScore skips the pod, or
            ``("error", text)`` when PreScore fails with a message containing ``text``.
        source: Upstream test file.
        namespaces: Namespace objects (name → labels) the case's listers hold.
    """

    plugin: str
    name: str
    args: dict
    make_pod: Callable[[], Pod]
    make_nodes: Callable[[], NodeTable]
    expected: list[int] | tuple | None
    source: str
    namespaces: dict = field(default_factory=dict)


def _fit_args(strategy: str, resources, shape=None) -> dict:
    s = {"type": strategy, "resources": resources}
    if shape is not None:
        s["requestedToCapacityRatio"] = {"shape": shape}
    return {"scoringStrategy": s}


def score_cases() -> list[ScoreCase]:
    """Every ported upstream score case, in table order."""
    out: list[ScoreCase] = []
    src = "upstream noderesources/{}_test.go"
    for strategy, rows, file in (("LeastAllocated", LEAST, "least_allocated"),
                                 ("MostAllocated", MOST, "most_allocated")):
        for name, pod_kw, nodes, existing, resources, expected in rows:
            out.append(ScoreCase("NodeResourcesFit", f"{strategy}: {name}", _fit_args(strategy, resources),
                                 lambda kw=pod_kw: pod(**kw), lambda n=nodes, e=existing: table(n, e),
                                 expected, src.format(file)))
    for name, pod_kw, nodes, existing, resources, shape, expected in RTCR:
        out.append(ScoreCase("NodeResourcesFit", f"RequestedToCapacityRatio: {name}",
                             _fit_args("RequestedToCapacityRatio", resources, shape),
                             lambda kw=pod_kw: pod(**kw), lambda n=nodes, e=existing: table(n, e),
                             expected, src.format("requested_to_capacity_ratio")))
    for name, containers, nodes, existing, resources, expected in BALANCED:
        out.append(ScoreCase("NodeResourcesBalancedAllocation", name, {"resources": resources},
                             lambda c=containers: pod(reqs=c), lambda n=nodes, e=existing: table(n, e),
                             expected, src.format("balanced_allocation")))
    for name, tols, taints, expected in TAINT_SCORE:
        out.append(ScoreCase("TaintToleration", name, {}, lambda t=tols: pod(tolerations=t),
                             lambda ts=taints: table([node(f"node{chr(65 + i)}", taints=t) for i, t in enumerate(ts)]),
                             expected, "upstream tainttoleration/taint_toleration_test.go"))
    for name, images, init_images, maps, expected in IMAGE_LOCALITY:
        out.append(ScoreCase("ImageLocality", name, {},
                             lambda i=images, ii=init_images: pod(images=i, init_images=ii),
                             lambda m=maps: table(image_nodes(*m)), expected,
                             "upstream imagelocality/image_locality_test.go"))
    for name, preferred, nodes, args, expected in AFFINITY_SCORE:
        out.append(ScoreCase("NodeAffinity", name, args, lambda p=preferred: pod(preferred_affinity=p),
                             lambda n=nodes: table([node(nm, labels=lab) for nm, lab in n]), expected,
                             "upstream nodeaffinity/node_affinity_test.go"))
    return out
