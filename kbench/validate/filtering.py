"""Upstream filter (and PreEnqueue) test cases run through ``kbench explain``'s code path, and the
InterPodAffinity score cases as :class:`~kbench.validate.upstream_cases.ScoreCase` objects.

Each :class:`FilterCase` becomes a one-plugin profile and goes through
:func:`kbench.policy.explain.explain_table` with the case's Namespace objects; the plugin's status
per node (``statuses``), or its PreFilter Skip / rejection (``prefilter``), or its PreEnqueue
rejection (``preenqueue``) must equal upstream's. Tables: :mod:`kbench.validate.upstream_affinity`
and :mod:`kbench.validate.upstream_ports`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kbench.cluster.objects import NodeTable, Pod
from kbench.cluster.objects.clusterobjects import ClusterObjects
from kbench.policy.api import Code, Handle
from kbench.policy.explain import explain_table
from kbench.policy.framework import Framework
from kbench.policy.profile import profile_from_dict
from kbench.validate import upstream_affinity as ipa
from kbench.validate import upstream_ports as ports
from kbench.validate.builders import node, pod
from kbench.validate.record import Record
from kbench.validate.upstream_cases import ScoreCase

IPA_FILTER_SRC = "upstream interpodaffinity/filtering_test.go"
IPA_SCORE_SRC = "upstream interpodaffinity/scoring_test.go"


@dataclass(frozen=True)
class FilterCase:
    """One upstream filter or PreEnqueue case.

    Attributes:
        plugin: Plugin name (``filter`` point, or ``preEnqueue`` for SchedulingGates).
        name: Upstream case name.
        make_pod: Builds the incoming pod.
        make_nodes: Builds the node table (existing pods bound).
        expected: ``"skip"`` (PreFilter Skip), ``("prefilter", code, message)``, ``("preenqueue",
            code, message)``, ``None`` (PreEnqueue lets it through), or per node (table order) ``""``
            for a pass or ``(code, reason)``.
        source: Upstream test file.
        namespaces: Namespace objects (name → labels).
        point: ``filter`` or ``preEnqueue``.
    """

    plugin: str
    name: str
    make_pod: Callable[[], Pod]
    make_nodes: Callable[[], NodeTable]
    expected: object
    source: str
    namespaces: dict = field(default_factory=dict)
    point: str = "filter"


def snapshot_table(nodes, pods) -> NodeTable:
    """Upstream tests' snapshot: the nodes, and the pods bound to them (pods on other nodes left out)."""
    table = NodeTable.from_nodes(nodes)
    for p in pods:
        if p.node_name in table.index:
            table.add_pod(p, table.index[p.node_name])
    return table


def handle_with(namespaces: dict) -> Handle:
    """A handle whose listers hold ``namespaces`` (name → labels)."""
    objects = ClusterObjects()
    for name, labels in namespaces.items():
        objects.add_namespace(name, labels)
    return Handle(objects=objects)


def filter_cases() -> list[FilterCase]:
    """Every ported upstream filter and PreEnqueue case, in table order."""
    out: list[FilterCase] = []
    for name, p, pods, expected in ipa.FILTER_SINGLE:
        whole = expected == "skip" or (isinstance(expected, tuple) and expected[0] == "prefilter")
        out.append(FilterCase("InterPodAffinity", name, lambda p=p: p, lambda e=pods: snapshot_table(ipa.NODE1, e),
                              expected if whole else [expected], IPA_FILTER_SRC, ipa.NAMESPACES))
    for name, p, pods, nodes, expected in ipa.FILTER_MULTI:
        out.append(FilterCase("InterPodAffinity", name, lambda p=p: p, lambda n=nodes, e=pods: snapshot_table(n, e),
                              expected, IPA_FILTER_SRC, ipa.NS1))
    for name, app, init, existing, expected in ports.NODE_PORTS:
        kw = {"ports": app}
        if init is not None:
            kw["sidecar_ports" if init[0] else "init_ports"] = init[1]
        out.append(FilterCase("NodePorts", name, lambda kw=kw: pod("p", **kw),
                              lambda e=existing: snapshot_table([node("m1")], [pod("e", node="m1", ports=e)] if e else []),
                              expected if expected == "skip" else [expected], "upstream nodeports/node_ports_test.go"))
    for name, gates, expected in ports.GATES:
        out.append(FilterCase("SchedulingGates", name, lambda g=gates: pod("p", scheduling_gates=g),
                              lambda: snapshot_table([node("node1")], []),
                              None if expected is None else ("preenqueue", *expected),
                              "upstream schedulinggates/scheduling_gates_test.go", point="preEnqueue"))
    return out


