"""kube-apiserver: admits, serves and fans out every API request of the cluster.

In Kubernetes it authenticates, classifies (API Priority and Fairness), handles and stores requests
in etcd, and serves LISTs and WATCHes from its watch cache. kbench models APF (:mod:`.flowcontrol`,
:mod:`.workestimate`), handler CPU on a core pool and the request path (:mod:`.server`,
:mod:`.serving`, :mod:`.batch`), and the watch cache with its fan-out (:mod:`.watchcache`,
:mod:`.watchdispatch`, :mod:`.watchpassive`; the fan-out's event is :class:`kbench.simkernel.Fanout`).
"""

from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.server import Apiserver
from kbench.cluster.apiserver.serving import Response

__all__ = ["Apiserver", "Request", "Response"]
