"""DELETECOLLECTION: delete every object of a resource in a namespace in one request (K8).

The namespace controller empties a terminating namespace with one DELETECOLLECTION per resource
type. The registry deletes each object as a single DELETE would (:func:`~kbench.cluster.apiserver.
storage.decide`: a running pod gets a deletion timestamp and its kubelet finishes, other objects
are removed, owners with a ``Foreground`` policy keep their finalizer) and answers with the list
of what it deleted. Here the removals are one etcd call and the deletion-timestamp updates
another (``Etcd.write_many``); each object costs the admission CPU of a DELETE.

Not modelled: ``--delete-collection-workers`` (default 1: upstream deletes the items one after the
other, so a large collection takes longer than here), and APF's work estimate of a DELETECOLLECTION
(it holds one seat like any mutating request).
"""

from __future__ import annotations

from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.storage import decide


def collection_items(req: Request, etcd, resource: str, keys: list[str]) -> tuple[list, list]:
    """The ``(deletes, updates)`` a DELETECOLLECTION of ``keys`` of ``resource`` makes:
    ``[(key, None)]`` removed, ``[(key, new value)]`` marked deleting."""
    values = etcd.values(resource)
    deletes, updates = [], []
    for key in keys:
        cur = values.get(key)
        if cur is None:  # stored without a value (Events): removed
            deletes.append((key, None))
            continue
        out = decide(req, resource, "delete", cur)
        if out is None or out[0] == "skip":
            continue
        if out[0] == "delete":
            deletes.append((key, None))
        else:
            updates.append((key, out[1]))
    return deletes, updates
