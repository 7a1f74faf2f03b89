"""etcd's read path: range reads on a core pool and the current-revision request (a mixin of
:class:`~kbench.cluster.etcd.server.Etcd`; B5, B13, I20, I22).

The core pool is the one the write path's CPU and the raft loop share
(:mod:`kbench.cluster.etcd.cpu`): a read and its GC share are booked on it first come, first served,
and, when the write path's CPU is modelled, their booked ends join the pool's job heap so that the
writes and batches sharing the cores see them (processor sharing, issue 20).
"""

from __future__ import annotations

import heapq

import simpy

from kbench.cluster.etcd.cpu import book
from kbench.cluster.etcd.records import Call
from kbench.simkernel import trigger_in


class RangeReads:
    """Range reads of :class:`~kbench.cluster.etcd.server.Etcd` (uses its state: ``env``, ``cfg``,
    ``stats``, ``_cores``, ``_ends``, the samplers, ``_apply_free_s``, ``_stall_until_s``)."""

    def read(self, resource: str, *, objects_scanned: int | None = None,
             bytes_returned: float | None = None, linearizable: bool = True, ranges: int = 1,
             walked: int = 0, op: str = "list") -> simpy.Event:
        """Range reads of ``resource`` (one LIST page: one or several ranges).

        Args:
            resource: Plural resource.
            objects_scanned: Keys the ranges read (default: all live objects of ``resource``).
            bytes_returned: Bytes the ranges read and send (default: all live bytes).
            linearizable: Confirm leadership with a ReadIndex round trip and wait for the apply stage
                to catch up first; ``False`` is a serializable read served from local state.
            ranges: Range requests (each costs ``read_base_s``).
            walked: Index entries walked to count the rest of limited ranges (I22).
            op: ``get`` (one key) or ``list`` (a range), for the latency histogram's label.

        Returns:
            An event that succeeds with the revision served once the reply reaches the client.
        """
        cfg = self.cfg
        n = self.object_count(resource) if objects_scanned is None else objects_scanned
        b = self._bytes.get(resource, 0) if bytes_returned is None else bytes_returned
        s = self.stats
        s.range_requests += ranges
        s.range_keys += n
        s.range_bytes += b
        s.index_keys += walked
        byte_cpu = b * cfg.read_per_byte_s
        gc = byte_cpu * cfg.gc_parallel_fraction
        serial = ranges * cfg.read_base_s + n * cfg.read_per_object_s + byte_cpu - gc + walked * cfg.index_walk_s_per_key
        return self._range(serial, gc, b / cfg.network_bytes_per_s, linearizable, op, resource)

    def current_revision(self, resource: str) -> simpy.Event:
        """The current revision, as kube-apiserver's ``GetCurrentResourceVersion`` asks it: a
        linearizable range of ``resource`` with limit 1, whose count walks every key (I20, I22).

        Returns:
            An event that succeeds with the revision once the reply reaches the apiserver.
        """
        cfg = self.cfg
        n = self.object_count(resource)
        self.stats.current_rv_requests += 1
        self.stats.index_keys += max(n - 1, 0)
        return self._range(cfg.read_base_s + min(n, 1) * cfg.read_per_object_s
                           + max(n - 1, 0) * cfg.index_walk_s_per_key, 0.0, 0.0, True, "list", resource)

    def read_delay(self, objects: int, nbytes: float, *, linearizable: bool = True, resource: str = "") -> float:
        """One range read booked arithmetically, without events (a *charged* read, issue 18): the
        ReadIndex round trip and the wait for the apply stage (when linearizable), the scan on the
        earliest free core and its GC share on the next (booked now), the transfer and one gRPC
        round trip, as :meth:`read` takes them. Counted in :attr:`stats` like a read.

        Args:
            objects: Keys read.
            nbytes: Bytes read and sent.
            linearizable: Confirm leadership and wait for the apply stage first.
            resource: The resource, for the latency histogram's label.

        Returns:
            The read's latency, seconds.
        """
        cfg = self.cfg
        now = self.env.now
        ready = now
        if linearizable:
            if self._followers == 2:  # 3 members: the faster follower's ack makes the quorum
                a, b = self._rtt(), self._rtt()
                ready += a if a <= b else b
            elif self._quorum_acks:
                ready += sorted(self._rtt() for _ in range(self._followers))[self._quorum_acks - 1]
            if self._apply_free_s > ready:
                ready = self._apply_free_s
            if self._stall_until_s > ready:
                ready = self._stall_until_s
        byte_cpu = nbytes * cfg.read_per_byte_s
        gc = byte_cpu * cfg.gc_parallel_fraction
        service = cfg.read_base_s + objects * cfg.read_per_object_s + byte_cpu - gc
        cores = self._cores
        start = max(ready, cores[0])
        heapq.heapreplace(cores, start + service)
        if gc > 0.0:
            heapq.heapreplace(cores, max(start, cores[0]) + gc)
        latency = start + service - now + nbytes / cfg.network_bytes_per_s + self._grpc()
        s = self._flush()
        s.range_requests += 1
        s.range_keys += objects
        s.range_bytes += nbytes
        s.read_cpu_s += service + gc
        s.reads += 1
        s.read_latency_sum_s += latency
        self.latency.observe(("get" if objects == 1 else "list", resource), latency)
        return latency

    def _range(self, service: float, gc: float, transfer: float, linearizable: bool, op: str,
               resource: str) -> simpy.Event:
        env = self.env
        ev = Call(env)
        ev.args = (service, gc, transfer, op, resource)
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

    def _serve(self, ev: Call) -> None:
        """Run a read on the earliest free core (FCFS), its GC share on the next, and schedule its
        reply after the transfer and a gRPC round trip; both are jobs of the shared pool (cpu.py)."""
        now = self.env.now
        service, gc, transfer = ev.args[:3]
        cores, ends = self._cores, self._ends
        start = book(cores, now, service)
        if ends is not None:
            heapq.heappush(ends, start + service)
        if gc > 0.0:
            gc_start = book(cores, start, gc)
            if ends is not None:
                heapq.heappush(ends, gc_start + gc)
        self.stats.read_cpu_s += service + gc
        trigger_in(self.env, ev, start + service - now + transfer + self._grpc(), True, self.revision)

    def _read_done(self, ev: Call) -> None:
        s = self._flush()
        s.reads_in_flight -= 1
        s.reads += 1
        s.read_latency_sum_s += s.time_s - ev.start_s
        self.latency.observe((ev.args[3], ev.args[4]), s.time_s - ev.start_s)
