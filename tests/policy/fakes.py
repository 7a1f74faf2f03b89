"""Stand-in plugins for framework, registry and profile tests (independent of policies/).

``fake_registry()`` registers a stand-in for every plugin of kube-scheduler's default profile, with
the extension points the real one implements, so profile expansion can be tested exactly.
"""

from __future__ import annotations

import numpy as np

from kbench.cluster.objects import Container, Node, NodeTable, Pod
from kbench.errors import PolicyError
from kbench.policy.api import FilterResult, Plugin, Status
from kbench.policy.registry import Registry


def mk_nodes(*specs: tuple[str, float]) -> NodeTable:
    """Nodes named by ``specs`` of ``(name, cpu millicores)`` with 10 GiB memory and 110 pods."""
    return NodeTable.from_nodes([Node(n, {"cpu": c, "memory": 10 * 2**30, "pods": 110}) for n, c in specs])


def mk_pod(name: str = "p", cpu: float = 100, **kw) -> Pod:
    """A pod with one container requesting ``cpu`` millicores."""
    return Pod(name, containers=[Container("c", requests={"cpu": cpu})], **kw)


class CpuFit(Plugin):
    """Filter: the pod's cpu request fits the node's free cpu."""

    NAME = "CpuFit"

    def filter(self, state, pod, nodes, candidates):
        free = nodes.allocatable_of("cpu")[candidates] - nodes.requested_of("cpu")[candidates]
        return FilterResult(free >= pod.requests().get("cpu", 0), "Insufficient cpu")


class NotNamed(Plugin):
    """Filter: rejects nodes whose name is in args["names"], with a per-node reason."""

    NAME = "NotNamed"

    def filter(self, state, pod, nodes, candidates):
        names = np.array([nodes.names[i] for i in candidates], dtype=object)
        ok = ~np.isin(names, self.args.get("names", []))
        reasons = np.array([f"node {n} is excluded" for n in names], dtype=object)
        return FilterResult(ok, reasons)


class Fixed(Plugin):
    """Score: ``args["scores"][node name]`` (default 0)."""

    NAME = "Fixed"

    def score(self, state, pod, nodes, candidates):
        table = self.args.get("scores", {})
        return np.array([table.get(nodes.names[i], 0) for i in candidates], dtype=np.int64)


class Fixed2(Fixed):
    """A second fixed score plugin."""

    NAME = "Fixed2"


class Flat(Plugin):
    """Score: 50 everywhere (all ties)."""

    NAME = "Flat"

    def score(self, state, pod, nodes, candidates):
        return np.full(len(candidates), 50, dtype=np.int64)


class Skipper(Plugin):
    """PreScore: skip every pod."""

    NAME = "Skipper"

    def pre_score(self, state, pod, nodes, candidates):
        return Status.skip()

    def score(self, state, pod, nodes, candidates):
        raise AssertionError("must not be called")


class Reverse(Plugin):
    """Score = free cpu; NormalizeScore maps the max to 100 (DefaultNormalizeScore)."""

    NAME = "Reverse"

    def score(self, state, pod, nodes, candidates):
        return (nodes.allocatable_of("cpu") - nodes.requested_of("cpu"))[candidates].astype(np.int64)

    def normalize_scores(self, state, pod, scores):
        top = scores.max()
        return scores * 100 // top if top > 0 else scores


class Boom(Plugin):
    """Score: raises ZeroDivisionError."""

    NAME = "Boom"

    def score(self, state, pod, nodes, candidates):
        return 1 // 0


class TooHigh(Plugin):
    """Score: 250 (out of range)."""

    NAME = "TooHigh"

    def score(self, state, pod, nodes, candidates):
        return np.full(len(candidates), 250, dtype=np.int64)


class Gate(Plugin):
    """PreFilter: rejects pods labelled ``blocked``."""

    NAME = "Gate"

    def pre_filter(self, state, pod, nodes):
        if pod.labels.get("blocked"):
            return Status.unschedulable("pod is blocked", unresolvable=True)
        return Status.success()