def ipa_score_cases() -> list[ScoreCase]:
    """InterPodAffinity's score cases (all but "No nodes to score", which has no node to show)."""
    out = []
    for name, p, pods, labels, ignore, expected in ipa.SCORE:
        if not labels:
            continue
        args = {"hardPodAffinityWeight": 1, "ignorePreferredTermsOfExistingPods": ignore}
        out.append(ScoreCase("InterPodAffinity", name, args, lambda p=p: p,
                             lambda lab=labels, e=pods: snapshot_table(
                                 [node(f"node{i + 1}", labels=x) for i, x in enumerate(lab)], e),
                             expected, IPA_SCORE_SRC, ipa.NAMESPACES))
    hard_nodes = [{"region": "China"}, {"region": "India"}, {"az": "az1"}]
    for name, ns, weight, expected in ipa.SCORE_HARD:
        out.append(ScoreCase("InterPodAffinity", name, {"hardPodAffinityWeight": weight},
                             lambda ns=ns: ipa.p(labels={"service": "S1"}, ns=ns),
                             lambda: snapshot_table([node(f"node{i + 1}", labels=x) for i, x in enumerate(hard_nodes)],
                                               ipa.HARD_PODS), expected, IPA_SCORE_SRC, ipa.NAMESPACES))
    return out


def run_filter_case(case: FilterCase):
    """The case's outcome in its ``expected`` form, as ``kbench explain`` reports it."""
    profile = profile_from_dict(f"validate-{case.plugin}", {"plugins": {case.point: [case.plugin]},
                                                            "percentageOfNodesToScore": 100})
    nodes = case.make_nodes()
    data = explain_table(Framework(profile, 0, handle=handle_with(case.namespaces)), nodes, case.make_pod()).data
    if case.point == "preEnqueue":
        st = data["preenqueue"].get(case.plugin)
        return None if st is None else ("preenqueue", _code(st["code"]), "; ".join(st["reasons"]))
    pre = data["prefilter"].get(case.plugin)
    if pre is not None and pre["code"] == "Skip":
        return "skip"
    if pre is not None:
        return ("prefilter", _code(pre["code"]), "; ".join(pre["reasons"]))
    out = []
    for name in nodes.names:
        st = data["nodes"][name]["statuses"][case.plugin]
        out.append("" if st["code"] == "Success" else (_code(st["code"]), "; ".join(st["reasons"])))
    return out


def _code(text: str) -> int:
    return int(next(c for c in Code if c.text == text))


def check_filtering(quick: bool = True) -> list[Record]:
    """One record per plugin: upstream filter cases that agree with upstream, out of all ported."""
    by_plugin: dict[str, list[FilterCase]] = {}
    for case in filter_cases():
        by_plugin.setdefault(case.plugin, []).append(case)
    out = []
    for plugin, cases in by_plugin.items():
        failed = [c.name for c in cases if run_filter_case(c) != c.expected]
        files = ", ".join(sorted({c.source.removeprefix("upstream ") for c in cases}))
        out.append(Record(f"filtering/{plugin}", f"{plugin} cases with upstream's statuses and reasons (via explain)",
                          float(len(cases)), float(len(cases) - len(failed)), kind="exact",
                          source=f"upstream test: {files}", unit="cases", samples=len(cases),
                          note=("failed: " + "; ".join(failed[:3])) if failed else ""))
    return out
