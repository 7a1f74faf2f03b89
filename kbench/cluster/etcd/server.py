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
  round trip after its apply ends (the whole round trip is charged on the reply path).
* **Read path.** A linearizable read first waits for a ReadIndex round trip to a quorum and for the
  apply stage to reach the commit index of its arrival; then it needs ``read_base_s +
  objects_scanned * read_per_object_s + bytes_returned * read_per_byte_s`` of CPU on one of
  ``cores`` (first come, first served, B13); then one gRPC round trip. Serializable reads skip the
  ReadIndex step.
* **Storage.** Live bytes per resource plus superseded versions (history) since the last
  compaction make up the database size; compaction (every ``compaction_interval_s``, A24) drops the
  history. Creates and updates that would take the database over ``quota_bytes`` fail with
  :class:`~kbench.errors.EtcdQuotaExceeded` (B8); requests above ``max_request_bytes`` fail with
  :class:`EtcdRequestTooLarge` (B7). Deletes are always accepted.

No SimPy process is spawned per request: the raft loop is a chain of event callbacks (an idle loop
is started by the proposal itself, and a batch applied when the apply stage is idle needs no event
of its own) and the only process is the compaction timer. A request's own event is scheduled
directly at its completion time (as ``simpy.Timeout`` does), and the core pool is a heap of core
free-times.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT

from kbench.config import EtcdConfig
from kbench.errors import EtcdQuotaExceeded

OPS = ("create", "update", "delete")


class EtcdRequestTooLarge(Exception):
    """etcd rejected a request larger than ``max_request_bytes`` (B7).

    A model event, not a user-input error: clients see it as a failed request.

    Args:
        size_bytes: The request's size, bytes.
        limit_bytes: The configured limit, bytes.
    """

    def __init__(self, size_bytes: int, limit_bytes: int):
        super().__init__(size_bytes, limit_bytes)  # SimPy copies failures as type(e)(*e.args)
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes

    def __str__(self) -> str:
        return f"etcdserver: request is too large ({self.size_bytes} > {self.limit_bytes} bytes)"


class EtcdConflict(Exception):
    """A transaction's compare failed: the key's current value did not satisfy the precondition."""

    def __init__(self, resource: str, key: str):
        super().__init__(resource, key)
        self.resource = resource
        self.key = key

    def __str__(self) -> str:
        return f"etcdserver: compare failed for {self.resource}/{self.key}"


@dataclass(slots=True)
class CommitRecord:
    """One committed write, as published to subscribers (the watch cache); read-only by
    convention (not frozen: a frozen dataclass costs several times more to build, issue 8).

    Attributes:
        resource: Plural resource (``pods``).
        key: Object key within the resource.
        op: ``create``, ``update`` or ``delete``.
        revision: The revision the write created.
        size_bytes: Stored size of the new version (of the deleted object for a delete), bytes.
        time_s: Commit (apply) time, virtual seconds.
        value: The stored object (the caller's immutable snapshot), None for deletes or when the
            caller stores sizes only.
    """

    resource: str
    key: str
    op: str
    revision: int
    size_bytes: int
    time_s: float
    value: object = None


@dataclass(slots=True)
class EtcdStats:
    """Counters and time integrals of one :class:`Etcd`.

    Little's law on the write path: over a window, ``diff(write_inflight_area) / duration`` (mean
    writes in flight) equals ``diff(writes) / duration * diff(write_latency_sum) / diff(writes)``.
    Take consistent copies with :meth:`Etcd.snapshot`.

    Attributes:
        writes: Writes completed (reply delivered).
        write_errors: Writes rejected (quota, size).
        write_latency_sum_s: Sum of completed writes' latencies, seconds.
        writes_in_flight: Accepted writes not yet replied to.
        write_inflight_area: Integral of ``writes_in_flight`` over time, request-seconds.
        reads: Reads completed.
        read_latency_sum_s: Sum of completed reads' latencies, seconds.
        reads_in_flight: Reads not yet replied to.
        read_inflight_area: Integral of ``reads_in_flight`` over time, request-seconds.
        read_cpu_s: CPU-seconds spent serving reads.
        batches: Raft batches committed.
        entries_committed: Entries applied (equals revisions created).
        compactions: Compactions run.
        time_s: Virtual time the integrals are accounted up to, seconds.
    """

    writes: int = 0
    write_errors: int = 0
    write_latency_sum_s: float = 0.0
    writes_in_flight: int = 0
    write_inflight_area: float = 0.0
    reads: int = 0
    read_latency_sum_s: float = 0.0
    reads_in_flight: int = 0
    read_inflight_area: float = 0.0
    read_cpu_s: float = 0.0
    batches: int = 0
    entries_committed: int = 0
    compactions: int = 0
    time_s: float = 0.0


