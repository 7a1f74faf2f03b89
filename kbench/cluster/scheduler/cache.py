"""The scheduler's cache: its node table and pod placements, fed only by its informers.

Upstream ``pkg/scheduler/backend/cache`` in kbench's terms. The :class:`SchedulerCache` holds the
:class:`~kbench.cluster.objects.NodeTable` the framework schedules on; it changes only through
what the scheduler's own informers delivered (which may be stale) and through its own assume /
forget steps:

* **nodes** are appended on their first event; an update rewrites the row's labels, taints and
  ``unschedulable`` so the plugins see them, and says what changed (the cluster event the queue
  acts on: Node Add, UpdateNodeLabel, UpdateNodeTaint; a node's allocatable is fixed in kbench). A node that is not Ready also gets a NoSchedule
  condition taint unless its object already has one: ``node.kubernetes.io/unreachable:NoSchedule``
  when the object carries the ``unreachable`` (NoExecute) taint, else
  ``node.kubernetes.io/not-ready:NoSchedule``. Upstream's node lifecycle controller adds these
  within milliseconds of the condition (TaintNodesByCondition); they matter because pods tolerate
  the NoExecute ones for 300 s by default, which would otherwise let the filter pass a dead node.
  A deleted node is kept as a row (the table cannot drop rows) but cordoned and tainted
  ``kbench/node-deleted:NoSchedule``;
* **pods** bound to a node count on it from the informer event that shows them bound until they
  finish (Succeeded/Failed) or are deleted. A pod being deleted (``deleting``, graceful
  termination) keeps its resources until then, as upstream's cache does: that is what makes a
  preemptor wait for its victims to go;
* **assumed pods** are placed by the scheduling cycle before their binding is written; the
  informer's bound version confirms them, :meth:`SchedulerCache.forget` undoes them when the
  binding fails. A bound pod whose node the cache does not know yet waits until the node arrives.
"""

from __future__ import annotations

from dataclasses import dataclass

from kbench.cluster.objects import NodeTable, Pod, Taint
from kbench.policy.events import ADD, NodeChange, node_actions

NOT_READY_TAINT = Taint("node.kubernetes.io/not-ready", "", "NoSchedule")
UNREACHABLE_TAINT = Taint("node.kubernetes.io/unreachable", "", "NoSchedule")
DELETED_TAINT = Taint("kbench/node-deleted", "", "NoSchedule")
_CONDITION_TAINTS = frozenset({NOT_READY_TAINT, UNREACHABLE_TAINT})


def effective_taints(node) -> tuple[Taint, ...]:
    """The taints the filters should see for a ``NodeObj`` (see the module docstring)."""
    taints = tuple(node.taints)
    if node.ready or any(t in _CONDITION_TAINTS for t in taints):
        return taints
    unreachable = any(t.key == UNREACHABLE_TAINT.key for t in taints)
    return (*taints, UNREACHABLE_TAINT if unreachable else NOT_READY_TAINT)


@dataclass(slots=True, eq=False)
class Placement:
    """A pod counted on a node of the table.

    Attributes:
        spec: The pod spec object added to the table (removal is by identity).
        idx: Node row.
        assumed: Placed by this scheduler's cycle; the binding is not yet seen bound.
        deleting: The pod is terminating (still holds its resources).
    """

    spec: Pod
    idx: int
    assumed: bool = False
    deleting: bool = False


