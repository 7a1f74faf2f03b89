"""Garbage collector: cascading deletion through owner references (K6, K7).

Upstream (kubernetes/kubernetes pkg/controller/garbagecollector/garbagecollector.go @
02830ed24bc1ee4e69245bcb35275f16dcc2b33e, graph_builder.go @ 53f1b9d6f8de259644c05a25aa7ac8c6a67258e2)
keeps a graph of owners and dependents from informers of every deletable resource (Events are
ignored) and two queues served by ``--concurrent-gc-syncs`` (20) workers:

* ``attemptToDeleteItem``: a live GET of the item, then of its owner (unless the owner is in the
  ``absentOwnerCache``, an LRU of 500); an owner that is gone (or has another uid) makes the item
  *dangling*: it is deleted (Background); an owner being deleted in the foreground makes the item
  deleted too (Foreground when the item has dependents of its own, else Background); a solid owner
  leaves it alone;
* ``processDeletingDependentsItem``: an owner with the ``foregroundDeletion`` finalizer waits until
  its blocking dependents are gone, then the GC PATCHes the finalizer away (the apiserver then
  removes it); meanwhile it queues those dependents for deletion;
* orphaning: an owner with the ``orphan`` finalizer has every dependent's owner reference removed
  (a PATCH each), then its finalizer.

So deleting a Deployment (Background) deletes its ReplicaSets when the GC sees the Deployment gone,
and their pods when it sees the ReplicaSets gone; a pod's DELETE is graceful (its kubelet ends it).
Here the graph is built from the controller manager's informers (the GC shares them instead of
running its own metadata informers: the fan-out of those extra watches is not modelled, and the
run's ``ignored`` list says so). The GETs are *charged*
(:func:`~kbench.cluster.apiserver.charged.charge_get`: their CPU, etcd reads and latency booked
without events) and delay the DELETE that follows. Successful deletions are counted per resource
(``gc.deleted``).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Generator

import simpy

from kbench.cluster.apiserver.charged import charge_get
from kbench.cluster.apiserver.readpath import METADATA_OBJECT_BYTES
from kbench.cluster.apiserver.storage import FOREGROUND, ORPHAN
from kbench.cluster.controllers.common import Controller
from kbench.cluster.objects.workloads import KIND_RESOURCE, split_owner

RESOURCE_KIND = {r: k for k, r in KIND_RESOURCE.items()}
ABSENT_OWNER_CACHE = 500
"""Upstream ``NewReferenceCache(500)`` (absentOwnerCache)."""


class GarbageCollector(Controller):
    """The garbage collector (``--concurrent-gc-syncs`` workers, K2: 20)."""

    name = "garbagecollector"
    component = "garbage-collector"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.gc_workers)
        self.deps: dict[str, dict[tuple[str, str], bool]] = {}  # owner ref -> {(resource, key): blocking}
        self.absent: OrderedDict = OrderedDict()
        self.deleted: Counter[str] = Counter()
        self.gets = 0
        self.orphaned = 0

    # ------------------------------------------------------------------------------ the graph
    def handlers(self, resource: str) -> dict:
        """Graph builder handlers of the informer of ``resource``."""
        return {"on_add": lambda obj: self.added(resource, obj),
                "on_update": lambda old, new: self.updated(resource, old, new),
                "on_delete": lambda obj: self.removed(resource, obj)}

    def pod_added(self, pod) -> None:
        self.added("pods", pod)

    def pod_updated(self, old, new) -> None:
        if old.owner != new.owner:
            self.updated("pods", old, new)

    def pod_deleted(self, pod) -> None:
        self.removed("pods", pod)

    def added(self, resource: str, obj) -> None:
        owner = obj.owner
        if owner is not None:
            self.deps.setdefault(owner, {})[(resource, obj.key)] = True
            res, key = split_owner(owner)
            cur = self.mgr.cache(res).get(key) if res in self.mgr.informers else None
            if cur is None or (obj.owner_uid and getattr(cur, "uid", 0) != obj.owner_uid):
                self.queue.add(f"a|{resource}|{obj.key}")  # maybe dangling
        self._watch_finalizers(resource, obj)

    def updated(self, resource: str, old, new) -> None:
        if old.owner != new.owner:
            if old.owner is not None:
                self._unlink(old.owner, (resource, old.key))
            if new.owner is not None:
                self.deps.setdefault(new.owner, {})[(resource, new.key)] = True
        self._watch_finalizers(resource, new)

    def removed(self, resource: str, obj) -> None:
        if obj.owner is not None:
            self._unlink(obj.owner, (resource, obj.key))
        ref = f"{RESOURCE_KIND.get(resource, resource)}/{obj.key}"
        for dep_res, dep_key in list(self.deps.get(ref, ())):
            self.queue.add(f"a|{dep_res}|{dep_key}")  # the owner is gone: its dependents dangle

    def _unlink(self, owner: str, dep: tuple[str, str]) -> None:
        d = self.deps.get(owner)
        if d is None:
            return
        d.pop(dep, None)
        if not d:
            del self.deps[owner]
        res, key = split_owner(owner)
        if res in self.mgr.informers:
            cur = self.mgr.cache(res).get(key)
            if cur is not None and getattr(cur, "deleting", False) and FOREGROUND in getattr(cur, "finalizers", ()):
                self.queue.add(f"f|{res}|{key}")

    def _watch_finalizers(self, resource: str, obj) -> None:
        if getattr(obj, "deleting", False):
            fins = getattr(obj, "finalizers", ())
            if FOREGROUND in fins:
                self.queue.add(f"f|{resource}|{obj.key}")
            if ORPHAN in fins:
                self.queue.add(f"o|{resource}|{obj.key}")

    # ----------------------------------------------------------------------------------- work
    def sync(self, item: str) -> Generator[simpy.Event, object, bool]:
        kind, resource, key = item.split("|", 2)
        if kind == "a":
            return (yield from self._attempt(resource, key))
        if kind == "f":
            return (yield from self._deleting_dependents(resource, key))
        return (yield from self._orphan(resource, key))

    def _get(self, resource: str) -> float:
        """A live GET (from etcd, metadata only), charged: its latency, seconds."""
        self.gets += 1
        req = self.client.request("get", resource, name="", size_bytes=METADATA_OBJECT_BYTES)
        return charge_get(self.world.api, req)

    def _attempt(self, resource: str, key: str) -> Generator[simpy.Event, object, bool]:
        """``attemptToDeleteItem``."""
        etcd = self.world.plane.etcd
        cur = etcd.get(resource, key)
        if cur is None or cur.owner is None:
            return True
        lat = self._get(resource)
        owner = cur.owner
        ref = (owner, cur.owner_uid)
        res, okey = split_owner(owner)
        if ref in self.absent:
            self.absent.move_to_end(ref)
            owner_val = None
        else:
            lat += self._get(res)
            owner_val = etcd.get(res, okey)
            if owner_val is not None and cur.owner_uid and getattr(owner_val, "uid", 0) != cur.owner_uid:
                owner_val = None
            if owner_val is None:
                self.absent[ref] = True
                if len(self.absent) > ABSENT_OWNER_CACHE:
                    self.absent.popitem(last=False)
        if owner_val is None:
            prop = "Background"
        elif getattr(owner_val, "deleting", False) and FOREGROUND in getattr(owner_val, "finalizers", ()):
            mine = f"{RESOURCE_KIND.get(resource, resource)}/{key}"
            prop = "Foreground" if self.deps.get(mine) else "Background"
        else:
            yield self.env.timeout(lat)
            return True  # a solid owner
        was_deleting = getattr(cur, "deleting", False)
        uid = getattr(cur, "uid", 0)
        resp = yield from self.write("delete", resource, key, size_bytes=METADATA_OBJECT_BYTES, propagation=prop, lead_s=lat,
                                     precondition=lambda v: v is not None and getattr(v, "uid", 0) == uid)
        if resp.ok and not was_deleting:
            self.deleted[resource] += 1
        return resp.ok or resp.code == 409

    def _finalizing(self, resource: str, key: str, finalizer: str) -> str | None:
        """The owner reference of ``resource/key`` if it is being deleted with ``finalizer``."""
        owner = self.mgr.cache(resource).get(key) if resource in self.mgr.informers else None
        if owner is None or not owner.deleting or finalizer not in owner.finalizers:
            return None
        return f"{RESOURCE_KIND.get(resource, resource)}/{key}"

    def _deleting_dependents(self, resource: str, key: str) -> Generator[simpy.Event, object, bool]:
        """``processDeletingDependentsItem``: remove the finalizer once no blocking dependent is left."""
        ref = self._finalizing(resource, key, FOREGROUND)
        if ref is None:
            return True
        blocking = list(self.deps.get(ref, ()))
        if blocking:
            for dep_res, dep_key in blocking:
                self.queue.add(f"a|{dep_res}|{dep_key}")
            return True

        def drop(cur):
            if cur is None:
                return None
            return cur.evolve(finalizers=tuple(f for f in cur.finalizers if f != FOREGROUND))

        resp = yield from self.write("patch", resource, key, size_bytes=METADATA_OBJECT_BYTES, mutate=drop)
        return resp.ok or resp.code == 409

    def _orphan(self, resource: str, key: str) -> Generator[simpy.Event, object, bool]:
        """``orphanDependents``: drop every dependent's owner reference, then the finalizer."""
        ref = self._finalizing(resource, key, ORPHAN)
        if ref is None:
            return True

        def unowned(cur):
            return None if cur is None else cur.evolve(owner=None, owner_uid=0)

        ok = True
        for dep_res, dep_key in list(self.deps.get(ref, ())):
            resp = yield from self.write("patch", dep_res, dep_key, size_bytes=METADATA_OBJECT_BYTES, mutate=unowned)
            if resp.ok:
                self.orphaned += 1
            elif resp.code != 409:
                ok = False
        if not ok:
            return False

        def drop(cur):
            return None if cur is None else cur.evolve(finalizers=tuple(f for f in cur.finalizers if f != ORPHAN))

        resp = yield from self.write("patch", resource, key, size_bytes=METADATA_OBJECT_BYTES, mutate=drop)
        return resp.ok or resp.code == 409
