"""Deployment controller: one ReplicaSet per pod template, rolling updates, revision history.

A Deployment (``deployments/<ns>/<name>``, an :class:`~kbench.cluster.objects.workloads.ApiObj`
with ``data["spec"]`` a :class:`~kbench.config.workload.DeploymentSpec`) owns ReplicaSets
``<name>-<pod-template-hash>``; the ReplicaSet controller (:mod:`.replicaset`) keeps their pods. A
sync follows upstream's ``syncDeployment`` (kubernetes/kubernetes pkg/controller/deployment:
sync.go @ 737067c1d67d6118c3c3abf58b4f00e67a2409df, rolling.go @
95f08499d652a6211121d8af35f470609217c730, recreate.go; arithmetic in :mod:`.deployutil`):

1. a Deployment being deleted only gets its status synced (the garbage collector cascades);
2. a *scaling event* (an active ReplicaSet's desired-replicas annotation differs from the
   Deployment's replicas) scales the active ReplicaSets proportionally (``scale``);
3. RollingUpdate (``rolloutRolling``): the new ReplicaSet is created if missing (replicas from
   ``NewRSNewReplicas``, revision = the largest old one + 1, Event ``ScalingReplicaSet``, then a
   status write), scaled up within maxSurge (``reconcileNewReplicaSet``), else the old ones are
   scaled down within maxUnavailable (``reconcileOldReplicaSets``); once complete, old ReplicaSets
   beyond ``revisionHistoryLimit`` with no replicas are deleted (``cleanupDeployment``);
   Recreate scales the old ones to 0, waits until their pods are gone, then scales up the new one;
4. ``deployments/status`` (observedGeneration, replicas, updated, ready, available,
   unavailable) is written only when it changed (``syncDeploymentStatus``).

Every ReplicaSet write updates the spec replicas and the desired/max-replicas annotations (a RS
``update``, generation + 1) and records ``ScalingReplicaSet`` on the Deployment ("Scaled up replica
set X from a to b", J8). Triggers: the Deployment, and its ReplicaSets' adds, updates and deletes
(RS status changes drive a rollout on).

Not modelled: ``paused``, rollbacks, ``progressDeadlineSeconds`` (the Progressing condition is not
kept), the annotations copied from the Deployment.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from kbench.cluster.controllers import deployutil as du
from kbench.cluster.controllers.common import Controller
from kbench.cluster.objects.workloads import ApiObj, template_hash

OWNER = "Deployment/"


def rs_view(rs: ApiObj) -> du.RS:
    """What the Deployment controller reads of a stored ReplicaSet."""
    data = rs.data
    st = data.get("status") or (0, 0, 0, 0)
    return du.RS(rs.key, data["replicas"], st[0], st[1], st[2], data.get("revision", 0), rs.uid,
                 data.get("desired"), data.get("max_replicas"), st[3], rs.generation, rs.deleting)


def pod_labels(spec) -> dict[str, str]:
    """The labels a Deployment's pods carry (its selector's and the template's)."""
    return {**spec.template.labels, **spec.labels, **(spec.selector or {"app": spec.name})}


