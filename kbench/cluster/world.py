"""The shared context of a pod-lifecycle run: control plane, specs, pod timeline, counters.

Every component (scheduler, controllers, kubelets, kube-proxies, workload drivers) is built with
the :class:`World` and talks to the cluster only through the apiserver (``world.write``, informers
from ``world.informer``). Measurements go to ``world.timeline`` (per pod) and ``world.counters``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator

import numpy as np
import simpy

from kbench.cluster.apiserver.eventttl import EventTTL
from kbench.cluster.apiserver.server import Response
from kbench.cluster.clients.client import Client
from kbench.cluster.clients.informer import Informer
from kbench.cluster.clients.reflector import InformerStats
from kbench.cluster.controlplane import ControlPlane
from kbench.cluster.events.recorder import EventHub
from kbench.cluster.objects import Node
from kbench.cluster.objects.clusterobjects import ClusterObjects
from kbench.cluster.objects.stored import (
    LEASE_BYTES,
    NODE_BYTES,
    POD_BYTES,
    GenericObj,
    NodeObj,
    PodObj,
    pod_partition,
)
from kbench.config import Scenario
from kbench.config.clients import SyncStrategy
from kbench.metrics.pods import PodTimeline


def _ignore(_recs: list) -> None:
    """Batched commits (lease renewals, Event expiry) carry no pod deletions."""


class World:
    """Everything a lifecycle component needs.

    Args:
        scenario: The effective scenario.
        seed: Overrides the scenario's seed.

    Attributes:
        plane: etcd, flow control, apiserver and their collectors.
        env: The SimPy environment (virtual seconds).
        api: The apiserver.
        scenario: The scenario.
        timeline: Per-pod lifecycle timestamps.
        counters: Named event counts (``bind_conflicts``, ``evictions``, ...).
        node_specs: Node specs by name (in creation order).
        informer_stats: LIST/relist/watch counters per client class.
        objects: Namespaces, Services and controllers the scheduler's listers hold (filled from the
            scenario by the runner).
        events: Event recorders, their sinks and statistics (``events.recorder(...)``).
        event_ttl: The Events' etcd leases (None when Events are off or never expire).
        existing_uids: Pods that were on their nodes before the run (a cluster dump's): their
            kubelets adopt the running ones instead of starting them.
        initial_namespaces: Namespaces besides ``default`` that exist at 0 s, with their labels
            (the controller manager stores them with their ServiceAccount and root CA).
        inputs: The run's kubectl inputs (:class:`~kbench.workload.kubectlinputs.KubectlInputs`),
            or None.
    """

    def __init__(self, scenario: Scenario, seed: int | None = None):
        self.plane = ControlPlane.build(scenario, seed)
        self.env: simpy.Environment = self.plane.env
        self.api = self.plane.api
        self.scenario = scenario
        self.timeline = PodTimeline()
        self.counters: Counter[str] = Counter()
        self.node_specs: dict[str, Node] = {}
        self.informer_stats: dict[str, InformerStats] = {}
        self.objects = ClusterObjects()
        self.api.cache("pods", pod_partition)  # indexed by spec.nodeName (kubelets' field selector)
        self._pod_uid: dict[str, int] = {}
        self._uids = 0
        self.plane.etcd.subscribe(self._on_commit, _ignore)
        self.events = EventHub(self)
        ev = scenario.events
        self.event_ttl = None
        self.existing_uids: set[int] = set()
        self.initial_namespaces: dict[str, dict[str, str]] = {}
        self.inputs = None
        if ev.enabled and ev.ttl_s > 0:
            self.event_ttl = EventTTL(self.env, self.api.etcd_for("events"), ev, on_expired=self._expired)

    def _expired(self, n: int) -> None:
        self.events.stats.expired += n

    def _on_commit(self, rec) -> None:
        """A pod's removal from etcd, whoever sent the DELETE: timeline ``deleted``, final state,
        counter ``pods_deleted``."""
        if rec.op == "delete" and rec.resource == "pods":
            uid = self._pod_uid.get(rec.key)
            if uid is not None:
                self.timeline.mark(uid, "deleted", rec.time_s)
                self.timeline.set_final(uid, "deleted")
                self.counters["pods_deleted"] += 1

    def new_uid(self) -> int:
        """A fresh uid for an API object other than a pod (Deployments, ReplicaSets, ...)."""
        self._uids += 1
        return self._uids

    # ------------------------------------------------------------------------------- plumbing
    def stream(self, name: str) -> np.random.Generator:
        """The named random stream of this run's seed tree."""
        return self.plane.seeds.stream(name)

    def client(self, name: str, client_class: str, user: str, groups: tuple[str, ...]) -> Client:
        """A client whose QPS/burst come from ``clients.<client_class>``."""
        return self.plane.client(name, client_class, user, groups)

    def informer(self, client: Client, resource: str, *, partition: object = None, object_bytes: int = 2048,
                 on_add: Callable | None = None, on_update: Callable | None = None,
                 on_delete: Callable | None = None, strategy: SyncStrategy | None = None) -> Informer:
        """An informer for ``client``, with the sync strategy of its class (``sync_strategies``)."""
        stats = self.informer_stats.setdefault(client.client_class, InformerStats())
        return Informer(self.api, client, resource,
                        strategy=strategy or self.scenario.sync_strategy(client.client_class),
                        rng=self.stream(f"informer/{client.client_class}"), partition=partition,
                        object_bytes=object_bytes, stats=stats, on_add=on_add, on_update=on_update,
                        on_delete=on_delete)

    def write(self, client: Client, verb: str, resource: str, key: str, value: object = None, *,
              size_bytes: int = 1024, precondition: Callable[[object], bool] | None = None,
              partition: object = None, **extra) -> Generator[simpy.Event, object, Response]:
        """Send one write (``create``, ``update``, ``patch``, ``delete``) through the apiserver.

        ``partition`` is the object's index value (a pod's node) for the final-seat estimate (A14).
        ``extra`` sets the :class:`~kbench.cluster.apiserver.request.Request` fields of issue 18
        (``mutate``, ``component``, ``propagation``, ``grace_zero``, ``store``, ``stored_bytes``).
        Use as ``resp = yield from world.write(...)``.
        """
        req = self.request(client, verb, resource, key, value, size_bytes, precondition, partition, extra)
        resp = yield from client.call(self.env, self.api, req)
        return resp

    def request(self, client: Client, verb: str, resource: str, key: str, value: object, size_bytes: int,
                precondition: Callable[[object], bool] | None, partition: object, extra: dict):
        """The request of a write (watchers of the stored resource for the final seats, A14)."""
        cache = self.api.caches.get(resource.partition("/")[0])
        watchers = cache.watcher_count(partition) if cache is not None else 0
        req = client.request(verb, resource, name=key, size_bytes=size_bytes, value=value,
                             precondition=precondition, watchers=watchers)
        for k, v in extra.items():
            setattr(req, k, v)
        return req

    def send(self, client: Client, verb: str, resource: str, key: str, value: object, done: Callable[[Response], None],
             *, size_bytes: int = 1024, partition: object = None, precondition: Callable | None = None,
             **extra) -> None:
        """:meth:`write` without a process: ``done(response)`` is called when it would return.

        The client must have ``send`` (a :class:`~kbench.cluster.kubelet.fleet.NodeClient` or a
        :class:`~kbench.cluster.clients.client.Client`); the request takes the same path, with the
        same events in the same order, as through :meth:`write`.
        """
        req = self.request(client, verb, resource, key, value, size_bytes, precondition, partition, extra)
        client.send(self.env, self.api, req, done)

    def send_many(self, client: Client, writes: list[tuple[str, object]], verb: str, resource: str,
                  done: Callable[[list[str], Response], None], *, size_bytes: int = 1024, **extra) -> None:
        """Unconditional writes ``(key, value)`` of one resource sent together
        (``Apiserver.submit_many``): ``done(keys, response)`` once per batch. ``client`` is one
        sender's (APF classifies the batch by it); the caller has applied every sender's gate and
        rate limiter."""
        head = self.request(client, verb, resource, writes[0][0], None, size_bytes, None, None, extra)
        self.api.submit_many(head, writes, done)

    def get(self, client: Client, resource: str, key: str, *, size_bytes: int = 1024
            ) -> Generator[simpy.Event, object, Response]:
        """GET one object from the watch cache (``resp.items`` is the value)."""
        req = client.request("get", resource, name=key, size_bytes=size_bytes, want_items=True)
        resp = yield from client.call(self.env, self.api, req)
        return resp

    # ---------------------------------------------------------------------------- initial state
    def add_nodes(self, nodes: list[Node]) -> None:
        """Create nodes (and their leases) as the initial state, at no API cost."""
        objs = {}
        for node in nodes:
            self.node_specs[node.name] = node
            objs[node.name] = NodeObj(node.name, node, ready=True, taints=tuple(node.taints),
                                      unschedulable=node.unschedulable)
        self.plane.etcd.preload_values("nodes", objs, NODE_BYTES)
        self.plane.etcd.preload_values("leases", {n: GenericObj(n, {"renew_s": 0.0}) for n in objs}, LEASE_BYTES)
        for resource in ("nodes", "leases"):
            cache = self.api.caches.get(resource)
            if cache is not None:
                cache.store.update(self.plane.etcd.values(resource))
                cache.rebuild_index()

    def add_existing_pods(self, pods: list) -> None:
        """Pods already bound to their nodes at 0 s (a cluster dump's), stored at no API cost.

        Args:
            pods: :class:`~kbench.workload.clusterdump.ExistingPod` values (spec, phase, ready).
        """
        objs = {}
        tl = self.timeline
        for e in pods:
            key = e.pod.key
            uid = self.pod_uid(key, "existing")
            self.existing_uids.add(uid)
            objs[key] = PodObj(key, uid, e.pod, node_name=e.pod.node_name, phase=e.phase, ready=e.ready)
            tl.set_node(uid, e.pod.node_name)
            tl.set_final(uid, "running" if e.phase == "Running" else "pending")
        if not objs:
            return
        self.plane.etcd.preload_values("pods", objs, POD_BYTES)
        cache = self.api.caches.get("pods")
        if cache is not None:
            cache.store.update(self.plane.etcd.values("pods"))
            cache.rebuild_index()

    def update_node(self, client: Client, key: str, *, labels: dict | None = None, taints: list | None = None,
                    unschedulable: bool | None = None) -> Generator[simpy.Event, object, Response]:
        """Change a node's labels, taints or cordon through the apiserver (an ``update nodes``
        write whose watch event reaches every node informer). Use as ``yield from``."""
        from dataclasses import replace

        cur = self.plane.etcd.values("nodes")[key]
        spec = cur.spec
        if labels is not None:
            spec = replace(spec, labels=dict(labels))
        new = cur.evolve(spec=spec)
        if taints is not None:
            new.taints = tuple(taints)
        if unschedulable is not None:
            new.unschedulable = bool(unschedulable)
        self.node_specs[key] = spec
        resp = yield from self.write(client, "update", "nodes", key, new, size_bytes=NODE_BYTES)
        return resp

    # ------------------------------------------------------------------------------------- pods
    def create_pod(self, client: Client, pod: PodObj, component: str = "") -> Generator[simpy.Event, object, Response]:
        """Create ``pod`` through the apiserver; on success the timeline's ``created`` is the
        apiserver's receipt time (the pod's creationTimestamp, F1's start)."""
        req = client.request("create", "pods", name=pod.key, size_bytes=POD_BYTES, value=pod, component=component)
        resp = yield from client.call(self.env, self.api, req)
        self._pod_created(pod, req, resp)
        return resp

    def send_create_pod(self, client: Client, pod: PodObj, done: Callable[[Response], None],
                        component: str = "") -> None:
        """:meth:`create_pod` without a process: ``done(response)`` where it would return (the same
        request through ``Client.send``, the same events in the same order)."""
        req = client.request("create", "pods", name=pod.key, size_bytes=POD_BYTES, value=pod, component=component)

        def answered(resp: Response) -> None:
            self._pod_created(pod, req, resp)
            done(resp)

        client.send(self.env, self.api, req, answered)

    def _pod_created(self, pod: PodObj, req, resp: Response) -> None:
        if resp.ok:
            self.timeline.mark(pod.uid, "created", req.arrival_s)
            self.timeline.set_final(pod.uid, "pending")

    def pod_uid(self, key: str, owner_kind: str = "") -> int:
        """The dense uid of pod ``key`` (registered in the timeline on first use)."""
        uid = self._pod_uid.get(key)
        if uid is None:
            uid = self._pod_uid[key] = self.timeline.new_pod(key, owner_kind)
        return uid

    def fresh_pod_uid(self, key: str, owner_kind: str = "") -> int:
        """A new uid for pod ``key`` even if the name was used before (a StatefulSet's pods)."""
        uid = self._pod_uid[key] = self.timeline.new_pod(key, owner_kind)
        return uid