class Nominator(Plugin):
    """PostFilter: nominates the first node it sees and records the statuses."""

    NAME = "Nominator"
    seen: dict = {}

    def post_filter(self, state, pod, nodes, statuses):
        Nominator.seen = dict(statuses)
        return Status.success(), nodes.names[min(statuses)]


class GpuPick(Plugin):
    """Reserve: puts args["gpus"] into state["gpus"]; Unreserve records the call."""

    NAME = "GpuPick"
    unreserved = 0

    def reserve(self, state, pod, nodes, node_idx):
        state["gpus"] = tuple(self.args.get("gpus", ()))
        return Status.success()

    def unreserve(self, state, pod, nodes, node_idx):
        GpuPick.unreserved += 1


class Denier(Plugin):
    """Permit: rejects."""

    NAME = "Denier"

    def permit(self, state, pod, nodes, node_idx):
        return Status.unschedulable("denied")


class Strict(Plugin):
    """Score plugin whose args are validated like NodeResourcesFit's."""

    NAME = "Strict"

    def __init__(self, args=None, handle=None):
        super().__init__(args, handle)
        for i, r in enumerate(self.args.get("scoringStrategy", {}).get("resources", [])):
            if not isinstance(r.get("weight", 1), int) or not 1 <= r.get("weight", 1) <= 100:
                raise PolicyError("resource weight must be in 1..100",
                                  where=f"args.scoringStrategy.resources[{i}].weight")

    def score(self, state, pod, nodes, candidates):
        return np.zeros(len(candidates), dtype=np.int64)


def _stand_in(name: str, points: tuple[str, ...]) -> type:
    body: dict = {"NAME": name, "__doc__": f"stand-in for {name}"}
    if "filter" in points:
        body["filter"] = lambda self, s, p, n, c: FilterResult.all_pass(len(c))
    if "pre_filter" in points:
        body["pre_filter"] = lambda self, s, p, n: Status.success()
    if "score" in points:
        body["score"] = lambda self, s, p, n, c: np.zeros(len(c), dtype=np.int64)
    if "pre_score" in points:
        body["pre_score"] = lambda self, s, p, n, c: Status.success()
    if "less" in points:
        body["less"] = lambda self, a, b: a.priority > b.priority
    if "post_filter" in points:
        body["post_filter"] = lambda self, s, p, n, st: (Status.unschedulable("no victims"), None)
    if "pre_enqueue" in points:
        body["pre_enqueue"] = lambda self, p: Status.success()
    if "bind" in points:
        body["bind"] = lambda self, s, p, n, i: Status.success()
    return type(name, (Plugin,), body)


DEFAULT_STANDINS = {
    "SchedulingGates": ("pre_enqueue",),
    "PrioritySort": ("less",),
    "NodeUnschedulable": ("filter",),
    "NodeName": ("filter",),
    "TaintToleration": ("filter", "pre_score", "score"),
    "NodeAffinity": ("pre_filter", "filter", "pre_score", "score"),
    "NodePorts": ("pre_filter", "filter"),
    "NodeResourcesFit": ("pre_filter", "filter", "pre_score", "score"),
    "PodTopologySpread": ("pre_filter", "filter", "pre_score", "score"),
    "InterPodAffinity": ("pre_filter", "filter", "pre_score", "score"),
    "DefaultPreemption": ("post_filter",),
    "NodeResourcesBalancedAllocation": ("pre_score", "score"),
    "ImageLocality": ("score",),
    "DefaultBinder": ("bind",),
}


def fake_registry(*extra: type) -> Registry:
    """Stand-ins for the default plugins, the fakes above, and ``extra``."""
    reg = Registry()
    for name, points in DEFAULT_STANDINS.items():
        reg.register_plugin(_stand_in(name, points), "built-in", "tests.policy.fakes")
    for cls in (CpuFit, NotNamed, Fixed, Fixed2, Flat, Skipper, Reverse, Boom, TooHigh, Gate, Nominator,
                GpuPick, Denier, Strict, *extra):
        reg.register_plugin(cls, "built-in", "tests.policy.fakes")
    return reg