class DeploymentController(Controller):
    """Deployments (``--concurrent-deployment-syncs`` workers, K2: 5)."""

    name = "deployment"
    component = "deployment-controller"
    wants_pods = True

    def __init__(self, mgr):
        super().__init__(mgr, mgr.cfg.deployment_workers)
        self.owned: dict[str, set[str]] = {}  # Deployment key -> its ReplicaSet keys
        self._rs_owner: dict[str, str] = {}
        self._written: dict[str, dict] = {}  # the last status this controller wrote

    def handlers(self) -> dict:
        """Handlers of the ``deployments`` informer."""
        return self.key_handlers()

    def rs_event(self, rs: ApiObj, gone: bool = False) -> None:
        """A ReplicaSet changed (called by the manager's ``replicasets`` informer handlers)."""
        owner = rs.owner
        if owner is None or not owner.startswith(OWNER):
            return
        dkey = owner[len(OWNER):]
        if gone:
            keys = self.owned.get(dkey)
            if keys is not None:
                keys.discard(rs.key)
            self._rs_owner.pop(rs.key, None)
        else:
            self.owned.setdefault(dkey, set()).add(rs.key)
            self._rs_owner[rs.key] = dkey
        self.queue.add(dkey)

    def pod_deleted(self, pod) -> None:
        """Recreate waits for old pods to be gone."""
        owner = pod.owner
        if owner is not None and owner.startswith("ReplicaSet/"):
            dkey = self._rs_owner.get(owner[len("ReplicaSet/"):])
            if dkey is not None:
                self.queue.add(dkey)

    # --------------------------------------------------------------------------------------- sync
    def sync(self, key: str) -> Generator[simpy.Event, object, bool]:
        d = self.mgr.cache("deployments").get(key)
        if d is None:
            self.owned.pop(key, None)
            self._written.pop(key, None)
            return True
        spec = d.data["spec"]
        cache = self.mgr.cache("replicasets")
        objs = {k: cache[k] for k in sorted(self.owned.get(key, ())) if k in cache}
        views = {k: rs_view(o) for k, o in objs.items()}
        h = template_hash((spec.template, pod_labels(spec)))
        new_key = f"{key}-{h}"
        new = views.get(new_key)
        olds = [v for k, v in views.items() if k != new_key]
        if d.deleting:
            return (yield from self._sync_status(d, spec, new, olds))
        active = [r for r in olds + ([new] if new else []) if r.replicas > 0]
        if any(r.desired is not None and r.desired != spec.replicas for r in active):
            ok = yield from self._scale(d, spec, new, olds)
            return (yield from self._sync_status(d, spec, new, olds)) and ok
        if spec.strategy == "Recreate":
            return (yield from self._recreate(d, spec, h, new, olds))
        return (yield from self._rolling(d, spec, h, new, olds))

    def _rolling(self, d, spec, h, new, olds) -> Generator[simpy.Event, object, bool]:
        """``rolloutRolling``."""
        if new is None:
            new = yield from self._create_rs(d, spec, h, olds)
            if new is None:
                return False
        all_rss = olds + [new]
        if new.replicas != spec.replicas:  # reconcileNewReplicaSet
            target = spec.replicas if new.replicas > spec.replicas else du.new_rs_new_replicas(spec, all_rss, new)
            if target != new.replicas:
                ok = yield from self._scale_rs(d, spec, new, target)
                return (yield from self._sync_status(d, spec, new, olds)) and ok
        downs = du.reconcile_old(spec, all_rss, [r for r in olds if r.replicas > 0], new)
        if downs:
            ok = True
            for rs, n in downs:
                ok = (yield from self._scale_rs(d, spec, rs, n)) and ok
            return (yield from self._sync_status(d, spec, new, olds)) and ok
        status = self._status(d, spec, new, olds)
        if du.deployment_complete(spec, status, d.generation):
            yield from self._cleanup(spec, olds)
        return (yield from self._sync_status(d, spec, new, olds))

    def _recreate(self, d, spec, h, new, olds) -> Generator[simpy.Event, object, bool]:
        """``rolloutRecreate``: old ReplicaSets to 0, wait for their pods, then the new one."""
        ok = True
        scaled = False
        for rs in olds:
            if rs.replicas > 0:
                ok = (yield from self._scale_rs(d, spec, rs, 0)) and ok
                scaled = True
        pods = self.mgr.pods_by_owner
        if scaled or any(pods.get("ReplicaSet/" + rs.key) for rs in olds):
            return (yield from self._sync_status(d, spec, new, olds)) and ok
        if new is None:
            new = yield from self._create_rs(d, spec, h, olds)
            if new is None:
                return False
        elif new.replicas != spec.replicas:
            ok = (yield from self._scale_rs(d, spec, new, spec.replicas)) and ok
        status = self._status(d, spec, new, olds)
        if du.deployment_complete(spec, status, d.generation):
            yield from self._cleanup(spec, olds)
        return (yield from self._sync_status(d, spec, new, olds)) and ok

    def _scale(self, d, spec, new, olds) -> Generator[simpy.Event, object, bool]:
        """``scale``: a replicas change spread over the active ReplicaSets by their size."""
        latest = du.find_active_or_latest(new, olds)
        if latest is not None:
            if latest.replicas == spec.replicas and latest.desired == spec.replicas:
                return True
            return (yield from self._scale_rs(d, spec, latest, spec.replicas))
        if du.is_saturated(spec, new):
            ok = True
            for rs in olds:
                if rs.replicas > 0:
                    ok = (yield from self._scale_rs(d, spec, rs, 0)) and ok
            return ok
        active = [r for r in olds + ([new] if new else []) if r.replicas > 0]
        if spec.strategy != "RollingUpdate" or not active:
            return True
        to_add = spec.replicas + du.max_surge(spec) - du.total(active)
        status_replicas = (d.data.get("status") or {}).get("replicas", du.total(active))
        order = sorted(active, key=lambda r: (-r.replicas, -r.created) if to_add > 0 else (r.replicas, -r.created))
        sizes, added = {}, 0
        for rs in order:
            p = du.get_proportion(rs, spec, to_add, added, status_replicas)
            sizes[rs.key] = rs.replicas + p
            added += p
        if order:
            sizes[order[0].key] += to_add - added
        ok = True
        for rs in order:
            ok = (yield from self._scale_rs(d, spec, rs, max(0, sizes[rs.key]))) and ok
        return ok

    # --------------------------------------------------------------------------------- writes
    def _create_rs(self, d, spec, h, olds) -> Generator[simpy.Event, object, du.RS | None]:
        """``getNewReplicaSet``: create the new ReplicaSet (``<name>-<hash>``)."""
        ns, name = spec.namespace, spec.name
        key = f"{d.key}-{h}"
        revision = max((r.revision for r in olds), default=0) + 1
        view = du.RS(key, 0, revision=revision, created=10**12)
        replicas = du.new_rs_new_replicas(spec, olds + [view], view)
        surge = du.max_surge(spec)
        obj = ApiObj(key, {"replicas": replicas, "template": spec.template, "hash": h, "deployment": d.key,
                           "revision": revision, "desired": spec.replicas, "max_replicas": spec.replicas + surge,
                           "labels": pod_labels(spec), "min_ready_s": spec.min_ready_s, "status": None,
                           "selector": {**(spec.selector or {"app": spec.name}), "pod-template-hash": h}},
                     uid=self.world.new_uid(), owner=OWNER + d.key, owner_uid=d.uid)
        resp = yield from self.write("create", "replicasets", key, obj)
        if not resp.ok and resp.code != 409:
            return None
        view = du.RS(key, replicas, revision=revision, created=obj.uid, desired=spec.replicas,
                     max_replicas=spec.replicas + surge)
        if resp.ok and replicas > 0:
            self.event(("Deployment", d.uid), ns, name, "Normal", "ScalingReplicaSet",
                       f"Scaled up replica set {key.partition('/')[2]} from 0 to {replicas}")
        yield from self._sync_status(d, spec, view, olds, force_revision=revision)
        return view

    def _scale_rs(self, d, spec, rs: du.RS, n: int) -> Generator[simpy.Event, object, bool]:
        """``scaleReplicaSet``: spec replicas and the desired/max-replicas annotations."""
        desired, max_r = spec.replicas, spec.replicas + du.max_surge(spec)
        if rs.replicas == n and rs.desired == desired and rs.max_replicas == max_r:
            return True

        def mutate(cur):
            if cur is None:
                return None
            new = cur.with_data(replicas=n, desired=desired, max_replicas=max_r)
            new.generation = cur.generation + (cur.data["replicas"] != n)
            return new

        resp = yield from self.write("update", "replicasets", rs.key, mutate=mutate)
        if not resp.ok:
            return resp.code == 409
        if rs.replicas != n:
            word = "up" if n > rs.replicas else "down"
            self.event(("Deployment", d.uid), spec.namespace, spec.name, "Normal", "ScalingReplicaSet",
                       f"Scaled {word} replica set {rs.key.partition('/')[2]} from {rs.replicas} to {n}")
        rs.replicas, rs.desired, rs.max_replicas = n, desired, max_r
        return True

    def _cleanup(self, spec, olds) -> Generator[simpy.Event, object, None]:
        """``cleanupDeployment``: delete the oldest ReplicaSets beyond the history limit."""
        alive = sorted((r for r in olds if not r.deleting), key=lambda r: (r.revision, r.created))
        extra = len(alive) - spec.revision_history_limit
        for rs in alive[:max(0, extra)]:
            if rs.status_replicas != 0 or rs.replicas != 0 or rs.observed_generation < rs.generation:
                continue
            yield from self.write("delete", "replicasets", rs.key)

    def _status(self, d, spec, new, olds) -> dict:
        """``calculateStatus``."""
        rss = olds + ([new] if new else [])
        avail = du.available(rss)
        return {"observed_generation": d.generation, "replicas": sum(r.status_replicas for r in rss),
                "updated": new.status_replicas if new else 0, "ready": sum(r.ready for r in rss),
                "available": avail, "unavailable": max(spec.replicas - avail, 0),
                "revision": new.revision if new else d.data.get("status", {}).get("revision", 0)}

    def _sync_status(self, d, spec, new, olds, force_revision: int = 0) -> Generator[simpy.Event, object, bool]:
        """``syncDeploymentStatus``: UpdateStatus only when the status changed."""
        status = self._status(d, spec, new, olds)
        if force_revision:
            status["revision"] = force_revision
        if status == self._written.get(d.key, d.data.get("status")):
            return True

        def mutate(cur):
            return None if cur is None else cur.with_data(status=status)

        resp = yield from self.write("update", "deployments/status", d.key, mutate=mutate)
        if resp.ok:
            self._written[d.key] = status
        return resp.ok or resp.code == 409
