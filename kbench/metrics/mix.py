"""The summary's blocks of issue 18: the write mix, Events, garbage collection, kube-proxy, the
Events' etcd, objects in etcd, and what the run left out.

Keys (``kbench run -o json``; added, never renamed, CLI.md):

* ``writes_per_pod.<resource>.<verb>``: completed API writes (200) of that resource (subresources
  as clients name them: ``pods/status``, ``pods/binding``) divided by the pods created;
* ``writes_by_component.<component>.<resource>.<verb>``: the same writes by who sent them;
* ``events``: ``emitted`` (recorder calls), ``created`` and ``patched`` (Event writes that
  completed), ``written``, ``aggregated`` (emitted Events that became no object of their own:
  de-duplicated repeats, series counts, messages combined into an aggregate Event), ``dropped``
  (spam filter, full queue, retries), ``expired`` (deleted by the TTL), ``per_s`` (Event writes per
  virtual second), ``by_reason``, ``by_component``;
* ``gc``: ``deleted.<resource>`` (the garbage collector's successful DELETEs), its ``gets``,
  ``podgc.{terminated,orphaned,unscheduled}``, the namespace controller's DELETECOLLECTIONs;
* ``kube_proxy`` (when kube-proxies run): mode, syncs, full syncs, sync duration and network
  programming latency percentiles;
* ``etcd_events`` (with ``events.separate_etcd``): that etcd's writes and size;
* ``etcd_objects``: live objects per resource in the main etcd at the end;
* ``ignored``: mechanisms this run touched that kbench does not model (also a warning).
"""

from __future__ import annotations

from typing import Any

COUNTED = ("pods", "nodes", "leases", "events", "deployments", "replicasets", "daemonsets", "statefulsets",
           "controllerrevisions", "jobs", "services", "endpointslices", "namespaces", "serviceaccounts",
           "configmaps", "resourcequotas")
"""Resources whose live objects the summary counts (``etcd_objects``)."""
SERIES = ("pods", "events", "deployments", "replicasets", "endpointslices", "services")
"""Resources whose live objects the time series sample (``etcd_objects{resource}``)."""


def mix_summary(world, *, pods_created: int, virtual_s: float, controllers: Any = None,
                kubeproxies: Any = None) -> dict[str, Any]:
    """The blocks listed in the module docstring."""
    mix = world.api.writes
    out: dict[str, Any] = {
        "writes_per_pod": mix.per_pod(pods_created),
        "writes_by_component": mix.by_component(),
        "events": world.events.stats.summary(virtual_s),
    }
    if controllers is not None and hasattr(controllers, "gc_summary"):
        out["gc"] = controllers.gc_summary()
    if kubeproxies is not None and hasattr(kubeproxies, "summary"):
        out["kube_proxy"] = kubeproxies.summary()
    ev = world.plane.etcd_events
    if ev is not None:
        out["etcd_events"] = {"writes": int(ev.stats.writes), "db_size_bytes": int(ev.db_size_bytes),
                              "objects": ev.object_count("events")}
    etcd = world.plane.etcd
    out["etcd_objects"] = {r: etcd.object_count(r) for r in COUNTED if etcd.object_count(r)}
    if ev is not None and ev.object_count("events"):
        out["etcd_objects"]["events"] = ev.object_count("events")
    out["ignored"] = ignored(world, controllers, kubeproxies)
    return out


def ignored(world, controllers: Any = None, kubeproxies: Any = None) -> list[str]:
    """What this run touched that kbench leaves out (each a sentence, for a warning)."""
    sc = world.scenario
    out = []
    if sc.kubelet.status_get == "charged":
        out.append("kubelet status GETs are charged (CPU, etcd read, latency) and not admitted or queued by APF on "
                   "their own: the status PATCH that follows holds its seat through the GET; a GET with no PATCH "
                   "after it (nothing changed) holds none")
    if controllers is not None:
        if sum(c.syncs for c in getattr(controllers, "controllers", ())) > 0:
            out.append("the controllers authenticate as one user (system:kube-controller-manager: flow schema "
                       "kube-controller-manager); with --use-service-account-credentials (kubeadm's default) each "
                       "is its own kube-system service account (flow schema kube-system-service-accounts): the same "
                       "priority level and by-namespace flows, only the flows' names and so their shuffle-sharded "
                       "queues differ")
        gc = getattr(controllers, "gc", None)
        if gc is not None and (gc.deleted or gc.gets):
            out.append("the garbage collector shares the controller manager's informers (its own "
                       "metadata watches are not served); its GETs hold no APF seat")
        if sc.workload.statefulsets:
            out.append("StatefulSet volumes (PersistentVolumeClaims) are not modelled")
    if kubeproxies is not None and sc.kubeproxy.mode == "ipvs":
        out.append("kube-proxy ipvs mode is deprecated upstream (L6); its sync cost is a third-party anecdote")
    return out
