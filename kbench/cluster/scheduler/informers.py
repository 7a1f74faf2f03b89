"""What kube-scheduler does with its informers' events: the cache, the queue and cluster events.

Upstream ``pkg/scheduler/eventhandlers.go`` in kbench's terms. :class:`InformerHandling` is a part
of :class:`~kbench.cluster.scheduler.scheduler.Scheduler` (its base class), kept here so that the
scheduling loop reads on its own. Cluster events go to the queue (:meth:`SchedulingQueue.on_event
<kbench.cluster.scheduler.queue.SchedulingQueue.on_event>`), which moves only the pods they concern:

* a node added (Node Add), relabelled, retainted, cordoned or uncordoned, or turning Ready / not
  Ready (UpdateNodeLabel, UpdateNodeTaint: the not-ready and unreachable condition taints are the
  cache's), deleted (Node Delete);
* a pod seen bound for the first time (AssignedPod Add), a bound pod finished or deleted, or an
  assumed pod forgotten after a failed binding (AssignedPod Delete).

A pending pod whose ``schedulerName`` no profile has is left alone (another scheduler's pod) and
counted once (``scheduling.pods_without_profile``).
"""

from __future__ import annotations

from kbench.policy.events import ADD, ASSIGNED_POD, DELETE, NODE, ClusterEvent

_ASSIGNED_ADD = ClusterEvent(ASSIGNED_POD, ADD)
_ASSIGNED_DELETE = ClusterEvent(ASSIGNED_POD, DELETE)
_NODE_DELETE = ClusterEvent(NODE, DELETE)


class InformerHandling:
    """The informer half of the scheduler (uses its cache, queue, profiles, counters and listeners)."""

    def _event(self, event: ClusterEvent, old, new) -> None:
        self.queue.on_event(event, old, new, self.env.now)

    def _on_node(self, obj) -> None:
        changed = self.cache.upsert_node(obj)
        if changed is not None:
            action, old, new = changed
            self._event(ClusterEvent(NODE, action), old, new)

    def _on_node_update(self, _old, new) -> None:
        self._on_node(new)

    def _on_node_delete(self, old) -> None:
        view = self.cache.delete_node(old)
        if view is not None:
            self._event(_NODE_DELETE, view, None)

    def _on_pod_add(self, pod) -> None:
        self._on_pod_update(None, pod)

    def _on_pod_update(self, old, pod) -> None:
        key = pod.key
        if pod.node_name is not None:
            if self.queue.delete(key) is not None:
                self._forget_pending(key)
            self.nominated.pop(key, None)
            if self.bound_observers and (old is None or old.node_name is None):
                now = self.env.now  # the informer saw it go from no node to a node
                for observer in self.bound_observers:
                    observer(pod, now)
            if pod.finished:
                self._removed(key, pod)
            elif self.cache.observe_bound(pod):
                self._event(_ASSIGNED_ADD, None, pod.spec)
            return
        if pod.deleting or pod.finished:
            if self.queue.delete(key) is not None:
                self._forget_pending(key)
            self.nominated.pop(key, None)
            return
        if self.cache.is_assumed(key):
            return  # our binding is on its way
        if key in self.given_up:
            return  # given up after its failed attempt: never retried
        if self.profiles.of(pod.spec) is None:
            if key not in self.foreign:
                self.foreign.add(key)
                self.counters["pods_without_profile"] += 1
            return
        if not self.queue.update(pod):
            self.queue.add(pod, self.env.now)

    def _on_pod_delete(self, old) -> None:
        key = old.key
        if self.queue.delete(key) is not None:
            self._forget_pending(key)
        self.nominated.pop(key, None)
        self.given_up.discard(key)
        self.foreign.discard(key)
        self._removed(key, old)

    def _removed(self, key: str, pod) -> None:
        """A placed pod left the cache (finished, deleted): listeners, then AssignedPod Delete."""
        placed = self.cache.placed.get(key)
        spec = placed.spec if placed is not None else pod.spec
        if self.cache.remove(key):
            self._notify("removed", pod)
            self._event(_ASSIGNED_DELETE, spec, None)
