"""kube-controller-manager: shared informers, the controllers that use them, a client each.

Controllers: Deployment (:mod:`.deployment`) and ReplicaSet (:mod:`.replicaset`), Job, DaemonSet,
StatefulSet, node lifecycle, EndpointSlice, ResourceQuota, Namespace, ServiceAccount / root CA, the
garbage collector and PodGC.

Upstream runs every controller in one process with one ``SharedInformerFactory`` (one LIST+WATCH
per resource, whatever the number of controllers interested) and one client configuration (C3:
QPS 20, burst 30) from which each controller builds its own clientset
(``ClientOrDie("<controller>")``, kubernetes/kubernetes
staging/src/k8s.io/controller-manager/pkg/clientbuilder/client_builder.go @ 2911fe5b), and each
clientset its own token bucket (``NewForConfigAndClient`` when the config has no RateLimiter,
staging/src/k8s.io/client-go/kubernetes/clientset.go @ 008b3652): controllers do not share a
limiter, and a controller's Events (its broadcaster writes through its own clientset) compete only
with its own requests. So here: one :class:`~kbench.cluster.clients.client.Client` of class
``controller-manager`` (user ``system:kube-controller-manager``) per controller
(:meth:`ControllerManager.client_for`) and one for the shared informers, one informer per resource
with the sync strategy of that class (``sync_strategies["controller-manager"]``), and pod indexes
(by owner, node and namespace) maintained from the pod informer's events and read by the
controllers. (With ``--use-service-account-credentials`` each controller would authenticate as its
own kube-system service account and match flow schema ``kube-system-service-accounts`` instead of
``kube-controller-manager``: both go to ``workload-high`` with flows by namespace (apiserver
pkg/apis/flowcontrol/bootstrap/default.go @ 18b46af2), so only the flows' names differ; kbench keeps
the one user and says so in ``ignored``.)

Not modelled: leader election (C8: one active instance is assumed), informer resync (C6: 12-24 h,
beyond any run), the controller manager's own CPU (syncs take no virtual time beyond their API
calls).
"""

from __future__ import annotations

from kbench.cluster.clients.client import Client
from kbench.cluster.clients.informer import Informer
from kbench.cluster.controllers.common import Controller
from kbench.cluster.controllers.daemonset import DaemonSetController
from kbench.cluster.controllers.deployment import DeploymentController
from kbench.cluster.controllers.endpointslice import EndpointSliceController
from kbench.cluster.controllers.garbagecollector import GarbageCollector
from kbench.cluster.controllers.job import JobController
from kbench.cluster.controllers.namespace import NamespaceController
from kbench.cluster.controllers.nodelifecycle import NodeLifecycleController
from kbench.cluster.controllers.podgc import PodGCController
from kbench.cluster.controllers.replicaset import ReplicaSetController
from kbench.cluster.controllers.resourcequota import ResourceQuotaController
from kbench.cluster.controllers.serviceaccount import CA_BYTES, SA_BYTES, ServiceAccountController
from kbench.cluster.controllers.statefulset import StatefulSetController
from kbench.cluster.objects.stored import LEASE_BYTES, NODE_BYTES, POD_BYTES, PodObj
from kbench.cluster.objects.workloads import ApiObj

USER = "system:kube-controller-manager"
GROUPS = ("system:authenticated",)


