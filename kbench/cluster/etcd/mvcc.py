"""etcd's MVCC store as kbench keeps it: live keys with sizes and values, revisions, history bytes.

Live bytes per resource plus superseded versions (history) since the last compaction make up the
database size (B8's quota applies to it); compaction drops the history (A24, B11). The write and
read paths of :class:`~kbench.cluster.etcd.server.Etcd` (which derives from :class:`MvccStore`)
call :meth:`MvccStore._store` once per applied entry.
"""

from __future__ import annotations

from collections.abc import Iterable

from kbench.cluster.etcd.records import EtcdStats
from kbench.config import EtcdConfig
from kbench.errors import EtcdQuotaExceeded


class MvccStore:
    """Keys, values and sizes per resource, the revision counter and history bytes.

    The server class provides ``cfg`` (for the quota) and ``stats`` (compactions are counted there)
    and calls :meth:`_init_store` in its constructor.

    Attributes:
        revision: Last applied revision (1 for an empty store, as in etcd).
        compacted_revision: Revision of the last compaction (0 before any).
    """

    cfg: EtcdConfig
    stats: EtcdStats

    def _init_store(self) -> None:
        self.revision = 1
        self.compacted_revision = 0
        self._objects: dict[str, dict[str, int]] = {}
        self._values: dict[str, dict[str, object]] = {}
        self._bytes: dict[str, int] = {}
        self._live_bytes = 0
        self._history_bytes = 0
        self._history_revs = 0  # superseded versions since the last compaction

    def object_count(self, resource: str) -> int:
        """Live objects of ``resource``."""
        objs = self._objects.get(resource)
        return len(objs) if objs else 0

    def resource_bytes(self, resource: str) -> int:
        """Live bytes of ``resource``."""
        return self._bytes.get(resource, 0)

    def keys(self, resource: str) -> list[str]:
        """Keys of ``resource`` (a copy, in creation order)."""
        objs = self._objects.get(resource)
        return list(objs) if objs else []

    def has(self, resource: str, key: str) -> bool:
        """Whether ``key`` of ``resource`` exists (whatever its value)."""
        objs = self._objects.get(resource)
        return objs is not None and key in objs

    def get(self, resource: str, key: str) -> object:
        """The current value of ``key`` (None when absent or stored without a value)."""
        vals = self._values.get(resource)
        return vals.get(key) if vals else None

    def values(self, resource: str) -> dict[str, object]:
        """Current values of ``resource`` by key (a live view: copy before keeping)."""
        return self._values.setdefault(resource, {})

    def preload_values(self, resource: str, items: dict[str, object], size_bytes: int) -> None:
        """Like :meth:`preload`, with each key's value (the initial objects of a lifecycle run)."""
        self.preload(resource, items.keys(), size_bytes)
        self._values.setdefault(resource, {}).update(items)

    def preload(self, resource: str, keys: Iterable[str], size_bytes: int) -> None:
        """Create objects instantly, as the initial state (no commits, subscribers or stats).

        Each key takes one revision, as if created one after the other before the run.

        Args:
            resource: Plural resource.
            keys: Object keys.
            size_bytes: Size of each object, bytes.

        Raises:
            EtcdQuotaExceeded: The objects do not fit in ``quota_bytes``.
        """
        for key in keys:
            self._store(resource, key, "create", size_bytes)
            self.revision += 1
        if self.db_size_bytes > self.cfg.quota_bytes:
            raise EtcdQuotaExceeded(self.db_size_bytes, int(self.cfg.quota_bytes))

    @property
    def db_size_bytes(self) -> int:
        """Live bytes plus superseded versions not yet compacted away, bytes."""
        return self._live_bytes + self._history_bytes

    @property
    def history_bytes(self) -> int:
        """Bytes of superseded versions since the last compaction."""
        return self._history_bytes

    def compact(self) -> int:
        """Compact now: history up to the current revision is dropped; return how many
        superseded revisions that removes."""
        self.compacted_revision = self.revision
        self._history_bytes = 0
        removed, self._history_revs = self._history_revs, 0
        self.stats.compactions += 1
        self.stats.compaction_keys += removed
        return removed

    def _store(self, resource: str, key: str, op: str, size: int) -> int:
        """Update the object tables for one write; return the stored (or deleted) size, bytes."""
        objs = self._objects.get(resource)
        if objs is None:
            objs = self._objects[resource] = {}
            self._bytes[resource] = 0
        old = objs.pop(key, None) if op == "delete" else objs.get(key)
        if old is not None:  # the superseded version stays in history until compaction
            self._bytes[resource] -= old
            self._live_bytes -= old
            self._history_bytes += old
            self._history_revs += 1
        if op == "delete":
            return old or 0
        objs[key] = size
        self._bytes[resource] += size
        self._live_bytes += size
        return size

    def _store_updates(self, resource: str, keys: list[str], size: int) -> None:
        """:meth:`_store` of an update (or create) of ``size`` bytes for each of ``keys``: the same
        tables in one loop (the sizes are ints, so the sums do not depend on the order)."""
        if not keys:
            return
        objs = self._objects.get(resource)
        if objs is None:
            objs = self._objects[resource] = {}
            self._bytes[resource] = 0
        replaced = replaced_n = 0
        for key in keys:
            old = objs.get(key)
            if old is not None:
                replaced += old
                replaced_n += 1
            objs[key] = size
        added = size * len(keys) - replaced
        self._bytes[resource] += added
        self._live_bytes += added
        self._history_bytes += replaced
        self._history_revs += replaced_n
