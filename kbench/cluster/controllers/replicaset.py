"""Deployment and ReplicaSet controllers, folded into one: keep ``replicas`` pods per Deployment.

A Deployment (``deployments/<ns>/<name>``, ``data["spec"]`` a
:class:`~kbench.config.workload.DeploymentSpec`) owns one ReplicaSet of the same name; its pods
are ``<name>-<counter>`` with label ``app=<name>`` and owner ``ReplicaSet/<ns>/<name>``.

A sync follows upstream's ``syncReplicaSet``/``manageReplicas``:

* *active* pods are those neither finished (Succeeded/Failed) nor being deleted, so finished and
  evicted pods are replaced;
* *expectations*: after creating or deleting pods the controller waits until its informer has
  observed them before it counts again (otherwise it would create duplicates from a stale cache);
  expectations expire after 5 min (upstream ``ExpectationsTimeout``);
* at most ``burst_replicas`` (500) creations or deletions per sync, creations in slow-start
  batches; deletions prefer unbound, then not running, then not ready, then the newest pods
  (upstream ``getPodsToDelete`` ranking, simplified);
* the ReplicaSet's status (``replicasets/<ns>/<name>``: replicas, ready replicas) is written when
  it changed, through the same rate-limited client (the first write is the ReplicaSet's creation).

Pod run times (templates with a duration) come from a per-Deployment stream
``workload/deployment/<ns>/<name>``, drawn in pod order, so they do not depend on the policy or on
how Deployments interleave. Pods carry the annotation ``kbench/fail-probability`` when the template's
is non-zero (the kubelet decides Succeeded or Failed with it).

Deleting the Deployment deletes its pods and its ReplicaSet (the garbage collector's cascade).
Not modelled: rolling updates (one ReplicaSet per Deployment, template changes are ignored), the
Deployment's own status writes, finished pods' garbage collection (PodGC's 12,500 threshold).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from kbench.cluster.controllers.common import Controller, exists, generic, namespace_of
from kbench.cluster.objects.stored import PodObj
from kbench.config.workload import DeploymentSpec
from kbench.workload.podspec import draw_duration, pod_from_template

OWNER = "ReplicaSet/"
EXPECTATIONS_TIMEOUT_S = 300.0
"""Upstream ``controller.ExpectationsTimeout`` (5 min)."""

"""Pod annotation the kubelet reads: probability that the pod ends Failed."""


@dataclass(eq=False)
class _RS:
    key: str
    counter: int = 0
    active: dict[str, PodObj] = field(default_factory=dict)
    ready: int = 0
    expect_adds: int = 0
    expect_dels: set[str] = field(default_factory=set)
    expect_since: float = 0.0
    written: tuple | None = None
    rng: object = None


def is_active(pod: PodObj) -> bool:
    """Counted towards replicas: not finished and not being deleted (upstream FilterActivePods)."""
    return not pod.deleting and pod.phase not in ("Succeeded", "Failed")


def deletion_rank(pod: PodObj) -> tuple:
    """Sort key, ascending = delete first: unbound, not running, not ready, newest."""
    return (pod.node_name is not None, pod.phase == "Running", pod.ready, -pod.uid)


class ReplicaSetController(Controller):
    """Deployments and their ReplicaSets (``--concurrent-replicaset-syncs`` workers)."""

    name = "replicaset"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.replicaset_workers)
        self._rs: dict[str, _RS] = {}
        self._counters: dict[str, int] = {}

    def handlers(self) -> dict:
        """Handlers of the ``deployments`` informer."""
        add = lambda obj: self.queue.add(obj.key)  # noqa: E731
        return {"on_add": add, "on_update": lambda old, new: add(new), "on_delete": add}

    def object_keys(self, ns: str) -> list[str]:
        """ReplicaSet objects this controller wrote in namespace ``ns``."""
        return [k for k, st in self._rs.items() if st.written is not None and namespace_of(k) == ns]

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
            st.ready += pod.ready
        self.queue.add(st.key)

    def pod_updated(self, old: PodObj, new: PodObj) -> None:
        st = self._state(new)
        if st is None:
            return
        was = old.key in st.active
        now = is_active(new)
        if was:
            st.ready -= st.active[old.key].ready
            if now:
                st.active[new.key] = new
                st.ready += new.ready
            else:
                del st.active[old.key]
        elif now:  # should not happen (a pod does not become active again)
            st.active[new.key] = new
            st.ready += new.ready
        if new.deleting:
            st.expect_dels.discard(new.key)
        if was != now or old.ready != new.ready:
            self.queue.add(st.key)

    def pod_deleted(self, pod: PodObj) -> None:
        st = self._state(pod)
        if st is None:
            return
        gone = st.active.pop(pod.key, None)
        if gone is not None:
            st.ready -= gone.ready
        st.expect_dels.discard(pod.key)
        self.queue.add(st.key)

    # --------------------------------------------------------------------------------------- sync
    def sync(self, key: str) -> Generator[simpy.Event, object, bool]:
        dep = self.mgr.cache("deployments").get(key)
        if dep is None:
            return (yield from self._teardown(key))
        spec: DeploymentSpec = dep.data["spec"]
        st = self._rs.get(key)
        if st is None:
            st = self._rs[key] = _RS(key, counter=self._counters.get(key, 0),
                                 rng=self.world.stream(f"workload/deployment/{key}"))
            for pod in self.mgr.pods_by_owner.get(OWNER + key, {}).values():  # adopt (restart)
                if is_active(pod):
                    st.active[pod.key] = pod
                    st.ready += pod.ready
        now = self.env.now
        if st.expect_adds > 0 or st.expect_dels:
            if now - st.expect_since < EXPECTATIONS_TIMEOUT_S:
                return True  # the informer events that satisfy them re-queue this key
            st.expect_adds, st.expect_dels = 0, set()
        ok = True
        diff = len(st.active) - spec.replicas
        if diff < 0 and spec.namespace not in self.mgr.terminating_ns:
            n = min(-diff, self.cfg.burst_replicas)
            st.expect_adds += n
            st.expect_since = now
            undone = yield from self.create_pods(n, lambda: self._new_pod(st, spec))
            if undone:
                st.expect_adds = max(0, st.expect_adds - undone)
                ok = False
        elif diff > 0:
            victims = sorted(st.active.values(), key=deletion_rank)[: min(diff, self.cfg.burst_replicas)]
            ok = (yield from self.delete_pods_expecting(st, victims)) and ok
        status = (len(st.active), st.ready)
        if status != st.written:
            verb = "create" if st.written is None else "update"
            resp = yield from self.write(verb, "replicasets", key,
                                         generic(key, replicas=status[0], ready_replicas=status[1]),
                                         precondition=None if st.written is None else exists)
            if resp.ok:
                st.written = status
            else:
                ok = False
        return ok

    def _new_pod(self, st: _RS, spec: DeploymentSpec) -> PodObj:
        st.counter += 1
        self._counters[st.key] = st.counter  # names are never reused, even if the owner is re-created
        name = f"{spec.name}-{st.counter}"
        key = f"{spec.namespace}/{name}"
        t = spec.template
        pod = pod_from_template(name, spec.namespace, t, owner=f"ReplicaSet/{spec.name}",
                                labels={"app": spec.name}, duration_s=draw_duration(t, st.rng))
        return PodObj(key, self.world.pod_uid(key, "ReplicaSet"), pod, owner=OWNER + st.key)

    def _teardown(self, key: str) -> Generator[simpy.Event, object, bool]:
        """The Deployment is gone: delete its pods and its ReplicaSet (cascading deletion)."""
        st = self._rs.get(key)
        if namespace_of(key) in self.mgr.terminating_ns:
            self._rs.pop(key, None)  # the namespace controller deletes everything in it
            return True
        ok = True
        pods = list(self.mgr.pods_by_owner.get(OWNER + key, {}).values())
        procs = [self.env.process(self.delete_pod(p)) for p in pods
                 if not p.deleting or p.node_name is None or p.node_name in self.mgr.not_ready_nodes]
        if procs:
            yield self.env.all_of(procs)
            ok = all(p.value == 200 for p in procs)  # 409: stale cache, retry
        if st is not None and st.written is not None:
            resp = yield from self.write("delete", "replicasets", key)
            if resp.ok or resp.code == 409:
                st.written = None
            else:
                ok = False
        if ok:
            self._rs.pop(key, None)
        return ok
