"""Objects by namespace, for namespace-scoped LISTs and DELETECOLLECTION of any resource.

etcd keeps keys as ``<namespace>/<name>``, so a namespace-scoped range is a prefix scan. To avoid
scanning every key of a resource per request, :class:`NamespaceIndex` builds the index of a
resource the first time it is asked (one scan) and from then on follows the commits of the etcd
that stores it; resources nobody asks about cost nothing.
"""

from __future__ import annotations


class NamespaceIndex:
    """Keys by namespace of the resources asked about.

    Args:
        api: The apiserver (``etcd_for``).
    """

    def __init__(self, api):
        self.api = api
        self._index: dict[str, dict[str, set[str]]] = {}
        self._subscribed: set[int] = set()

    def keys(self, resource: str, namespace: str) -> list[str]:
        """Keys of ``resource`` in ``namespace``, sorted."""
        idx = self._index.get(resource)
        if idx is None:
            idx = self._build(resource)
        return sorted(idx.get(namespace, ()))

    def count(self, resource: str, namespace: str) -> int:
        """How many objects of ``resource`` ``namespace`` holds."""
        idx = self._index.get(resource)
        if idx is None:
            idx = self._build(resource)
        return len(idx.get(namespace, ()))

    def _build(self, resource: str) -> dict[str, set[str]]:
        etcd = self.api.etcd_for(resource)
        idx: dict[str, set[str]] = {}
        for key in etcd.keys(resource):
            ns, sep, _ = key.partition("/")
            if sep:
                idx.setdefault(ns, set()).add(key)
        self._index[resource] = idx
        if id(etcd) not in self._subscribed:
            self._subscribed.add(id(etcd))
            etcd.subscribe(self._on_commit, self._on_commit_many)
        return idx

    def _on_commit(self, rec) -> None:
        idx = self._index.get(rec.resource)
        if idx is not None:
            self._apply(idx, rec)

    def _on_commit_many(self, recs: list) -> None:
        idx = self._index.get(recs[0].resource)
        if idx is not None:
            for rec in recs:
                self._apply(idx, rec)

    @staticmethod
    def _apply(idx: dict, rec) -> None:
        ns, sep, _ = rec.key.partition("/")
        if not sep:
            return
        if rec.op == "delete":
            keys = idx.get(ns)
            if keys is not None:
                keys.discard(rec.key)
        else:
            idx.setdefault(ns, set()).add(rec.key)
