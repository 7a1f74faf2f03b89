"""DaemonSet controller: one pod per eligible node, rolled one node at a time (K1, K4).

A DaemonSet (``daemonsets/<ns>/<name>``, an :class:`~kbench.cluster.objects.workloads.ApiObj` with
``data["spec"]`` a :class:`~kbench.config.workload.DaemonSetSpec`) runs one pod on every node whose
labels match the template's node selector and whose NoSchedule/NoExecute taints the template's
tolerations, plus the ones the controller adds, tolerate. Upstream (kubernetes/kubernetes
pkg/controller/daemon/daemon_controller.go @ d826f92a2f903298ea56d9a893395deaba71c89e,
util/daemonset_util.go @ cfe46b753cd0c9dc8a2cb88f20a9bef33be21d82):

* each pod is pinned to its node by a required node affinity ``metadata.name In [node]`` and gets
  the tolerations ``node.kubernetes.io/not-ready`` and ``unreachable`` (NoExecute, no seconds),
  ``disk-pressure``, ``memory-pressure``, ``pid-pressure`` and ``unschedulable`` (NoSchedule);
* a sync (``syncDaemonSet``): a ControllerRevision for the template (created once per template),
  expectations, ``manage`` (missing pods created in slow-start batches of at most
  ``BurstReplicas`` = 250, pods on nodes that should not run one deleted), the rolling update
  (``maxUnavailable`` 1, ``maxSurge`` 0 by default: an old pod is deleted on a node only while fewer
  than maxUnavailable nodes lack an available pod; the next sync creates the new pod there),
  old revisions beyond ``revisionHistoryLimit`` deleted, and ``daemonsets/status`` written when a
  count changed;
* Events ``SuccessfulCreate`` / ``SuccessfulDelete`` on the DaemonSet.

Triggers: the DaemonSet, node adds/updates/deletes, its pods. A node added at run time gets its
pod at the next sync: "the usual first load of a new node". Not modelled: maxSurge > 0 (treated as
0), ``FailedPlacement`` for nodes lacking resources.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import simpy

from kbench.cluster.controllers import deployutil as du
from kbench.cluster.controllers.common import Controller
from kbench.cluster.controllers.replicaset import EXPECTATIONS_TIMEOUT_S
from kbench.cluster.objects import NodeSelectorRequirement, NodeSelectorTerm, Toleration
from kbench.cluster.objects.stored import PodObj
from kbench.cluster.objects.workloads import ApiObj, template_hash
from kbench.workload.podspec import draw_duration, parse_toleration, pod_from_template

OWNER = "DaemonSet/"
DS_TOLERATIONS = (
    Toleration("node.kubernetes.io/not-ready", "Exists", effect="NoExecute"),
    Toleration("node.kubernetes.io/unreachable", "Exists", effect="NoExecute"),
    Toleration("node.kubernetes.io/disk-pressure", "Exists", effect="NoSchedule"),
    Toleration("node.kubernetes.io/memory-pressure", "Exists", effect="NoSchedule"),
    Toleration("node.kubernetes.io/pid-pressure", "Exists", effect="NoSchedule"),
    Toleration("node.kubernetes.io/unschedulable", "Exists", effect="NoSchedule"),
)
"""The tolerations the DaemonSet controller adds to its pods (daemonset_util.go)."""


@dataclass(eq=False)
class _DS:
    key: str
    counter: int = 0
    pods: dict[str, PodObj] = field(default_factory=dict)  # node -> its active pod
    expect_adds: int = 0
    expect_dels: set[str] = field(default_factory=set)
    expect_since: float = 0.0
    written: tuple | None = None
    revisions: list[str] = field(default_factory=list)


def should_run(node, tolerations: list[Toleration], node_selector: dict) -> bool:
    """``NodeShouldRunDaemonPod``: labels match and every NoSchedule/NoExecute taint is tolerated."""
    labels = node.spec.labels
    for k, v in node_selector.items():
        if labels.get(k) != v:
            return False
    for taint in node.taints:
        if taint.effect in ("NoSchedule", "NoExecute") and not any(t.tolerates(taint) for t in tolerations):
            return False
    return True


class DaemonSetController(Controller):
    """DaemonSets (``--concurrent-daemonset-syncs`` workers, K2: 2)."""

    name = "daemonset"
    component = "daemonset-controller"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.daemonset_workers)
        self._ds: dict[str, _DS] = {}
        self._rngs: dict[str, object] = {}

    def handlers(self) -> dict:
        """Handlers of the ``daemonsets`` informer."""
        return self.key_handlers()

    def node_changed(self) -> None:
        """A node was added, changed or deleted: every DaemonSet checks its nodes."""
        for key in self.mgr.cache("daemonsets"):
            self.queue.add(key)

    # ---------------------------------------------------------------------------------- pod hooks
    def _state(self, pod: PodObj) -> _DS | None:
        if not self._ds:
            return None
        owner = pod.owner
        if owner is None or not owner.startswith(OWNER):
            return None
        return self._ds.get(owner[len(OWNER):])

    def pod_added(self, pod: PodObj) -> None:
        st = self._state(pod)
        if st is None:
            return
        if st.expect_adds > 0:
            st.expect_adds -= 1
        self._index(st, pod)
        self.queue.add(st.key)

    def pod_updated(self, old: PodObj, new: PodObj) -> None:
        st = self._state(new)
        if st is None:
            return
        self._index(st, new)
        if new.deleting:
            st.expect_dels.discard(new.key)
        if old.ready != new.ready or old.deleting != new.deleting or old.phase != new.phase:
            self.queue.add(st.key)

    def pod_deleted(self, pod: PodObj) -> None:
        st = self._state(pod)
        if st is None:
            return
        node = self._node_of(pod)
        if st.pods.get(node) is not None and st.pods[node].key == pod.key:
            del st.pods[node]
        st.expect_dels.discard(pod.key)
        self.queue.add(st.key)

    @staticmethod
    def _node_of(pod: PodObj) -> str:
        term = pod.spec.required_affinity[0]
        return term.match_fields[0].values[0]

    def _index(self, st: _DS, pod: PodObj) -> None:
        node = self._node_of(pod)
        if pod.deleting or pod.phase in ("Succeeded", "Failed"):
            cur = st.pods.get(node)
            if cur is not None and cur.key == pod.key:
                del st.pods[node]
        else:
            st.pods[node] = pod

    # --------------------------------------------------------------------------------------- sync
    def sync(self, key: str) -> Generator[simpy.Event, object, bool]:
        ds = self.mgr.cache("daemonsets").get(key)
        if ds is None:
            self._ds.pop(key, None)
            return True
        st = self._ds.get(key)
        if st is None:
            st = self._ds[key] = _DS(key)
            for pod in self.mgr.pods_by_owner.get(OWNER + key, {}).values():
                self._index(st, pod)
        if ds.deleting:
            return True
        spec = ds.data["spec"]
        h = template_hash(spec.template)
        ok = yield from self._revision(ds, spec, st, h)
        tolerations = [*(parse_toleration(t) for t in spec.template.tolerations), *DS_TOLERATIONS]
        nodes = self.mgr.cache("nodes")
        wanted = [n for n in sorted(nodes) if should_run(nodes[n], tolerations, spec.template.node_selector)]
        wanted_set = set(wanted)
        if (st.expect_adds > 0 or st.expect_dels) and self.env.now - st.expect_since >= EXPECTATIONS_TIMEOUT_S:
            st.expect_adds, st.expect_dels = 0, set()
        if not (st.expect_adds > 0 or st.expect_dels):
            missing = [n for n in wanted if n not in st.pods]
            extra = [p for n, p in sorted(st.pods.items()) if n not in wanted_set]
            old = [p for n, p in sorted(st.pods.items()) if n in wanted_set
                   and p.spec.labels.get("controller-revision-hash") != h]
            ns = spec.namespace
            if missing and ns not in self.mgr.terminating_ns:
                n = min(len(missing), self.cfg.daemonset_burst_replicas)
                todo = iter(missing[:n])
                st.expect_adds += n
                st.expect_since = self.env.now
                undone = yield from self.create_pods(n, lambda: self._new_pod(st, ds, spec, h, next(todo)),
                                                     on_done=lambda p, good: self._created(ds, spec, p, good))
                if undone:
                    st.expect_adds = max(0, st.expect_adds - undone)
                    ok = False
            victims = extra + self._roll(spec, wanted, st, old)
            if victims:
                ok = (yield from self.delete_pods_expecting(
                    st, victims, lambda p, good: good and self.event(
                        ("DaemonSet", ds.uid), ns, spec.name, "Normal", "SuccessfulDelete",
                        f"Deleted pod: {p.spec.name}"))) and ok
        return (yield from self._status(ds, st, wanted, h)) and ok

    def _roll(self, spec, wanted: list[str], st: _DS, old: list[PodObj]) -> list[PodObj]:
        """``rollingUpdate`` (maxSurge 0): old pods to delete now within maxUnavailable."""
        if not old:
            return []
        max_unavail = max(1, du.scaled_value(spec.max_unavailable, len(wanted), True))
        unavailable = sum(1 for n in wanted if n not in st.pods or not st.pods[n].ready)
        budget = max_unavail - unavailable
        not_ready_old = [p for p in old if not p.ready]  # old unhealthy pods go first, any number
        ready_old = [p for p in old if p.ready]
        return not_ready_old + ready_old[:max(0, budget)]

    def _created(self, ds, spec, pod: PodObj, ok: bool) -> None:
        if ok:
            self.event(("DaemonSet", ds.uid), spec.namespace, spec.name, "Normal", "SuccessfulCreate",
                       f"Created pod: {pod.spec.name}")

    def _revision(self, ds, spec, st: _DS, h: str) -> Generator[simpy.Event, object, bool]:
        """``constructHistory`` and ``cleanupHistory``: one ControllerRevision per template."""
        key = f"{ds.key}-{h}"
        if key in st.revisions:
            return True
        if not self.world.plane.etcd.has("controllerrevisions", key):
            value = ApiObj(key, {"hash": h}, uid=self.world.new_uid(), owner=OWNER + ds.key, owner_uid=ds.uid)
            resp = yield from self.write("create", "controllerrevisions", key, value)
            if not resp.ok and resp.code != 409:
                return False
        st.revisions.append(key)
        ok = True
        while len(st.revisions) > spec.revision_history_limit + 1:
            resp = yield from self.write("delete", "controllerrevisions", st.revisions[0])
            ok = ok and (resp.ok or resp.code == 409)
            st.revisions.pop(0)
        return ok

    def _status(self, ds, st: _DS, wanted: list[str], h: str) -> Generator[simpy.Event, object, bool]:
        """``updateDaemonSetStatus`` when a count changed."""
        pods = st.pods
        on = [n for n in wanted if n in pods]
        ready = sum(1 for n in on if pods[n].ready)
        updated = sum(1 for n in on if pods[n].spec.labels.get("controller-revision-hash") == h)
        status = (len(wanted), len(on), ready, ready, updated, len(pods) - len(on), ds.generation)
        if status == st.written:
            return True

        def mutate(cur):
            return None if cur is None else cur.with_data(status=status)

        resp = yield from self.write("update", "daemonsets/status", ds.key, mutate=mutate)
        if resp.ok:
            st.written = status
        return resp.ok or resp.code == 409

    def _new_pod(self, st: _DS, ds, spec, h: str, node: str) -> PodObj:
        st.counter += 1
        ns = spec.namespace
        rng = self._rngs.get(ds.key)
        if rng is None:
            rng = self._rngs[ds.key] = self.world.stream(f"workload/daemonset/{ds.key}")
        t = spec.template
        name = f"{spec.name}-{st.counter}"
        key = f"{ns}/{name}"
        pod = pod_from_template(name, ns, t, owner=f"DaemonSet/{spec.name}",
                                labels={"app": spec.name, "controller-revision-hash": h},
                                duration_s=draw_duration(t, rng))
        pod.required_affinity = [NodeSelectorTerm(match_fields=(NodeSelectorRequirement("metadata.name", "In",
                                                                                        (node,)),))]
        pod.tolerations = [*pod.tolerations, *DS_TOLERATIONS]
        return PodObj(key, self.world.pod_uid(key, "DaemonSet"), pod, owner=OWNER + ds.key, owner_uid=ds.uid)

