"""API Priority and Fairness (APF) in virtual time, or the legacy max-inflight limits.

A request is classified into a priority level and a flow (:mod:`kbench.cluster.apiserver.workestimate`),
given a seat estimate, and then, by kind of level:

* **exempt**: runs at once, never limited (its seats are counted for observation only).
* **reject** (catch-all, LimitResponse=Reject, or ``queues == 0``): runs at once if its seats fit
  under the level's NominalCL, else gets 429 ``"reject"``.
* **queuing**: the flow's *hand* of ``hand_size`` queues is dealt deterministically from a hash of
  the flow key (shuffle sharding, kubernetes/apiserver pkg/util/shufflesharding/shufflesharding.go;
  blake2b instead of FNV); the request joins the hand's queue with the least waiting work
  (seat-seconds), starting the deal at a rotating offset (queueset.go, shuffleShardLocked). If the
  level's seats are all in use and that queue holds ``queue_length_limit`` requests it gets 429
  ``"queue-full"``. Queues are served by fair queuing for server requests (kubernetes/apiserver
  pkg/util/flowcontrol/fairqueuing/queueset/queueset.go): a progress meter R advances at
  ``min(seats in use + seats waiting, NominalCL) / active queues`` seat-seconds per second; each
  queue keeps the R of its next dispatch; the queue whose head has the smallest virtual finish
  (next R + head's work, work = seats x 3 ms + final seats x additional time) is served, ties going
  round-robin after the last served queue. If that head needs more seats than are free, nothing is
  dispatched until enough seats free up (no skipping ahead). On completion the queue's next R is
  corrected by seats x (3 ms - actual service time), and never lags its head's arrival R
  (anti-windup). A request still queued ``queue_wait_limit_s`` after its arrival gets 429
  ``"time-out"`` (A25) — exactly then, through a timeout event, rather than lazily as old upstream
  versions did.

Seats are held from dispatch until :meth:`FlowControl.release`; a mutating request's final seats
(A14) stay held ``additional_s`` longer. A WATCH holds its seat until released, so the apiserver
should release it once the watch is established, as APF does for long-running requests.

Borrowing (A10, A27, I15): each level's seat demand (seats in use + seats waiting) is integrated
over time, and every ``borrowing_period_s`` the current limits are recomputed from it
(:mod:`kbench.cluster.apiserver.borrowing`): idle levels lend, busy ones borrow, none falls below
``min(NominalCL, its demand)``. Dispatch, the reject test and the fair-queuing rate use the current
limit; the per-level seat caps stay computed from NominalCL, as upstream. A 429 carries the level's
Retry-After (A28). Not modelled: config changes at run time.

Legacy mode (``enabled=False``, A1-A3): read-only requests (get, list) and mutating requests each
have an in-flight limit (0 = unlimited); one over the limit gets 429 ``"max-inflight"`` at once,
unless the user is in ``system:masters``. WATCH is long-running and never limited.

The hot path uses events and callbacks only, no process per request.

Longer than the ~400-line guide on purpose: admission, fair queuing, dispatch and the seat-demand
integration borrowing reads are one algorithm over the same level and queue state (upstream's
``queueset.go`` is one file for the same reason); the borrowing computation itself is in
:mod:`kbench.cluster.apiserver.borrowing`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from heapq import heapify, heappop, heappush

import numpy as np
import simpy

from kbench.cluster.apiserver.borrowing import DroppedRequests, apply_limits, schedule_adjustments
from kbench.cluster.apiserver.request import Request
from kbench.cluster.apiserver.workestimate import (
    EXEMPT,
    LEGACY,
    LEGACY_LONG_RUNNING,
    LEGACY_MUTATING,
    LEGACY_READONLY,
    MASTERS_GROUP,
    QUEUE,
    REJECT,
    Classifier,
    Estimator,
    deal_hand,
    is_queuing,
    legacy_level,
    level_seat_cap,
    nominal_concurrency,
)
from kbench.config import FlowControlConfig

WAITING, DISPATCHED, REMOVED = range(3)
_INF = float("inf")
COUNTERS = ("arrived", "dispatched", "queued", "completed", "rejected_queue_full",
            "rejected_time_out", "rejected_reject", "rejected_max_inflight")


class _Queue:
    __slots__ = ("index", "fifo", "n_waiting", "work_waiting", "seats_in_use", "n_executing", "next_r", "stamp")

    def __init__(self, index: int):
        self.index = index
        self.fifo: deque[_Waiter] = deque()
        self.n_waiting = 0
        self.work_waiting = 0.0  # seat-seconds waiting
        self.seats_in_use = 0
        self.n_executing = 0
        self.next_r = 0.0  # R of the next dispatch, seat-seconds
        self.stamp = 0  # bumped whenever next_r or the head changes: older dispatch-heap entries are stale


class _Waiter:
    __slots__ = ("req", "event", "level", "queue", "arrival_r", "work", "seats", "state")

    def __init__(self, req, event, level, queue, arrival_r, work, seats):
        self.req, self.event, self.level, self.queue = req, event, level, queue
        self.arrival_r = arrival_r  # R when it arrived, seat-seconds
        self.work = work  # seat-seconds charged at dispatch
        self.seats = seats  # max(seats, final seats)
        self.state = WAITING


class _Level:
    __slots__ = ("name", "kind", "cl", "queues", "hand_size", "qlen_limit", "hands", "r", "t",
                 "robin", "enqueues", "seats_in_use", "seats_waiting", "n_waiting", "n_executing",
                 "active", "nonempty", "fheap", "counters", "q_area", "nominal", "min_cl", "max_cl", "d_t", "d_t0",
                 "d_area", "d_area2", "d_max", "smoothed", "hw", "dropped", "cl_max", "cl_min", "wait_seats", "wait_min", "s_area", "s_t")

    def __init__(self, name: str, kind: int, cl: int, queues: int = 0, hand_size: int = 1,
                 qlen_limit: int = 0):
        self.name = name
        self.kind = kind
        self.cl = cl  # the current concurrency limit (borrowing moves it)
        self.nominal = self.min_cl = self.max_cl = cl
        self.cl_max = self.cl_min = cl  # the range the current limit took, for the summary
        self.d_t = self.d_t0 = 0.0  # seat demand integrator (I15), seats and seconds
        self.d_area = self.d_area2 = self.d_max = 0.0
        self.smoothed = self.hw = 0.0
        self.dropped = DroppedRequests()
        self.wait_seats: dict[int, int] = {}  # waiting requests by seats (a dispatch that cannot fit exits early)
        self.wait_min = _INF  # the fewest seats a waiting request needs
        self.queues = [_Queue(i) for i in range(queues)]
        self.hand_size = max(1, min(hand_size, queues)) if queues else 1
        self.qlen_limit = qlen_limit
        self.hands: dict[str, tuple[int, ...]] = {}
        self.r = 0.0  # progress meter R, seat-seconds
        self.t = 0.0  # virtual time of the last sync, seconds
        self.robin = -1
        self.enqueues = 0
        self.seats_in_use = 0
        self.seats_waiting = 0
        self.n_waiting = 0
        self.n_executing = 0
        self.active = 0  # queues with requests waiting or executing
        self.nonempty: dict[int, _Queue] = {}
        # (virtual finish of the head, queue index, stamp) of the queues with waiting requests, and
        # stale entries: the dispatch takes the smallest valid one instead of scanning every queue
        self.fheap: list[tuple[float, int, int]] = []
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.q_area = 0.0  # integral of n_waiting over time, request-seconds
        self.s_area = 0.0  # integral of seats_in_use over time up to s_t, seat-seconds
        self.s_t = 0.0


class FlowControl:
    """APF (or legacy max-inflight) for one apiserver.

    Args:
        env: The simulation environment (virtual seconds).
        cfg: Flow-control config.
        rng: Random stream (unused: APF is deterministic; kept for the component interface).
        object_count: Stored objects of a resource, for LIST estimates (A15).
        object_bytes: Stored bytes of a resource, for size-based LIST estimates (A16).
        gates: Resolved feature gates (SizeBasedListCostEstimate, WatchInitEventsCharge).
    """

    def __init__(self, env: simpy.Environment, cfg: FlowControlConfig, rng: np.random.Generator,
                 object_count: Callable[[str], int] | None = None,
                 object_bytes: Callable[[str], float] | None = None,
                 gates: dict[str, bool] | None = None):
        self.env = env
        self.cfg = cfg
        self.rng = rng
        self._g = cfg.fq_estimated_service_s
        self._wait_limit = cfg.queue_wait_limit_s
        self._exec: dict[Request, tuple[_Level, _Queue | None, int]] = {}
        self._linger: dict[tuple[str, str], int] = {}  # (level, flow schema) -> final seats still held
        self._levels: dict[str, _Level] = {}
        self.nominal_sum = 0
        if cfg.enabled:
            nominal = nominal_concurrency(cfg)
            caps = {n: level_seat_cap(cfg, lv, nominal[n]) for n, lv in cfg.levels.items()}
            server = cfg.max_requests_inflight + cfg.max_mutating_requests_inflight
            for name, lv in cfg.levels.items():
                if lv.exempt:
                    level = _Level(name, EXEMPT, 0)
                elif is_queuing(lv):
                    level = _Level(name, QUEUE, nominal[name], lv.queues, lv.hand_size, lv.queue_length_limit)
                else:
                    level = _Level(name, REJECT, nominal[name])
                # A10: lendable and borrowing limits (Go math.Round, half away from zero)
                n = nominal[name]
                lendable = int(n * lv.lendable_percent / 100 + 0.5)
                borrow = server if lv.borrowing_limit_percent is None else int(n * lv.borrowing_limit_percent / 100 + 0.5)
                level.nominal, level.min_cl, level.max_cl = n, n - lendable, n + borrow
                level.dropped = DroppedRequests(cfg.retry_after_max_s)
                self.nominal_sum += n
                self._levels[name] = level
            self._classifier = Classifier(cfg)
            self._estimator = Estimator(cfg, caps, object_count, object_bytes)
            self._estimator.gates = gates or {}
            if cfg.borrowing:  # the limits at config digestion: the zero-demand allocation (I15)
                apply_limits(self, 0.0)
        else:
            self._levels[LEGACY_READONLY] = _Level(LEGACY_READONLY, LEGACY, cfg.max_requests_inflight)
            self._levels[LEGACY_MUTATING] = _Level(LEGACY_MUTATING, LEGACY,
                                                   cfg.max_mutating_requests_inflight)
            self._levels[LEGACY_LONG_RUNNING] = _Level(LEGACY_LONG_RUNNING, LEGACY, 0)

    # ------------------------------------------------------------------ classification, seats

    def classify(self, req: Request) -> None:
        """Set ``req.level`` and ``req.flow`` (A12); in legacy mode the level is the in-flight class."""
        if self.cfg.enabled:
            self._classifier.classify(req)
        else:
            req.level = legacy_level(req)
            req.flow = ""

    def estimate(self, req: Request) -> None:
        """Set ``req.seats``, ``req.final_seats``, ``req.additional_s`` (A14, A15); classifies first
        if needed. In legacy mode every request counts 1."""
        if not req.level:
            self.classify(req)
        if self.cfg.enabled:
            self._estimator.estimate(req)
        else:
            req.seats, req.final_seats, req.additional_s = 1, 0, 0.0

    def start(self) -> None:
        """Start the periodic borrowing adjustment (call once, when the run starts)."""
        if self.cfg.enabled and self.cfg.borrowing:
            schedule_adjustments(self)

    def _dm(self, lv: _Level, now: float) -> None:
        """Integrate the level's seat demand up to ``now`` (before it changes)."""
        x = lv.seats_in_use + lv.seats_waiting
        dt = now - lv.d_t
        if dt > 0.0:
            lv.d_area += x * dt
            lv.d_area2 += x * x * dt
            lv.d_t = now
        if x > lv.d_max:
            lv.d_max = x

    # ---------------------------------------------------------------------------- admission

    def admit(self, req: Request, *, immediate: bool = False) -> simpy.Event | None:
        """Ask to execute ``req``.

        Args:
            req: The request.
            immediate: A request that may execute at once gets None instead of an event (the
                caller goes on in the same step: being let through costs no time).

        Returns:
            An event that succeeds with True when the request may execute (its seats are held and
            ``req.dispatched_s`` is set) or with False when it is rejected with 429
            (``req.reject_reason`` is ``queue-full``, ``time-out``, ``reject`` or ``max-inflight``);
            None with ``immediate`` when it may execute now.
        """
        if not req.level:
            self.classify(req)
            self.estimate(req)
        env = self.env
        now = env.now
        if req.arrival_s == 0.0:
            req.arrival_s = now
        lv = self._levels[req.level]
        lv.counters["arrived"] += 1
        kind = lv.kind
        seats = req.seats if req.seats >= req.final_seats else req.final_seats
        ev = None if immediate else simpy.Event(env)
        if kind == QUEUE:
            return self._enqueue(lv, req, ev, seats, now)
        if kind == EXEMPT:
            self._start(lv, None, req, ev, seats, now)
            return ev
        if kind == REJECT:
            if self._fits(lv, seats):
                self._start(lv, None, req, ev, seats, now)
                return ev
            reason = "reject"
        elif lv.cl <= 0 or lv.seats_in_use < lv.cl:  # legacy
            self._start(lv, None, req, ev, 1, now)
            return ev
        elif MASTERS_GROUP in req.groups:  # maxinflight.go lets system:masters through, uncounted
            self._start(lv, None, req, ev, 0, now)
            return ev
        else:
            reason = "max-inflight"
        ev = ev or simpy.Event(env)
        self._reject(lv, req, ev, reason)
        return ev

    def release(self, req: Request) -> None:
        """The request finished executing: free its seats now, except its final seats, which are
        freed ``req.additional_s`` seconds later; then dispatch what fits.

        Raises:
            ValueError: ``req`` is not executing.
        """
        try:
            lv, q, held = self._exec.pop(req)
        except KeyError:
            raise ValueError(f"release of a request that is not executing: {req.verb} {req.resource}") from None
        now = self.env.now
        lv.counters["completed"] += 1
        self._dm(lv, now)
        if lv.kind == QUEUE:
            self._sync(lv, now)
        lv.n_executing -= 1
        if q is not None:
            q.n_executing -= 1
            # queueset.go finishRequestLocked: correct the estimate G by the actual service time
            q.next_r -= req.seats * (self._g - (now - req.dispatched_s))
            self._bound(q)
            self._touch(lv, q)
            if q.n_executing == 0 and q.n_waiting == 0:
                lv.active -= 1
        final = min(req.final_seats, held)
        if final > 0 and req.additional_s > 0.0:
            self._free(lv, q, held - final)
            who = (lv.name, req.flow.partition("/")[0])
            self._linger[who] = self._linger.get(who, 0) + final
            self.env.timeout(req.additional_s).callbacks.append(partial(self._free_final, lv, q, final, who))
        else:
            lv.s_area += lv.seats_in_use * (now - lv.s_t)
            lv.s_t = now
            lv.seats_in_use -= held
            if q is not None:
                q.seats_in_use -= held
        if lv.n_waiting and lv.kind == QUEUE:
            self._dispatch(lv, now)

    # ---------------------------------------------------------------------------- observation

    def levels(self) -> list[str]:
        """Level names, in config order (legacy: readonly, mutating, long-running)."""
        return list(self._levels)

    def nominal_cl(self, level: str) -> int:
        """NominalCL of a level in seats (A10, A11); legacy: the in-flight limit; 0 = unlimited."""
        return self._levels[level].nominal

    def current_cl(self, level: str) -> int:
        """The level's current concurrency limit, seats (NominalCL moved by borrowing)."""
        return self._levels[level].cl

    def cl_range(self, level: str) -> tuple[int, int]:
        """Smallest and largest current limit the level had so far, seats."""
        lv = self._levels[level]
        return lv.cl_min, lv.cl_max

    def retry_after(self, level: str) -> int:
        """The level's Retry-After now, seconds (A28)."""
        return self._levels[level].dropped.retry_after

    def seats_in_use(self, level: str) -> int:
        """Seats held by executing requests and lingering final seats."""
        return self._levels[level].seats_in_use

    def seat_integral(self, level: str) -> float:
        """Integral of :meth:`seats_in_use` over virtual time so far, seat-seconds (its difference over
        an interval divided by the interval is the mean seats in use, however short the requests)."""
        lv = self._levels[level]
        return lv.s_area + lv.seats_in_use * (self.env.now - lv.s_t)

    def executing_seats(self) -> dict[tuple[str, str], int]:
        """Seats held now per (level, flow schema): executing requests and final seats still held
        after a mutating request (A14), as upstream's ``current_executing_seats`` counts them."""
        out: dict[tuple[str, str], int] = {}
        for req, (lv, _q, seats) in self._exec.items():
            key = (lv.name, req.flow.partition("/")[0])
            out[key] = out.get(key, 0) + seats
        for key, seats in self._linger.items():
            if seats:
                out[key] = out.get(key, 0) + seats
        return dict(sorted(out.items()))

    def seen_flows(self) -> list[tuple[str, str]]:
        """(level, flow schema) pairs of every request classified so far, sorted (APF only)."""
        if not self.cfg.enabled:
            return []
        return sorted({(level, schema) for level, schema, _ in self._classifier._cache.values()})

    def queue_length(self, level: str) -> int:
        """Requests waiting in the level's queues."""
        return self._levels[level].n_waiting

    def queue_integral(self, level: str) -> float:
        """Integral of :meth:`queue_length` over virtual time so far, request-seconds."""
        lv = self._levels[level]
        return lv.q_area + lv.n_waiting * (self.env.now - lv.t)

    def level_counters(self, level: str) -> dict[str, int]:
        """The live counters of ``level`` (a batch admitted as one request adds its other members)."""
        return self._levels[level].counters

    def counters(self) -> dict[str, dict[str, int]]:
        """Per level: arrived, dispatched, queued, completed and rejected_<reason> counts."""
        return {name: dict(lv.counters) for name, lv in self._levels.items()}

    # ---------------------------------------------------------------------------- internals

    def _sync(self, lv: _Level, now: float) -> None:
        """Advance R and the queue-length integral to ``now`` (queueset.go syncTimeLocked)."""
        dt = now - lv.t
        if dt > 0.0:
            if lv.active:
                demand = lv.seats_in_use + lv.seats_waiting
                lv.r += (demand if demand < lv.cl else lv.cl) / lv.active * dt
            lv.q_area += lv.n_waiting * dt
            lv.t = now

    def _fits(self, lv: _Level, seats: int) -> bool:
        """queueset.go canAccommodateSeatsLocked: a request wider than the level runs alone."""
        if seats > lv.cl:
            return lv.n_executing == 0
        return lv.seats_in_use + seats <= lv.cl

    def _start(self, lv: _Level, q: _Queue | None, req: Request, ev: simpy.Event, seats: int,
               now: float) -> None:
        lv.s_area += lv.seats_in_use * (now - lv.s_t)
        lv.s_t = now
        self._dm(lv, now)
        lv.seats_in_use += seats
        lv.n_executing += 1
        lv.counters["dispatched"] += 1
        req.dispatched_s = now
        self._exec[req] = (lv, q, seats)
        if ev is not None:
            ev.succeed(True)

    def _reject(self, lv: _Level, req: Request, ev: simpy.Event, reason: str) -> None:
        req.reject_reason = reason
        lv.counters["rejected_" + reason.replace("-", "_")] += 1
        req.retry_after_s = float(lv.dropped.record(self.env.now))  # A28
        ev.succeed(False)

    def _enqueue(self, lv: _Level, req: Request, ev: simpy.Event | None, seats: int,
                 now: float) -> simpy.Event | None:
        """Queue ``req`` (dispatching what fits); return its admission event (``ev``, made here
        when None unless the request runs at once)."""
        self._sync(lv, now)
        hand = lv.hands.get(req.flow)
        if hand is None:
            hand = lv.hands[req.flow] = deal_hand(req.flow, len(lv.queues), lv.hand_size)
        n = len(hand)
        off = lv.enqueues % n
        lv.enqueues += 1
        queues = lv.queues
        q = queues[hand[off]]
        if not lv.n_waiting and lv.seats_in_use < lv.cl and self._fits(lv, seats):
            # Fast path, nothing waiting and room to run: the state the queue-then-dispatch below
            # leaves behind (every queue of the hand has no waiting work, so the first is chosen;
            # it is dispatched at once), without building the waiter.
            r = lv.r
            if q.n_executing == 0:
                q.next_r = r
                lv.active += 1
            elif q.next_r < r:
                q.next_r = r
            q.next_r += req.seats * self._g + req.final_seats * req.additional_s
            lv.robin = q.index
            self._run(lv, q, req, ev, seats, now)
            return ev
        if ev is None:
            ev = simpy.Event(self.env)
        for i in range(1, n):
            cand = queues[hand[(off + i) % n]]
            if cand.work_waiting < q.work_waiting:
                q = cand
        if lv.seats_in_use >= lv.cl and q.n_waiting >= lv.qlen_limit:
            self._reject(lv, req, ev, "queue-full")
            return ev
        if q.n_waiting == 0:
            if q.n_executing == 0:
                q.next_r = lv.r
                lv.active += 1
            lv.nonempty[q.index] = q
        self._dm(lv, now)
        work = req.seats * self._g + req.final_seats * req.additional_s
        w = _Waiter(req, ev, lv, q, lv.r, work, seats)
        q.fifo.append(w)
        q.n_waiting += 1
        q.work_waiting += work
        lv.n_waiting += 1
        lv.seats_waiting += seats
        ws = lv.wait_seats
        ws[seats] = ws.get(seats, 0) + 1
        if seats < lv.wait_min:
            lv.wait_min = seats
        self._bound(q)
        self._touch(lv, q)
        self._dispatch(lv, now)
        if w.state == WAITING:
            lv.counters["queued"] += 1
            limit = self._wait_limit
            if limit != _INF:
                delay = max(0.0, req.arrival_s + limit - now)
                self.env.timeout(delay).callbacks.append(partial(self._time_out, w))
        return ev

    def _unlink(self, lv: _Level, w: _Waiter, state: int) -> _Queue:
        """Take a waiting request out of its queue's accounting (dispatch or time-out)."""
        self._dm(lv, self.env.now)
        w.state = state
        q = w.queue
        q.n_waiting -= 1
        lv.n_waiting -= 1
        lv.seats_waiting -= w.seats
        ws = lv.wait_seats
        left = ws[w.seats] - 1
        if left:
            ws[w.seats] = left
        else:
            del ws[w.seats]
            if w.seats == lv.wait_min:
                lv.wait_min = min(ws) if ws else _INF
        fifo = q.fifo
        while fifo and fifo[0].state != WAITING:
            fifo.popleft()
        if q.n_waiting == 0:
            q.work_waiting = 0.0
            del lv.nonempty[q.index]
        else:
            q.work_waiting -= w.work
        return q

    def _dispatch(self, lv: _Level, now: float) -> None:
        """Dispatch as much as possible (queueset.go dispatchAsMuchAsPossibleLocked)."""
        while lv.n_waiting and lv.seats_in_use < lv.cl:
            if lv.cl - lv.seats_in_use < lv.wait_min and lv.n_executing:
                return  # no waiting request fits (a wider one runs alone only on an idle level)
            best = self._pick(lv)
            w = best.fifo[0]
            if not self._fits(lv, w.seats):
                return
            self._unlink(lv, w, DISPATCHED)
            lv.robin = best.index
            best.next_r += w.work
            self._bound(best)
            self._touch(lv, best)
            self._run(lv, best, w.req, w.event, w.seats, now)

    @staticmethod
    def _pick(lv: _Level) -> _Queue:
        """The queue to dispatch from: the smallest virtual finish of its head, ties to the first
        queue after the last one served (what queueset.go's scan of every queue chooses; here the
        smallest valid entries of the level's heap, stale ones dropped on the way)."""
        queues, heap, nq = lv.queues, lv.fheap, len(lv.queues)
        if len(heap) > 4 * len(lv.nonempty) + 64:  # mostly stale entries: rebuild
            heap[:] = [(q.next_r + q.fifo[0].work, q.index, q.stamp) for q in lv.nonempty.values()]
            heapify(heap)
        while True:
            best_f, idx, stamp = heap[0]
            best = queues[idx]
            if best.stamp == stamp and best.n_waiting:
                break
            heappop(heap)
        n = len(heap)  # an equal finish sits below the top only if a child of it has it (heap order)
        if (n > 1 and heap[1][0] == best_f) or (n > 2 and heap[2][0] == best_f):
            kept = [heappop(heap)]
            robin = lv.robin
            best_o = (idx - robin - 1) % nq
            while heap and heap[0][0] == best_f:
                e = heappop(heap)
                q = queues[e[1]]
                if q.stamp != e[2] or not q.n_waiting:
                    continue  # stale
                kept.append(e)
                o = (e[1] - robin - 1) % nq
                if o < best_o:
                    best, best_o = q, o
            for e in kept:
                heappush(heap, e)
        return best

    def _run(self, lv: _Level, q: _Queue, req: Request, ev: simpy.Event, seats: int, now: float) -> None:
        """Start a request dispatched from queue ``q``."""
        if req.final_seats > lv.cl:  # queueset.go: reshape final work to fit the level
            req.additional_s = req.final_seats * req.additional_s / lv.cl
            req.final_seats = lv.cl
            seats = max(req.seats, lv.cl)
        q.n_executing += 1
        q.seats_in_use += seats
        self._start(lv, q, req, ev, seats, now)

    @staticmethod
    def _touch(lv: _Level, q: _Queue) -> None:
        """``q``'s next_r or head changed: its earlier dispatch-heap entries become stale, and while
        it has waiting requests it gets a fresh one."""
        q.stamp += 1
        if q.n_waiting:
            heappush(lv.fheap, (q.next_r + q.fifo[0].work, q.index, q.stamp))

    @staticmethod
    def _bound(q: _Queue) -> None:
        """Anti-windup: a queue's next dispatch R never precedes its head's arrival R."""
        if q.fifo:
            r = q.fifo[0].arrival_r
            if q.next_r < r:
                q.next_r = r

    def _time_out(self, w: _Waiter, _event: simpy.Event) -> None:
        if w.state != WAITING:
            return
        lv = w.level
        now = self.env.now
        self._sync(lv, now)
        q = self._unlink(lv, w, REMOVED)
        if q.n_waiting == 0 and q.n_executing == 0:
            lv.active -= 1
        self._bound(q)
        self._touch(lv, q)
        self._reject(lv, w.req, w.event, "time-out")
        self._dispatch(lv, now)

    def _free(self, lv: _Level, q: _Queue | None, seats: int) -> None:
        now = self.env.now
        lv.s_area += lv.seats_in_use * (now - lv.s_t)
        lv.s_t = now
        lv.seats_in_use -= seats
        if q is not None:
            q.seats_in_use -= seats

    def _free_final(self, lv: _Level, q: _Queue | None, seats: int, who: tuple[str, str],
                    _event: simpy.Event) -> None:
        self._linger[who] -= seats
        now = self.env.now
        self._dm(lv, now)
        if lv.kind == QUEUE:
            self._sync(lv, now)
        self._free(lv, q, seats)
        if lv.kind == QUEUE:
            self._dispatch(lv, now)