class SchedulerCache:
    """Node table and pod placements of one scheduler.

    Args:
        framework: The scheduler's framework (its ``unassume`` runs Unreserve when a binding fails),
            or a function ``f(pod spec) -> framework`` (the pod's profile).

    Attributes:
        nodes: The node table the framework schedules on.
        placed: Pod key → placement, for every pod counted in :attr:`nodes`.
        deleting_on: Node row → keys of terminating pods placed there.
        overcommitted: Bound pods that could not be counted because their GPUs did not fit.
    """

    def __init__(self, framework):
        self.framework_of = framework if callable(framework) and not hasattr(framework, "unassume") \
            else (lambda spec: framework)
        self.nodes = NodeTable()
        self.views: list[NodeChange] = []  # per row: what node hints read
        self.placed: dict[str, Placement] = {}
        self.deleting_on: dict[int, set[str]] = {}
        self._state: list[tuple[tuple, bool]] = []  # per row: (effective taints, unschedulable)
        self._orphans: dict[str, dict[str, object]] = {}  # node name -> {pod key: PodObj}
        self._orphan_node: dict[str, str] = {}
        self.overcommitted = 0

    # ------------------------------------------------------------------------------ nodes
    def upsert_node(self, obj) -> tuple | None:
        """A node add or update event (a ``NodeObj``).

        Returns:
            ``(action, old view, new view)`` (:mod:`kbench.policy.events`; old None for a new
            node), or None when nothing the scheduler reads changed.
        """
        table = self.nodes
        taints, unsched = effective_taints(obj), bool(obj.unschedulable)
        idx = table.index.get(obj.key)
        spec = obj.spec
        if idx is None:
            idx = table.add_node(spec)
            self._state.append((tuple(table.taints[idx]), bool(table.unschedulable[idx])))
            self._apply(idx, taints, unsched)
            view = NodeChange(obj.key, dict(table.labels[idx]), taints, unsched, dict(spec.allocatable))
            self.views.append(view)
            for pod in list(self._orphans.pop(obj.key, {}).values()):
                self._orphan_node.pop(pod.key, None)
                self.observe_bound(pod)
            return ADD, None, view
        old = self.views[idx]
        new = NodeChange(obj.key, dict(spec.labels), taints, unsched, old.allocatable)
        action = node_actions(old, new)
        if not action:
            return None
        if new.labels != old.labels:
            table.set_labels(idx, new.labels)
        self._apply(idx, taints, unsched)
        self.views[idx] = new
        return action, old, new

    def _apply(self, idx: int, taints: tuple, unsched: bool) -> None:
        table = self.nodes
        if self._state[idx] == (taints, unsched):
            return
        table.set_taints(idx, taints)  # bump the table's taints_version: the plugins' caches follow
        table.set_unschedulable(idx, unsched)
        self._state[idx] = (taints, unsched)

    def delete_node(self, obj) -> NodeChange | None:
        """A node delete event: the row stays but takes no new pods. Returns its last view."""
        idx = self.nodes.index.get(obj.key)
        if idx is None:
            return None
        self._apply(idx, (*self._state[idx][0], DELETED_TAINT), True)
        return self.views[idx]

    # ------------------------------------------------------------------------------- pods
    def assume(self, key: str, spec: Pod, idx: int) -> None:
        """Record a pod the framework just assumed on row ``idx`` (already added to the table)."""
        old = self.placed.get(key)
        if old is not None:  # should not happen: a placed pod is not scheduled again
            self._remove(key, old)
        self.placed[key] = Placement(spec, idx, assumed=True)

    def forget(self, key: str, spec: Pod) -> bool:
        """Undo an assumption whose binding failed (Unreserve, then remove from the table).

        Returns:
            True when something was removed (not when the informer already confirmed or removed it).
        """
        p = self.placed.get(key)
        if p is None or p.spec is not spec or not p.assumed:
            return False
        del self.placed[key]
        self.framework_of(spec).unassume(spec, self.nodes, p.idx)
        return True

    def is_assumed(self, key: str) -> bool:
        """Whether ``key`` is assumed and its binding not yet seen."""
        p = self.placed.get(key)
        return p is not None and p.assumed

    def observe_bound(self, pod) -> bool:
        """A pod event showing ``pod`` (a ``PodObj``) bound and not finished.

        Confirms an assumption on the same node, moves a placement made on another node, or
        adds the pod. Returns True when the pod was newly added to the table.
        """
        key = pod.key
        idx = self.nodes.index.get(pod.node_name)
        p = self.placed.get(key)
        if idx is None:
            if p is not None:
                self._remove(key, p)
            self._orphans.setdefault(pod.node_name, {})[key] = pod
            self._orphan_node[key] = pod.node_name
            return False
        added = False
        if p is not None and p.idx != idx:
            self._remove(key, p)
            p = None
        if p is None:
            try:
                self.nodes.add_pod(pod.spec, idx, tuple(pod.spec.gpu_indices))
            except ValueError:
                self.overcommitted += 1  # its GPUs do not fit the cache's view
                return False
            p = self.placed[key] = Placement(pod.spec, idx)
            added = True
        p.assumed = False
        if pod.deleting != p.deleting:
            p.deleting = pod.deleting
            keys = self.deleting_on.setdefault(idx, set())
            if pod.deleting:
                keys.add(key)
            else:
                keys.discard(key)
        return added

    def remove(self, key: str) -> bool:
        """A pod finished or was deleted: stop counting it.

        Returns:
            True when it was counted on a node (its resources are free now: a cluster event).
        """
        node = self._orphan_node.pop(key, None)
        if node is not None:
            self._orphans.get(node, {}).pop(key, None)
        p = self.placed.get(key)
        if p is None:
            return False
        self._remove(key, p)
        return True

    def _remove(self, key: str, p: Placement) -> None:
        del self.placed[key]
        if p.assumed:
            self.framework_of(p.spec).unassume(p.spec, self.nodes, p.idx)
        else:
            self.nodes.remove_pod(p.spec, p.idx)
        if p.deleting:
            self.deleting_on.get(p.idx, set()).discard(key)
