"""What every controller shares: the base class, pod creation in slow-start batches, pod deletion.

All writes go through the controller manager's one client (``controller-manager`` class, C3: QPS 20,
burst 30), so the controllers compete for one token bucket exactly as upstream's do.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

import simpy

from kbench.cluster.clients.client import Client
from kbench.cluster.controllers.workqueue import WorkQueue, run_workers
from kbench.cluster.objects.stored import POD_BYTES, GenericObj, PodObj
from kbench.config.controllers import ControllersConfig

GENERIC_BYTES = {"deployments": 2048, "replicasets": 2048, "jobs": 2048, "services": 1024,
                 "resourcequotas": 1024, "namespaces": 512}
"""Object sizes of the generic kinds, bytes (docs/LIFECYCLE_CONTRACT.md)."""


class Manager(Protocol):
    """What a controller uses of kube-controller-manager
    (:class:`~kbench.cluster.controllers.manager.ControllerManager`, which builds the controllers)."""

    world: Any
    env: simpy.Environment
    cfg: ControllersConfig
    client: Client
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
    wants_pods = False

    def __init__(self, mgr: Manager, workers: int = 1):
        self.mgr = mgr
        self.world = mgr.world
        self.env: simpy.Environment = mgr.env
        self.cfg = mgr.cfg
        self.client = mgr.client
        self.workers = workers
        self.queue = WorkQueue(self.env, self.name, self.cfg.requeue_initial_s, self.cfg.requeue_max_s)
        self.syncs = 0
        self.failed_syncs = 0

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

    # pod hooks (called by the manager for every pod event, after its indexes are updated)
    def pod_added(self, pod: PodObj) -> None:
        """A pod appeared in the pod informer."""

    def pod_updated(self, old: PodObj, new: PodObj) -> None:
        """A pod changed."""

    def pod_deleted(self, pod: PodObj) -> None:
        """A pod disappeared."""

    # ------------------------------------------------------------------------------------ writes
    def write(self, verb: str, resource: str, key: str, value: object = None, *,
              precondition: Callable[[object], bool] | None = None, size_bytes: int | None = None):
        """One write of a generic kind through the shared client (``yield from``)."""
        size = GENERIC_BYTES.get(resource, 1024) if size_bytes is None else size_bytes
        if verb == "delete" and precondition is None:
            precondition = exists
        resp = yield from self.world.write(self.client, verb, resource, key, value, size_bytes=size,
                                           precondition=precondition)
        if resp.code == 409:
            self.world.counters["controller_conflicts"] += 1
        return resp

    def create_pods(self, count: int, make: Callable[[], PodObj]) -> Generator[simpy.Event, object, int]:
        """Create ``count`` pods in slow-start batches of 1, 2, 4, ... (upstream ``slowStartBatch``:
        the pods of a batch are created concurrently; a batch with a failure stops the rest).

        Returns:
            How many creations were not done (failed or skipped).
        """
        env = self.env
        remaining, batch = count, 1
        while remaining > 0:
            size = min(batch, remaining)
            procs = [env.process(self._create_one(make())) for _ in range(size)]
            yield env.all_of(procs)
            failed = sum(1 for p in procs if not p.value)
            remaining -= size
            if failed:
                return failed + remaining
            batch *= 2
        return 0

    def _create_one(self, pod: PodObj) -> Generator[simpy.Event, object, bool]:
        resp = yield from self.world.create_pod(self.client, pod)
        if resp.ok:
            self.world.counters["pods_created"] += 1
        else:
            self.world.counters["pod_create_errors"] += 1
        return resp.ok

    def delete_pod(self, pod: PodObj) -> Generator[simpy.Event, object, int]:
        """Delete ``pod`` as its owner would (docs/LIFECYCLE_CONTRACT.md).

        A pod bound to a live node is deleted gracefully (``update`` with ``deleting=True``; its
        kubelet stops the containers and sends the final delete); a pod not yet bound, or on a node
        the node lifecycle controller holds NotReady, is deleted at once (verb ``delete``).

        Returns:
            The response code (409: the object changed or is gone; retry from a fresher cache).
        """
        return (yield from delete_pod(self, pod))

    def delete_pods_expecting(self, st, victims: list[PodObj]) -> Generator[simpy.Event, object, bool]:
        """Delete ``victims`` in parallel, recording the deletions the owner ``st`` now expects.

        ``st`` has ``expect_dels`` (keys) and ``expect_since`` (virtual seconds), as client-go's
        controller expectations; a failed delete is no longer expected.

        Returns:
            True when every delete succeeded.
        """
        if not victims:
            return True
        st.expect_dels.update(p.key for p in victims)
        st.expect_since = self.env.now
        procs = [self.env.process(self.delete_pod(p)) for p in victims]
        yield self.env.all_of(procs)
        ok = True
        for p, proc in zip(victims, procs, strict=True):
            if proc.value != 200:
                st.expect_dels.discard(p.key)
                ok = False
        return ok


def delete_pod(ctrl: Controller, pod: PodObj, *, force: bool = False) -> Generator[simpy.Event, object, int]:
    """See :meth:`Controller.delete_pod`; ``force`` always uses verb ``delete`` (eviction of a pod
    whose kubelet is gone)."""
    world = ctrl.world
    node = pod.node_name
    if force or node is None or node in ctrl.mgr.not_ready_nodes:
        resp = yield from world.write(ctrl.client, "delete", "pods", pod.key, size_bytes=POD_BYTES,
                                      precondition=lambda cur: cur is not None and cur.node_name == node,
                                      partition=node)
        if resp.ok:
            mark_deleted(ctrl.mgr, pod)
    elif pod.deleting:
        return 200  # graceful deletion already in progress
    else:
        resp = yield from world.write(ctrl.client, "update", "pods", pod.key, pod.evolve(deleting=True),
                                      size_bytes=POD_BYTES, precondition=lambda cur: cur is pod,
                                      partition=node)
    if resp.code == 409:
        world.counters["controller_conflicts"] += 1
    return resp.code


def mark_deleted(mgr: Manager, pod: PodObj) -> None:
    """Record that a delete of ``pod`` committed (timeline ``deleted``, final state, counter)."""
    world = mgr.world
    world.timeline.mark(pod.uid, "deleted", world.env.now)
    world.timeline.set_final(pod.uid, "deleted")
    world.counters["pods_deleted"] += 1


def namespace_of(key: str) -> str:
    """The namespace of a ``ns/name`` key."""
    return key.partition("/")[0]


def generic(key: str, **data) -> GenericObj:
    """A generic object value."""
    return GenericObj(key, data)


__all__ = ["Controller", "WorkQueue", "delete_pod", "mark_deleted", "namespace_of", "generic", "exists"]
