"""What every controller shares: the base class, pod creation in slow-start batches, pod deletion.

Each controller writes through its own client (``controller-manager`` class, C3: QPS 20, burst 30;
``ControllerManager.client_for``), with its own token bucket, as upstream's clientset per controller.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

import simpy

from kbench.cluster.clients.client import Client
from kbench.cluster.controllers.workqueue import WorkQueue, run_workers
from kbench.cluster.objects.stored import POD_BYTES, GenericObj, PodObj
from kbench.config.controllers import ControllersConfig
from kbench.simkernel import call_later, first_step

GENERIC_BYTES = {"deployments": 2048, "replicasets": 2048, "jobs": 2048, "services": 1024,
                 "resourcequotas": 1024, "namespaces": 512, "daemonsets": 2048, "statefulsets": 2048,
                 "controllerrevisions": 1500, "serviceaccounts": 300, "configmaps": 1600}
"""Object sizes of the generic kinds, bytes (docs/LIFECYCLE_CONTRACT.md)."""


class Manager(Protocol):
    """What a controller uses of kube-controller-manager
    (:class:`~kbench.cluster.controllers.manager.ControllerManager`, which builds the controllers)."""

    world: Any
    env: simpy.Environment
    cfg: ControllersConfig
    client: Client
    """The shared informers' client (a controller without ``client_for`` writes through it)."""
    pods_by_owner: dict[str, dict[str, PodObj]]
    pods_by_node: dict[str, dict[str, PodObj]]
    pods_by_ns: dict[str, set[str]]
    not_ready_nodes: set[str]
    terminating_ns: set[str]

    def synced(self) -> bool:
        """Whether every informer has synced."""

    def cache(self, resource: str) -> dict:
        """The informer cache of ``resource`` (key -> current value)."""


def exists(cur: object) -> bool:
    """Precondition: the object still exists (a delete of a missing object is a 404; here 409)."""
    return cur is not None


