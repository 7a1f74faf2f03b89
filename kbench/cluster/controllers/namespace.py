"""Namespace controller: a terminating namespace is emptied with one DELETECOLLECTION per resource.

Upstream (kubernetes/kubernetes pkg/controller/namespace/namespace_controller.go @ eb7be269 and
deletion/namespaced_resources_deleter.go; K8): a namespace whose deletion timestamp is set is queued
after ``namespaceDeletionGracePeriod`` (5 s); a worker (``--concurrent-namespace-syncs``, 10) sets
``status.phase=Terminating`` if needed, then, for every namespaced resource type that supports
delete: LISTs (pods first, to estimate the largest termination grace period), issues one
DELETECOLLECTION (propagation Background), and LISTs again to verify; if content remains it
requeues after ``estimate / 2 + 1`` s, otherwise it removes its finalizer through the ``finalize``
subresource and the apiserver deletes the namespace.

Here the resource types are kbench's namespaced kinds (``controllers.namespace_resource_types``)
plus ``namespace_extra_resource_types`` kinds that exist upstream and hold nothing in kbench (each
still costs its LISTs and DELETECOLLECTION). The LISTs go through the metadata client, scoped to
the namespace with empty ListOptions (``listCollection``: ``metadataClient...Namespace(namespace)
.List``, a ``PartialObjectMetadataList``; namespaced_resources_deleter.go @ 023feb4a): the apiserver
reads only that namespace's objects (a key prefix) and answers with their metadata
(:data:`~kbench.cluster.apiserver.readpath.METADATA_OBJECT_BYTES` per object). Deleting a namespace
is a DELETE of the Namespace (the apiserver sets ``phase: Terminating``); meanwhile the other
controllers create nothing in it (the NamespaceLifecycle admission plugin would refuse).
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from kbench.cluster.apiserver.readpath import METADATA_OBJECT_BYTES
from kbench.cluster.controllers.common import Controller


class NamespaceController(Controller):
    """Namespace deletion (``--concurrent-namespace-syncs`` workers)."""

    name = "namespace"
    component = "namespace-controller"

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.namespace_workers)
        self.collections = 0

    def handlers(self) -> dict:
        """Handlers of the ``namespaces`` informer."""

        def seen(ns) -> None:
            if ns.data.get("phase") == "Terminating" and ns.key not in self.mgr.terminating_ns:
                self.mgr.terminating_ns.add(ns.key)
                self.queue.add_after(ns.key, self.cfg.namespace_deletion_delay_s)

        return {"on_add": seen, "on_update": lambda old, new: seen(new),
                "on_delete": lambda ns: self.mgr.terminating_ns.discard(ns.key)}

    def _list(self, resource: str, ns: str) -> Generator[simpy.Event, object, int]:
        """A namespace-scoped LIST (resourceVersion unset, as the namespace deleter's empty ListOptions:
        a consistent read, from the watch cache where ConsistentListFromCache is on): the objects
        left, counted."""
        n = self.world.api.namespaces.count(resource, ns)
        req = self.client.request("list", resource, namespace=ns, size_bytes=n * METADATA_OBJECT_BYTES, rv="",
                                  metadata_only=True)
        yield from self.client.call(self.env, self.world.api, req)
        return n

    def sync(self, ns: str) -> Generator[simpy.Event, object, bool]:
        mgr = self.mgr
        obj = mgr.cache("namespaces").get(ns)
        if obj is None or obj.data.get("phase") != "Terminating":
            return True
        mgr.terminating_ns.add(ns)
        cfg = self.cfg
        remaining = 0
        estimate = 0.0
        types = list(cfg.namespace_resource_types) + list(cfg.namespace_extra_resource_types)
        for resource in types:
            n = yield from self._list(resource, ns)
            if resource == "pods" and n:
                estimate = max(estimate, 30.0)  # terminationGracePeriodSeconds (core/v1 default)
            if n:
                req = self.world.request(self.client, "deletecollection", resource, "", None, METADATA_OBJECT_BYTES, None, None,
                                         {"component": self.component, "propagation": "Background"})
                req.namespace = ns
                resp = yield from self.client.call(self.env, self.world.api, req)
                self.collections += 1
                if not resp.ok:
                    return False
            left = yield from self._list(resource, ns)
            remaining += left
        if remaining:
            self.queue.add_after(ns, estimate / 2 + 1.0)
            return True
        resp = yield from self.write("update", "namespaces/finalize", ns, size_bytes=512, store=("namespaces", "delete"))
        if resp.ok:
            self.world.counters["namespaces_deleted"] += 1
        return resp.ok or resp.code == 409
