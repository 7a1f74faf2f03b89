"""QueueingHint functions of the default filter plugins (CALIBRATION M9; upstream each plugin's
``isSchedulableAfter...`` functions, v1.31+ copies read through the code index).

Each returns True for Queue, False for QueueSkip; node events pass
:class:`~kbench.policy.events.NodeChange` views (``old`` None on Add), assigned-pod events pass pod
specs. Kept here, one small function each, so that the plugin modules only declare which events
they register:

* NodeUnschedulable — Node Add | UpdateNodeTaint: Queue when the node takes the pod now (not
  cordoned, or the pod tolerates ``node.kubernetes.io/unschedulable``) and, for an update, did not;
* NodeName — Node Add: Queue when the pod names no node or names this one;
* TaintToleration — Node Add | UpdateNodeTaint: Queue when an untolerated NoSchedule/NoExecute taint
  was there (or the node is new) and none is now (taint_toleration.go @ 0f7becbc);
* NodeAffinity — Node Add | UpdateNodeLabel: Queue when the node matches the pod's nodeSelector and
  required node affinity now and (for an update) did not before;
* NodeResourcesFit — AssignedPod Delete: Queue; Node Add | UpdateNodeAllocatable: Queue when the
  pod's requests fit the node's allocatable and (for an update) an allocatable the pod requests grew;
* PodTopologySpread — AssignedPod Add | UpdatePodLabel | Delete: Queue when the pod is in the
  target's namespace and matches one of its constraints' selectors; Node Add | Delete |
  UpdateNodeLabel | UpdateNodeTaint: Queue when the node has (or had) a constraint's topology key.
"""

from __future__ import annotations

from kbench.cluster.objects import Taint

UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")
_DO_NOT_SCHEDULE = ("NoSchedule", "NoExecute")


def node_unschedulable(pod, old, new) -> bool:
    """NodeUnschedulable's node hint (module docstring)."""
    tolerates = any(t.tolerates(UNSCHEDULABLE_TAINT) for t in pod.tolerations)
    if new is None or (new.unschedulable and not tolerates):
        return False
    return old is None or (old.unschedulable and not tolerates)


def node_name(pod, old, new) -> bool:
    """NodeName's node hint."""
    return new is not None and (not pod.node_name or pod.node_name == new.name)


def _untolerated(taints, tolerations) -> bool:
    return any(t.effect in _DO_NOT_SCHEDULE and not any(tol.tolerates(t) for tol in tolerations) for t in taints)


def taint_toleration(pod, old, new) -> bool:
    """TaintToleration's node hint."""
    if new is None:
        return False
    was = True if old is None else _untolerated(old.taints, pod.tolerations)
    return was and not _untolerated(new.taints, pod.tolerations)


def matches_node(pod, labels: dict, name: str, added_required=None) -> bool:
    """The pod's nodeSelector, required node affinity (and the plugin's added terms) on one node."""
    if any(labels.get(k) != v for k, v in (pod.node_selector or {}).items()):
        return False
    for terms in (pod.required_affinity, added_required):
        if terms is not None and not any(t.matches(labels, name) for t in terms):
            return False
    return True


def node_affinity(added_required):
    """NodeAffinity's node hint, for a plugin with ``added_required`` terms (or None)."""
    def hint(pod, old, new) -> bool:
        if new is None or not matches_node(pod, new.labels, new.name, added_required):
            return False
        return old is None or not matches_node(pod, old.labels, old.name, added_required)
    return hint


def fit_node(request_of):
    """NodeResourcesFit's node hint; ``request_of(pod)`` gives the requests it checks."""
    def hint(pod, old, new) -> bool:
        if new is None:
            return False
        want = {k: v for k, v in request_of(pod).items() if v > 0}
        alloc = new.allocatable
        if any(alloc.get(k, 0) < v for k, v in want.items()) or alloc.get("pods", 1) < 1:
            return False
        return old is None or any(alloc.get(k, 0) > old.allocatable.get(k, 0) for k in (*want, "pods"))
    return hint


def queue(pod, old, new) -> bool:
    """Always Queue (a hint that would only say Queue)."""
    return True


def spread_pod(constraints_of):
    """PodTopologySpread's assigned-pod hint; ``constraints_of(pod)`` gives all its constraints."""
    def hint(pod, old, new) -> bool:
        for changed in (new, old):
            if changed is None or changed.namespace != pod.namespace:
                continue
            if any(c.selector.matches(changed.labels) for c in constraints_of(pod)):
                return True
        return False
    return hint


def spread_node(constraints_of):
    """PodTopologySpread's node hint: a topology key present on the new or old node."""
    def hint(pod, old, new) -> bool:
        keys = {c.key for c in constraints_of(pod)}
        return any(v is not None and keys & v.labels.keys() for v in (new, old))
    return hint
