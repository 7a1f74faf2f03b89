"""etcd: raft group commit, serial apply, MVCC ranges on a core pool, compaction, quota.

Concepts (CALIBRATION.md section B):

* **Write path.** A write joins the leader's pending proposals. One long-lived raft loop takes every
  proposal pending when it starts an iteration as one batch (group commit, B15), and proposals made
  in the same instant join it; it replicates the batch to the followers while fsyncing it to the
  leader's WAL, and commits it when both the leader's fsync and a quorum of followers (round trip +
  their own fsync) are done (B2, B19). Proposals arriving later wait for the next batch, so
  throughput rises with concurrency (B4). Committed batches go to a separate, serial apply stage
  (``apply_per_entry_s`` per entry), which caps throughput (B4: ~44k/s) and is where queueing
  builds up under heavy load (B20). The entries of a batch get their revisions, take effect and are
  published to subscribers when the batch's apply starts; the reply reaches the client one gRPC
  round trip after its apply ends (the whole round trip is charged on the reply path). A write's
  CPU and the raft loop's CPU per batch run on the same core pool as reads
  (:mod:`kbench.cluster.etcd.cpu`).
* **Read path.** A linearizable read first waits for a ReadIndex round trip to a quorum and for the
  apply stage to reach the commit index of its arrival; then it needs ``ranges * read_base_s +
  keys * read_per_object_s + bytes * read_per_byte_s + walked * index_walk_s_per_key`` of CPU on
  one of ``cores`` (first come, first served, B13, I22), of which the ``gc_parallel_fraction`` of
  the per-byte part runs on another core beside it (Go's concurrent GC: charged, not waited for);
  then the reply's bytes cross to the apiserver and one gRPC round trip. Serializable reads skip
  the ReadIndex step. A consistent read from the apiserver's watch cache asks etcd for its current
  revision first: a range with limit 1 whose count walks the whole resource (I20, I22).
* **Write costs by size.** Applying an entry costs ``apply_per_entry_s + bytes *
  apply_per_byte_s``; a batch's WAL write adds ``batch bytes / wal_bytes_per_s`` to its fsync.
* **Compaction** (A24, B6, B10, I25): every ``compaction_interval_s`` the revisions superseded
  since the last compaction are removed in batches of ``compaction_batch_keys``, each holding the
  backend's write transaction (applies wait behind it) for ``keys * compact_per_key_s``, with
  ``compaction_batch_sleep_s`` between batches.
* **Storage.** Keys, values, revisions and history bytes are the MVCC store
  (:mod:`kbench.cluster.etcd.mvcc`). Creates and updates that would take the database over
  ``quota_bytes`` fail with :class:`~kbench.errors.EtcdQuotaExceeded` (B8); requests above
  ``max_request_bytes`` fail with :class:`~kbench.cluster.etcd.records.EtcdRequestTooLarge` (B7).
  Deletes are always accepted.

No SimPy process is spawned per request: the raft loop is a chain of event callbacks (an idle loop
is started by the proposal itself, and a batch applied when the apply stage is idle needs no event
of its own) and the only process is the compaction timer. A request's own event is scheduled
directly at its completion time (as ``simpy.Timeout`` does), and the core pool is a heap of core
free-times. The range reads are in :mod:`kbench.cluster.etcd.reads` (a mixin sharing this state).
Slightly longer than the ~400-line guide on purpose: the write pipeline (propose, batch, commit,
apply, compaction) is one state machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import simpy

from kbench.cluster.etcd.cpu import EtcdCpu
from kbench.cluster.etcd.mvcc import MvccStore
from kbench.cluster.etcd.reads import RangeReads
from kbench.cluster.etcd.records import (
    OPS,
    BatchCall,
    Call,
    CommitRecord,
    EtcdConflict,
    EtcdRequestTooLarge,
    EtcdStats,
)
from kbench.config import EtcdConfig
from kbench.errors import EtcdQuotaExceeded
from kbench.metrics.buckets import APISERVER_REQUEST_DURATION, Histograms
from kbench.simkernel import URGENT, trigger_in


class Etcd(EtcdCpu, MvccStore, RangeReads):
    """A 3-member (``cfg.members``) etcd cluster seen from its leader.

    Args:
        env: The run's environment (virtual seconds).
        cfg: Costs and limits.
        rng: The ``etcd`` stream of the run's seed tree.

    Attributes:
        revision: Last applied revision (1 for an empty store, as in etcd).
        compacted_revision: Revision of the last compaction (0 before any).
        stats: Counters and integrals (:class:`EtcdStats`).
        latency: Completed calls' latency (call to reply, seconds) per (operation, resource), on the
            bounds of the apiserver's ``etcd_request_duration_seconds``.
    """

    def __init__(self, env: simpy.Environment, cfg: EtcdConfig, rng: np.random.Generator):
        self.env = env
        self.cfg = cfg
        self.stats = EtcdStats(time_s=env.now)
        # call -> reply latency per (operation, resource) on the apiserver's etcd_request_duration bounds
        self.latency = Histograms(APISERVER_REQUEST_DURATION)
        self._init_store()
        self._rtt = cfg.rtt_s.sampler(rng)
        self._grpc = cfg.grpc_rtt_s.sampler(rng)
        self._fsync = cfg.fsync_s.sampler(rng)
        self._followers = cfg.members - 1
        self._quorum_acks = cfg.members // 2  # follower acks needed besides the leader's own
        self._subscribers: list[Callable[[CommitRecord], None]] = []
        self._many: list[Callable[[list[CommitRecord]], None] | None] = []
        self._pending: list[Call] = []
        self._idle = False  # the raft loop waits for a proposal
        self._batch: list[Call] = []  # the batch in flight
        self._batch_open_s: float | None = None  # when it was taken, until its commit
        self._batch_work: tuple[int, float] = (0, 0.0)  # entries and value bytes of the batch in flight
        self._apply_free_s = 0.0  # when the apply stage finishes every committed batch
        self._cores = [0.0] * cfg.cores  # heap of core free-times
        # booked jobs' end times, when the write path's CPU shares the pool (cpu.py)
        self._ends: list[float] | None = [] if cfg.write_cpu_s > 0 or cfg.batch_cpu_s > 0 else None
        self._stall_until_s = 0.0
        self._slow_factor = 1.0
        self._slow_until_s = 0.0

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the raft loop and the compaction timer (call once)."""
        # the raft loop starts as a process would, on an urgent event now (keeps event order)
        first = simpy.Event(self.env)
        first.callbacks.append(self._loop_top)
        trigger_in(self.env, first, 0.0, priority=URGENT)
        if self.cfg.compaction_interval_s > 0:  # A24: 0 disables
            self.env.process(self._compaction_loop())

    def subscribe(self, callback: Callable[[CommitRecord], None],
                  many: Callable[[list[CommitRecord]], None] | None = None) -> None:
        """Call ``callback`` once per committed write, in revision order, at commit time; for the
        entries of a :meth:`write_many` call, ``many(records)`` once instead when given."""
        self._subscribers.append(callback)
        self._many.append(many)

    def snapshot(self) -> EtcdStats:
        """A copy of :attr:`stats` with the time integrals brought up to now."""
        return replace(self._flush())

    # ---------------------------------------------------------------------------------- faults

    def stall_writes(self, duration_s: float) -> None:
        """Leader election (B9): no batch commits until ``duration_s`` seconds from now.

        Pending and in-flight writes, and linearizable reads, wait until then.
        """
        self._stall_until_s = max(self._stall_until_s, self.env.now + duration_s)

    def slow_disk(self, factor: float, duration_s: float) -> None:
        """Multiply every WAL fsync by ``factor`` for ``duration_s`` seconds from now."""
        self._slow_factor = factor
        self._slow_until_s = self.env.now + duration_s

    # ---------------------------------------------------------------------------------- writes

    def write(self, resource: str, key: str, op: str, size_bytes: int, value: object = None,
              precondition: Callable[[object], bool] | None = None) -> simpy.Event:
        """Propose a write.

        Args:
            resource: Plural resource (``pods``).
            key: Object key within the resource.
            op: ``create``, ``update`` or ``delete`` (create and update both store the object).
            size_bytes: Stored object size, bytes (ignored for deletes).
            value: The object itself (an immutable snapshot), kept as the key's current value and
                published in the :class:`CommitRecord`.
            precondition: ``f(current_value) -> bool`` evaluated when the entry is applied (a
                transaction's compare, as the apiserver's optimistic concurrency uses); False fails
                the write with :class:`EtcdConflict` and commits nothing.

        Returns:
            An event that succeeds with the new revision once the reply reaches the client, or fails
            with :class:`EtcdRequestTooLarge` or :class:`~kbench.errors.EtcdQuotaExceeded` one gRPC
            round trip after the call.
        """
        env = self.env
        ev = Call(env)
        if op != "delete":
            if op not in OPS:
                raise ValueError(f"unknown etcd op {op!r}: expected one of {', '.join(OPS)}")
            cfg = self.cfg
            err: Exception | None = None
            if size_bytes > cfg.max_request_bytes:
                err = EtcdRequestTooLarge(size_bytes, int(cfg.max_request_bytes))
            elif self._live_bytes + self._history_bytes + size_bytes > cfg.quota_bytes:
                need = self._live_bytes + self._history_bytes + size_bytes
                err = EtcdQuotaExceeded(need, int(cfg.quota_bytes))
                err.args = (need, int(cfg.quota_bytes))  # SimPy re-raises type(e)(*e.args) in the waiter
            if err is not None:
                self.stats.write_errors += 1
                trigger_in(env, ev, self._grpc(), False, err)
                return ev
        s = self._flush()
        s.writes_in_flight += 1
        ev.args = (resource, key, op, size_bytes, value, precondition)
        ev.callbacks.append(self._write_done)
        self._admit(ev, 1)
        return ev

    def write_many(self, resource: str, op: str, size_bytes: int, items: list[tuple[str, object]]) -> simpy.Event:
        """Propose ``len(items)`` unconditional writes of one resource as one call (fleet-level
        senders: the kubelets' batched lease renewals).

        The entries join the same raft batch and are applied one after the other, each with its own
        revision and commit record (real etcd group-commits such proposals); the reply reaches the
        client once, one gRPC round trip after the apply. Stats count every entry as a write.

        Args:
            resource: Plural resource.
            op: ``create``, ``update`` or ``delete`` (a lease revocation's deletions, batched Events).
            size_bytes: Stored size of each object, bytes (ignored for deletes).
            items: ``(key, value)`` pairs, in order.

        Returns:
            An event that succeeds with the list of revisions, or fails as :meth:`write` does
            (size or quota, checked for the whole call).
        """
        if op not in OPS:
            raise ValueError(f"unknown etcd op {op!r}: expected one of {', '.join(OPS)}")
        env, cfg = self.env, self.cfg
        ev = BatchCall(env)
        n = ev.n = len(items)
        err: Exception | None = None
        if op == "delete":
            pass
        elif size_bytes > cfg.max_request_bytes:
            err = EtcdRequestTooLarge(size_bytes, int(cfg.max_request_bytes))
        elif self._live_bytes + self._history_bytes + n * size_bytes > cfg.quota_bytes:
            need = self._live_bytes + self._history_bytes + n * size_bytes
            err = EtcdQuotaExceeded(need, int(cfg.quota_bytes))
            err.args = (need, int(cfg.quota_bytes))
        if err is not None:
            self.stats.write_errors += n
            trigger_in(env, ev, self._grpc(), False, err)
            return ev
        s = self._flush()
        s.writes_in_flight += n
        ev.args = (resource, op, size_bytes, items)
        ev.callbacks.append(self._write_done)
        self._admit(ev, n)
        return ev

    def _write_done(self, ev: Call) -> None:
        s = self._flush()
        n = ev.n if type(ev) is BatchCall else 1
        s.writes_in_flight -= n
        if ev.ok:  # a failed compare (EtcdConflict) is counted in write_errors
            s.writes += n
            s.write_latency_sum_s += n * (s.time_s - ev.start_s)
            a = ev.args  # (resource, key, op, ...) or, for a batch, (resource, op, ...)
            self.latency.observe((a[1], a[0]) if type(ev) is BatchCall else (a[2], a[0]), s.time_s - ev.start_s, n)

    def _commit_delay(self) -> float:
        """Leader WAL fsync in parallel with replication to a quorum of followers, seconds."""
        factor = self._slow_factor if self.env.now < self._slow_until_s else 1.0
        leader = self._fsync() * factor
        if self._quorum_acks == 0:
            return leader
        if self._followers == 2:  # 3 members: the faster follower's ack makes the quorum
            rtt, fsync = self._rtt, self._fsync
            a = rtt() + fsync() * factor
            b = rtt() + fsync() * factor
            ack = a if a <= b else b
            return leader if leader >= ack else ack
        acks = sorted(self._rtt() + self._fsync() * factor for _ in range(self._followers))
        return max(leader, acks[self._quorum_acks - 1])

    def _propose(self, ev: Call) -> None:
        """A proposal reaches the leader: it joins the batch taken at this instant if there is one
        (group commit of the proposals of one instant), else waits for the next batch; an idle
        raft loop takes it at once (no wake-up event)."""
        batch = self._batch
        if self._batch_open_s == self.env.now and len(batch) < self.cfg.max_batch_entries:
            batch.append(ev)  # its bytes join the apply; the WAL write was sized when the batch was taken
            entries, nbytes = _work(ev)
            e0, b0 = self._batch_work
            self._batch_work = (e0 + entries, b0 + nbytes)
            return
        self._pending.append(ev)
        if self._idle:
            self._idle = False
            self._woken()

    def _loop_top(self, _e: simpy.Event | None = None) -> None:
        """The raft loop's next iteration: go idle unless proposals are pending.

        The loop is a chain of event callbacks rather than a process (issue 8): take the pending
        proposals as one batch (after waiting out a stall), commit after the fsync/quorum delay
        (again waiting out a stall), apply the batch, repeat. An idle loop is started by the next
        proposal in the step that makes it.
        """
        if not self._pending:
            self._idle = True
            return
        self._woken()

    def _woken(self, _e: simpy.Event | None = None) -> None:
        env = self.env
        if env.now < self._stall_until_s:
            env.timeout(self._stall_until_s - env.now).callbacks.append(self._loop_top)
            return
        batch = self._pending
        limit = self.cfg.max_batch_entries
        if len(batch) > limit:  # a write_many call counts as one proposal here (it is one)
            batch, self._pending = batch[:limit], batch[limit:]
        else:
            self._pending = []
        self._batch = batch
        self._batch_open_s = env.now
        entries, nbytes = 0, 0.0
        for c in batch:
            if type(c) is BatchCall:
                entries += c.n
                nbytes += c.n * c.args[2]
            else:
                entries += 1
                if c.args[2] != "delete":
                    nbytes += c.args[3]
        self._batch_work = (entries, nbytes)
        env.timeout(self._batch_cpu() + self._commit_delay() + nbytes / self.cfg.wal_bytes_per_s
                    ).callbacks.append(self._committed)

    def _committed(self, _e: simpy.Event) -> None:
        env = self.env
        now = env.now
        if now < self._stall_until_s:  # leader lost while the batch was in flight
            env.timeout(self._stall_until_s - now).callbacks.append(self._committed)
            return
        batch = self._batch
        self._batch_open_s = None
        stats = self.stats
        stats.batches += 1
        entries, nbytes = self._batch_work
        # The batch's entries take effect (revisions, values, subscribers) when its apply starts
        # and are replied to when it ends; with the apply stage idle that is now, with no event.
        start = self._apply_free_s
        cfg = self.cfg
        apply_s = entries * cfg.apply_per_entry_s + nbytes * cfg.apply_per_byte_s
        stats.apply_cpu_s += apply_s
        stats.write_bytes += nbytes
        if start < now:
            self._apply_free_s = now + apply_s
            self._apply_batch(batch, apply_s)
        else:
            self._apply_free_s = start + apply_s
            env.timeout(start - now, (batch, apply_s)).callbacks.append(self._apply)
        self._loop_top()

    def _apply(self, ev: simpy.Event) -> None:
        """Apply a committed batch whose apply had to wait for earlier batches."""
        self._apply_batch(*ev.value)

    def _apply_batch(self, batch: list[Call], reply_s: float) -> None:
        """Apply a committed batch: revisions, object tables, subscribers; the replies reach the
        clients ``reply_s`` seconds from now plus a gRPC round trip."""
        env = self.env
        now = env.now
        store, subs, grpc = self._store, self._subscribers, self._grpc
        values = self._values
        entries = 0
        for call in batch:
            if type(call) is BatchCall:
                entries += self._apply_many(call, now, reply_s)
                continue
            entries += 1
            resource, key, op, size, value, precondition = call.args
            if precondition is not None:
                vals = values.get(resource)
                if not precondition(vals.get(key) if vals else None):
                    self.stats.write_errors += 1
                    trigger_in(env, call, reply_s + grpc(), False, EtcdConflict(resource, key))
                    continue
            size = store(resource, key, op, size)
            self.revision = rev = self.revision + 1
            vals = values.get(resource)
            if vals is None:
                vals = values[resource] = {}
            if op == "delete":
                vals.pop(key, None)
            else:
                vals[key] = value
            if subs:
                rec = CommitRecord(resource, key, op, rev, size, now, value)
                for cb in subs:
                    cb(rec)
            trigger_in(env, call, reply_s + grpc(), True, rev)
        self.stats.entries_committed += entries

    def _apply_many(self, call: BatchCall, now: float, reply_s: float) -> int:
        """Apply the entries of one :meth:`write_many` call; return how many."""
        resource, op, size0, items = call.args
        vals = self._values.get(resource)
        if vals is None:
            vals = self._values[resource] = {}
        rev = self.revision
        if op == "delete":
            store = self._store
            recs = []
            for key, value in items:
                size = store(resource, key, op, size0)
                rev += 1
                vals.pop(key, None)
                recs.append(CommitRecord(resource, key, op, rev, size, now, value))
        else:  # each entry stores size0 bytes: the tables in one call, then one record per entry
            self._store_updates(resource, [key for key, _ in items], size0)
            rev0 = rev
            recs = [CommitRecord(resource, key, op, rev0 + i, size0, now, value)
                    for i, (key, value) in enumerate(items, 1)]
            vals.update(items)
            rev += len(items)
        revs = list(range(self.revision + 1, rev + 1))
        self.revision = rev
        for cb, many in zip(self._subscribers, self._many, strict=True):
            if many is not None:
                many(recs)
            else:
                for rec in recs:
                    cb(rec)
        trigger_in(self.env, call, reply_s + self._grpc(), True, revs)
        return len(items)

    def _flush(self) -> EtcdStats:
        """Bring the time integrals up to now."""
        s, now = self.stats, self.env.now
        s.write_inflight_area += s.writes_in_flight * (now - s.time_s)
        s.read_inflight_area += s.reads_in_flight * (now - s.time_s)
        s.time_s = now
        return s

    # ------------------------------------------------------------------------------ compaction

    def _compaction_loop(self):
        env, cfg, stats = self.env, self.cfg, self.stats
        while True:
            yield env.timeout(cfg.compaction_interval_s)
            left = self.compact()
            while left > 0:  # batches holding the backend write transaction (B6, I25)
                k = min(left, cfg.compaction_batch_keys)
                left -= k
                busy = k * cfg.compact_per_key_s
                self._apply_free_s = max(self._apply_free_s, env.now) + busy
                stats.compaction_cpu_s += busy
                if left > 0:
                    yield env.timeout(busy + cfg.compaction_batch_sleep_s)


def _work(call: Call) -> tuple[int, float]:
    """Entries and value bytes a proposal adds to a batch."""
    if type(call) is BatchCall:
        return call.n, call.n * call.args[2]
    return 1, (0.0 if call.args[2] == "delete" else call.args[3])
