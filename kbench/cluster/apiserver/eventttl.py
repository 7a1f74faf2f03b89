"""The Event TTL: the apiserver's etcd leases for Events (``--event-ttl``, J7).

The events registry writes every Event with an etcd lease of ``ttl_s``; to avoid a lease per
Event, the apiserver's lease manager reuses the previous lease while it still expires between
``now + ttl`` and ``now + ttl + reuse`` (``reuse = min(lease_reuse_s, lease_reuse_fraction x
ttl)``) and has fewer than ``lease_max_objects`` objects attached, and otherwise grants a new one of
``ttl + reuse`` (kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/storage/etcd3/
lease_manager.go @ 11fcde5e1c32a13d1447db355dd0dfad53b443d6, ``GetLease``). So an Event lives
between ``ttl`` and ``ttl + reuse`` after its last write, and a busy cluster grants about one lease
per ``reuse`` seconds.

:class:`EventTTL` watches the commits of the etcd that stores Events: each create or update of an
Event attaches it to the current lease (a rewritten Event moves to the newer lease, as re-putting a
key with another lease does); a grant is one raft entry; at a lease's expiry one timeout revokes it,
deleting the Events still attached in one etcd call (``Etcd.write_many``), as etcd's lessor does.
Not modelled: the grant's round trip on the request that triggers it (once per ``reuse`` seconds).
"""

from __future__ import annotations

import simpy

RESOURCE = "events"
LEASES = "leases.etcd"
"""Where a lease grant's raft entry is recorded (not an API resource)."""


class _Lease:
    __slots__ = ("id", "expiry", "count", "keys")

    def __init__(self, lease_id: int, expiry: float):
        self.id, self.expiry, self.count, self.keys = lease_id, expiry, 0, []


class EventTTL:
    """Leases and expiry of the Events stored in ``etcd``.

    Args:
        env: The environment.
        etcd: The etcd that stores Events.
        cfg: :class:`~kbench.config.events.EventsConfig`.
        on_expired: ``f(n)`` with the number of Events each revocation deleted.
    """

    def __init__(self, env: simpy.Environment, etcd, cfg, on_expired=None):
        self.env, self.etcd, self.cfg = env, etcd, cfg
        self.on_expired = on_expired
        self.ttl = cfg.ttl_s
        self.reuse = min(cfg.lease_reuse_s, cfg.lease_reuse_fraction * cfg.ttl_s)
        self._lease: _Lease | None = None
        self._ids = 0
        self.attached: dict[str, int] = {}
        self.grants = 0
        self.revoked = 0
        etcd.subscribe(self._on_commit, self._on_commit_many)

    def _on_commit(self, rec) -> None:
        if rec.resource == RESOURCE:
            self._seen(rec.key, rec.op)

    def _on_commit_many(self, recs: list) -> None:
        if recs[0].resource == RESOURCE:
            for rec in recs:
                self._seen(rec.key, rec.op)

    def _seen(self, key: str, op: str) -> None:
        if op == "delete":
            self.attached.pop(key, None)
            return
        lease = self._current()
        lease.count += 1
        lease.keys.append(key)
        self.attached[key] = lease.id

    def _current(self) -> _Lease:
        now = self.env.now
        lease = self._lease
        if (lease is not None and now + self.ttl < lease.expiry <= now + self.ttl + self.reuse
                and lease.count < self.cfg.lease_max_objects):
            return lease
        self._ids += 1
        lease = self._lease = _Lease(self._ids, now + self.ttl + self.reuse)
        self.grants += 1
        self.etcd.write(LEASES, str(lease.id), "create", 0)  # LeaseGrant: one raft entry
        self.env.timeout(lease.expiry - now).callbacks.append(lambda _e, ls=lease: self._revoke(ls))
        return lease

    def _revoke(self, lease: _Lease) -> None:
        if self._lease is lease:
            self._lease = None
        attached = self.attached
        items = [(k, None) for k in dict.fromkeys(lease.keys) if attached.get(k) == lease.id]
        for k, _ in items:
            del attached[k]
        self.revoked += 1
        self.etcd.write(LEASES, str(lease.id), "delete", 0)
        if items:
            self.etcd.write_many(RESOURCE, "delete", 0, items)
            if self.on_expired is not None:
                self.on_expired(len(items))
