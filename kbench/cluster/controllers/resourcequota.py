"""ResourceQuota: a quota object per quota namespace and its usage writes (real API load).

For each namespace in ``workload.quota_namespaces`` the controller creates ``resourcequotas/<ns>/quota``
and keeps its ``used_pods`` (pods not yet finished) up to date with two kinds of writes, as upstream:

* **admission charge**: each pod created in the namespace makes the ResourceQuota admission plugin
  write the new usage before the create is admitted. That write comes from the apiserver's loopback
  client (user ``system:apiserver``, group ``system:masters``: APF-exempt, no client rate limit —
  upstream ``NewLoopbackClientConfig`` sets QPS -1). It is issued here when the controller's
  informer sees the pod, a few ms after the create instead of inside it;
* **replenishment**: a pod that finishes or is deleted makes the quota controller recount the
  namespace and write the usage through the controller manager's client. Several changes queued
  before a sync are written once (the work queue de-duplicates).

Not modelled: quota limits (admission never rejects), resources other than the pod count, the
5-minute full resync (``--resource-quota-sync-period``).
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from kbench.cluster.clients.client import Client
from kbench.cluster.clients.ratelimit import TokenBucket
from kbench.cluster.controllers.common import Controller, generic, namespace_of
from kbench.cluster.objects.stored import PodObj
from kbench.config import ClientClassConfig

QUOTA_NAME = "quota"


class ResourceQuotaController(Controller):
    """Quota objects and usage writes (``--concurrent-resource-quota-syncs`` workers)."""

    name = "resourcequota"
    component = "resourcequota-controller"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.resourcequota_workers)
        self.namespaces = frozenset(self.world.scenario.workload.quota_namespaces)
        self.used: dict[str, set[str]] = {ns: set() for ns in self.namespaces}
        self._created: set[str] = set()
        self._written: dict[str, int] = {}
        self.loopback = Client("apiserver-loopback", "apiserver-loopback", "system:apiserver",
                               ("system:masters", "system:authenticated"), TokenBucket(0, 1), ClientClassConfig())
        self.admission_writes = 0

    def start(self) -> None:
        super().start()
        for ns in sorted(self.namespaces):
            self.queue.add(ns)

    def quota_key(self, ns: str) -> str:
        """The key of namespace ``ns``'s quota object."""
        return f"{ns}/{QUOTA_NAME}"

    # ---------------------------------------------------------------------------------- pod hooks
    def pod_added(self, pod: PodObj) -> None:
        ns = namespace_of(pod.key)
        used = self.used.get(ns)
        if used is None or pod.finished:
            return
        used.add(pod.key)
        if ns in self._created and ns not in self.mgr.terminating_ns:
            self.env.process(self._charge(ns, len(used)))

    def pod_updated(self, old: PodObj, new: PodObj) -> None:
        if new.finished and not old.finished:
            self._release(new)

    def pod_deleted(self, pod: PodObj) -> None:
        self._release(pod)

    def _release(self, pod: PodObj) -> None:
        ns = namespace_of(pod.key)
        used = self.used.get(ns)
        if used is not None and pod.key in used:
            used.discard(pod.key)
            self.queue.add(ns)

    def _charge(self, ns: str, used: int) -> Generator:
        """The admission plugin's usage write for one pod create (loopback client)."""
        resp = yield from self.world.write(self.loopback, "update", "resourcequotas", self.quota_key(ns),
                                           generic(self.quota_key(ns), used_pods=used), size_bytes=1024)
        if resp.ok:
            self.admission_writes += 1
            self._written[ns] = used
            self.world.counters["quota_writes"] += 1

    # --------------------------------------------------------------------------------------- sync
    def sync(self, ns: str) -> Generator[simpy.Event, object, bool]:
        if ns in self.mgr.terminating_ns:
            return True
        used = len(self.used[ns])
        if ns in self._created and self._written.get(ns) == used:
            return True
        key = self.quota_key(ns)
        resp = yield from self.write("update" if ns in self._created else "create", "resourcequotas", key,
                                     generic(key, used_pods=used))
        if not resp.ok:
            return False
        self._created.add(ns)
        self._written[ns] = used
        self.world.counters["quota_writes"] += 1
        return True
