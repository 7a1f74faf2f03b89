"""Stored values of the objects controllers own and the garbage collector walks (issue 18).

:class:`ApiObj` is a :class:`~kbench.cluster.objects.stored.GenericObj` (its ``data`` holds the
kind's fields: a Deployment's ``spec``, a ReplicaSet's ``replicas``, ``template``, ``hash``,
``revision`` and ``status``...) with the object metadata the garbage collector and cascading
deletion need: a uid, the owner reference (``owner`` as ``Kind/namespace/name`` with the owner's
uid, and ``blockOwnerDeletion``, which controllers always set), the deletion timestamp
(``deleting``), finalizers (``foregroundDeletion``, ``orphan``) and the generation.
Pods carry the same owner fields on :class:`~kbench.cluster.objects.stored.PodObj`.
"""

from __future__ import annotations

import copy
import zlib
from dataclasses import dataclass

from kbench.cluster.objects.stored import GenericObj

KIND_RESOURCE = {"Deployment": "deployments", "ReplicaSet": "replicasets", "Job": "jobs",
                 "DaemonSet": "daemonsets", "StatefulSet": "statefulsets", "Service": "services",
                 "ControllerRevision": "controllerrevisions", "Pod": "pods", "Namespace": "namespaces"}
"""Resource of each owner kind."""


@dataclass(slots=True, eq=False)
class ApiObj(GenericObj):
    """One version of an object with metadata (see the module docstring).

    Attributes:
        uid: Unique id (``World.new_uid``).
        owner: Owner reference as ``Kind/namespace/name``, or None.
        owner_uid: The owner's uid.
        deleting: Has a deletion timestamp (a finalizer keeps it).
        finalizers: Finalizers (``foregroundDeletion``, ``orphan``).
        generation: ``metadata.generation`` (bumped by spec changes).
    """

    uid: int = 0
    owner: str | None = None
    owner_uid: int = 0
    deleting: bool = False
    finalizers: tuple = ()
    generation: int = 1

    def evolve(self, **changes) -> ApiObj:
        """A new version with ``changes`` applied (``data`` entries through :meth:`with_data`)."""
        new = copy.copy(self)
        for k, v in changes.items():
            setattr(new, k, v)
        return new

    def with_data(self, **data) -> ApiObj:
        """A new version whose ``data`` has ``data`` updated."""
        new = copy.copy(self)
        new.data = {**self.data, **data}
        return new


def owner_ref(kind: str, key: str) -> str:
    """An owner reference ``Kind/namespace/name``."""
    return f"{kind}/{key}"


def split_owner(owner: str) -> tuple[str, str]:
    """``Kind/namespace/name`` → ``(resource, namespace/name)``."""
    kind, _, key = owner.partition("/")
    return KIND_RESOURCE.get(kind, kind.lower() + "s"), key


def template_hash(template: object) -> str:
    """A stable hash of a pod template (upstream's ``pod-template-hash`` label; never Python's
    salted ``hash``): 10 hex digits of CRC32 over its repr."""
    return f"{zlib.crc32(repr(template).encode()):08x}"[:10]