class _Call(simpy.Event):
    """A request's completion event, remembering when the request was made."""

    __slots__ = ("start_s", "args")

    def __init__(self, env: simpy.Environment):
        self.env = env  # simpy.Event.__init__, inlined
        self.callbacks: list = []
        self.start_s = env._now
        self.args: tuple = ()


class _BatchCall(_Call):
    """Several entries of one resource proposed together (:meth:`Etcd.write_many`); succeeds with the
    list of their revisions."""

    __slots__ = ("n",)


def _trigger_in(env: simpy.Environment, event: simpy.Event, delay: float, ok: bool, value) -> None:
    """Trigger ``event`` ``delay`` seconds from now without a helper event (as ``Timeout`` does)."""
    event._ok = ok
    event._value = value
    env.schedule(event, NORMAL, delay)


class Etcd:
    """A 3-member (``cfg.members``) etcd cluster seen from its leader.

    Args:
        env: The run's environment (virtual seconds).
        cfg: Costs and limits.
        rng: The ``etcd`` stream of the run's seed tree.

    Attributes:
        revision: Last applied revision (1 for an empty store, as in etcd).
        compacted_revision: Revision of the last compaction (0 before any).
        stats: Counters and integrals (:class:`EtcdStats`).
    """

    def __init__(self, env: simpy.Environment, cfg: EtcdConfig, rng: np.random.Generator):
        self.env = env
        self.cfg = cfg
        self.revision = 1
        self.compacted_revision = 0
        self.stats = EtcdStats(time_s=env.now)
        self._rtt = cfg.rtt_s.sampler(rng)
        self._grpc = cfg.grpc_rtt_s.sampler(rng)
        self._fsync = cfg.fsync_s.sampler(rng)
        self._followers = cfg.members - 1
        self._quorum_acks = cfg.members // 2  # follower acks needed besides the leader's own
        self._objects: dict[str, dict[str, int]] = {}
        self._values: dict[str, dict[str, object]] = {}
        self._bytes: dict[str, int] = {}
        self._live_bytes = 0
        self._history_bytes = 0
        self._subscribers: list[Callable[[CommitRecord], None]] = []
        self._many: list[Callable[[list[CommitRecord]], None] | None] = []
        self._pending: list[_Call] = []
        self._idle = False  # the raft loop waits for a proposal
        self._batch: list[_Call] = []  # the batch in flight
        self._batch_open_s: float | None = None  # when it was taken, until its commit
        self._apply_free_s = 0.0  # when the apply stage finishes every committed batch
        self._cores = [0.0] * cfg.cores  # heap of core free-times
        self._stall_until_s = 0.0
        self._slow_factor = 1.0
        self._slow_until_s = 0.0

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the raft loop and the compaction timer (call once)."""
        # the raft loop starts as a process would, on an urgent event now (keeps event order)
        first = simpy.Event(self.env)
        first._ok, first._value = True, None
        first.callbacks.append(self._loop_top)
        self.env.schedule(first, URGENT)
        if self.cfg.compaction_interval_s > 0:  # A24: 0 disables
            self.env.process(self._compaction_loop())

    def subscribe(self, callback: Callable[[CommitRecord], None],
                  many: Callable[[list[CommitRecord]], None] | None = None) -> None:
        """Call ``callback`` once per committed write, in revision order, at commit time; for the
        entries of a :meth:`write_many` call, ``many(records)`` once instead when given."""
        self._subscribers.append(callback)
        self._many.append(many)

    # ---------------------------------------------------------------------------------- state

    def object_count(self, resource: str) -> int:
        """Live objects of ``resource``."""
        objs = self._objects.get(resource)
        return len(objs) if objs else 0

    def resource_bytes(self, resource: str) -> int:
        """Live bytes of ``resource``."""
        return self._bytes.get(resource, 0)

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

    def compact(self) -> None:
        """Compact now: history up to the current revision is dropped."""
        self.compacted_revision = self.revision
        self._history_bytes = 0
        self.stats.compactions += 1

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
        ev = _Call(env)
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
                _trigger_in(env, ev, self._grpc(), False, err)
                return ev
        s = self._flush()
        s.writes_in_flight += 1
        ev.args = (resource, key, op, size_bytes, value, precondition)
        ev.callbacks.append(self._write_done)
        self._propose(ev)
        return ev

    def write_many(self, resource: str, op: str, size_bytes: int, items: list[tuple[str, object]]) -> simpy.Event:
        """Propose ``len(items)`` unconditional writes of one resource as one call (fleet-level
        senders: the kubelets' batched lease renewals).

        The entries join the same raft batch and are applied one after the other, each with its own
        revision and commit record (real etcd group-commits such proposals); the reply reaches the
        client once, one gRPC round trip after the apply. Stats count every entry as a write.

        Args:
            resource: Plural resource.
            op: ``create`` or ``update``.
            size_bytes: Stored size of each object, bytes.
            items: ``(key, value)`` pairs, in order.

        Returns:
            An event that succeeds with the list of revisions, or fails as :meth:`write` does
            (size or quota, checked for the whole call).
        """
        if op not in ("create", "update"):
            raise ValueError(f"write_many stores objects: op must be create or update, not {op!r}")
        env, cfg = self.env, self.cfg
        ev = _BatchCall(env)
        n = ev.n = len(items)
        err: Exception | None = None
        if size_bytes > cfg.max_request_bytes:
            err = EtcdRequestTooLarge(size_bytes, int(cfg.max_request_bytes))
        elif self._live_bytes + self._history_bytes + n * size_bytes > cfg.quota_bytes:
            need = self._live_bytes + self._history_bytes + n * size_bytes
            err = EtcdQuotaExceeded(need, int(cfg.quota_bytes))
            err.args = (need, int(cfg.quota_bytes))
        if err is not None:
            self.stats.write_errors += n
            _trigger_in(env, ev, self._grpc(), False, err)
            return ev
        s = self._flush()
        s.writes_in_flight += n
        ev.args = (resource, op, size_bytes, items)
        ev.callbacks.append(self._write_done)
        self._propose(ev)
        return ev

    def _write_done(self, ev: _Call) -> None:
        s = self._flush()
        n = ev.n if type(ev) is _BatchCall else 1
        s.writes_in_flight -= n
        if ev.ok:  # a failed compare (EtcdConflict) is counted in write_errors
            s.writes += n
            s.write_latency_sum_s += n * (s.time_s - ev.start_s)

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

    def _propose(self, ev: _Call) -> None:
        """A proposal reaches the leader: it joins the batch taken at this instant if there is one
        (group commit of the proposals of one instant), else waits for the next batch; an idle
        raft loop takes it at once (no wake-up event)."""
        batch = self._batch
        if self._batch_open_s == self.env._now and len(batch) < self.cfg.max_batch_entries:
            batch.append(ev)
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
        env.timeout(self._commit_delay()).callbacks.append(self._committed)

    def _committed(self, _e: simpy.Event) -> None:
        env = self.env
        now = env.now
        if now < self._stall_until_s:  # leader lost while the batch was in flight
            env.timeout(self._stall_until_s - now).callbacks.append(self._committed)
            return
        batch = self._batch
        self._batch_open_s = None
        self.stats.batches += 1
        entries = 0
        for c in batch:
            entries += c.n if type(c) is _BatchCall else 1
        # The batch's entries take effect (revisions, values, subscribers) when its apply starts
        # and are replied to when it ends; with the apply stage idle that is now, with no event.
        start = self._apply_free_s
        apply_s = entries * self.cfg.apply_per_entry_s
        if start < now:
            self._apply_free_s = now + apply_s
            self._apply_batch(batch, apply_s)
        else:
            self._apply_free_s = start + apply_s
            env.timeout(start - now, (batch, apply_s)).callbacks.append(self._apply)
        self._loop_top()

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
        if op == "delete":
            return old or 0
        objs[key] = size
        self._bytes[resource] += size
        self._live_bytes += size
        return size

    def _apply(self, ev: simpy.Event) -> None:
        """Apply a committed batch whose apply had to wait for earlier batches."""
        self._apply_batch(*ev.value)

    def _apply_batch(self, batch: list[_Call], reply_s: float) -> None:
        """Apply a committed batch: revisions, object tables, subscribers; the replies reach the
        clients ``reply_s`` seconds from now plus a gRPC round trip."""
        env = self.env
        now = env.now
        store, subs, grpc = self._store, self._subscribers, self._grpc
        values = self._values
        entries = 0
        for call in batch:
            if type(call) is _BatchCall:
                entries += self._apply_many(call, now, reply_s)
                continue
            entries += 1
            resource, key, op, size, value, precondition = call.args
            if precondition is not None:
                vals = values.get(resource)
                if not precondition(vals.get(key) if vals else None):
                    self.stats.write_errors += 1
                    _trigger_in(env, call, reply_s + grpc(), False, EtcdConflict(resource, key))
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
            _trigger_in(env, call, reply_s + grpc(), True, rev)
        self.stats.entries_committed += entries

    def _apply_many(self, call: _BatchCall, now: float, reply_s: float) -> int:
        """Apply the entries of one :meth:`write_many` call; return how many."""
        resource, op, size0, items = call.args
        vals = self._values.get(resource)
        if vals is None:
            vals = self._values[resource] = {}
        store = self._store
        rev = self.revision
        revs = []
        recs = []
        for key, value in items:
            size = store(resource, key, op, size0)
            rev += 1
            vals[key] = value
            revs.append(rev)
            recs.append(CommitRecord(resource, key, op, rev, size, now, value))
        self.revision = rev
        for cb, many in zip(self._subscribers, self._many, strict=True):
            if many is not None:
                many(recs)
            else:
                for rec in recs:
                    cb(rec)
        _trigger_in(self.env, call, reply_s + self._grpc(), True, revs)
        return len(items)

    # ----------------------------------------------------------------------------------- reads

    def read(self, resource: str, *, objects_scanned: int | None = None,
             bytes_returned: int | None = None, linearizable: bool = True) -> simpy.Event:
        """A range read of ``resource``.

        Args:
            resource: Plural resource.
            objects_scanned: Objects the range visits (default: all live objects of ``resource``).
            bytes_returned: Bytes in the response (default: all live bytes of ``resource``).
            linearizable: Confirm leadership with a ReadIndex round trip and wait for the apply stage
                to catch up first; ``False`` is a serializable read served from local state.

        Returns:
            An event that succeeds with the revision served once the reply reaches the client.
        """
        env = self.env
        cfg = self.cfg
        n = self.object_count(resource) if objects_scanned is None else objects_scanned
        b = self._bytes.get(resource, 0) if bytes_returned is None else bytes_returned
        ev = _Call(env)
        ev.args = (cfg.read_base_s + n * cfg.read_per_object_s + b * cfg.read_per_byte_s,)
        ev.callbacks.append(self._read_done)
        self._flush().reads_in_flight += 1
        if linearizable:
            now = env.now
            ready = now
            if self._quorum_acks:
                ready += sorted(self._rtt() for _ in range(self._followers))[self._quorum_acks - 1]
            ready = max(ready, self._apply_free_s, self._stall_until_s)
            env.timeout(ready - now, ev).callbacks.append(lambda t: self._serve(t.value))
        else:
            self._serve(ev)
        return ev

    def _serve(self, ev: _Call) -> None:
        """Run a read on the earliest free core (FCFS) and schedule its reply."""
        now = self.env.now
        service = ev.args[0]
        start = max(now, self._cores[0])
        heapq.heapreplace(self._cores, start + service)
        self.stats.read_cpu_s += service
        _trigger_in(self.env, ev, start + service - now + self._grpc(), True, self.revision)

    def _read_done(self, ev: _Call) -> None:
        s = self._flush()
        s.reads_in_flight -= 1
        s.reads += 1
        s.read_latency_sum_s += s.time_s - ev.start_s

    def _flush(self) -> EtcdStats:
        """Bring the time integrals up to now."""
        s, now = self.stats, self.env.now
        s.write_inflight_area += s.writes_in_flight * (now - s.time_s)
        s.read_inflight_area += s.reads_in_flight * (now - s.time_s)
        s.time_s = now
        return s

    # ------------------------------------------------------------------------------ compaction

    def _compaction_loop(self):
        while True:
            yield self.env.timeout(self.cfg.compaction_interval_s)
            self.compact()
