"""Namespace controller: deleting a namespace deletes its objects through the apiserver.

When a ``namespaces/<name>`` object gets ``data["phase"] == "Terminating"`` the controller deletes
every object of the namespace it knows of — Deployments, Jobs, Services (informer caches), the
ReplicaSets, EndpointSlices and ResourceQuota the other controllers wrote, and its pods — one
DELETE per object (upstream issues a DELETE collection per resource, which the apiserver carries out
object by object, one etcd write each; the API load that matters is the same writes). Pods bound to
live nodes are deleted gracefully (their kubelets finish), others at once. While pods remain the
namespace is checked again every ``namespace_recheck_s``; once none is left the namespace object
itself is deleted. Meanwhile the ReplicaSet and Job controllers create no pods in it (as the
NamespaceLifecycle admission plugin would refuse them).
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from kbench.cluster.controllers.common import Controller


class NamespaceController(Controller):
    """Namespace deletion (``--concurrent-namespace-syncs`` workers)."""

    name = "namespace"

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.namespace_workers)

    def handlers(self) -> dict:
        """Handlers of the ``namespaces`` informer."""

        def seen(ns) -> None:
            if ns.data.get("phase") == "Terminating":
                self.mgr.terminating_ns.add(ns.key)
                self.queue.add(ns.key)

        return {"on_add": seen, "on_update": lambda old, new: seen(new),
                "on_delete": lambda ns: self.mgr.terminating_ns.discard(ns.key)}

    def sync(self, ns: str) -> Generator[simpy.Event, object, bool]:
        mgr = self.mgr
        obj = mgr.cache("namespaces").get(ns)
        if obj is None or obj.data.get("phase") != "Terminating":
            return True
        mgr.terminating_ns.add(ns)
        prefix = ns + "/"
        owned = [("endpointslices", k) for k in mgr.endpointslices.slice_keys(ns)]
        owned += [("replicasets", k) for k in mgr.replicasets.object_keys(ns)]
        if ns in mgr.resourcequotas.namespaces:
            owned.append(("resourcequotas", mgr.resourcequotas.quota_key(ns)))
        objects = [(r, k) for r in ("deployments", "jobs", "services") for k in mgr.cache(r) if k.startswith(prefix)]
        ok = True
        for resource, key in objects + owned:
            resp = yield from self.write("delete", resource, key)
            if not (resp.ok or resp.code == 409):
                ok = False
        pods = mgr.cache("pods")
        for key in sorted(mgr.pods_by_ns.get(ns, ())):
            pod = pods.get(key)
            if pod is None or (pod.deleting and pod.node_name is not None
                               and pod.node_name not in mgr.not_ready_nodes):
                continue
            code = yield from self.delete_pod(pod)
            if code not in (200, 409):
                ok = False
        if not ok:
            return False
        if mgr.pods_by_ns.get(ns):
            self.queue.add_after(ns, self.cfg.namespace_recheck_s)
            return True
        resp = yield from self.write("delete", "namespaces", ns)
        if resp.ok:
            self.world.counters["namespaces_deleted"] += 1
        return resp.ok or resp.code == 409
