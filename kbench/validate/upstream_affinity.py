"""InterPodAffinity's upstream unit-test tables, ported case by case (shared by the table tests and
``kbench validate``'s ``scoring`` and ``filtering`` families, which run them through explain).

Sources (kubernetes/kubernetes, ``pkg/scheduler/framework/plugins/interpodaffinity/``):

* ``filtering_test.go`` @ 072825f9a367e9ca0f73f91830945f1b7f46e0d9: TestRequiredAffinitySingleNode
  (:data:`FILTER_SINGLE`, node1 ``{region: r1, zone: z11}``, namespaces of :data:`NAMESPACES`) and
  TestRequiredAffinityMultipleNodes (:data:`FILTER_MULTI`, one Namespace ``NS1``);
* ``scoring_test.go`` @ 030880a5dc5449403c6d1f0aa146a7dc21d6c6dc: TestPreferredAffinity
  (:data:`SCORE`, hardPodAffinityWeight 1) and TestPreferredAffinityWithHardPodAffinitySymmetricWeight
  (:data:`SCORE_HARD`).

Upstream's pods have the empty namespace unless a case names one (``defaultNamespace = ""``), and so
do they here. Case names are upstream's, trailing spaces included; two scoring names that upstream
uses twice (the anti-affinity variants) get `` (anti)`` appended. A pod bound to a node that is not
in the case's nodes (single-node case "pod matches its own Label...") is left out, as upstream's
snapshot lists no such node.
"""

from __future__ import annotations

from kbench.policy.api import Code
from kbench.validate.builders import aff_term, affinity, node, pod

