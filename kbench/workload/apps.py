"""The workload driver's objects: Deployments, Jobs, Services, DaemonSets, StatefulSets, Namespaces,
and the ops that scale, roll and delete them (issue 18).

:class:`AppsDriver` is a part of :class:`~kbench.workload.driver.WorkloadDriver` (its base). Each
spec is one process that walks its objects in start order: a spec with ``copies`` and
``namespaces`` makes ``<name>-<i>`` in every namespace, each starting at ``at_s`` plus an offset
drawn uniformly in ``[0, spread_s)`` from the stream ``workload/spec/<name>`` (CL2's
RandomizedSaturationTimeLimited). Objects are :class:`~kbench.cluster.objects.workloads.ApiObj`
values with a uid, created by the driver's client (no client-side limit, like CL2's).

``updates`` change live objects (``update deployments`` etc. with the new spec, generation + 1):
new replicas (a count, or each object's current replicas times a factor drawn in ``[low, high]``)
and/or a new pod template (a rollout). ``deletes`` send DELETEs with a propagation policy. Both
match targets by name and namespace patterns (``*``) among the objects the driver made, spread over
``spread_s``. Barriers ``until: running`` and ``until: deleted`` read the objects' status and the
pods that are left (:class:`PodsByOwner`).
"""

from __future__ import annotations

import dataclasses
from fnmatch import fnmatchcase

import numpy as np

from kbench.cluster.objects.workloads import ApiObj

RESOURCE = {"deployment": "deployments", "daemonset": "daemonsets", "statefulset": "statefulsets",
            "job": "jobs", "service": "services", "namespace": "namespaces"}
SIZE = {"deployments": 2048, "daemonsets": 2048, "statefulsets": 2048, "jobs": 2048, "services": 1024,
        "namespaces": 512}


def copies_of(spec) -> list[tuple[str, str]]:
    """``(namespace, name)`` of every object a spec with ``copies`` / ``namespaces`` makes: just
    ``<name>``, or ``<name>-<i>`` when there are several copies or per-namespace copies."""
    per_ns = getattr(spec, "namespaces", None)
    namespaces = list(per_ns or [spec.namespace])
    copies = getattr(spec, "copies", 1)
    names = [spec.name] if copies == 1 and not per_ns else [f"{spec.name}-{i}" for i in range(copies)]
    return [(ns, n) for ns in namespaces for n in names]


class PodsByOwner:
    """Live pods per top-level owner (``kind``, ``ns/name``), from etcd's commits: a Deployment's
    through its ReplicaSets (named ``<deployment>-<hash>``)."""

    def __init__(self, etcd):
        self.count: dict[tuple[str, str], int] = {}
        self._top: dict[str, tuple[str, str]] = {}
        etcd.subscribe(self._on_commit, lambda _recs: None)

    @staticmethod
    def top(owner: str) -> tuple[str, str] | None:
        kind, _, key = owner.partition("/")
        if kind == "ReplicaSet":
            return ("deployment", key.rpartition("-")[0])
        low = kind.lower()
        return (low, key) if low in RESOURCE else None

    def _on_commit(self, rec) -> None:
        if rec.resource != "pods":
            return
        if rec.op == "create":
            owner = getattr(rec.value, "owner", None)
            top = self.top(owner) if owner else None
            if top is not None:
                self._top[rec.key] = top
                self.count[top] = self.count.get(top, 0) + 1
        elif rec.op == "delete":
            top = self._top.pop(rec.key, None)
            if top is not None:
                self.count[top] -= 1