class Controller:
    """Base of one controller: a work queue, its workers and the pod event hooks.

    Args:
        mgr: The controller manager (client, informers, shared pod indexes).
        workers: Worker processes (``--concurrent-*-syncs``).

    Attributes:
        queue: The controller's work queue.
        syncs: Syncs run.
        failed_syncs: Syncs that returned False (re-queued with backoff).
    """

    name = "controller"
    component = "controller-manager"
    wants_pods = False

    def __init__(self, mgr: Manager, workers: int = 1):
        self.mgr = mgr
        self.world = mgr.world
        self.env: simpy.Environment = mgr.env
        self.cfg = mgr.cfg
        client_for = getattr(mgr, "client_for", None)
        self.client = client_for(self.name) if client_for is not None else mgr.client
        self.workers = workers
        self.queue = WorkQueue(self.env, self.name, self.cfg.requeue_initial_s, self.cfg.requeue_max_s)
        self.syncs = 0
        self.failed_syncs = 0
        self.recorder = self.world.events.recorder(self.component, "controllers", self.client)

    def start(self) -> None:
        """Start the workers (they wait for the informers to sync)."""
        run_workers(self.env, self.queue, self.workers, self._sync, self.mgr.synced)

    def _sync(self, key: str) -> Generator:
        self.syncs += 1
        ok = yield from self.sync(key)
        if ok is False:
            self.failed_syncs += 1
        return ok

    def sync(self, key: str) -> Generator[simpy.Event, object, bool]:
        """Bring ``key`` to its desired state; True on success."""
        return True
        yield  # pragma: no cover

    def key_handlers(self) -> dict:
        """Informer handlers that queue the key of every added, changed or deleted object."""
        add = lambda obj: self.queue.add(obj.key)  # noqa: E731
        return {"on_add": add, "on_update": lambda old, new: add(new), "on_delete": add}

    # pod hooks (called by the manager for every pod event, after its indexes are updated)
    def pod_added(self, pod: PodObj) -> None:
        """A pod appeared in the pod informer."""

    def pod_updated(self, old: PodObj, new: PodObj) -> None:
        """A pod changed."""

    def pod_deleted(self, pod: PodObj) -> None:
        """A pod disappeared."""

    # ------------------------------------------------------------------------------------ writes
    def write(self, verb: str, resource: str, key: str, value: object = None, *,
              precondition: Callable[[object], bool] | None = None, size_bytes: int | None = None, **extra):
        """One write of a generic kind through the controller's client (``yield from``); ``extra``:
        request fields (``mutate``, ``propagation``...)."""
        size = GENERIC_BYTES.get(resource.partition("/")[0], 1024) if size_bytes is None else size_bytes
        if verb == "delete" and precondition is None:
            precondition = exists
        resp = yield from self.world.write(self.client, verb, resource, key, value, size_bytes=size,
                                           precondition=precondition, component=self.component, **extra)
        if resp.code == 409:
            self.world.counters["controller_conflicts"] += 1
        return resp

    def send(self, verb: str, resource: str, key: str, done, value: object = None, *, delay_s: float = 0.0,
             size_bytes: int | None = None, **extra) -> None:
        """:meth:`write` without a process (bulk work: the garbage collector, PodGC, pod creations):
        ``done(response)`` where it would return; ``delay_s`` is work done first (a charged GET)."""
        size = GENERIC_BYTES.get(resource.partition("/")[0], 1024) if size_bytes is None else size_bytes
        req = self.world.request(self.client, verb, resource, key, value, size, extra.pop("precondition", None),
                                 extra.pop("partition", None), {"component": self.component, **extra})
        self.client.send(self.env, self.world.api, req, done, delay_s)

    def event(self, obj, namespace: str, name: str, etype: str, reason: str, message: str) -> None:
        """An Event of this controller about ``obj`` (a hashable identity) named ``namespace/name``."""
        rec = self.recorder
        if rec.enabled:
            rec.emit(obj, namespace, name, etype, reason, message)

    def create_pods(self, count: int, make: Callable[[], PodObj],
                    on_done: Callable[[PodObj, bool], None] | None = None) -> Generator[simpy.Event, object, int]:
        """Create ``count`` pods in slow-start batches of 1, 2, 4, ... (upstream ``slowStartBatch``:
        the pods of a batch are created concurrently; a batch with a failure stops the rest);
        ``on_done(pod, ok)`` after each create.

        Returns:
            How many creations were not done (failed or skipped).
        """
        remaining, batch = count, 1
        while remaining > 0:
            size = min(batch, remaining)
            pods = [make() for _ in range(size)]
            oks = yield self._create_batch(pods)
            failed = oks.count(False)
            if on_done is not None:
                for pod, ok in zip(pods, oks, strict=True):
                    on_done(pod, ok)
            remaining -= size
            if failed:
                return failed + remaining
            batch *= 2
        return 0

    def _create_batch(self, pods: list[PodObj]) -> simpy.Event:
        """Create ``pods`` concurrently (see :meth:`_in_parallel`); the event's value is their
        outcomes (True: created)."""
        world, client, component = self.world, self.client, self.component

        def create(pod: PodObj, answered: Callable[[bool], None]) -> None:
            def created(resp) -> None:
                world.counters["pods_created" if resp.ok else "pod_create_errors"] += 1
                answered(resp.ok)

            world.send_create_pod(client, pod, created, component=component)

        return self._in_parallel(pods, create)

    def _in_parallel(self, pods: list[PodObj], send: Callable[[PodObj, Callable], None]) -> simpy.Event:
        """``send(pod, answered)`` for each of ``pods`` concurrently, without a process each: the
        returned event succeeds with the values passed to ``answered``, in ``pods``' order, where
        ``env.all_of`` over one process per pod would (each send starts where such a process would
        take its first step; the event is processed one step after the last answer, where that
        process's end event and then the condition would be). Same requests, same events in the
        same order, one SimPy step fewer per pod."""
        env = self.env
        done = simpy.Event(env)
        values: list = [None] * len(pods)
        left = [len(pods)]

        def start(i: int, pod: PodObj) -> None:
            def answered(value) -> None:
                values[i] = value
                left[0] -= 1
                if not left[0]:
                    call_later(env, 0.0, lambda _x: done.succeed(values), None)

            send(pod, answered)

        for i, pod in enumerate(pods):
            first_step(env, lambda _e, i=i, pod=pod: start(i, pod))
        return done

    def delete_pod(self, pod: PodObj) -> Generator[simpy.Event, object, int]:
        """Delete ``pod`` as its owner would (docs/LIFECYCLE_CONTRACT.md).

        A DELETE of the pod (UID precondition): the apiserver deletes a pod bound to a live node
        gracefully (a deletion timestamp; its kubelet stops the containers and sends the final
        delete) and an unbound or terminal one at once; a pod on a node the node lifecycle
        controller holds NotReady is deleted with grace period 0 (its kubelet is gone).

        Returns:
            The response code (409: the object changed or is gone; retry from a fresher cache).
        """
        return (yield from delete_pod(self, pod))

    def delete_pods_expecting(self, st, victims: list[PodObj],
                              on_done: Callable[[PodObj, bool], None] | None = None
                              ) -> Generator[simpy.Event, object, bool]:
        """Delete ``victims`` in parallel, recording the deletions the owner ``st`` now expects.

        ``st`` has ``expect_dels`` (keys) and ``expect_since`` (virtual seconds), as client-go's
        controller expectations; a failed delete is no longer expected. ``on_done(pod, ok)``
        after each.

        Returns:
            True when every delete succeeded.
        """
        if not victims:
            return True
        st.expect_dels.update(p.key for p in victims)
        st.expect_since = self.env.now
        codes = yield self._delete_batch(victims)
        ok = True
        for p, code in zip(victims, codes, strict=True):
            if code != 200:
                st.expect_dels.discard(p.key)
                ok = False
            if on_done is not None:
                on_done(p, code == 200)
        return ok

    def _delete_batch(self, victims: list[PodObj]) -> simpy.Event:
        """Delete ``victims`` concurrently (see :meth:`_in_parallel`); the event's value is their
        response codes."""
        return self._in_parallel(victims, lambda pod, answered: send_delete_pod(self, pod, answered))


