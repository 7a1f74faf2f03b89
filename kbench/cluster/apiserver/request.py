"""An API request as it travels through kube-apiserver (flow control, handler, storage), and the
response a client gets back."""

from __future__ import annotations

from dataclasses import dataclass

MUTATING_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


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
        list_objects: Deprecated hint, ignored by the server: a LIST's work is computed from the
            objects stored (A15's N, I13), see :mod:`kbench.cluster.apiserver.readpath`.
        limit: LIST ``limit`` parameter (page size), 0 for none.
        rv: ``resourceVersion``: ``""`` (unset: a consistent read), ``"0"`` (any: the watch
            cache), or a revision (not older than it; exact with ``rv_match="Exact"``).
        rv_match: ``resourceVersionMatch``: ``""``, ``"NotOlderThan"`` or ``"Exact"``.
        continue_from: For a continuation page, the position (stored keys of the scope) where it
            starts; -1 for a first page.
        continue_rv: The revision carried by the continue token (the first page's).
        selector: LIST has a label/field selector.
        match_fraction: Fraction of the scanned objects a label selector matches (1: all; 0:
            "matches nothing", as in KEP-2340's benchmark, I6).
        send_initial_events: WATCH with ``sendInitialEvents=true`` (WatchList, KEP-3157).
        retry_after_s: On a 429, the Retry-After the server sent (A28), seconds.
        route: Where the apiserver serves a read (set by the apiserver, a
            :class:`~kbench.cluster.apiserver.readpath.Route`).
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
        store: What the write does in etcd, ``(resource, op)`` with op ``create``, ``update``,
            ``delete`` or ``none``; None derives it from the verb and the (sub)resource
            (:func:`kbench.cluster.apiserver.storage.storage_of`: ``create pods/binding`` updates the
            pod, ``create serviceaccounts/token`` stores nothing).
        stored_bytes: Size of the object stored in etcd, bytes (0: ``size_bytes``, the body).
        mutate: For writes, ``f(current_value) -> new value or None`` applied by the apiserver to
            the value it reads from etcd (a PATCH, a graceful delete, a finalizer removal:
            upstream's GuaranteedUpdate, retried on a conflict); None refuses with 409.
        component: The component that sent it, for the write mix (``replicaset-controller``,
            ``kubelet``; "" = the client class).
        propagation: For DELETE: ``Background``, ``Foreground`` or ``Orphan`` (K7), or "" for the
            resource's default; a pod's DELETE is graceful unless ``grace_zero``.
        grace_zero: A pod DELETE with gracePeriodSeconds 0 (the kubelet's final delete, PodGC).
        items: For DELETECOLLECTION, the keys it deleted (set by the apiserver).
        lead_s: Work the client does just before (a charged GET, issue 18), seconds: the request
            is admitted now and holds its seat meanwhile (as the GET would hold one), its handler
            starts and its latency is measured from ``lead_s`` later; no event of its own.
        accept_gzip: The client accepts a gzip response (``Accept-Encoding: gzip``, I29).
        metadata_only: A LIST through the metadata client (``PartialObjectMetadataList``): the
            apiserver reads whole objects and returns their metadata only.
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
    rv: str = "0"
    rv_match: str = ""
    continue_from: int = -1
    continue_rv: int = 0
    selector: bool = False
    match_fraction: float = 1.0
    send_initial_events: bool = False
    retry_after_s: float = 0.0
    route: object = None
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
    store: tuple | None = None
    stored_bytes: int = 0
    mutate: object = None
    component: str = ""
    propagation: str = ""
    grace_zero: bool = False
    items: object = None
    lead_s: float = 0.0
    accept_gzip: bool = True
    metadata_only: bool = False

    @property
    def mutating(self) -> bool:
        """True for create, update, patch and delete."""
        return self.verb in MUTATING_VERBS


@dataclass(slots=True)
class Response:
    """What a client gets back.

    Attributes:
        code: HTTP-like status: 200, 409 (conflict), 410 (resource version too old), 422 (a
            watch-list the server does not accept), 429, 500, 503 (unavailable), 504 (timeout).
        revision: The resource version of the response (writes: the committed revision).
        objects: Objects returned (LIST), 1 for single-object requests.
        size_bytes: Response size on the wire, bytes.
        items: For LIST, the objects (key -> value) as of ``revision``; for GET, the value.
        continue_from: For a LIST page with more to come, the position the next page starts at
            (the continue token); -1 for the last page.
        retry_after_s: The Retry-After of a 429 (A28), seconds (0: none).
    """

    code: int
    revision: int = 0
    objects: int = 0
    size_bytes: float = 0
    items: object = None
    continue_from: int = -1
    retry_after_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.code == 200
