"""PodGC: terminated pods above a threshold, orphaned pods, unscheduled terminating pods (K5).

Upstream (kubernetes/kubernetes pkg/controller/podgc/gc_controller.go, index copy; K5) runs a pass
every ``gcCheckPeriod`` (20 s) over its pod and node informers:

* *terminated pods* (phase Succeeded or Failed) beyond ``--terminated-pod-gc-threshold`` (12,500)
  are deleted, oldest first, all of one pass in parallel;
* *orphaned pods*: pods bound to a node missing from the node informer, once the node name has
  been missing for the 40 s quarantine and a live GET of the Node answered NotFound;
* *unscheduled terminating pods*: unbound pods with a deletion timestamp.

Each deletion first PATCHes ``pods/status`` to Failed unless the pod is already terminal, then
DELETEs with grace period 0. Here a pass is one timeout (no process); the PATCH and DELETE of a pod
are process-free requests (``Controller.send``), the node GET is charged. Counts per kind go to
the summary (``gc.podgc``). Not modelled: evicted pods first (kbench's pods have no eviction
reason), the out-of-service taint case.
"""

from __future__ import annotations

from collections import Counter

from kbench.cluster.apiserver.charged import charge_get
from kbench.cluster.controllers.common import Controller, same_pod
from kbench.cluster.objects.stored import NODE_BYTES, POD_BYTES

TERMINAL = ("Succeeded", "Failed")


def _failed(uid: int):
    """The status PATCH before an orphan's deletion: phase Failed (DisruptionTarget)."""

    def mutate(cur):
        if cur is None or cur.uid != uid:
            return None
        return cur.evolve(phase="Failed", ready=False)

    return mutate


class PodGCController(Controller):
    """PodGC (one pass every ``podgc_period_s``)."""

    name = "podgc"
    component = "pod-garbage-collector"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, 1)
        self.terminated: dict[str, int] = {}  # key -> uid (creation order = uid order)
        self.unscheduled: set[str] = set()  # unbound pods with a deletion timestamp
        self.missing_since: dict[str, float] = {}  # node name -> first seen missing
        self.counts: Counter[str] = Counter()
        self._inflight: set[str] = set()
        self.passes = 0

    def start(self) -> None:
        self.env.timeout(self.cfg.podgc_period_s).callbacks.append(self._pass)

    # ---------------------------------------------------------------------------------- pod hooks
    def pod_added(self, pod) -> None:
        if pod.phase in TERMINAL:
            self.terminated[pod.key] = pod.uid

    def pod_updated(self, old, new) -> None:
        if new.phase in TERMINAL and old.phase not in TERMINAL:
            self.terminated[new.key] = new.uid
        if new.deleting and new.node_name is None:
            self.unscheduled.add(new.key)

    def pod_deleted(self, pod) -> None:
        self.terminated.pop(pod.key, None)
        self.unscheduled.discard(pod.key)
        self._inflight.discard(pod.key)

    # --------------------------------------------------------------------------------------- pass
    def _pass(self, _e) -> None:
        self.passes += 1
        if self.mgr.synced():
            self._gc_terminated()
            self._gc_orphaned()
            self._gc_unscheduled()
        self.env.timeout(self.cfg.podgc_period_s).callbacks.append(self._pass)

    def _gc_terminated(self) -> None:
        excess = len(self.terminated) - self.cfg.terminated_pod_gc_threshold
        if excess <= 0:
            return
        pods = self.mgr.cache("pods")
        victims = sorted(self.terminated.items(), key=lambda kv: kv[1])
        n = 0
        for key, _uid in victims:
            if n >= excess:
                break
            pod = pods.get(key)
            if pod is None or key in self._inflight:
                continue
            n += 1
            self._delete(pod, "terminated")

    def _gc_orphaned(self) -> None:
        nodes = self.mgr.cache("nodes")
        now = self.env.now
        for name in list(self.mgr.pods_by_node):
            if name in nodes:
                self.missing_since.pop(name, None)
                continue
            since = self.missing_since.setdefault(name, now)
            if now - since < self.cfg.podgc_quarantine_s:
                continue
            req = self.client.request("get", "nodes", name=name, size_bytes=NODE_BYTES)
            lat = charge_get(self.world.api, req)  # discoverDeletedNodes: a live GET
            if self.world.plane.etcd.get("nodes", name) is not None:
                continue
            for pod in list(self.mgr.pods_by_node.get(name, {}).values()):
                if pod.key not in self._inflight:
                    self._delete(pod, "orphaned", lat)

    def _gc_unscheduled(self) -> None:
        pods = self.mgr.cache("pods")
        for key in sorted(self.unscheduled):
            pod = pods.get(key)
            if pod is not None and key not in self._inflight:
                self._delete(pod, "unscheduled")

    def _delete(self, pod, why: str, delay: float = 0.0) -> None:
        """``markFailedAndDeletePod``: PATCH status Failed unless terminal, then DELETE grace 0."""
        self._inflight.add(pod.key)

        def deleted(resp) -> None:
            if resp.ok:
                self.counts[why] += 1
            else:
                self._inflight.discard(pod.key)

        def delete(_resp=None) -> None:
            self.send("delete", "pods", pod.key, deleted, size_bytes=POD_BYTES, grace_zero=True,
                      precondition=same_pod(pod), partition=pod.node_name)

        if pod.phase in TERMINAL:
            self.send("delete", "pods", pod.key, deleted, delay_s=delay, size_bytes=POD_BYTES, grace_zero=True,
                      precondition=same_pod(pod), partition=pod.node_name)
        else:
            self.send("patch", "pods/status", pod.key, delete, delay_s=delay, size_bytes=POD_BYTES,
                      mutate=_failed(pod.uid), partition=pod.node_name)