class AppsDriver:
    """Objects and their ops (a part of the workload driver; see the module docstring)."""

    def _apps_init(self) -> None:
        self.live: dict[str, dict[str, object]] = {k: {} for k in RESOURCE}  # kind -> key -> spec
        self.deleted_since: list[tuple[str, str]] = []  # (kind, key) deleted since the last barrier
        self.barrier_waits: dict[str, float] = {}
        self.barrier_timed_out: set[str] = set()  # barriers that gave up at their timeout_s
        wl = self.world.scenario.workload
        needs = any(b.until == "deleted" for b in wl.barriers)
        self.pods_by_owner = PodsByOwner(self.world.plane.etcd) if needs else None

    def _apps_start(self) -> None:
        wl = self.world.scenario.workload
        for spec in wl.namespaces:
            self.env.process(self._namespaces(spec))
        for spec in wl.services:
            self.env.process(self._objects("service", spec))
        for spec in wl.deployments:
            self.env.process(self._objects("deployment", spec))
        for spec in wl.daemonsets:
            self.env.process(self._objects("daemonset", spec))
        for spec in wl.statefulsets:
            self.env.process(self._objects("statefulset", spec))
        for u in wl.updates:
            self.env.process(self._update(u))
        for d in wl.deletes:
            self.env.process(self._delete(d))

    # ---------------------------------------------------------------------------------- creating
    def _offsets(self, name: str, n: int, spread_s: float) -> np.ndarray:
        if spread_s <= 0 or n == 0:
            return np.zeros(n)
        return self.world.stream(f"workload/spec/{name}").uniform(0.0, spread_s, n)

    def _objects(self, kind: str, spec):
        """Create the objects of ``spec`` in start order (and delete them at ``delete_at_s``)."""
        t0 = yield from self._start(spec)
        objs = copies_of(spec)
        offsets = self._offsets(spec.name, len(objs), getattr(spec, "spread_s", 0.0))
        order = sorted(range(len(objs)), key=lambda i: (offsets[i], i))
        for i in order:
            yield from self._at(t0 + spec.at_s + float(offsets[i]))
            ns, name = objs[i]
            yield from self._create(kind, spec, ns, name, i)
        self._done(spec.name)
        if getattr(spec, "delete_at_s", 0.0) > spec.at_s:
            for i in order:
                yield from self._at(t0 + spec.delete_at_s + float(offsets[i]))
                ns, name = objs[i]
                prop = getattr(spec, "delete_propagation", "")
                yield from self._send_delete(kind, f"{ns}/{name}", prop)

    def _create(self, kind: str, spec, ns: str, name: str, index: int):
        w = self.world
        key = f"{ns}/{name}"
        if kind == "service":
            sel = {"app": f"{spec.select_prefix}-{index % max(1, spec.copies)}"} if spec.select_prefix else \
                dict(spec.selector)
            value = ApiObj(key, {"selector": sel}, uid=w.new_uid())
        else:
            one = dataclasses.replace(spec, name=name, namespace=ns, copies=1, namespaces=[]) \
                if hasattr(spec, "copies") else dataclasses.replace(spec, name=name, namespace=ns)
            if kind == "deployment" and getattr(spec, "service", False):
                svc = ApiObj(key, {"selector": {"app": name}}, uid=w.new_uid())
                yield from w.write(self.client, "create", "services", key, svc, size_bytes=1024)
                self.live["service"][key] = svc
            data = {"spec": one}
            if kind == "job":
                data.update(succeeded=0, failed=0, active=0, complete=False)
            value = ApiObj(key, data, uid=w.new_uid())
        resource = RESOURCE[kind]
        resp = yield from w.write(self.client, "create", resource, key, value, size_bytes=SIZE[resource])
        if resp.ok:
            self.live[kind][key] = value

    def _namespaces(self, spec):
        t0 = yield from self._start(spec)
        w = self.world
        for name in spec.names():
            yield from w.write(self.client, "create", "namespaces", name,
                               ApiObj(name, {"phase": "Active"}, uid=w.new_uid()), size_bytes=512)
            self.live["namespace"][name] = spec
        self._done(spec.name)
        if spec.delete_at_s > spec.at_s:
            yield from self._at(t0 + spec.delete_at_s)
            for name in spec.names():
                yield from self._send_delete("namespace", name, "")

    # ---------------------------------------------------------------------------------- updating
    def _targets(self, kind: str, target: str, namespace: str) -> list[str]:
        out = []
        for key in self.live[kind]:
            ns, _, name = key.partition("/") if kind != "namespace" else ("", "", key)
            if fnmatchcase(name, target) and (kind == "namespace" or fnmatchcase(ns, namespace)):
                out.append(key)
        return out

    def _update(self, u):
        yield from self._start(u)
        keys = self._targets(u.kind, u.target, u.namespace)
        offsets = self._offsets(u.name, len(keys), u.spread_s)
        rng = self.world.stream(f"workload/update/{u.name}")
        factors = None
        if isinstance(u.replicas, dict):
            lo, hi = (u.replicas.get("relative") or [1.0, 1.0])[:2]
            factors = rng.uniform(float(lo), float(hi), len(keys))
        now = self.env.now
        order = sorted(range(len(keys)), key=lambda i: (offsets[i], i))
        self.rollouts = getattr(self, "rollouts", 0) + 1
        stamp = str(self.rollouts)
        for i in order:
            yield from self._at(now + float(offsets[i]))
            mutate = self._spec_change(u, None if factors is None else float(factors[i]), stamp)
            resource = RESOURCE[u.kind]
            yield from self.world.write(self.client, "update", resource, keys[i], size_bytes=SIZE[resource],
                                        mutate=mutate)
        self._done(u.name)

    @staticmethod
    def _spec_change(u, factor: float | None, stamp: str):
        """The apiserver-side change of one object's spec: replicas and/or template (a rollout)."""

        def mutate(cur):
            if cur is None or getattr(cur, "deleting", False):
                return None
            spec = cur.data["spec"]
            changes = {}
            if u.replicas is not None and hasattr(spec, "replicas"):
                changes["replicas"] = (max(0, int(round(spec.replicas * factor))) if factor is not None
                                       else int(u.replicas))
            if u.rollout or u.template:
                t = spec.template
                tc = dict(u.template)
                if u.rollout:
                    tc["labels"] = {**t.labels, **tc.get("labels", {}), "kbench/rollout": stamp}
                changes["template"] = dataclasses.replace(t, **tc)
            new = cur.with_data(spec=dataclasses.replace(spec, **changes))
            new.generation = cur.generation + 1
            return new

        return mutate

    # ---------------------------------------------------------------------------------- deleting
    def _delete(self, d):
        yield from self._start(d)
        keys = self._targets(d.kind, d.target, d.namespace)
        offsets = self._offsets(d.name, len(keys), d.spread_s)
        now = self.env.now
        for i in sorted(range(len(keys)), key=lambda i: (offsets[i], i)):
            yield from self._at(now + float(offsets[i]))
            yield from self._send_delete(d.kind, keys[i], d.propagation)
        self._done(d.name)

    def _send_delete(self, kind: str, key: str, propagation: str):
        resource = RESOURCE[kind]
        self.live[kind].pop(key, None)
        self.deleted_since.append((kind, key))
        yield from self.world.write(self.client, "delete", resource, key, size_bytes=SIZE[resource],
                                    propagation=propagation)

    # ---------------------------------------------------------------------------------- barriers
    def _running(self, waiting: set[tuple[str, str]]) -> bool:
        """Every live Deployment, DaemonSet, StatefulSet in ``waiting`` has all its pods available
        (CL2's WaitForControlledPodsRunning); those that are go out of ``waiting``."""
        etcd = self.world.plane.etcd
        for kind, key in sorted(waiting):
            cur = etcd.get(RESOURCE[kind], key)
            if cur is None or self._controlled_running(kind, cur):
                waiting.discard((kind, key))
        return not waiting

    @staticmethod
    def _controlled_running(kind: str, cur) -> bool:
        spec, st = cur.data["spec"], cur.data.get("status")
        if st is None:
            return False
        if kind == "deployment":
            return (st.get("observed_generation", 0) >= cur.generation and st.get("updated") == spec.replicas
                    and st.get("available", 0) >= spec.replicas and st.get("replicas") == spec.replicas)
        if kind == "daemonset":
            desired, _current, _ready, avail, updated, _mis, _gen = st
            return avail == desired and updated == desired
        return st[1] >= spec.replicas and st[3] >= spec.replicas  # statefulset: ready, updated

    def _gone(self, waiting: set[tuple[str, str]]) -> bool:
        """Every object in ``waiting`` is gone from etcd and so are its pods."""
        etcd = self.world.plane.etcd
        counts = self.pods_by_owner.count if self.pods_by_owner is not None else {}
        for kind, key in sorted(waiting):
            if not etcd.has(RESOURCE[kind], key) and counts.get((kind, key), 0) <= 0:
                waiting.discard((kind, key))
        return not waiting
