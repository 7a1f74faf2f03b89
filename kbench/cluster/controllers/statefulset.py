"""StatefulSet controller: pods ``<name>-<ordinal>``, in order (K1).

A StatefulSet (``statefulsets/<ns>/<name>``, an :class:`~kbench.cluster.objects.workloads.ApiObj`
with ``data["spec"]`` a :class:`~kbench.config.workload.StatefulSetSpec`) keeps ``replicas`` pods
named by ordinal. Upstream (kubernetes/kubernetes pkg/controller/statefulset/stateful_set_control.go
@ 0004b149a571af0103032a1788dc9fa70b885601): with ``OrderedReady`` (the default) the replicas are
processed in ordinal order and the controller stops at the first that blocks, so ordinal i is
created only once 0..i-1 are Running and Ready, and scale-down removes the highest ordinal first,
waiting for it to be gone; with ``Parallel`` missing pods are created in slow-start batches and
surplus ones deleted at once. A rolling update deletes the highest ordinal whose revision differs,
one at a time, and waits for its replacement to be Ready. ``statefulsets/status`` is written when
it changed; a ControllerRevision per template. Events ``SuccessfulCreate`` ("create Pod X in
StatefulSet Y successful") and ``SuccessfulDelete``.

Pod names are reused across a pod's replacements (the only kbench pods whose are); each
replacement is a new row of the pod timeline. Not modelled: PersistentVolumeClaims
(volumeClaimTemplates), partitions, ``maxUnavailable``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from kbench.cluster.controllers.common import Controller
from kbench.cluster.objects.stored import PodObj
from kbench.cluster.objects.workloads import ApiObj, template_hash
from kbench.workload.podspec import draw_duration, pod_from_template

OWNER = "StatefulSet/"


@dataclass(eq=False)
class _STS:
    key: str
    pods: dict[int, PodObj] = field(default_factory=dict)  # ordinal -> current pod
    written: tuple | None = None
    revisions: list[str] = field(default_factory=list)
    pending: set[int] = field(default_factory=set)  # ordinals created, not yet seen


class StatefulSetController(Controller):
    """StatefulSets (``--concurrent-statefulset-syncs`` workers, K2: 5)."""

    name = "statefulset"
    component = "statefulset-controller"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.statefulset_workers)
        self._sts: dict[str, _STS] = {}
        self._rngs: dict[str, object] = {}

    def handlers(self) -> dict:
        """Handlers of the ``statefulsets`` informer."""
        return self.key_handlers()

    # ---------------------------------------------------------------------------------- pod hooks
    def _state(self, pod: PodObj) -> _STS | None:
        if not self._sts:
            return None
        owner = pod.owner
        if owner is None or not owner.startswith(OWNER):
            return None
        return self._sts.get(owner[len(OWNER):])

    @staticmethod
    def _ordinal(pod: PodObj) -> int:
        return int(pod.spec.name.rpartition("-")[2])

    def pod_added(self, pod: PodObj) -> None:
        st = self._state(pod)
        if st is not None:
            i = self._ordinal(pod)
            st.pods[i] = pod
            st.pending.discard(i)
            self.queue.add(st.key)

    def pod_updated(self, old: PodObj, new: PodObj) -> None:
        st = self._state(new)
        if st is not None:
            st.pods[self._ordinal(new)] = new
            if old.ready != new.ready or old.phase != new.phase or old.deleting != new.deleting:
                self.queue.add(st.key)

    def pod_deleted(self, pod: PodObj) -> None:
        st = self._state(pod)
        if st is not None:
            i = self._ordinal(pod)
            cur = st.pods.get(i)
            if cur is not None and cur.key == pod.key:
                del st.pods[i]
            self.queue.add(st.key)

    # --------------------------------------------------------------------------------------- sync
    def sync(self, key: str) -> Generator[simpy.Event, object, bool]:
        obj = self.mgr.cache("statefulsets").get(key)
        if obj is None:
            self._sts.pop(key, None)
            return True
        st = self._sts.get(key)
        if st is None:
            st = self._sts[key] = _STS(key)
            for pod in self.mgr.pods_by_owner.get(OWNER + key, {}).values():
                st.pods[self._ordinal(pod)] = pod
        if obj.deleting:
            return True
        spec = obj.data["spec"]
        h = template_hash(spec.template)
        ok = yield from self._revision(obj, spec, st, h)
        ordered = spec.pod_management == "OrderedReady"
        if st.pending:
            return (yield from self._status(obj, st, h)) and ok
        ns = spec.namespace
        # create the missing ordinals (in order, stopping at the first not Running and Ready)
        missing = []
        for i in range(spec.replicas):
            pod = st.pods.get(i)
            if pod is None:
                missing.append(i)
                if ordered:
                    break
            elif ordered and (pod.deleting or not pod.ready):
                break
        if missing and ns not in self.mgr.terminating_ns:
            todo = iter(missing)
            st.pending.update(missing)
            undone = yield from self.create_pods(len(missing), lambda: self._new_pod(obj, spec, h, next(todo)),
                                                 on_done=lambda p, good: self._created(obj, st, spec, p, good))
            ok = ok and not undone
            return (yield from self._status(obj, st, h)) and ok
        # scale down, highest ordinal first (one at a time and only when all others are ready, ordered)
        surplus = sorted((i for i in st.pods if i >= spec.replicas), reverse=True)
        victims = []
        for i in surplus:
            pod = st.pods[i]
            if pod.deleting:
                if ordered:
                    break
                continue
            if ordered and any(not p.ready for j, p in st.pods.items() if j < i):
                break
            victims.append(pod)
            if ordered:
                break
        # rolling update: the highest ordinal of an old revision, one at a time, all others ready
        if not victims and all(p.ready and not p.deleting for i, p in st.pods.items() if i < spec.replicas):
            for i in range(spec.replicas - 1, -1, -1):
                pod = st.pods.get(i)
                if pod is not None and pod.spec.labels.get("controller-revision-hash") != h:
                    victims.append(pod)
                    break
        for pod in victims:
            code = yield from self.delete_pod(pod)
            if code == 200:
                self.event(("StatefulSet", obj.uid), ns, spec.name, "Normal", "SuccessfulDelete",
                           f"delete Pod {pod.spec.name} in StatefulSet {spec.name} successful")
            else:
                ok = False
        return (yield from self._status(obj, st, h)) and ok

    def _created(self, obj, st: _STS, spec, pod: PodObj, ok: bool) -> None:
        if ok:
            self.event(("StatefulSet", obj.uid), spec.namespace, spec.name, "Normal", "SuccessfulCreate",
                       f"create Pod {pod.spec.name} in StatefulSet {spec.name} successful")
        else:
            st.pending.discard(self._ordinal(pod))

    def _revision(self, obj, spec, st: _STS, h: str) -> Generator[simpy.Event, object, bool]:
        key = f"{obj.key}-{h}"
        if key in st.revisions:
            return True
        if not self.world.plane.etcd.has("controllerrevisions", key):
            value = ApiObj(key, {"hash": h}, uid=self.world.new_uid(), owner=OWNER + obj.key, owner_uid=obj.uid)
            resp = yield from self.write("create", "controllerrevisions", key, value)
            if not resp.ok and resp.code != 409:
                return False
        st.revisions.append(key)
        while len(st.revisions) > spec.revision_history_limit + 1:
            yield from self.write("delete", "controllerrevisions", st.revisions.pop(0))
        return True

    def _status(self, obj, st: _STS, h: str) -> Generator[simpy.Event, object, bool]:
        pods = [p for p in st.pods.values() if not p.deleting]
        ready = sum(1 for p in pods if p.ready)
        updated = sum(1 for p in pods if p.spec.labels.get("controller-revision-hash") == h)
        status = (len(pods), ready, ready, updated, obj.generation)
        if status == st.written:
            return True

        def mutate(cur):
            return None if cur is None else cur.with_data(status=status)

        resp = yield from self.write("update", "statefulsets/status", obj.key, mutate=mutate)
        if resp.ok:
            st.written = status
        return resp.ok or resp.code == 409

    def _new_pod(self, obj, spec, h: str, ordinal: int) -> PodObj:
        ns = spec.namespace
        rng = self._rngs.get(obj.key)
        if rng is None:
            rng = self._rngs[obj.key] = self.world.stream(f"workload/statefulset/{obj.key}")
        t = spec.template
        name = f"{spec.name}-{ordinal}"
        key = f"{ns}/{name}"
        pod = pod_from_template(name, ns, t, owner=f"StatefulSet/{spec.name}",
                                labels={"app": spec.name, "controller-revision-hash": h},
                                duration_s=draw_duration(t, rng))
        return PodObj(key, self.world.fresh_pod_uid(key, "StatefulSet"), pod,
                      owner=OWNER + obj.key, owner_uid=obj.uid)
