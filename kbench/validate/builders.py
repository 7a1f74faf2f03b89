"""Small builders for upstream scoring cases (after upstream ``st.MakePod()`` / ``st.MakeNode()``).

Used by :mod:`kbench.validate.upstream_cases` and by the policy tests (``tests/policy/builders.py``).

Units are kbench's (docs/POLICY_CONTRACT.md): cpu in millicores, memory in bytes. Upstream tests often
write ``"cpu": "1000"`` (cores) next to node capacities in cores; such cases are ported with the same
numbers read as millicores. Every ratio, and hence every integer score, is unchanged because
``(a*k)*100 // (b*k) == a*100 // b``.

Typical use::

    nodes = table([node("node1", cpu=4000, memory=10000)], [pod("e1", node="node1", reqs=[{"cpu": 1000}])])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kbench.cluster.objects import (
    Container,
    ContainerPort,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeTable,
    Pod,
    Taint,
    Toleration,
    TopologySpreadConstraint,
)
from kbench.cluster.objects.podaffinity import parse_pod_affinity

MB = 1024 * 1024
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def node(name: str, cpu: float | None = None, memory: float | None = None, *, pods: int | None = 110,
         labels: dict | None = None, taints: Iterable[Taint] = (), images: dict | None = None,
         unschedulable: bool = False, **extended: float) -> Node:
    """A node with the given allocatable (only the resources given are set).

    Args:
        name: Node name.
        cpu: Allocatable millicores (None: not set).
        memory: Allocatable bytes (None: not set).
        pods: Allocatable pod count (default 110; None: not set).
        labels: Node labels.
        taints: Node taints.
        images: Image name → size in bytes.
        unschedulable: Cordoned.
        **extended: Other allocatable, e.g. ``**{"example.com/foo": 4}``.
    """
    alloc: dict[str, float] = {}
    for key, value in (("cpu", cpu), ("memory", memory), ("pods", pods)):
        if value is not None:
            alloc[key] = value
    alloc.update(extended)
    return Node(name, alloc, labels=dict(labels or {}), taints=list(taints), images=dict(images or {}),
                unschedulable=unschedulable)


def pod(name: str = "p", *, reqs: Sequence[dict] = (), init: Sequence[dict] = (), images: Sequence[str] = (),
        init_images: Sequence[str] = (), node: str | None = None, namespace: str = "default",
        labels: dict | None = None, priority: int = 0, affinity: dict | None = None,
        ports: Sequence[str] = (), sidecar_ports: Sequence[str] = (), init_ports: Sequence[str] = (), **kw) -> Pod:
    """A pod with one app container per ``reqs`` entry (or per image), plus init containers.

    Args:
        name: Pod name.
        reqs: Requests of each app container (explicit requests only; omitted cpu/memory get E4's
            non-zero defaults in scoring).
        init: Requests of each init container.
        images: Images of the app containers (padded with empty requests).
        init_images: Images of the init containers.
        node: Bind the pod to this node when passed to :func:`table`.
        namespace: Namespace.
        labels: Pod labels.
        priority: Pod priority.
        affinity: A ``spec.affinity`` mapping with ``podAffinity`` / ``podAntiAffinity`` (see
            :func:`affinity`), parsed as the API server admits it.
        ports: Host ports of one more app container, as ``"PROTOCOL/hostIP/hostPort"``.
        sidecar_ports: Host ports of a restartable (sidecar) init container.
        init_ports: Host ports of a plain init container.
        **kw: Any other :class:`Pod` field (tolerations, node_selector, topology_spread, ...).
    """
    n_app = max(len(reqs), len(images))
    app = [Container(f"c{i}", images[i] if i < len(images) else "",
                     dict(reqs[i]) if i < len(reqs) else {}) for i in range(n_app)]
    n_init = max(len(init), len(init_images))
    inits = [Container(f"i{i}", init_images[i] if i < len(init_images) else "",
                       dict(init[i]) if i < len(init) else {}) for i in range(n_init)]
    if ports:
        app.append(Container("ports", "", {}, host_ports(*ports)))
    if sidecar_ports:
        inits.append(Container("sidecar", "", {}, host_ports(*sidecar_ports), "Always"))
    if init_ports:
        inits.append(Container("init-ports", "", {}, host_ports(*init_ports)))
    lab = dict(labels or {})
    pod_aff = parse_pod_affinity(affinity, namespace, lab) if affinity else None
    return Pod(name, namespace=namespace, labels=lab, containers=app, init_containers=inits,
               priority=priority, node_name=node, pod_affinity=pod_aff, **kw)


def host_ports(*specs: str) -> tuple[ContainerPort, ...]:
    """Container ports from ``"PROTOCOL/hostIP/hostPort"`` (upstream ``newPod(host, "UDP/127.0.0.1/8080")``)."""
    out = []
    for spec in specs:
        proto, ip, port = spec.split("/")
        out.append(ContainerPort(int(port), int(port), ip, proto))
    return tuple(out)


def aff_term(key: str, op: str, topology: str, *values: str, **fields) -> dict:
    """A PodAffinityTerm selecting pods by one requirement (upstream ``PodAffinityIn`` / ``NotIn`` /
    ``Exists``); ``fields`` adds ``namespaces`` or ``namespaceSelector``."""
    expr = {"key": key, "operator": op}
    if values:
        expr["values"] = list(values)
    return {"labelSelector": {"matchExpressions": [expr]}, "topologyKey": topology, **fields}


def affinity(required: Sequence[dict] = (), anti: Sequence[dict] = (), preferred: Sequence[tuple[int, dict]] = (),
             preferred_anti: Sequence[tuple[int, dict]] = ()) -> dict:
    """A ``spec.affinity`` mapping from required terms and ``(weight, term)`` preferred ones."""
    out: dict = {}
    req, pref = "requiredDuringSchedulingIgnoredDuringExecution", "preferredDuringSchedulingIgnoredDuringExecution"
    for part, reqs, prefs in (("podAffinity", required, preferred), ("podAntiAffinity", anti, preferred_anti)):
        body: dict = {}
        if reqs:
            body[req] = list(reqs)
        if prefs:
            body[pref] = [{"weight": w, "podAffinityTerm": t} for w, t in prefs]
        if body:
            out[part] = body
    return out


def table(nodes: Iterable[Node], pods: Iterable[Pod] = ()) -> NodeTable:
    """A node table with ``pods`` bound to their ``node_name``."""
    return NodeTable.from_nodes(list(nodes), list(pods))


def req(key: str, op: str, *values: str) -> NodeSelectorRequirement:
    """A node-selector requirement (``req("foo", "In", "bar")``)."""
    return NodeSelectorRequirement(key, op, tuple(values))


def term(*requirements: NodeSelectorRequirement, fields: Sequence[NodeSelectorRequirement] = ()) -> NodeSelectorTerm:
    """A node-selector term ANDing ``requirements`` (and ``fields`` on ``metadata.name``)."""
    return NodeSelectorTerm(tuple(requirements), tuple(fields))


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> Taint:
    """A taint."""
    return Taint(key, value, effect)


def toleration(key: str = "", value: str = "", effect: str = "", operator: str = "Equal") -> Toleration:
    """A toleration."""
    return Toleration(key, operator, value, effect)


def spread(max_skew: int, key: str, when: str = "ScheduleAnyway", selector: dict | None = None,
           **kw) -> TopologySpreadConstraint:
    """A topology spread constraint; ``selector`` is a LabelSelector dict."""
    return TopologySpreadConstraint(max_skew, key, when, selector, **kw)


def exists(*keys: str) -> dict:
    """A LabelSelector matching pods that have every one of ``keys``."""
    return {"matchExpressions": [{"key": k, "operator": "Exists"} for k in keys]}
