"""Small builders for table-driven policy tests (after upstream ``st.MakePod()`` / ``st.MakeNode()``).

Units are kbench's (docs/POLICY_CONTRACT.md): cpu in millicores, memory in bytes. Upstream tests often
write ``"cpu": "1000"`` (cores) next to node capacities in cores; such cases are ported with the same
numbers read as millicores. Every ratio, and hence every integer score, is unchanged because
``(a*k)*100 // (b*k) == a*100 // b``.

Typical use::

    nodes = table([node("node1", cpu=4000, memory=10000)], [pod("e1", node="node1", reqs=[{"cpu": 1000}])])
    assert scores(LeastAllocated(), pod("p", reqs=[{"cpu": 1000, "memory": 2000}]), nodes) == [75]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from kbench.cluster.objects import (
    Container,
    Node,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    NodeTable,
    Pod,
    Taint,
    Toleration,
    TopologySpreadConstraint,
)
from kbench.policy.api import CycleState, FilterResult, Handle

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
        labels: dict | None = None, priority: int = 0, **kw) -> Pod:
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
        **kw: Any other :class:`Pod` field (tolerations, node_selector, topology_spread, ...).
    """
    n_app = max(len(reqs), len(images))
    app = [Container(f"c{i}", images[i] if i < len(images) else "",
                     dict(reqs[i]) if i < len(reqs) else {}) for i in range(n_app)]
    n_init = max(len(init), len(init_images))
    inits = [Container(f"i{i}", init_images[i] if i < len(init_images) else "",
                       dict(init[i]) if i < len(init) else {}) for i in range(n_init)]
    return Pod(name, namespace=namespace, labels=dict(labels or {}), containers=app, init_containers=inits,
               priority=priority, node_name=node, **kw)


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


def handle_for(nodes: NodeTable) -> Handle:
    """A handle whose ``all_nodes`` is ``nodes``."""
    return Handle(nodes=nodes)


def _candidates(nodes: NodeTable, names: Sequence[str] | None) -> np.ndarray:
    if names is None:
        return np.arange(nodes.n, dtype=np.int64)
    return np.array([nodes.index[n] for n in names], dtype=np.int64)


def scores(plugin, p: Pod, nodes: NodeTable, names: Sequence[str] | None = None,
           state: CycleState | None = None) -> list[int] | None:
    """Run PreScore (if any), Score and NormalizeScore (if any) over ``names`` (default: all rows).

    Returns:
        The final integer scores in candidate order, or None when PreScore returned SKIP.
    """
    state = CycleState() if state is None else state
    cands = _candidates(nodes, names)
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, p, nodes, cands)
        if status.is_skip:
            return None
        assert status.ok, status
    raw = np.asarray(plugin.score(state, p, nodes, cands))
    assert raw.dtype == np.int64, raw.dtype
    if hasattr(plugin, "normalize_scores"):
        raw = np.asarray(plugin.normalize_scores(state, p, raw))
    return [int(x) for x in raw]


def run_filter(plugin, p: Pod, nodes: NodeTable, names: Sequence[str] | None = None,
               state: CycleState | None = None) -> list[tuple[bool, str, int]]:
    """Run PreFilter (if any) and Filter; ``(ok, reason, code)`` per candidate.

    A PreFilter SKIP means every candidate passes; a PreFilter rejection applies to every candidate.
    """
    state = CycleState() if state is None else state
    cands = _candidates(nodes, names)
    if hasattr(plugin, "pre_filter"):
        status = plugin.pre_filter(state, p, nodes)
        if status.is_skip:
            return [(True, "", 0)] * len(cands)
        if not status.ok:
            return [(False, status.message(), int(status.code))] * len(cands)
    res: FilterResult = plugin.filter(state, p, nodes, cands)
    codes = np.broadcast_to(np.asarray(res.code), (len(cands),))
    return [(bool(res.ok[i]), res.reason_at(i), 0 if res.ok[i] else int(codes[i])) for i in range(len(cands))]
