"""What a write request does to etcd: the registry's storage step, apart from its HTTP label.

A request's verb and (sub)resource are what clients, APF and the statistics see; what the
apiserver's registry stores differs (issue 18):

* a subresource write updates its parent: ``create pods/binding`` (the scheduler's bind),
  ``patch pods/status`` (the kubelet), ``update replicasets/status``, ``patch nodes/status``;
* ``create serviceaccounts/token`` (TokenRequest) stores nothing: TokenREST has no store, it reads
  the ServiceAccount and the pod and signs a token (CALIBRATION J12);
* a pod DELETE is graceful: a pod bound to a node and not terminal gets a deletion timestamp (an
  update) and its kubelet deletes it with grace 0 once its containers stopped; an unbound or
  terminal pod, or a DELETE with grace 0, is removed at once (upstream pod strategy
  ``CheckGracefulDelete``); a second graceful DELETE of a terminating pod writes nothing;
* a DELETE of an owner with ``propagationPolicy: Foreground`` or ``Orphan`` sets the deletion
  timestamp and the ``foregroundDeletion`` / ``orphan`` finalizer (an update) and leaves the rest to
  the garbage collector; ``Background`` (the default) removes the object at once (K7);
* a Namespace DELETE sets ``phase: Terminating`` (the ``kubernetes`` finalizer keeps it) and the
  ``namespaces/finalize`` write (``store=("namespaces", "delete")``) removes it once the namespace
  controller emptied it (K8);
* an update that leaves a deleting object without finalizers removes it (the GC's finalizer PATCH).

:func:`storage_of` derives the default ``(resource, op)`` of a request; :func:`decide` applies the
value-dependent rules above to the value the handler read from etcd.
"""

from __future__ import annotations

from kbench.cluster.apiserver.request import Request

NONE = "none"
"""Storage op of a request that writes nothing (TokenRequest)."""
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"

_NOT_STORED = frozenset({"serviceaccounts/token"})
_CACHE: dict[tuple[str, str], tuple[str, str]] = {}


def storage_of(verb: str, resource: str) -> tuple[str, str]:
    """The default ``(stored resource, op)`` of ``verb`` on ``resource`` (op ``create``,
    ``update``, ``delete``, ``deletecollection`` or ``none``)."""
    key = (verb, resource)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if resource in _NOT_STORED:
        out = (resource.partition("/")[0], NONE)
    else:
        base, sub, _ = resource.partition("/")
        if sub:  # a subresource updates its parent object
            out = (base, "update")
        elif verb == "create":
            out = (resource, "create")
        elif verb in ("delete", "deletecollection"):
            out = (resource, verb)
        else:
            out = (resource, "update")
    _CACHE[key] = out
    return out


def decide(req: Request, resource: str, op: str, cur: object) -> tuple[str, object] | None:
    """The storage op and value of a write whose outcome depends on the stored value ``cur``.

    Returns:
        ``(op, value)`` with op ``create``, ``update``, ``delete`` or ``skip`` (answer 200, write
        nothing), or None for a 409 (the object is missing or the change is refused).
    """
    mutate = req.mutate
    if op == "delete":
        if cur is None:
            return None
        if resource == "pods":
            if req.grace_zero or cur.node_name is None or cur.phase in ("Succeeded", "Failed"):
                return ("delete", None)
            if cur.deleting:
                return ("skip", cur)
            return ("update", cur.evolve(deleting=True))
        if req.resource == "namespaces/finalize":
            return ("delete", None)
        if resource == "namespaces" and req.resource == "namespaces":
            data = getattr(cur, "data", None) or {}
            if data.get("phase") == "Terminating":
                return ("skip", cur)
            if hasattr(cur, "with_data"):
                return ("update", cur.with_data(phase="Terminating").evolve(deleting=True))
            return ("update", type(cur)(cur.key, {**data, "phase": "Terminating"}))
        if getattr(cur, "deleting", False):
            return ("skip", cur)
        prop = req.propagation
        if prop in ("Foreground", "Orphan") and hasattr(cur, "finalizers"):
            fin = FOREGROUND if prop == "Foreground" else ORPHAN
            return ("update", cur.evolve(deleting=True, finalizers=(*cur.finalizers, fin)))
        return ("delete", None)
    if mutate is None:
        return (op, req.value)
    if cur is None and op != "create":
        return None
    new = mutate(cur)
    if new is None:
        return None
    if getattr(new, "deleting", False) and hasattr(new, "finalizers") and not new.finalizers:
        return ("delete", None)
    return (op, new)