class ControllerManager:
    """The controllers of kube-controller-manager: a client each, one shared informer set.

    Args:
        world: The run's world.

    Attributes:
        client: The shared informers' client (class ``controller-manager``).
        clients: Each controller's own client, by controller name (:meth:`client_for`).
        informers: One informer per resource (``pods``, ``nodes``, ``leases``, ``deployments``,
            ``jobs``, ``services``, ``namespaces``).
        pods_by_owner: Pods by ``PodObj.owner`` (key -> current value).
        pods_by_node: Bound pods by node name.
        pods_by_ns: Pod keys by namespace.
        not_ready_nodes: Nodes the node lifecycle controller has marked NotReady.
        terminating_ns: Namespaces being deleted (no new pods are created in them, as the
            NamespaceLifecycle admission plugin would reject them).
    """

    def __init__(self, world):
        self.world = world
        self.env = world.env
        self.cfg = world.scenario.controllers
        self.client = world.client("shared-informers", "controller-manager", USER, GROUPS)
        self.clients: dict[str, Client] = {}
        self.pods_by_owner: dict[str, dict[str, PodObj]] = {}
        self.pods_by_node: dict[str, dict[str, PodObj]] = {}
        self.pods_by_ns: dict[str, set[str]] = {}
        self.not_ready_nodes: set[str] = set()
        self.terminating_ns: set[str] = set()
        cfg = self.cfg
        self.informers: dict[str, Informer] = {}
        self.deployments = DeploymentController(self)
        self.replicasets = ReplicaSetController(self)
        self.jobs = JobController(self)
        self.daemonsets = DaemonSetController(self)
        self.statefulsets = StatefulSetController(self)
        self.nodelifecycle = NodeLifecycleController(self)
        self.endpointslices = EndpointSliceController(self)
        self.resourcequotas = ResourceQuotaController(self)
        self.namespaces = NamespaceController(self)
        self.serviceaccounts = ServiceAccountController(self)
        self.gc = GarbageCollector(self) if cfg.garbage_collector else None
        self.podgc = PodGCController(self) if cfg.podgc else None
        self.controllers = [c for c in (self.deployments, self.replicasets, self.jobs, self.daemonsets,
                                        self.statefulsets, self.nodelifecycle, self.endpointslices,
                                        self.resourcequotas, self.namespaces, self.serviceaccounts, self.gc,
                                        self.podgc) if c is not None]
        hooked = [c for c in self.controllers if c.wants_pods]
        base = Controller  # its hooks do nothing: only overridden ones are called
        self._on_added = [c.pod_added for c in hooked if type(c).pod_added is not base.pod_added]
        self._on_updated = [c.pod_updated for c in hooked if type(c).pod_updated is not base.pod_updated]
        self._on_deleted = [c.pod_deleted for c in hooked if type(c).pod_deleted is not base.pod_deleted]
        inf = world.informer
        cl = self.client
        gc = self.gc.handlers if self.gc is not None else (lambda _r: {})
        ds = self.daemonsets
        node_h = self.nodelifecycle.node_handlers()
        self.informers = {
            "pods": inf(cl, "pods", object_bytes=POD_BYTES, on_add=self._pod_add, on_update=self._pod_update,
                        on_delete=self._pod_delete),
            "nodes": inf(cl, "nodes", object_bytes=NODE_BYTES, **fanout(node_h, {
                "on_add": lambda n: ds.node_changed(), "on_update": lambda o, n: ds.node_changed(),
                "on_delete": lambda n: ds.node_changed()})),
            "leases": inf(cl, "leases", object_bytes=LEASE_BYTES, **self.nodelifecycle.lease_handlers()),
            "deployments": inf(cl, "deployments", object_bytes=2048,
                               **fanout(self.deployments.handlers(), gc("deployments"))),
            "replicasets": inf(cl, "replicasets", object_bytes=2048, **fanout(
                self.replicasets.handlers(), gc("replicasets"),
                {"on_add": self.deployments.rs_event, "on_update": lambda o, n: self.deployments.rs_event(n),
                 "on_delete": lambda o: self.deployments.rs_event(o, gone=True)})),
            "jobs": inf(cl, "jobs", object_bytes=2048, **fanout(self.jobs.handlers(), gc("jobs"))),
            "daemonsets": inf(cl, "daemonsets", object_bytes=2048, **fanout(ds.handlers(), gc("daemonsets"))),
            "statefulsets": inf(cl, "statefulsets", object_bytes=2048,
                                **fanout(self.statefulsets.handlers(), gc("statefulsets"))),
            "controllerrevisions": inf(cl, "controllerrevisions", object_bytes=1500, **gc("controllerrevisions")),
            "services": inf(cl, "services", object_bytes=1024, **self.endpointslices.handlers()),
            "namespaces": inf(cl, "namespaces", object_bytes=512,
                              **fanout(self.namespaces.handlers(), self.serviceaccounts.handlers())),
        }
        self._preload_default_namespace()
        self._synced = False

    def client_for(self, controller: str) -> Client:
        """The client of ``controller`` (made on first use): class ``controller-manager``, its own
        token bucket (upstream ``ClientOrDie(name)``: a clientset, and a limiter, per controller)."""
        client = self.clients.get(controller)
        if client is None:
            client = self.clients[controller] = self.world.client(f"{controller}-controller", "controller-manager",
                                                                  USER, GROUPS)
        return client

    def _preload_default_namespace(self) -> None:
        """Namespace ``default`` (and ``world.initial_namespaces``, a cluster dump's) with its
        ServiceAccount and root CA ConfigMap exists at t = 0 (no API cost)."""
        w = self.world
        etcd = w.plane.etcd
        names = [n for n in ("default", *w.initial_namespaces) if not etcd.has("namespaces", n)]
        if not names:
            return
        etcd.preload_values("namespaces", {n: ApiObj(n, {"phase": "Active"}, uid=w.new_uid()) for n in names}, 512)
        etcd.preload_values("serviceaccounts", {f"{n}/default": ApiObj(f"{n}/default", {}, uid=w.new_uid())
                                                for n in names}, SA_BYTES)
        etcd.preload_values("configmaps", {f"{n}/kube-root-ca.crt": ApiObj(f"{n}/kube-root-ca.crt", {},
                                                                           uid=w.new_uid()) for n in names}, CA_BYTES)
        for resource in ("namespaces", "serviceaccounts", "configmaps"):
            cache = w.api.caches.get(resource)
            if cache is not None:
                cache.store.update(etcd.values(resource))

    # ----------------------------------------------------------------------------------- running
    def start(self, delay_s: float = 0.0) -> None:
        """Start the informers (after ``delay_s`` seconds) and every controller's workers."""
        for informer in self.informers.values():
            informer.start(delay_s)
        for c in self.controllers:
            c.start()

    def synced(self) -> bool:
        """Whether every informer has completed its first LIST (``WaitForCacheSync``)."""
        if not self._synced:
            self._synced = all(i.synced for i in self.informers.values())
        return self._synced

    def cache(self, resource: str) -> dict:
        """The informer cache of ``resource`` (key -> value)."""
        return self.informers[resource].cache

    # ------------------------------------------------------------------------------- pod indexes
    def _pod_add(self, pod: PodObj) -> None:
        self._index_add(pod)
        for hook in self._on_added:
            hook(pod)

    def _pod_update(self, old: PodObj, new: PodObj) -> None:
        if old.node_name != new.node_name:
            self._index_remove(old)
            self._index_add(new)
        else:
            if new.owner is not None:
                self.pods_by_owner.setdefault(new.owner, {})[new.key] = new
            if new.node_name is not None:
                self.pods_by_node.setdefault(new.node_name, {})[new.key] = new
        for hook in self._on_updated:
            hook(old, new)

    def _pod_delete(self, pod: PodObj) -> None:
        self._index_remove(pod)
        ns = self.pods_by_ns.get(pod.key.partition("/")[0])
        if ns is not None:
            ns.discard(pod.key)
        for hook in self._on_deleted:
            hook(pod)

    def _index_add(self, pod: PodObj) -> None:
        if pod.owner is not None:
            self.pods_by_owner.setdefault(pod.owner, {})[pod.key] = pod
        if pod.node_name is not None:
            self.pods_by_node.setdefault(pod.node_name, {})[pod.key] = pod
        self.pods_by_ns.setdefault(pod.key.partition("/")[0], set()).add(pod.key)

    def _index_remove(self, pod: PodObj) -> None:
        if pod.owner is not None:
            owned = self.pods_by_owner.get(pod.owner)
            if owned is not None:
                owned.pop(pod.key, None)
                if not owned:
                    del self.pods_by_owner[pod.owner]
        if pod.node_name is not None:
            on_node = self.pods_by_node.get(pod.node_name)
            if on_node is not None:
                on_node.pop(pod.key, None)

    # ----------------------------------------------------------------------------------- summary
    def summary(self) -> dict:
        """Per-controller figures for the run summary: syncs, failed syncs, largest queue depth,
        plus Job outcomes and nodes currently NotReady."""
        out: dict = {c.name: {"syncs": c.syncs, "failed_syncs": c.failed_syncs, "queue_max": c.queue.max_depth}
                     for c in self.controllers}
        out["job"].update(complete=self.jobs.complete_count(), failed=self.jobs.failed_count())
        out["nodelifecycle"]["not_ready_now"] = len(self.not_ready_nodes)
        return out

    def gc_summary(self) -> dict:
        """The summary's ``gc`` block: the garbage collector's successful deletions per resource,
        its GETs, and PodGC's deletions per kind."""
        gc, pg = self.gc, self.podgc
        return {"deleted": dict(sorted(gc.deleted.items())) if gc else {}, "gets": gc.gets if gc else 0,
                "orphaned_dependents": gc.orphaned if gc else 0,
                "podgc": {k: int(pg.counts[k]) for k in ("terminated", "orphaned", "unscheduled")} if pg else {},
                "namespace_deletecollections": self.namespaces.collections}


def fanout(*handler_sets: dict) -> dict:
    """Informer handlers that call each of several controllers' handlers in turn."""
    out = {}
    for name in ("on_add", "on_update", "on_delete"):
        fns = [h[name] for h in handler_sets if h.get(name) is not None]
        if len(fns) == 1:
            out[name] = fns[0]
        elif fns:
            out[name] = lambda *a, fns=fns: [f(*a) for f in fns] and None
    return out
