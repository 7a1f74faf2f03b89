"""DELETECOLLECTION: delete every object of a resource in a namespace in one request (K8).

The namespace controller empties a terminating namespace with one DELETECOLLECTION per resource
type. The registry deletes each object as a single DELETE would (:func:`~kbench.cluster.apiserver.
storage.decide`: a running pod gets a deletion timestamp and its kubelet finishes, other objects
are removed, owners with a ``Foreground`` policy keep their finalizer) and answers with the list
of what it deleted. As upstream's ``Store.DeleteCollection`` (apiserver
pkg/registry/generic/registry/store.go @ 0021a864), the items go one after the other to
``--delete-collection-workers`` workers (default 1), each item its admission CPU and its own etcd
write; the request holds its seat meanwhile.

Not modelled: each item is decided when the request starts, not at its turn (an object changed in
between is deleted as it was), the LIST's pages of 10,000, and APF's work estimate of a
DELETECOLLECTION (it holds one seat like any mutating request).
"""

from __future__ import annotations

from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.storage import decide


def collection_items(req: Request, etcd, resource: str, keys: list[str]) -> list[tuple[str, str, object]]:
    """The writes a DELETECOLLECTION of ``keys`` of ``resource`` makes, in ``keys`` order:
    ``("delete", key, None)`` removed, ``("update", key, new value)`` marked deleting."""
    values = etcd.values(resource)
    out: list[tuple[str, str, object]] = []
    for key in keys:
        cur = values.get(key)
        if cur is None:  # stored without a value (Events): removed
            out.append(("delete", key, None))
            continue
        decided = decide(req, resource, "delete", cur)
        if decided is None or decided[0] == "skip":
            continue
        if decided[0] == "delete":
            out.append(("delete", key, None))
        else:
            out.append(("update", key, decided[1]))
    return out
