"""kube-scheduler's Service, ReplicaSet and StatefulSet informers: the objects default spreading reads.

Upstream, PodTopologySpread with default constraints (the system defaults, or a List) asks the
scheduler's informer factory for Service, ReplicationController, ReplicaSet and StatefulSet listers
(kubernetes/kubernetes ``pkg/scheduler/framework/plugins/podtopologyspread/plugin.go`` @ 025f2834,
``New`` and ``setListers``), so kube-scheduler LISTs and WATCHes those resources, and a pod's default
spreading selector (``helper.DefaultSelector``) is built from what the informers hold. kbench starts
the same informers for such profiles (ReplicationControllers are never created by a kbench workload,
so theirs is left out) and keeps the framework's
:class:`~kbench.cluster.objects.clusterobjects.ClusterObjects` in step with their events:

* a Service by its ``selector`` map;
* a ReplicaSet by its ``selector`` (a Deployment's selector plus ``pod-template-hash``, as the
  Deployment controller sets it); a ReplicaSet without one selects the labels its pods carry;
* a StatefulSet by its spec's selector (empty: ``app=<name>``, the label its pods carry).

The informers' LIST and WATCH load is the scheduler client's, like its pod and node informers'.
"""

from __future__ import annotations

from kbench.cluster.objects.clusterobjects import ClusterObjects

RESOURCES = ("services", "replicasets", "statefulsets")
KINDS = {"services": "Service", "replicasets": "ReplicaSet", "statefulsets": "StatefulSet"}
OBJECT_BYTES = {"services": 1024, "replicasets": 2048, "statefulsets": 2048}


def wants_listers(frameworks) -> bool:
    """Whether any profile runs PodTopologySpread with default constraints (upstream's condition
    for requesting the listers)."""
    for fw in frameworks:
        plugin = fw.plugins.get("PodTopologySpread")
        if plugin is not None and getattr(plugin, "defaults", None):
            return True
    return False


def selector_of(resource: str, obj) -> dict[str, str] | None:
    """The pod selector (a labels map) an API object of ``resource`` has, None for none."""
    data = getattr(obj, "data", None) or {}
    if resource == "services":
        sel = data.get("selector")
        return None if sel is None else dict(sel)
    if resource == "replicasets":
        sel = data.get("selector") or data.get("labels")
        return None if sel is None else dict(sel)
    spec = data.get("spec")
    if spec is None:
        return None
    return dict(getattr(spec, "selector", None) or {"app": spec.name})


class SchedulerListers:
    """The scheduler's informers for :data:`RESOURCES`, feeding ``objects``.

    Args:
        world: The run's world (its ``informer`` factory).
        client: The scheduler's API client.
        objects: The listers' objects the frameworks read.
    """

    def __init__(self, world, client, objects: ClusterObjects):
        self.objects = objects
        self._seen: dict[tuple[str, str], dict | None] = {}  # (resource, key) -> selector
        self.informers = [
            world.informer(client, r, object_bytes=OBJECT_BYTES[r],
                           on_add=lambda obj, r=r: self._upsert(r, obj),
                           on_update=lambda _old, obj, r=r: self._upsert(r, obj),
                           on_delete=lambda obj, r=r: self._delete(r, obj))
            for r in RESOURCES]

    def start(self, delay_s: float = 0.0) -> None:
        """Start the informers (LIST, then WATCH) after ``delay_s`` seconds."""
        for inf in self.informers:
            inf.start(delay_s)

    def _upsert(self, resource: str, obj) -> None:
        sel = selector_of(resource, obj)
        seen = self._seen
        if seen.get((resource, obj.key), 0) == sel:
            return  # a status update: the selector is unchanged (no cache invalidation)
        seen[(resource, obj.key)] = sel
        ns, _, name = obj.key.partition("/")
        if resource == "services":
            self.objects.add_service(ns, name, sel)
        else:
            self.objects.add_controller(KINDS[resource], ns, name, None if sel is None else {"matchLabels": sel})

    def _delete(self, resource: str, obj) -> None:
        self._seen.pop((resource, obj.key), None)
        ns, _, name = obj.key.partition("/")
        self.objects.remove(KINDS[resource], ns, name)