def same_pod(pod: PodObj):
    """Precondition: the pod is still the one of ``pod``'s uid (upstream's UID precondition)."""
    uid = pod.uid
    return lambda cur: cur is not None and cur.uid == uid


def _delete_needed(ctrl: Controller, pod: PodObj, force: bool) -> bool | None:
    """Whether deleting ``pod`` takes a DELETE: None when its graceful deletion is already in
    progress, else whether the DELETE has grace period 0 (forced, or its node is NotReady)."""
    node = pod.node_name
    not_ready = node is not None and node in ctrl.mgr.not_ready_nodes
    if pod.deleting and not force and node is not None and not not_ready:
        return None
    return force or not_ready


def delete_pod(ctrl: Controller, pod: PodObj, *, force: bool = False) -> Generator[simpy.Event, object, int]:
    """See :meth:`Controller.delete_pod`; ``force`` deletes with grace period 0 (eviction of a pod
    whose kubelet is gone)."""
    zero = _delete_needed(ctrl, pod, force)
    if zero is None:
        return 200  # graceful deletion already in progress
    world = ctrl.world
    resp = yield from world.write(ctrl.client, "delete", "pods", pod.key, size_bytes=POD_BYTES, precondition=same_pod(pod),
                                  partition=pod.node_name, grace_zero=zero, component=ctrl.component)
    if resp.code == 409:
        world.counters["controller_conflicts"] += 1
    return resp.code


def send_delete_pod(ctrl: Controller, pod: PodObj, done: Callable[[int], None]) -> None:
    """:func:`delete_pod` without a process: ``done(code)`` where it would return (the same
    request through ``World.send``, the same events in the same order)."""
    zero = _delete_needed(ctrl, pod, False)
    if zero is None:
        done(200)
        return
    world = ctrl.world

    def answered(resp) -> None:
        if resp.code == 409:
            world.counters["controller_conflicts"] += 1
        done(resp.code)

    world.send(ctrl.client, "delete", "pods", pod.key, None, answered, size_bytes=POD_BYTES,
               precondition=same_pod(pod), partition=pod.node_name, grace_zero=zero, component=ctrl.component)


def namespace_of(key: str) -> str:
    """The namespace of a ``ns/name`` key."""
    return key.partition("/")[0]


def generic(key: str, **data) -> GenericObj:
    """A generic object value."""
    return GenericObj(key, data)


__all__ = ["Controller", "WorkQueue", "delete_pod", "send_delete_pod", "namespace_of", "generic", "exists", "same_pod"]
