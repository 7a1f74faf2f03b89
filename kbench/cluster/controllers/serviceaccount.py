"""The writes of a new namespace: ServiceAccount ``default`` and ConfigMap ``kube-root-ca.crt`` (K9).

Upstream the serviceaccounts controller creates the ``default`` ServiceAccount in every namespace
(pkg/controller/serviceaccount/serviceaccounts_controller.go) and the root-ca-cert-publisher the
``kube-root-ca.crt`` ConfigMap (pkg/controller/certificates/rootcacertpublisher/publisher.go @
e0a566e71f693433f4bed729380e215e98a263ea); no token Secret since KEP-2799. Both recreate their
object when it is deleted while the namespace lives. So creating a namespace costs three creates
(K9). Here one controller does both on a Namespace add (``--concurrent-serviceaccount-token-syncs``
workers, K2: 5); namespaces present at t = 0 (``default``) start with both objects.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from kbench.cluster.controllers.common import Controller
from kbench.cluster.objects.workloads import ApiObj

SA_BYTES = 300
"""A ServiceAccount, bytes (kbench default)."""
CA_BYTES = 1600
"""The kube-root-ca.crt ConfigMap (a PEM certificate and a description annotation), bytes (kbench default)."""


class ServiceAccountController(Controller):
    """ServiceAccount ``default`` and the root CA ConfigMap of each namespace."""

    name = "serviceaccount"
    component = "serviceaccount-controller"

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.serviceaccount_workers)
        self.created = 0

    def handlers(self) -> dict:
        """Handlers of the ``namespaces`` informer (beside the namespace controller's)."""
        return {"on_add": lambda ns: self.queue.add(ns.key), "on_update": lambda old, new: None}

    def sync(self, ns: str) -> Generator[simpy.Event, object, bool]:
        obj = self.mgr.cache("namespaces").get(ns)
        if obj is None or obj.data.get("phase") == "Terminating":
            return True
        etcd = self.world.plane.etcd
        ok = True
        for resource, name, size, component in (("serviceaccounts", "default", SA_BYTES, "serviceaccount-controller"),
                                                ("configmaps", "kube-root-ca.crt", CA_BYTES,
                                                 "root-ca-cert-publisher")):
            key = f"{ns}/{name}"
            if etcd.has(resource, key):
                continue
            value = ApiObj(key, {}, uid=self.world.new_uid())
            resp = yield from self.world.write(self.client, "create", resource, key, value, size_bytes=size,
                                               component=component)
            if resp.ok:
                self.created += 1
            elif resp.code != 409:
                ok = False
        return ok
