"""The kubelet fleet's heartbeats: node lease renewals (F6) and full node status reports (F5).

One chain of timeout callbacks (no process) sends whatever is due at each instant. Renewals fall due on the grid of
``lease_batch_tick_s`` and those of one tick are kept together in a bucket (one heap entry per
tick, not per node), popped in the order they were scheduled and sent as one batch
(``World.send_many``); with a tick of 0 each renewal is its own heap entry, sent alone at its exact
time. Neither a renewal nor a status report is a process: both go through the process-free
request paths of :class:`~kbench.cluster.kubelet.nodeclient.NodeClient`, retried by timeout callbacks.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import simpy
from simpy.events import Timeout

from kbench.cluster.objects.stored import LEASE_BYTES, NODE_BYTES, GenericObj, NodeObj
from kbench.dist import Dist
from kbench.simkernel import URGENT, first_step, trigger_in

LEASE, STATUS = 0, 1
_ARRAY_BATCH = 64  # renewals per tick from which numpy's arithmetic beats the scalar loop (~70 here)
_STATUS_TRIES = 5  # node status GET + PATCH attempts on conflict


class Heartbeats:
    """The heartbeat schedule of a kubelet fleet and the requests it sends.

    Args:
        fleet: The :class:`~kbench.cluster.kubelet.fleet.KubeletFleet` (its kubelets, world, config).
    """

    def __init__(self, fleet):
        self.fleet, self.world, self.env, self.cfg = fleet, fleet.world, fleet.env, fleet.cfg
        # With batching, renewal jitter has its own stream: batching changes when and in which order
        # renewals finish, and that must not reshuffle the pod draws (failures, delays) of ``kubelet``.
        self._lease_rng = fleet.world.stream("kubelet/lease") if fleet.cfg.lease_batch_tick_s > 0 else fleet.rng
        # batched: the jitters of the dedicated stream drawn in blocks (Dist.sampler: the same values in
        # the same order as one random() per renewal; a lone numpy call costs ~17 us in a run)
        self._lease_u = Dist.uniform(0.0, 1.0).sampler(self._lease_rng) if fleet.cfg.lease_batch_tick_s > 0 else None
        # (due, seq, kind, payload): a status report (payload: kubelet), a renewal (tick 0: kubelet)
        # or a tick's bucket of renewals (payload: its index in ``_ticks``).
        self._heap: list[tuple[float, int, int, object]] = []
        self._ticks: dict[int, list] = {}
        self._seq = 0
        self._wait: Timeout | None = None  # the pending wake-up
        self._sleeping = False
        self._next = math.inf

    def start(self) -> None:
        """Start the heartbeats: a chain of timeout callbacks that wakes where a process running
        the same loop would (:func:`first_step`), without a process's resume at each wake-up."""
        first_step(self.env, self._wake)

    # --------------------------------------------------------------------------------- schedule
    def push(self, due: float, kind: int, k) -> None:
        """Schedule a heartbeat of kind ``LEASE`` or ``STATUS`` of kubelet ``k`` at ``due`` seconds
        (a renewal is rounded up to the tick grid)."""
        tick = self.cfg.lease_batch_tick_s
        if kind == LEASE and tick > 0:  # renewals due within one tick go out together
            n = math.ceil(due / tick)
            if n * tick < due:
                n += 1
            bucket = self._ticks.get(n)
            if bucket is not None:  # due no earlier than the heap's head: no wake-up needed
                bucket.append(k)
                return
            self._ticks[n] = [k]
            self._add(n * tick, LEASE, n)
        else:
            self._add(due, kind, k)

    def _add(self, due: float, kind: int, payload) -> None:
        heapq.heappush(self._heap, (due, self._seq, kind, payload))
        self._seq += 1
        if due < self._next and self._sleeping:  # wake up earlier
            self._sleeping = False
            # scheduled as Process.interrupt schedules its Interruption (urgent, now), so the
            # wake-up keeps the place in the event order it had when this was a process
            ev = simpy.Event(self.env)
            ev.callbacks.append(self._interrupted)
            trigger_in(self.env, ev, 0.0, priority=URGENT)

    def _interrupted(self, _e: simpy.Event) -> None:
        if self._wait is not None:  # the pending wake-up no longer applies
            self._wait.callbacks.remove(self._wake)
            self._wait = None
        self._wake(None)

    def _wake(self, _e: simpy.Event | None) -> None:
        """Send what is due now, then sleep until the next heartbeat (or an earlier push)."""
        env, heap, cfg, ticks, fleet = self.env, self._heap, self.cfg, self._ticks, self.fleet
        batched = cfg.lease_batch_tick_s > 0
        self._sleeping = False
        self._wait = None
        now = env.now
        leases: list = []
        while heap and heap[0][0] <= now:
            _, _, kind, x = heapq.heappop(heap)
            if kind == LEASE:
                if batched:
                    bucket = ticks.pop(x)
                    if fleet.dead_nodes:
                        bucket = [k for k in bucket if not k.dead]
                    if leases:
                        leases += bucket
                    else:
                        leases = bucket
                elif not x.dead:
                    self._renew(x)
            elif not x.dead:
                self.push(now + cfg.node_status_report_s, STATUS, x)
                if not x.down:
                    self._post_status(x)
        if len(leases) > 1:
            self._renew_batch(leases, 0, cfg.lease_retry_initial_s)
        elif leases:
            self._renew(leases[0])
        self._next = heap[0][0] if heap else math.inf
        self._sleeping = True
        if heap:
            wait = self._wait = Timeout(env, self._next - now)
            wait.callbacks.append(self._wake)

    # ----------------------------------------------------------------------------------- leases
    def _renew(self, k) -> None:
        """One lease renewal (F6: update of ``leases/<node>``, retried with backoff).

        No process: the update goes through ``World.send`` (``Apiserver.submit``), the retries
        through timeout callbacks; the requests, events and their order are those of a process
        running the same loop (the golden tests pin this), one process start and end fewer.
        """
        self._renew_try(k, 0, self.cfg.lease_retry_initial_s, self.cfg.lease_retries if not k.down else 0)

    def _renew_try(self, k, attempt: int, delay: float, attempts: int) -> None:
        env, cfg, w = self.env, self.cfg, self.world
        if attempt >= attempts:
            self._renewed(k)
            return

        def done(resp) -> None:
            if resp.ok:
                w.counters["lease_renewals"] += 1
                self._renewed(k)
                return
            w.counters["lease_failures"] += 1
            if attempt + 1 < cfg.lease_retries:
                nxt = min(2 * delay, cfg.lease_retry_max_s)
                env.timeout(delay).callbacks.append(lambda _e: self._renew_try(k, attempt + 1, nxt, attempts))
            else:
                self._renewed(k)

        w.send(k.client, "update", "leases", k.name, GenericObj(k.name, {"renew_s": env.now}), done,
               size_bytes=LEASE_BYTES)

    def _renew_batch(self, ks: list, attempt: int, delay: float) -> None:
        """Attempt ``attempt`` of the renewals of ``ks`` as one batch (``World.send_many``).

        A node that is cut off (its requests wait on the gate) or whose client must wait for its
        rate limiter leaves the batch and takes the per-lease path (:meth:`_renew_try`), so
        partitions, node failures and client QPS behave as without batching. Every member shares
        the batch's outcome and, on failure, its retry.
        """
        env, cfg, w, kubelets = self.env, self.cfg, self.world, self.fleet.kubelets
        now = env.now
        writes = []
        members = []  # the kubelets of ``writes``, in order
        for k in ks:
            if attempt == 0 and k.down:  # as _renew: no attempt from a node cut off
                self._renewed(k)
                continue
            c = k.client
            if c.gate is not None:
                self._renew_try(k, attempt, delay, cfg.lease_retries)
                continue
            lim = c.limiter  # TokenBucket.reserve, inlined (the same arithmetic)
            if lim.qps > 0:
                tokens = lim.tokens + (now - lim.t) * lim.qps
                if tokens > lim.burst:
                    tokens = lim.burst
                lim.t = now
                tokens -= 1.0
                if tokens < 0 and -tokens / lim.qps > 0:  # must wait: give the token back, the
                    lim.tokens = tokens + 1.0  # per-lease path reserves it again
                    self._renew_try(k, attempt, delay, cfg.lease_retries)
                    continue
                lim.tokens = tokens
            writes.append((k.name, GenericObj(k.name, {"renew_s": now})))
            members.append(k)
        if not writes:
            return

        def done(names, resp) -> None:
            # one call for the whole batch unless submit_many split it (wider than the level's limit)
            group = members if len(names) == len(members) else [kubelets[n] for n in names]
            if resp.ok:
                w.counters["lease_renewals"] += len(group)
                self._renewed_all(group)
                return
            w.counters["lease_failures"] += len(group)
            if attempt + 1 < cfg.lease_retries:
                nxt = min(2 * delay, cfg.lease_retry_max_s)
                env.timeout(delay).callbacks.append(lambda _e: self._renew_batch(group, attempt + 1, nxt))
            else:
                self._renewed_all(group)

        w.send_many(members[0].client, writes, "update", "leases", done, size_bytes=LEASE_BYTES)

    def _renewed(self, k) -> None:
        """The renewal is over (renewed or given up): schedule the next one."""
        if not k.dead:
            cfg = self.cfg
            u = self._lease_u() if self._lease_u is not None else float(self._lease_rng.random())
            jitter = 1.0 + cfg.lease_renew_jitter * u
            self.push(self.env.now + cfg.lease_renew_interval_s * jitter, LEASE, k)

    def _renewed_all(self, ks: list) -> None:
        """:meth:`_renewed` for each of ``ks`` in order (a batch, so a tick > 0): the jitters drawn in
        one call (the same values), the dues put in their tick buckets as :meth:`push` does."""
        alive = [k for k in ks if not k.dead] if self.fleet.dead_nodes else ks
        cfg, now, ticks = self.cfg, self.env.now, self._ticks
        interval, jit, tick = cfg.lease_renew_interval_s, cfg.lease_renew_jitter, cfg.lease_batch_tick_s
        draw = self._lease_u  # a batch means a tick > 0: the block sampler exists
        us = [draw() for _ in alive]
        ceil = math.ceil
        if len(alive) < _ARRAY_BATCH:  # push()'s arithmetic, scalar: numpy's fixed cost loses here
            ns = []
            for u in us:
                due = now + interval * (1.0 + jit * u)
                n = ceil(due / tick)
                ns.append(n + 1 if n * tick < due else n)
        else:  # the same on arrays: each operation rounds as the scalar one does
            due = now + interval * (1.0 + jit * np.array(us))
            na = np.ceil(due / tick)
            na += na * tick < due
            ns = na.astype(np.int64).tolist()
        for k, n in zip(alive, ns, strict=True):
            bucket = ticks.get(n)
            if bucket is not None:
                bucket.append(k)
            else:
                ticks[n] = [k]
                self._add(n * tick, LEASE, n)

    # ------------------------------------------------------------------------------ node status
    def _post_status(self, k) -> None:
        """Full node status (F5): GET the Node from the cache, PATCH it (retried on conflict).

        No process: it starts where a process started now would (:func:`first_step`), and the GET
        and the PATCH go through the process-free paths of the node's client, with the events and
        order of a process running the same loop.
        """
        first_step(self.env, lambda _e: self._status_try(k, _STATUS_TRIES))

    def _status_try(self, k, tries: int) -> None:
        w = self.world
        client = k.client
        req = client.request("get", "nodes", name=k.name, size_bytes=NODE_BYTES, want_items=True)

        def got(resp) -> None:
            cur = resp.items if resp.ok else None
            if not isinstance(cur, NodeObj) or k.down:
                return
            client.write(w, "patch", "nodes/status", k.name, cur.evolve(ready=True), patched, size_bytes=NODE_BYTES,
                         precondition=lambda v: v is cur)

        def patched(resp) -> None:
            if resp.ok:
                w.counters["node_status_updates"] += 1
            elif resp.code == 409 and tries > 1:
                self._status_try(k, tries - 1)

        client.get(self.env, w.api, req, got)