U, UAU = int(Code.UNSCHEDULABLE), int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
AFF = (UAU, "node(s) didn't match pod affinity rules")
ANTI = (U, "node(s) didn't match pod anti-affinity rules")
EXIST = (U, "node(s) didn't satisfy existing pods anti-affinity rules")
PASS = ""
BAD_VALUE = ('parsing pod: requiredAffinityTerms: values[0][service]: Invalid value: "{{.bad-value.}}": a valid '
             "label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
             "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
             "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
NAMESPACES = {"subteam1.team1": {"team": "team1"}, "subteam2.team1": {"team": "team1"},
              "subteam1.team2": {"team": "team2"}, "subteam2.team2": {"team": "team2"}}
"""scoring_test.go's ``namespaces`` (also used by TestRequiredAffinitySingleNode)."""
NS1 = {"NS1": {}}
TEAM1 = {"matchExpressions": [{"key": "team", "operator": "In", "values": ["team1"]}]}
SEC = {"service": "securityscan"}
S1 = {"security": "S1"}
S2 = {"security": "S2"}
NS = ""  # upstream's defaultNamespace


def p(name="p", node=None, labels=None, ns=NS, **aff):
    """A pod in the empty namespace (``aff``: :func:`affinity` keyword arguments)."""
    return pod(name, node=node, labels=labels, namespace=ns, affinity=affinity(**aff) if aff else None)


def t_in(key, topo, *values, **kw):
    return aff_term(key, "In", topo, *values, **kw)


def t_not_in(key, topo, *values):
    return aff_term(key, "NotIn", topo, *values)


def t_exists(key, topo):
    return aff_term(key, "Exists", topo)


def t_exprs(topo, *exprs):
    """A term ANDing several expressions ``(key, operator, values...)``."""
    return {"labelSelector": {"matchExpressions": [{"key": e[0], "operator": e[1], **({"values": list(e[2:])}
                                                                                      if len(e) > 2 else {})}
                                                   for e in exprs]}, "topologyKey": topo}


# ----- TestRequiredAffinitySingleNode -----------------------------------------------------------------
NODE1 = [node("node1", labels={"region": "r1", "zone": "z11"})]
EXISTING = p("existing", "node1", SEC)
SERVICE_IN = t_in("service", "region", "securityscan", "value2")
MULTI_OPS = t_exprs("region", ("service", "Exists"), ("wrongkey", "DoesNotExist"))

FILTER_SINGLE = [  # (case name, incoming pod, existing pods, expected on node1: PASS, a status, "skip" or a PreFilter rejection)
    ("A pod that has no required pod affinity scheduling rules can schedule onto a node with no existing pods",
     p(), [], "skip"),
    ("satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In operator that matches "
     "the existing pod", p(labels=S1, required=[SERVICE_IN]), [EXISTING], PASS),
    ("satisfies the pod with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using not in operator in "
     "labelSelector that matches the existing pod",
     p(labels=S1, required=[t_not_in("service", "region", "securityscan3", "value3")]), [EXISTING], PASS),
    # no topologyKey: the node lacks the "" label
    ("Does not satisfy the PodAffinity with labelSelector because of diff Namespace",
     p(labels=S1, required=[{"labelSelector": {"matchExpressions": [
         {"key": "service", "operator": "In", "values": ["securityscan", "value2"]}]}, "namespaces": ["DiffNameSpace"]}]),
     [p("e", "node1", SEC, ns="ns")], AFF),
    ("Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod",
     p(labels=SEC, required=[t_in("service", "", "antivirusscan", "value2")]), [EXISTING], AFF),
    ("satisfies the PodAffinity with different label Operators in multiple RequiredDuringSchedulingIgnoredDuringExecution ",
     p(labels=S1, required=[MULTI_OPS, t_exprs("region", ("service", "In", "securityscan"),
                                               ("service", "NotIn", "WrongValue"))]), [EXISTING], PASS),
    ("The labelSelector requirements(items of matchExpressions) are ANDed, the pod cannot schedule onto the node "
     "because one of the matchExpression item don't match.",
     p(labels=S1, required=[MULTI_OPS, t_exprs("region", ("service", "In", "securityscan2"),
                                               ("service", "NotIn", "WrongValue"))]), [EXISTING], AFF),
    ("satisfies the PodAffinity and PodAntiAffinity with the existing pod",
     p(labels=S1, required=[SERVICE_IN], anti=[t_in("service", "node", "antivirusscan", "value2")]), [EXISTING], PASS),
    ("satisfies the PodAffinity and PodAntiAffinity and PodAntiAffinity symmetry with the existing pod",
     p(labels=S1, required=[SERVICE_IN], anti=[t_in("service", "node", "antivirusscan", "value2")]),
     [p("e", "node1", SEC, anti=[t_in("service", "node", "antivirusscan", "value2")])], PASS),
    ("satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod",
     p(labels=S1, required=[SERVICE_IN], anti=[t_in("service", "zone", "securityscan", "value2")]), [EXISTING], ANTI),
    ("satisfies the PodAffinity and PodAntiAffinity but doesn't satisfy PodAntiAffinity symmetry with the existing pod",
     p(labels=SEC, required=[SERVICE_IN], anti=[t_in("service", "node", "antivirusscan", "value2")]),
     [p("e", "node1", SEC, anti=[t_in("service", "zone", "securityscan", "value2")])], EXIST),
    # the existing pod is on node2, which is not in the snapshot: left out
    ("pod matches its own Label in PodAffinity and that matches the existing pod Labels",
     p(labels=SEC, required=[t_not_in("service", "region", "securityscan", "value2")]),
     [p("e", "node2", {"service": "securityscan"})], AFF),
    ("verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity constraints. doesn't "
     "satisfy PodAntiAffinity symmetry with the existing pod",
     p(labels=SEC), [p("e", "node1", SEC, anti=[t_in("service", "zone", "securityscan", "value2")])], EXIST),
    ("verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity constraints. satisfy "
     "PodAntiAffinity symmetry with the existing pod",
     p(labels=SEC), [p("e", "node1", SEC, anti=[t_not_in("service", "zone", "securityscan", "value2")])], "skip"),
    ("satisfies the PodAntiAffinity with existing pod but doesn't satisfy PodAntiAffinity symmetry with incoming pod",
     p(labels=SEC, anti=[t_exists("service", "region"), t_exists("security", "region")]),
     [p("e", "node1", S1, anti=[t_exists("security", "zone")])], ANTI),
    ("PodAntiAffinity symmetry check a1: incoming pod and existing pod partially match each other on AffinityTerms",
     p(labels=SEC, anti=[t_exists("service", "zone"), t_exists("security", "zone")]),
     [p("e", "node1", S1, anti=[t_exists("security", "zone")])], ANTI),
    ("PodAntiAffinity symmetry check a2: incoming pod and existing pod partially match each other on AffinityTerms",
     p(labels=S1, anti=[t_exists("security", "zone")]),
     [p("e", "node1", SEC, anti=[t_exists("service", "zone"), t_exists("security", "zone")])], EXIST),
    ("PodAntiAffinity symmetry check b1: incoming pod and existing pod partially match each other on AffinityTerms",
     p(labels={"abc": "", "xyz": ""}, anti=[t_exists("abc", "zone"), t_exists("def", "zone")]),
     [p("e", "node1", {"def": "", "xyz": ""}, anti=[t_exists("abc", "zone"), t_exists("def", "zone")])], ANTI),
    ("PodAntiAffinity symmetry check b2: incoming pod and existing pod partially match each other on AffinityTerms",
     p(labels={"def": "", "xyz": ""}, anti=[t_exists("abc", "zone"), t_exists("def", "zone")]),
     [p("e", "node1", {"abc": "", "xyz": ""}, anti=[t_exists("abc", "zone"), t_exists("def", "zone")])], ANTI),
    ("PodAffinity fails PreFilter with an invalid affinity label syntax",
     p(labels=SEC, required=[t_in("service", "region", "{{.bad-value.}}"),
                             t_in("service", "node", "antivirusscan", "value2")]), [], ("prefilter", UAU, BAD_VALUE)),
    ("PodAntiAffinity fails PreFilter with an invalid antiaffinity label syntax",
     p(labels=SEC, required=[t_in("service", "region", "foo"), t_in("service", "node", "{{.bad-value.}}")]), [],
     ("prefilter", UAU, BAD_VALUE)),
    ("affinity with NamespaceSelector",
     p(labels=S1, required=[t_in("service", "region", "securityscan", "value2", namespaceSelector=TEAM1)]),
     [p("e", "node1", SEC, ns="subteam1.team1")], PASS),
    ("affinity with non-matching NamespaceSelector",
     p(labels=S1, required=[t_in("service", "region", "securityscan", "value2", namespaceSelector=TEAM1)]),
     [p("e", "node1", SEC, ns="subteam1.team2")], AFF),
    ("anti-affinity with matching NamespaceSelector",
     p(labels=S1, ns="subteam1.team1", anti=[t_in("service", "zone", "securityscan", "value2", namespaceSelector=TEAM1)]),
     [p("e", "node1", SEC, ns="subteam2.team1")], ANTI),
    ("anti-affinity with matching all NamespaceSelector",
     p(labels=S1, ns="subteam1.team1", anti=[t_in("service", "zone", "securityscan", "value2", namespaceSelector={})]),
     [p("e", "node1", SEC, ns="subteam2.team1")], ANTI),
    ("anti-affinity with non-matching NamespaceSelector",
     p(labels=S1, ns="subteam1.team1", anti=[t_in("service", "zone", "securityscan", "value2", namespaceSelector=TEAM1)]),
     [p("e", "node1", SEC, ns="subteam1.team2")], PASS),
]

# ----- TestRequiredAffinityMultipleNodes ----------------------------------------------------------------
CHINA, CHINA_AZ1, INDIA = {"region": "China"}, {"region": "China", "az": "az1"}, {"region": "India"}


def nodes_rz(*zones, region="r1"):
    """nodeA, nodeB... with ``{region, zone, hostname}``."""
    return [node(f"node{chr(65 + i)}", labels={"region": region, "zone": z, "hostname": f"node{chr(65 + i)}"})
            for i, z in enumerate(zones)]


def named(labels_list, names=("node1", "node2", "node3")):
    return [node(n, labels=lab) for n, lab in zip(names, labels_list, strict=False)]


ABC = ("nodeA", "nodeB", "nodeC")
FILTER_MULTI = [  # (case name, incoming pod, existing pods, nodes, expected per node or "skip")
    ("A pod can be scheduled onto all the nodes that have the same topology key & label value with one of them has an "
     "existing pod that matches the affinity rules",
     p(required=[t_in("foo", "region", "bar")]), [p("p1", "node1", {"foo": "bar"})],
     named([CHINA, CHINA_AZ1, INDIA]), [PASS, PASS, AFF]),
    ("The affinity rule is to schedule all of the pods of this collection to the same zone. The first pod of the "
     "collection should not be blocked from being scheduled onto any node, even there's no existing pod that matches "
     "the rule anywhere.",
     p(labels={"foo": "bar", "service": "securityscan"},
       required=[t_in("foo", "zone", "bar"), t_in("service", "zone", "securityscan")]),
     [p("p1", "nodeA", {"foo": "bar"})],
     [node("nodeA", labels={"zone": "az1", "hostname": "h1"}), node("nodeB", labels={"zone": "az2", "hostname": "h2"})],
     [PASS, PASS]),
    ("The first pod of the collection can only be scheduled on nodes labelled with the requested topology keys",
     p(labels={"foo": "bar", "service": "securityscan"},
       required=[t_in("foo", "zone", "bar"), t_in("service", "zone", "securityscan")]),
     [p("p1", "nodeA", {"foo": "bar"})],
     [node("nodeA", labels={"zoneLabel": "az1", "hostname": "h1"}),
      node("nodeB", labels={"zoneLabel": "az2", "hostname": "h2"})], [AFF, AFF]),
    ("NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that matches the inter pod "
     "affinity rule. The pod can not be scheduled onto nodeA and nodeB.",
     p(anti=[t_in("foo", "region", "abc")]), [p("e", "nodeA", {"foo": "abc"})],
     [node("nodeA", labels={"region": "r1", "hostname": "nodeA"}), node("nodeB", labels={"region": "r1", "hostname": "nodeB"})],
     [ANTI, ANTI]),
    ("This test ensures that anti-affinity matches a pod when any term of the anti-affinity rule matches a pod.",
     p(anti=[t_in("foo", "region", "abc"), t_in("service", "zone", "securityscan")]),
     [p("e", "nodeA", {"foo": "abc", "service": "securityscan"})], nodes_rz("z1", "z2"), [ANTI, ANTI]),
    ("NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that matches the inter pod "
     "affinity rule. The pod can not be scheduled onto nodeA and nodeB but can be scheduled onto nodeC",
     p(anti=[t_in("foo", "region", "abc")]), [p("e", "nodeA", {"foo": "abc"})],
     named([CHINA, CHINA_AZ1, INDIA], ABC), [ANTI, ANTI, PASS]),
    ("NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that matches the inter pod "
     "affinity rule. The pod can not be scheduled onto nodeA, nodeB, but can be scheduled onto nodeC (NodeC has an "
     "existing pod that match the inter pod affinity rule but in different namespace)",
     p(labels={"foo": "123"}, ns="NS1", anti=[t_in("foo", "region", "bar")]),
     [p("e1", "nodeA", {"foo": "bar"}, ns="NS1"), p("e2", "nodeC", ns="NS2", anti=[t_in("foo", "region", "123")])],
     named([CHINA, CHINA_AZ1, INDIA], ABC), [ANTI, ANTI, PASS]),
    ("Test existing pod's anti-affinity: if an existing pod has a term with invalid topologyKey, labelSelector of the "
     "term is firstly checked, and then topologyKey of the term is also checked",
     p(labels={"foo": ""}), [p("e", "nodeA", anti=[t_exists("foo", "invalid-node-label")])],
     nodes_rz("z1", "z1"), "skip"),
    ("Test incoming pod's anti-affinity: even if labelSelector matches, we still check if topologyKey matches",
     p(anti=[t_exists("foo", "invalid-node-label")]), [p("e", "nodeA", {"foo": ""})], nodes_rz("z1", "z1"),
     [PASS, PASS]),
    ("Test existing pod's anti-affinity: incoming pod wouldn't considered as a fit as it violates each existingPod's "
     "terms on all nodes",
     p(labels={"foo": "", "bar": ""}),
     [p("e1", "nodeA", anti=[t_exists("foo", "zone")]), p("e2", "nodeA", anti=[t_exists("bar", "region")])],
     nodes_rz("z1", "z2"), [EXIST, EXIST]),
    ("Test incoming pod's anti-affinity: incoming pod wouldn't considered as a fit as it at least violates one "
     "anti-affinity rule of existingPod",
     p(anti=[t_exists("foo", "zone"), t_exists("bar", "region")]),
     [p("e1", "nodeA", {"foo": ""}), p("e2", "nodeB", {"bar": ""})], nodes_rz("z1", "z2"), [ANTI, ANTI]),
    ("Test existing pod's anti-affinity: only when labelSelector and topologyKey both match, it's counted as a single "
     "term match - case when one term has invalid topologyKey",
     p(labels={"foo": "", "bar": ""}),
     [p("e", "nodeA", anti=[t_exists("foo", "invalid-node-label"), t_exists("bar", "zone")])],
     nodes_rz("z1", "z2"), [EXIST, PASS]),
    ("Test incoming pod's anti-affinity: only when labelSelector and topologyKey both match, it's counted as a single "
     "term match - case when one term has invalid topologyKey",
     p(anti=[t_exists("foo", "invalid-node-label"), t_exists("bar", "zone")]),
     [p("podA", "nodeA", {"foo": "", "bar": ""})], nodes_rz("z1", "z2"), [ANTI, PASS]),
    ("Test existing pod's anti-affinity: only when labelSelector and topologyKey both match, it's counted as a single "
     "term match - case when all terms have valid topologyKey",
     p(labels={"foo": "", "bar": ""}),
     [p("e", "nodeA", anti=[t_exists("foo", "region"), t_exists("bar", "zone")])], nodes_rz("z1", "z2"),
     [EXIST, EXIST]),
    ("Test incoming pod's anti-affinity: only when labelSelector and topologyKey both match, it's counted as a single "
     "term match - case when all terms have valid topologyKey",
     p(anti=[t_exists("foo", "region"), t_exists("bar", "zone")]), [p("e", "nodeA", {"foo": "", "bar": ""})],
     nodes_rz("z1", "z2"), [ANTI, ANTI]),
    ("Test existing pod's anti-affinity: existingPod on nodeA and nodeB has at least one anti-affinity term matches "
     "incoming pod, so incoming pod can only be scheduled to nodeC",
     p(labels={"foo": "", "bar": ""}),
     [p("e1", "nodeA", anti=[t_exists("foo", "zone"), t_exists("labelA", "zone")]),
      p("e2", "nodeB", anti=[t_exists("bar", "zone"), t_exists("labelB", "zone")])],
     nodes_rz("z1", "z2", "z3"), [EXIST, EXIST, PASS]),
    ("Test incoming pod's affinity: firstly check if all affinityTerms match, and then check if all topologyKeys match",
     p(required=[t_exists("foo", "region"), t_exists("bar", "zone")]), [p("pod1", "nodeA", {"foo": "", "bar": ""})],
     nodes_rz("z1", "z1"), [PASS, PASS]),
    ("Test incoming pod's affinity: firstly check if all affinityTerms match, and then check if all topologyKeys match, "
     "and the match logic should be satisfied on the same pod",
     p(required=[t_exists("foo", "region"), t_exists("bar", "zone")]),
     [p("pod1", "nodeA", {"foo": ""}), p("pod2", "nodeB", {"bar": ""})], nodes_rz("z1", "z2"), [AFF, AFF]),
]

# ----- TestPreferredAffinity ---------------------------------------------------------------------------
AZ1, AZ2 = {"az": "az1"}, {"az": "az2"}
STAY_S1 = {"preferred": [(5, t_in("security", "region", "S1"))]}
STAY_S2 = {"preferred": [(6, t_in("security", "region", "S2"))]}
AFFINITY3 = {"preferred": [(8, t_exprs("region", ("security", "NotIn", "S1"), ("security", "In", "S2"))),
                           (2, t_exprs("region", ("security", "Exists"), ("wrongkey", "DoesNotExist")))]}
HARD = {"required": [t_in("security", "region", "S1", "value2"),
                     t_exprs("region", ("security", "Exists"), ("wrongkey", "DoesNotExist"))]}
AWAY_S1 = {"preferred_anti": [(5, t_in("security", "az", "S1"))]}
AWAY_S2 = {"preferred_anti": [(5, t_in("security", "az", "S2"))]}
STAY_S1_AWAY_S2 = {"preferred": [(8, t_in("security", "region", "S1"))], "preferred_anti": [(5, t_in("security", "az", "S2"))]}
NS_SEL_TERM = t_in("security", "region", "S1", namespaces=["subteam2.team2"], namespaceSelector=TEAM1)
AFF_NS_SEL = {"preferred": [(5, NS_SEL_TERM)]}
ANTI_NS_SEL = {"preferred_anti": [(5, NS_SEL_TERM)]}
INVALID_AFF = {"preferred": [(8, t_in("security", "region", "{{.bad-value.}}"))]}
INVALID_ANTI = {"preferred_anti": [(5, t_in("security", "az", "{{.bad-value.}}"))]}
INVALID = ("error", 'Invalid value: "{{.bad-value.}}"')


def on(node_name, labels=None, ns=NS, aff=None, name=None):
    """An existing pod on ``node_name`` (``aff``: one of the term sets above)."""
    return p(name or f"e-{node_name}", node_name, labels, ns, **(aff or {}))


def ns_pods(*spec):
    """Pods ``(node, namespace)`` labelled S1."""
    return [on(n, S1, ns, name=f"e{i}") for i, (n, ns) in enumerate(spec)]


SCORE = [  # (case name, incoming pod, existing pods, node labels (node1, node2...), ignore existing preferred, expected)
    ("all nodes are same priority as Affinity is nil", p(labels=S1), [], [CHINA, INDIA, AZ1], False, None),
    # node1 China: 5 (one S1 pod); node2 India: 0; node3 has no region -> 100, 0, 0
    ("Affinity: pod that matches topology key & pods in nodes will get high score comparing to others"
     "which doesn't match either pods in nodes or in topology key",
     p(labels=S1, **STAY_S1), [on("node1", S1), on("node2", S2), on("node3", S1)], [CHINA, INDIA, AZ1], False,
     [100, 0, 0]),
    ("All the nodes that have the same topology key & label value with one of them has an existing pod that match "
     "the affinity rules, have the same score", p(**STAY_S1), [on("node1", S1)], [CHINA, CHINA_AZ1, INDIA], False,
     [100, 100, 0]),
    # China: 4 S2 pods x 6 = 24, India: 2 x 6 = 12 -> min 12: 100, 0, 100, 100, 0
    ("Affinity: nodes in one region has more matching pods comparing to other region, so the region which has more "
     "matches will get high score", p(labels=S1, **STAY_S2),
     [on(n, S2, name=f"e{i}") for i, n in enumerate(("node1", "node1", "node2", "node3", "node4", "node5"))],
     [CHINA, INDIA, CHINA, CHINA, INDIA], False, [100, 0, 100, 100, 0]),
    # China: the S1 pod matches only the weight-2 term -> 2; India: S2 pod matches both -> 8 + 2 = 10;
    # node3 no region -> 0. (2 - 0) * 100 / 10 = 20
    ("Affinity: different Label operators and values for pod affinity scheduling preference, including some match "
     "failures ", p(labels=S1, **AFFINITY3), [on("node1", S1), on("node2", S2), on("node3", S1)], [CHINA, INDIA, AZ1],
     False, [20, 100, 0]),
    # symmetry: India's pod prefers S2 (6) and the incoming pod is S2 -> India 6
    ("Affinity symmetry: considered only the preferredDuringSchedulingIgnoredDuringExecution in pod affinity symmetry",
     p(labels=S2), [on("node1", S1, aff=STAY_S1), on("node2", S2, aff=STAY_S2)], [CHINA, INDIA, AZ1], False,
     [0, 100, 0]),
    ("Affinity symmetry with namespace selector", p(labels=S1, ns="subteam1.team1"),
     [on("node1", S1, aff=AFF_NS_SEL), on("node2", S2, aff=STAY_S2)], [CHINA, INDIA, AZ1], False, [100, 0, 0]),
    # China -5, others 0 -> 0, 100, 100
    ("AntiAffinity symmetry with namespace selector", p(labels=S1, ns="subteam1.team1"),
     [on("node1", S1, aff=ANTI_NS_SEL), on("node2", S2, aff=STAY_S2)], [CHINA, INDIA, AZ1], False, [0, 100, 100]),
    # both existing pods' required terms match the S1 pod: China 2 x 1, India 2 x 1 (hardPodAffinityWeight 1)
    ("Affinity symmetry: considered RequiredDuringSchedulingIgnoredDuringExecution in pod affinity symmetry",
     p(labels=S1), [on("node1", S1, aff=HARD), on("node2", S2, aff=HARD)], [CHINA, INDIA, AZ1], False, [100, 100, 0]),
    ("Anti Affinity: pod that does not match existing pods in node will get high score ", p(labels=S1, **AWAY_S1),
     [on("node1", S1), on("node2", S2)], [AZ1, CHINA], False, [0, 100]),
    ("Anti Affinity: pod that does not match topology key & match the pods in nodes will get higher score comparing "
     "to others ", p(labels=S1, **AWAY_S1), [on("node1", S1), on("node2", S1, name="e2")], [AZ1, CHINA], False,
     [0, 100]),
    ("Anti Affinity: one node has more matching pods comparing to other node, so the node which has more unmatches "
     "will get high score", p(labels=S1, **AWAY_S1),
     [on("node1", S1, name="e1"), on("node1", S1, name="e2"), on("node2", S2)], [AZ1, INDIA], False, [0, 100]),
    ("Anti Affinity symmetry: the existing pods in node which has anti affinity match will get high score",
     p(labels=S2), [on("node1", S1, aff=AWAY_S2), on("node2", S2, aff=AWAY_S1)], [AZ1, AZ2], False, [0, 100]),
    ("Affinity and Anti Affinity: considered only preferredDuringSchedulingIgnoredDuringExecution in both pod "
     "affinity & anti affinity", p(labels=S1, **STAY_S1_AWAY_S2), [on("node1", S1), on("node2", S1, name="e2")],
     [CHINA, AZ1], False, [100, 0]),
    ("Affinity and Anti Affinity: considering both affinity and anti-affinity, the pod to schedule and existing pods "
     "have the same labels", p(labels=S1, **STAY_S1_AWAY_S2),
     [on(n, S1, name=f"e{i}") for i, n in enumerate(("node1", "node1", "node2", "node3", "node3", "node4", "node5"))],
     [CHINA_AZ1, INDIA, CHINA, CHINA, INDIA], False, [100, 0, 100, 100, 0]),
    # affinity 8 (China), anti -5 (az1), symmetry 8 (India: node3's pod prefers S1), anti symmetry -5 (az2)
    ("Affinity and Anti Affinity and symmetry: considered only preferredDuringSchedulingIgnoredDuringExecution in both "
     "pod affinity & anti affinity & symmetry", p(labels=S1, **STAY_S1_AWAY_S2),
     [on("node1", S1), on("node2", S2), on("node3", aff=STAY_S1_AWAY_S2), on("node4", aff=AWAY_S1)],
     [CHINA, AZ1, INDIA, AZ2], False, [100, 0, 100, 0]),
    # both China nodes score 8: max = min -> 0, 0
    ("Avoid panic when partial nodes in a topology don't have pods with affinity", p(labels=S1),
     [on("node1", S1), on("node2", aff=STAY_S1_AWAY_S2)], [CHINA, CHINA], False, [0, 0]),
    ("invalid Affinity fails PreScore", p(**INVALID_AFF), [], [CHINA, CHINA], False, INVALID),
    ("invalid AntiAffinity fails PreScore", p(**INVALID_ANTI), [], [CHINA, CHINA], False, INVALID),
    # namespaces subteam2.team2 + team1's (subteam1.team1, subteam2.team1): China 2 x 5 = 10, India 5
    ("Affinity with pods matching NamespaceSelector", p(labels=S1, ns="subteam1.team1", **AFF_NS_SEL),
     ns_pods(("node1", "subteam1.team1"), ("node1", "subteam1.team1"), ("node1", "subteam1.team2"),
             ("node2", "subteam2.team1")), [CHINA, INDIA], False, [100, 0]),
    ("Affinity with pods matching both NamespaceSelector and Namespaces fields",
     p(labels=S1, ns="subteam1.team1", **AFF_NS_SEL),
     ns_pods(("node1", "subteam1.team1"), ("node1", "subteam1.team1"), ("node1", "subteam2.team2"),
             ("node2", "subteam2.team1")), [CHINA, INDIA], False, [100, 0]),
    ("Affinity with pods matching NamespaceSelector (anti)", p(labels=S1, ns="subteam1.team1", **ANTI_NS_SEL),
     ns_pods(("node1", "subteam1.team1"), ("node1", "subteam1.team1"), ("node1", "subteam1.team2"),
             ("node2", "subteam2.team1")), [CHINA, INDIA], False, [0, 100]),
    ("Affinity with pods matching both NamespaceSelector and Namespaces fields (anti)",
     p(labels=S1, ns="subteam1.team1", **ANTI_NS_SEL),
     ns_pods(("node1", "subteam1.team1"), ("node1", "subteam1.team1"), ("node1", "subteam2.team2"),
             ("node2", "subteam2.team1")), [CHINA, INDIA], False, [0, 100]),
    ("Ignore preferred terms of existing pods", p(labels=S2),
     [on("node1", S1, aff=STAY_S1_AWAY_S2), on("node2", S2, aff=STAY_S2)], [CHINA, INDIA], True, None),
    # China: -5 (node1's pod avoids S2 in az; China has no az) -> only India's 6 counts
    ("Do not ignore preferred terms of existing pods", p(labels=S2),
     [on("node1", S1, aff=STAY_S1_AWAY_S2), on("node2", S2, aff=STAY_S2)], [CHINA, INDIA], False, [0, 100]),
    ("No nodes to score", p(labels=S2), [], [], False, None),
]
"""The last case has no node at all: upstream's PreScore skips; explain cannot express it (no node
to show), so ``kbench validate`` runs every case but that one."""

# ----- TestPreferredAffinityWithHardPodAffinitySymmetricWeight -------------------------------------------
HARD_NS = {"required": [t_in("service", "region", "S1", namespaces=["", "subteam2.team2"], namespaceSelector=TEAM1)]}
HARD_PODS = [on("node1", aff=HARD_NS), on("node2", aff=HARD_NS)]
SCORE_HARD = [  # (case name, incoming namespace, hardPodAffinityWeight, expected)
    ("with default weight", "", 1, [100, 100, 0]),
    ("with zero weight", "", 0, None),
    ("with no matching namespace", "subteam1.team2", 1, None),
    ("with matching NamespaceSelector", "subteam1.team1", 1, [100, 100, 0]),
    ("with matching Namespaces", "subteam2.team2", 1, [100, 100, 0]),
]
