"""An API request as it travels through kube-apiserver: flow control, handler, storage."""

from __future__ import annotations

from dataclasses import dataclass

MUTATING_VERBS = frozenset({"create", "update", "patch", "delete"})


@dataclass(slots=True, eq=False)
class Request:
    """One API request.

    Attributes:
        verb: ``get list watch create update patch delete``.
        resource: Plural resource (``pods``, ``leases``, ``configmaps``, ``nodes/status``).
        namespace: Namespace, "" for cluster scope.
        name: Object name for single-object requests, "" otherwise.
        user: Authenticated user (``system:kube-scheduler``, ``system:node:n1``, ...).
        groups: The user's groups (``system:nodes``, ``system:serviceaccounts``, ...).
        client: Client class for metrics (``scheduler``, ``kubelet``, ``sync``...).
        list_objects: For LIST/WATCH work estimation: objects stored in scope (A15's N).
        limit: LIST ``limit`` parameter, 0 for none.
        from_cache: LIST/GET served from the watch cache (else from etcd).
        selector: LIST has a label/field selector.
        watchers: For mutating requests: watchers interested in the object (A14 final seats).
        size_bytes: Request body size (writes) or expected response size (reads), bytes.
        level: Priority level, set by flow control.
        flow: Flow key (flow schema + distinguisher), set by flow control.
        seats: Seats held while executing, set by flow control.
        final_seats: Seats held for ``additional_s`` after execution, set by flow control.
        additional_s: How long final seats are held, seconds.
        arrival_s: When the apiserver received the request, virtual seconds.
        dispatched_s: When flow control let it execute, virtual seconds.
        reject_reason: Why flow control rejected it ("" when admitted).
        value: For writes, the new object (an immutable snapshot) stored in etcd and sent to
            watchers.
        precondition: For writes, ``f(current_value) -> bool`` checked by the handler against
            etcd's current value (optimistic concurrency); False gives 409 Conflict.
        partition: For LIST, an indexed field selector (pods with ``spec.nodeName=<partition>``).
        want_items: Return the objects themselves in the response (informers that keep a cache of
            values); otherwise a LIST only costs what it costs.
    """

    verb: str
    resource: str
    namespace: str = ""
    name: str = ""
    user: str = ""
    groups: tuple[str, ...] = ()
    client: str = ""
    list_objects: int = 0
    limit: int = 0
    from_cache: bool = True
    selector: bool = False
    watchers: int = 0
    size_bytes: int = 0
    level: str = ""
    flow: str = ""
    seats: int = 1
    final_seats: int = 0
    additional_s: float = 0.0
    arrival_s: float = 0.0
    dispatched_s: float = 0.0
    reject_reason: str = ""
    value: object = None
    precondition: object = None
    partition: object = None
    want_items: bool = False

    @property
    def mutating(self) -> bool:
        """True for create, update, patch and delete."""
        return self.verb in MUTATING_VERBS
