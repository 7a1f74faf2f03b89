"""ReplicaSet controller: keep ``spec.replicas`` pods of each ReplicaSet (K3).

A ReplicaSet (``replicasets/<ns>/<name>``, an :class:`~kbench.cluster.objects.workloads.ApiObj`
written by the Deployment controller, :mod:`.deployment`) has ``data["replicas"]``, its pod
``template`` and template ``hash``, its ``deployment`` and its ``status``. Its pods are
``<name>-<counter>`` with labels ``app=<deployment>`` and ``pod-template-hash=<hash>``, owned by
``ReplicaSet/<ns>/<name>`` (with its uid). A sync follows upstream's ``syncReplicaSet`` /
``manageReplicas`` (kubernetes/kubernetes pkg/controller/replicaset/replica_set.go @ 3e4a7900):

* *active* pods are those neither finished (Succeeded/Failed) nor being deleted, so finished and
  evicted pods are replaced;
* *expectations*: after creating or deleting pods the controller waits until its informer has
  observed them before it counts again (expire after 5 min, upstream ``ExpectationsTimeout``);
* at most ``burst_replicas`` (500) creations or deletions per sync, creations in slow-start
  batches; deletions prefer unbound, then not running, then not ready, then the newest pods
  (upstream ``getPodsToDelete`` ranking, simplified); nothing is created for a ReplicaSet being
  deleted;
* each pod created or deleted records a ``SuccessfulCreate`` / ``SuccessfulDelete`` Event on the
  ReplicaSet ("Created pod: X", J8), a failed creation ``FailedCreate``;
* ``replicasets/status`` (replicas, ready, available, observedGeneration) is written when it
  changed (``updateReplicaSetStatus``), a pod counting as available once ready for
  ``minReadySeconds``.

Pod run times (templates with a duration) come from a per-Deployment stream
``workload/deployment/<ns>/<name>``, drawn in pod order over all its ReplicaSets, so they do not
depend on the policy or on how Deployments interleave. A deleted ReplicaSet's pods are deleted by
the garbage collector (:mod:`.garbagecollector`), not here.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from kbench.cluster.controllers.common import Controller
from kbench.cluster.objects.stored import PodObj
from kbench.workload.podspec import draw_duration, pod_from_template

OWNER = "ReplicaSet/"
EXPECTATIONS_TIMEOUT_S = 300.0
"""Upstream ``controller.ExpectationsTimeout`` (5 min)."""


@dataclass(eq=False)
class _RS:
    key: str
    counter: int = 0
    active: dict[str, PodObj] = field(default_factory=dict)
    ready_since: dict[str, float] = field(default_factory=dict)
    expect_adds: int = 0
    expect_dels: set[str] = field(default_factory=set)
    expect_since: float = 0.0
    written: tuple | None = None


def is_active(pod: PodObj) -> bool:
    """Counted towards replicas: not finished and not being deleted (upstream FilterActivePods)."""
    return not pod.deleting and pod.phase not in ("Succeeded", "Failed")


def deletion_rank(pod: PodObj) -> tuple:
    """Sort key, ascending = delete first: unbound, not running, not ready, newest."""
    return (pod.node_name is not None, pod.phase == "Running", pod.ready, -pod.uid)


class ReplicaSetController(Controller):
    """ReplicaSets (``--concurrent-replicaset-syncs`` workers)."""

    name = "replicaset"
    component = "replicaset-controller"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.replicaset_workers)
        self._rs: dict[str, _RS] = {}
        self._counters: dict[str, int] = {}
        self._rngs: dict[str, object] = {}

    def handlers(self) -> dict:
        """Handlers of the ``replicasets`` informer."""
        return self.key_handlers()

    # ---------------------------------------------------------------------------------- pod hooks
    def _state(self, pod: PodObj) -> _RS | None:
        owner = pod.owner
        if owner is None or not owner.startswith(OWNER):
            return None
        return self._rs.get(owner[len(OWNER):])

    def pod_added(self, pod: PodObj) -> None:
        st = self._state(pod)
        if st is None:
            return
        if st.expect_adds > 0:
            st.expect_adds -= 1
        if is_active(pod):
            st.active[pod.key] = pod
            if pod.ready:
                st.ready_since[pod.key] = self.env.now
        self.queue.add(st.key)

    def pod_updated(self, old: PodObj, new: PodObj) -> None:
        st = self._state(new)
        if st is None:
            return
        was = old.key in st.active
        now = is_active(new)
        if now:
            st.active[new.key] = new
            if new.ready and new.key not in st.ready_since:
                st.ready_since[new.key] = self.env.now
            elif not new.ready:
                st.ready_since.pop(new.key, None)
        elif was:
            del st.active[old.key]
            st.ready_since.pop(old.key, None)
        if new.deleting:
            st.expect_dels.discard(new.key)
        if was != now or old.ready != new.ready:
            self.queue.add(st.key)

    def pod_deleted(self, pod: PodObj) -> None:
        st = self._state(pod)
        if st is None:
            return
        st.active.pop(pod.key, None)
        st.ready_since.pop(pod.key, None)
        st.expect_dels.discard(pod.key)
        self.queue.add(st.key)

    # --------------------------------------------------------------------------------------- sync
    def sync(self, key: str) -> Generator[simpy.Event, object, bool]:
        rs = self.mgr.cache("replicasets").get(key)
        if rs is None:
            self._rs.pop(key, None)  # its pods: the garbage collector
            return True
        st = self._rs.get(key)
        if st is None:
            st = self._rs[key] = _RS(key, counter=self._counters.get(key, 0))
            for pod in self.mgr.pods_by_owner.get(OWNER + key, {}).values():  # adopt (restart)
                if is_active(pod):
                    st.active[pod.key] = pod
                    if pod.ready:
                        st.ready_since[pod.key] = self.env.now
        now = self.env.now
        ok = True
        if not (st.expect_adds > 0 or st.expect_dels) or now - st.expect_since >= EXPECTATIONS_TIMEOUT_S:
            st.expect_adds, st.expect_dels = 0, set()
            if not rs.deleting:
                ok = yield from self._manage(st, rs)
        return (yield from self._status(st, rs)) and ok

    def _manage(self, st: _RS, rs) -> Generator[simpy.Event, object, bool]:
        """``manageReplicas``: create or delete pods towards ``spec.replicas``."""
        diff = len(st.active) - rs.data["replicas"]
        ns = rs.key.partition("/")[0]
        if diff < 0 and ns not in self.mgr.terminating_ns:
            n = min(-diff, self.cfg.burst_replicas)
            st.expect_adds += n
            st.expect_since = self.env.now
            undone = yield from self.create_pods(n, lambda: self._new_pod(st, rs),
                                                 on_done=lambda pod, ok: self._created(rs, pod, ok))
            if undone:
                st.expect_adds = max(0, st.expect_adds - undone)
                return False
        elif diff > 0:
            victims = sorted(st.active.values(), key=deletion_rank)[: min(diff, self.cfg.burst_replicas)]
            name = rs.key.partition("/")[2]

            def deleted(p: PodObj, ok: bool) -> None:
                if ok:
                    self.event(("ReplicaSet", rs.uid), ns, name, "Normal", "SuccessfulDelete", f"Deleted pod: {p.spec.name}")

            return (yield from self.delete_pods_expecting(st, victims, deleted))
        return True

    def _created(self, rs, pod: PodObj, ok: bool) -> None:
        ns, _, name = rs.key.partition("/")
        if ok:
            self.event(("ReplicaSet", rs.uid), ns, name, "Normal", "SuccessfulCreate", f"Created pod: {pod.spec.name}")
        else:
            self.event(("ReplicaSet", rs.uid), ns, name, "Warning", "FailedCreate",
                       f"Error creating: pods \"{pod.spec.name}\"")

    def _status(self, st: _RS, rs) -> Generator[simpy.Event, object, bool]:
        """``updateReplicaSetStatus`` when it changed."""
        min_ready = rs.data.get("min_ready_s", 0.0)
        now = self.env.now
        ready = len(st.ready_since)
        if min_ready > 0:
            avail = sum(1 for t in st.ready_since.values() if now - t >= min_ready)
            if avail < ready:  # upstream requeues after minReadySeconds
                self.queue.add_after(st.key, min(min_ready - (now - t) for t in st.ready_since.values()
                                                 if now - t < min_ready) + 1e-6)
        else:
            avail = ready
        status = (len(st.active), ready, avail, rs.generation)
        if status == st.written or status == rs.data.get("status"):
            st.written = status
            return True

        def mutate(cur):
            return None if cur is None else cur.with_data(status=status)

        resp = yield from self.write("update", "replicasets/status", st.key, mutate=mutate)
        if resp.ok:
            st.written = status
            return True
        return resp.code == 409  # gone meanwhile

    def _new_pod(self, st: _RS, rs) -> PodObj:
        st.counter += 1
        self._counters[st.key] = st.counter  # names are never reused, even if the owner is re-created
        ns, _, name = rs.key.partition("/")
        data = rs.data
        dep = data.get("deployment", rs.key)
        rng = self._rngs.get(dep)
        if rng is None:
            rng = self._rngs[dep] = self.world.stream(f"workload/deployment/{dep}")
        t = data["template"]
        labels = {**data.get("labels", {}), "pod-template-hash": data["hash"]}
        pod_name = f"{name}-{st.counter}"
        key = f"{ns}/{pod_name}"
        pod = pod_from_template(pod_name, ns, t, owner=f"ReplicaSet/{name}", labels=labels,
                                duration_s=draw_duration(t, rng))
        return PodObj(key, self.world.pod_uid(key, "ReplicaSet"), pod, owner=OWNER + st.key, owner_uid=rs.uid)
