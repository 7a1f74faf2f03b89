"""Node lifecycle controller: NotReady after missed leases, taint-based eviction (F7, F8).

Every ``node-monitor-period`` (5 s) the controller reads each node's Lease from its informer's
cache and, when the renew time advanced since the last pass, takes *now* as the node's *probe time*
(upstream ``tryUpdateNodeHealth``: ``nodeHealth.probeTimestamp = nc.now()`` when the lister's Lease
was renewed after the saved one; kubernetes/kubernetes pkg/controller/nodelifecycle/
node_lifecycle_controller.go, code index id 19051436085). A node whose probe time is more than
``node-monitor-grace-period`` (50 s) old becomes NotReady, so between 55 and 60 s after its last
renewal reached the controller:

1. the node is written with ``ready=False`` and the taint ``node.kubernetes.io/unreachable:NoSchedule``
   (the scheduler stops placing pods there) and ``node_not_ready`` is counted;
2. every ready pod on it is written ``ready=False`` (upstream ``MarkPodsNotReady``), so the
   EndpointSlice controller drops it from its Services;
3. the node is queued for ``unreachable:NoExecute`` tainting, at ``--node-eviction-rate`` (0.1
   nodes/s) per zone (``--secondary-node-eviction-rate`` 0.01 in a partially disrupted large zone,
   0 in a small one). When every zone is fully disrupted (no Ready node anywhere) the control
   plane more likely lost its network than every node: tainting stops and the NoExecute taints
   already added are removed, cancelling their evictions (upstream "master disruption mode");
   NotReady nodes are queued again once some node is Ready;
4. each pod on a NoExecute-tainted node is deleted (verb ``delete``, the kubelet is gone) once its
   toleration of the taint has run out: 300 s for pods that declare none (F8,
   DefaultTolerationSeconds), the pod's smallest ``tolerationSeconds`` otherwise, never when it
   tolerates the taint without a limit. Each deletion counts ``evictions``.

A node whose Lease is renewed again becomes Ready: ``ready=True``, the unreachable taints removed,
pending evictions cancelled. Not modelled: ``node-startup-grace-period`` (nodes are assumed to have
posted their first status), the not-ready (as opposed to unreachable) taint, the kubelet's own
node status in the decision.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator

import simpy

from kbench.cluster.clients.ratelimit import TokenBucket
from kbench.cluster.controllers.common import Controller
from kbench.cluster.objects import Taint
from kbench.cluster.objects.stored import NODE_BYTES, POD_BYTES, NodeObj, PodObj
from kbench.workload.podspec import ZONE_LABEL

UNREACHABLE = "node.kubernetes.io/unreachable"
NO_SCHEDULE = Taint(UNREACHABLE, "", "NoSchedule")
NO_EXECUTE = Taint(UNREACHABLE, "", "NoExecute")


def toleration_s(pod: PodObj, default_s: float) -> float | None:
    """How long ``pod`` tolerates ``unreachable:NoExecute``, seconds (None: forever).

    Upstream ``getMinTolerationTime``: the smallest ``tolerationSeconds`` among the matching
    tolerations; forever when they all lack one; ``default_s`` when none matches (what the
    DefaultTolerationSeconds admission plugin would have added, F8).
    """
    matching = [t for t in pod.spec.tolerations if t.tolerates(NO_EXECUTE)]
    if not matching:
        return default_s
    limits = [t.toleration_seconds for t in matching if t.toleration_seconds is not None]
    if not limits:
        return None
    return max(0.0, min(limits))


def not_ready_at(probe_s: float, grace_s: float, period_s: float, start_s: float = 0.0) -> float:
    """The monitor tick (``start_s + k x period_s``) at which a node whose probe time is ``probe_s``
    (the first pass that saw its last renewal) is found NotReady: the first with ``tick - probe_s >
    grace_s``, seconds."""
    k = math.floor((probe_s + grace_s - start_s) / period_s) + 1
    return start_s + k * period_s


def zone_state(ready: int, not_ready: int, threshold: float) -> str:
    """``normal``, ``partial`` or ``full`` disruption (upstream ``ComputeZoneState``)."""
    if ready == 0 and not_ready > 0:
        return "full"
    if not_ready > 2 and not_ready / (ready + not_ready) >= threshold:
        return "partial"
    return "normal"


class NodeLifecycleController(Controller):
    """Node health from leases, NotReady marking, NoExecute tainting and eviction."""

    name = "nodelifecycle"
    component = "node-lifecycle-controller"

    def __init__(self, mgr):
        super().__init__(mgr, 0)
        self.probe: dict[str, float] = {}
        self._renew: dict[str, object] = {}
        self._mine: dict[str, NodeObj] = {}  # last value written, until the informer shows it
        self.tainted: dict[str, float] = {}  # node -> when the NoExecute taint committed
        self._queues: dict[str, deque[str]] = {}
        self._queued: set[str] = set()
        self._tainters: dict[str, simpy.Process] = {}
        self._evicted: set[str] = set()
        self._zone_of: dict[str, str] = {}
        self._zone_size: dict[str, int] = {}

    # ---------------------------------------------------------------------------------- handlers
    def lease_handlers(self) -> dict:
        """Handlers of the ``leases`` informer: none (upstream reads the lister in its monitor pass)."""
        return {}

    def node_handlers(self) -> dict:
        """Handlers of the ``nodes`` informer."""

        def upd(old, new) -> None:
            if self._mine.get(new.key) is new:
                del self._mine[new.key]

        def add(node) -> None:
            zone = self._zone_of[node.key] = node.spec.labels.get(ZONE_LABEL, "")
            self._zone_size[zone] = self._zone_size.get(zone, 0) + 1

        def delete(node) -> None:
            zone = self._zone_of.get(node.key)
            if zone is not None:
                self._zone_size[zone] -= 1
            for d in (self.probe, self._renew, self._mine, self.tainted, self._zone_of):
                d.pop(node.key, None)
            self.mgr.not_ready_nodes.discard(node.key)

        return {"on_add": add, "on_update": upd, "on_delete": delete}

    def start(self) -> None:
        self.env.process(self._monitor())

    # ----------------------------------------------------------------------------------- monitor
    def _monitor(self) -> Generator:
        while not self.mgr.synced():
            yield self.env.timeout(0.1)
        while True:
            yield from self._pass()
            yield self.env.timeout(self.cfg.node_monitor_period_s)

    def _pass(self) -> Generator:
        self.syncs += 1
        now, grace = self.env.now, self.cfg.node_monitor_grace_period_s
        not_ready = self.mgr.not_ready_nodes
        fail, recover = [], []
        renewed, probes = self._renew, self.probe
        lease_of, renewed_of, probe_of = self.mgr.cache("leases").get, renewed.get, probes.get
        for name in self.mgr.cache("nodes"):
            lease = lease_of(name)
            if lease is not None:
                renew = lease.data.get("renew_s")
                if renewed_of(name, self) != renew:  # renewed since the last pass (or first seen)
                    renewed[name] = renew
                    probes[name] = now
            probe = probe_of(name)
            if probe is None:
                probes[name] = now  # never seen a lease: the grace period starts now
                continue
            if now - probe > grace:
                if name not in not_ready:
                    fail.append(name)
            elif name in not_ready:
                recover.append(name)
        for name in fail:
            yield from self._mark_not_ready(name)
        for name in recover:
            yield from self._mark_ready(name)
        states = self._zone_states()
        if states and all(z == "full" for z in states.values()):
            for name in list(self.tainted):  # master disruption mode: cancel evictions
                yield from self._untaint(name)
        else:
            for name in sorted(not_ready - self.tainted.keys()):
                self._enqueue_taint(name)

    def _base(self, name: str) -> NodeObj | None:
        return self._mine.get(name) or self.mgr.cache("nodes").get(name)

    def _write_node(self, base: NodeObj, new: NodeObj) -> Generator[simpy.Event, object, bool]:
        resp = yield from self.world.write(self.client, "update", "nodes", base.key, new, size_bytes=NODE_BYTES,
                                           precondition=lambda cur: cur is base)
        if resp.ok:
            self._mine[base.key] = new
        elif resp.code == 409:
            self.world.counters["controller_conflicts"] += 1
            if self._mine.get(base.key) is base:  # someone wrote after us: use the informer's view
                del self._mine[base.key]
        return resp.ok

    def _mark_not_ready(self, name: str) -> Generator:
        base = self._base(name)
        if base is None:
            return
        taints = base.taints if NO_SCHEDULE in base.taints else (*base.taints, NO_SCHEDULE)
        if not (yield from self._write_node(base, base.evolve(ready=False, taints=taints))):
            return  # retried at the next pass
        self.mgr.not_ready_nodes.add(name)
        self.world.counters["node_not_ready"] += 1
        self.event(("Node", name), "", name, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        for pod in list(self.mgr.pods_by_node.get(name, {}).values()):
            if pod.ready and not pod.deleting:
                resp = yield from self.world.write(self.client, "update", "pods/status", pod.key,
                                                   pod.evolve(ready=False), size_bytes=POD_BYTES,
                                                   precondition=lambda cur, p=pod: cur is p, partition=name,
                                                   component=self.component)
                if resp.ok:
                    self.world.counters["pods_marked_not_ready"] += 1

    def _mark_ready(self, name: str) -> Generator:
        base = self._base(name)
        if base is None:
            return
        taints = tuple(t for t in base.taints if t.key != UNREACHABLE)
        if not (yield from self._write_node(base, base.evolve(ready=True, taints=taints))):
            return
        self.mgr.not_ready_nodes.discard(name)
        self.tainted.pop(name, None)
        self.world.counters["node_ready_again"] += 1

    def _untaint(self, name: str) -> Generator:
        base = self._base(name)
        if base is None:
            return
        taints = tuple(t for t in base.taints if t != NO_EXECUTE)
        if (yield from self._write_node(base, base.evolve(taints=taints))):
            self.tainted.pop(name, None)

    # ---------------------------------------------------------------------------------- tainting
    def _enqueue_taint(self, name: str) -> None:
        if name in self._queued:
            return
        self._queued.add(name)
        zone = self._zone_of.get(name, "")
        self._queues.setdefault(zone, deque()).append(name)
        if zone not in self._tainters:
            self._tainters[zone] = self.env.process(self._tainter(zone))

    def _zone_states(self) -> dict[str, str]:
        """Disruption state of every zone (upstream ``ComputeZoneState``)."""
        counts: dict[str, list[int]] = {z: [n, 0] for z, n in self._zone_size.items()}
        for name in self.mgr.not_ready_nodes:
            c = counts.get(self._zone_of.get(name, ""))
            if c is not None:
                c[0] -= 1
                c[1] += 1
        return {z: zone_state(r, nr, self.cfg.unhealthy_zone_threshold) for z, (r, nr) in counts.items()}

    def _zone_rate(self, zone: str) -> float:
        """NoExecute taints per second allowed in ``zone`` now."""
        cfg = self.cfg
        states = self._zone_states()
        if states and all(s == "full" for s in states.values()):
            return 0.0
        if states.get(zone) == "partial":
            size = self._zone_size.get(zone, 0)
            return cfg.secondary_node_eviction_rate_per_s if size > cfg.large_cluster_size_threshold else 0.0
        return cfg.node_eviction_rate_per_s

    def _tainter(self, zone: str) -> Generator:
        bucket = TokenBucket(self.cfg.node_eviction_rate_per_s, 1)
        bucket.t = self.env.now
        queue = self._queues[zone]
        while queue:
            rate = self._zone_rate(zone)
            if rate <= 0:
                yield self.env.timeout(self.cfg.node_monitor_period_s)
                queue = deque(n for n in queue if n in self.mgr.not_ready_nodes)
                self._queues[zone] = queue
                continue
            bucket.qps = rate
            wait = bucket.reserve(self.env.now)
            if wait > 0:
                yield self.env.timeout(wait)
            name = queue.popleft()
            self._queued.discard(name)
            if name not in self.mgr.not_ready_nodes or name in self.tainted:
                continue
            base = self._base(name)
            if base is None:
                continue
            taints = base.taints if NO_EXECUTE in base.taints else (*base.taints, NO_EXECUTE)
            if (yield from self._write_node(base, base.evolve(taints=taints))):
                self.tainted[name] = self.env.now
                self.env.process(self._evict(name, self.env.now))
            else:
                self._enqueue_taint(name)
        del self._tainters[zone]

    # ---------------------------------------------------------------------------------- eviction
    def _evict(self, name: str, tainted_s: float) -> Generator:
        """Delete the pods of tainted node ``name`` as their tolerations run out."""
        default = self.cfg.default_toleration_s
        while self.tainted.get(name) == tainted_s:
            now, next_due, due, failed = self.env.now, math.inf, [], False
            for pod in self.mgr.pods_by_node.get(name, {}).values():
                if pod.key in self._evicted:
                    continue
                tol = toleration_s(pod, default)
                if tol is None:
                    continue
                if tainted_s + tol <= now:
                    due.append(pod)
                else:
                    next_due = min(next_due, tainted_s + tol)
            for pod in due:
                if self.tainted.get(name) != tainted_s:
                    return
                resp = yield from self.world.write(
                    self.client, "delete", "pods", pod.key, size_bytes=POD_BYTES, partition=name,
                    precondition=lambda cur: cur is not None and cur.node_name == name, grace_zero=True,
                    component=self.component)
                if resp.ok:
                    self._evicted.add(pod.key)
                    self.world.counters["evictions"] += 1
                    self.event(("Pod", pod.uid), pod.spec.namespace, pod.spec.name, "Normal", "TaintManagerEviction",
                               f"Marking for deletion Pod {pod.key}")
                elif resp.code == 409:
                    self._evicted.add(pod.key)  # already gone
                else:
                    failed = True
            if failed:
                yield self.env.timeout(1.0)  # apiserver trouble: try again shortly
            elif not due:  # wait for the next toleration to run out (or for pods landing here)
                yield self.env.timeout(next_due - now if next_due < math.inf else self.cfg.node_monitor_period_s)
