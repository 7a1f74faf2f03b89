"""kube-scheduler in virtual time (issue 4, item 1).

One :class:`Scheduler` per run. It sees the cluster only through its two informers (all pods,
all nodes; client class ``scheduler``, user ``system:kube-scheduler``), so it can act on stale
state, and it writes through the apiserver under the scheduler client's QPS 50 / burst 100 (C2).

What happens to a pod (upstream ``pkg/scheduler/schedule_one.go``):

1. The pod informer delivers an unbound pod: it enters the queue's activeQ
   (:mod:`kbench.cluster.scheduler.queue`).
2. The scheduling loop (one SimPy process, one cycle at a time) pops the head, marks
   ``first_attempt`` and counts the attempt, and runs the profile (:class:`Framework.schedule
   <kbench.policy.framework.Framework>`, percentageOfNodesToScore with its rotating start index,
   D3/D4) on the cache's node table (:mod:`kbench.cluster.scheduler.cache`). Nominated pods of at
   least the pod's priority are counted on their nominated nodes for that cycle (upstream
   ``addNominatedPods``). The cycle then takes ``cycle_base_s + filter_node_s x evaluated +
   score_node_s x scored`` of virtual time (:class:`~kbench.config.scheduler.SchedulerConfig`,
   calibrated to D8).
3. Success: the pod is assumed on the node (``scheduled``) and its binding (``create pods/binding``
   setting the node, precondition: it exists, is not being deleted and has no node) is sent
   asynchronously (D6) while the next cycle runs. 200 marks ``bound``; 409 counts a bind conflict,
   forgets the assumption and requeues the pod with backoff unless the informer shows it gone,
   terminating or bound; other codes count ``bind_errors`` and requeue with backoff. Forgetting
   an assumed pod is a cluster event (its resources are free again).
4. No node fits: the attempt counts as ``unschedulable``, its filter reasons are counted
   (:attr:`Scheduler.unschedulable_reasons`), the ``PodScheduled=False`` condition is written when
   its message changed, and the pod goes to the unschedulable pool. When the profile has a
   PostFilter (DefaultPreemption) that nominates a node, the scheduler writes the nomination,
   deletes the victims (graceful ``delete pods``) and counts a preemption; the preemptor
   comes back when the victims are gone (a pod delete is a cluster event). A preemptor that
   already has a nominated node with terminating lower-priority pods on it does not preempt again
   (upstream ``PodEligibleToPreemptOthers``).

With ``retry_unschedulable: false`` (:class:`~kbench.config.scheduler.SchedulerConfig`) a pod whose
attempt found no node is *given up* instead: it leaves the queue, is counted (``given_up``) and
informer updates of it are ignored from then on, so it is never retried (FGD.md §1.2).

Observers subscribe to scheduling outcomes through :attr:`Scheduler.listeners` (STYLE habit 10):
each is called as ``listener(event, pod, now)`` with ``event`` one of ``scheduled`` (a cycle chose a
node; the pod is assumed on it), ``bound`` (its binding committed), ``unschedulable`` (an attempt
found no node), ``given_up`` (after ``unschedulable``, when retries are off) and ``removed`` (a
placed pod left the cache: finished, deleted or forgotten). :attr:`Scheduler.bound_observers`
(``f(pod, now)``) hear when the scheduler's pod informer sees a pod go from no node to a node (what
scheduler_perf counts); they are kept apart so that outcome listeners see no extra event.

Cluster events that move the unschedulable pool (D2): a bound pod finished or deleted, an assumed
pod forgotten, a node added, a node that lost a taint, became Ready or was uncordoned. A second
process flushes backoffQ every second and unschedulable leftovers every 30 s while either holds
pods, and sleeps otherwise.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from kbench.cluster.events.scheduler import SchedulerEvents
from kbench.cluster.objects.stored import NODE_BYTES, POD_BYTES
from kbench.cluster.scheduler.cache import SchedulerCache
from kbench.cluster.scheduler.cost import CycleCost
from kbench.cluster.scheduler.failures import FailureHandling, still_pending
from kbench.cluster.scheduler.informers import _ASSIGNED_DELETE, InformerHandling
from kbench.cluster.scheduler.listers import SchedulerListers, wants_listers
from kbench.cluster.scheduler.profiles import Profiles
from kbench.cluster.scheduler.queue import QueuedPod, SchedulingQueue
from kbench.config.features import FeatureGates
from kbench.config.scheduler import SchedulerConfig
from kbench.metrics.buckets import SCHEDULING_ATTEMPT_DURATION, Histograms
from kbench.policy.api import Code
from kbench.policy.framework import ScheduleResult
from kbench.simkernel import first_step

USER = "system:kube-scheduler"
GROUPS = ("system:authenticated",)
SYNC_POLL_S = 0.05
"""How often the loop checks, before its first cycle, that both informers have listed."""


def _can_bind(cur) -> bool:
    return cur is not None and not cur.deleting and cur.node_name is None


class Scheduler(FailureHandling, InformerHandling):
    """kube-scheduler: informers, queue, cycles, asynchronous binding, preemption.

    Args:
        world: The run's world.
        typical_pods: Typical pods for the FGD profiles (``handle.extra["typical_pods"]``): pods,
            records or a :class:`~kbench.policy.typical.TypicalPods`; None lets FGD derive them.
        config: Overrides ``world.scenario.scheduler``.

    Attributes:
        profiles: Every profile's framework by schedulerName (:mod:`kbench.cluster.scheduler.profiles`).
        framework: The first profile's framework (rng: the ``policy`` stream).
        ignored: What the run accepts but does not model (warnings, summary, manifest).
        cost: Prices each cycle's work (:mod:`kbench.cluster.scheduler.cost`).
        cache: Node table and placements (:attr:`nodes` is ``cache.nodes``).
        queue: The scheduling queue.
        unschedulable_reasons: ``"Plugin: reason"`` → failed attempts that saw it (each distinct
            reason counted once per attempt).
        last_failure: Pod key → the status message of its last failed attempt (pending pods).
        nominated: Preemptor key → (spec, node row) of pods waiting for their victims to go.
        scheduled: Cycles that found a node (pods assumed).
        bound: Bindings committed.
        first_attempt_s: Start of the first cycle, seconds (NaN before).
        first_scheduled_s: End of the first successful cycle, seconds (NaN before).
        last_scheduled_s: End of the last successful cycle, seconds (NaN before).
        first_bound_s: First binding commit, seconds (NaN before).
        last_bound_s: Last binding commit, seconds (NaN before).
        busy_s: Virtual seconds spent in cycles (utilisation = busy_s / elapsed).
        listeners: Outcome observers ``f(event, pod, now)`` (see the module docstring).
        failed_attempts: Durations of cycles that placed nothing, seconds, by result
            (``unschedulable``, ``error``), on ``scheduler_scheduling_attempt_duration_seconds``' bounds.
        bound_observers: ``f(pod, now)`` called when the pod informer sees a pod bound.
        given_up: Keys of pods given up after a failed attempt (``retry_unschedulable: false``).
        typical_pods: The typical pods handed to the profile, if any (for the run summary).
    """

    def __init__(self, world, *, typical_pods=None, config: SchedulerConfig | None = None):
        self.world = world
        self.env = world.env
        self.cfg = config if config is not None else world.scenario.scheduler
        self.client = world.client("kube-scheduler", "scheduler", USER, GROUPS)
        gates = FeatureGates(self.cfg.feature_gates, version=world.scenario.kubernetes_version)
        self.profiles = Profiles(self.cfg.policy, world.stream, world.objects, gates)
        self.framework = self.profiles.default
        if typical_pods is not None:
            for fw in self.profiles.frameworks.values():
                fw.handle.extra["typical_pods"] = typical_pods
        self.typical_pods = typical_pods
        self.ignored = list(self.profiles.ignored)
        self.listeners: list = []
        self.failed_attempts = Histograms(SCHEDULING_ATTEMPT_DURATION)
        self.bound_observers: list = []
        self.given_up: set[str] = set()
        self.foreign: set[str] = set()
        self.cache = SchedulerCache(self._framework_of)
        self.nodes = self.cache.nodes
        sort = self.framework.points["queueSort"]
        less = None if not sort or sort == ["PrioritySort"] else self.framework.less
        cfg = self.cfg
        settings = self.profiles.config.settings
        self.cost = CycleCost(cfg)
        self.queue = SchedulingQueue(less, initial_backoff_s=float(settings.get("podInitialBackoffSeconds",
                                                                                cfg.pod_initial_backoff_s)),
                                     max_backoff_s=float(settings.get("podMaxBackoffSeconds", cfg.pod_max_backoff_s)),
                                     max_unschedulable_s=cfg.pod_max_in_unschedulable_s,
                                     on_active=self._wake_loop, on_waiting=self._wake_flusher,
                                     hint_maps=self.profiles.hint_maps, hints_enabled=gates["SchedulerQueueingHints"],
                                     pre_enqueue=self.profiles.pre_enqueue,
                                     pop_from_backoff=gates["SchedulerPopFromBackoffQ"])
        self.counters = world.counters
        self.unschedulable_reasons: Counter[str] = Counter()
        self.given_up_reasons: Counter[str] = Counter()
        self.last_failure: dict[str, str] = {}
        self._last_reasons: dict[str, tuple[str, ...]] = {}
        self.nominated: dict[str, tuple[object, int]] = {}  # key -> (spec, row)
        self.scheduled = self.bound = 0
        nan = float("nan")
        self.first_attempt_s = self.first_scheduled_s = self.last_scheduled_s = nan
        self.first_bound_s = self.last_bound_s = nan
        self.busy_s = 0.0
        self._loop_wake = None
        self._flush_wake = None
        self.events = SchedulerEvents(world)  # issue 18: Scheduled / FailedScheduling (hook)
        self.pods_informer = world.informer(self.client, "pods", object_bytes=POD_BYTES,
                                            on_add=self._on_pod_add, on_update=self._on_pod_update,
                                            on_delete=self._on_pod_delete)
        self.nodes_informer = world.informer(self.client, "nodes", object_bytes=NODE_BYTES,
                                             on_add=self._on_node, on_update=self._on_node_update,
                                             on_delete=self._on_node_delete)
        self.listers = SchedulerListers(world, self.client, world.objects) \
            if wants_listers(self.profiles.frameworks.values()) else None

    def _framework_of(self, spec):
        return self.profiles.of(spec) or self.framework

    # -------------------------------------------------------------------------------- running
    def start(self, delay_s: float = 0.0) -> None:
        """Start the informers, the scheduling loop and the flush loop (after ``delay_s``)."""
        self.nodes_informer.start(delay_s)
        self.pods_informer.start(delay_s)
        if self.listers is not None:
            self.listers.start(delay_s)
        self.env.process(self._loop())
        self.env.process(self._flusher())

    def _wake_loop(self) -> None:
        ev = self._loop_wake
        if ev is not None and not ev.triggered:
            ev.succeed()

    def _wake_flusher(self) -> None:
        ev = self._flush_wake
        if ev is not None and not ev.triggered:
            ev.succeed()

    def _loop(self):
        env = self.env
        while not (self.pods_informer.synced and self.nodes_informer.synced):
            yield env.timeout(SYNC_POLL_S)  # upstream WaitForCacheSync
        while True:
            info = self.queue.pop(env.now)
            if info is None:
                self._loop_wake = env.event()
                yield self._loop_wake
                self._loop_wake = None
                continue
            yield from self._schedule_one(info)

    def _flusher(self):
        env, q, cfg = self.env, self.queue, self.cfg
        next_leftover = env.now + cfg.unschedulable_flush_period_s
        while True:
            if q.backoff_len == 0 and q.unschedulable_len == 0:
                self._flush_wake = env.event()
                yield self._flush_wake
                self._flush_wake = None
                next_leftover = max(next_leftover, env.now + cfg.unschedulable_flush_period_s)
            yield env.timeout(cfg.backoff_flush_period_s)
            q.flush_backoff(env.now)
            if env.now >= next_leftover:
                next_leftover = env.now + cfg.unschedulable_flush_period_s
                q.flush_unschedulable(env.now)

    # ----------------------------------------------------------------------------- informers
    def _notify(self, event: str, pod, now: float | None = None) -> None:
        """Tell every listener about an outcome (see the module docstring)."""
        for listener in self.listeners:
            listener(event, pod, self.env.now if now is None else now)

    def _forget_pending(self, key: str) -> None:
        self.last_failure.pop(key, None)
        self._last_reasons.pop(key, None)

    # --------------------------------------------------------------------------------- cycle
    def _schedule_one(self, info: QueuedPod):
        env, tl = self.env, self.world.timeline
        now = env.now
        pod, spec, key = info.pod, info.pod.spec, info.key
        if self.first_attempt_s != self.first_attempt_s:
            self.first_attempt_s = now
        tl.mark(pod.uid, "first_attempt", now)
        tl.t["last_attempt"][pod.uid] = now
        tl.attempts[pod.uid] += 1
        self.counters["scheduling_attempts"] += 1
        extra = self._add_nominated(key, spec) if self.nominated else ()
        framework = self._framework_of(spec)
        try:
            own = self.nominated.get(key)
            result = framework.schedule(spec, self.nodes, assume=True, cycle=self.counters["scheduling_attempts"],
                                        now=now, nominated=None if own is None else own[1])
        finally:
            for other, row in extra:
                self.nodes.remove_pod(other, row)
        placed = result.node is not None and result.status.code in (Code.SUCCESS, Code.WAIT)
        if placed:
            self.cache.assume(key, spec, result.node_idx)
        work = result.state.work
        for kind, amount in self.queue.drain_work().items():
            work[kind] = work.get(kind, 0.0) + amount
        preempting = (not placed and bool(framework.points["postFilter"])
                      and result.status.code == Code.UNSCHEDULABLE)
        cost = self.cost.seconds(work, preempting)
        self.busy_s += cost
        if not placed:  # a placed pod's attempt ends at its bind (pods table: last_attempt -> bound)
            self.failed_attempts.observe(("unschedulable" if result.status.is_rejected else "error",), cost)
        yield env.timeout(cost)
        now = env.now
        if placed:
            self._scheduled(info, spec, result, now)
        elif result.status.is_rejected:
            self._unschedulable(info, result, now)
        else:  # ERROR
            self.counters["schedule_errors"] += 1
            self.last_failure[key] = result.status.message()
            self.queue.add_backoff(info, now)

    def _add_nominated(self, key: str, spec) -> list:
        """Count nominated pods of at least ``spec``'s priority on their nodes for this cycle."""
        added = []
        for other_key, (other, row) in self.nominated.items():
            if other_key != key and other.priority >= spec.priority:
                try:
                    self.nodes.add_pod(other, row)
                except ValueError:
                    continue
                added.append((other, row))
        return added

    def _scheduled(self, info: QueuedPod, spec, result: ScheduleResult, now: float) -> None:
        key = info.key
        self.queue.done(key)
        self.nominated.pop(key, None)
        self._forget_pending(key)
        self.scheduled += 1
        self.counters["scheduled"] += 1
        if self.first_scheduled_s != self.first_scheduled_s:
            self.first_scheduled_s = now
        self.last_scheduled_s = now
        self.world.timeline.mark(info.pod.uid, "scheduled", now)
        if self.listeners:
            self._notify("scheduled", info.pod, now)
        if self.cache.placed.get(key) is None or self.cache.placed[key].spec is not spec:
            return  # deleted during the cycle: the delete event already removed it
        node = result.node
        first_step(self.env, lambda _e: self._bind(info, spec, node))

    def _bind(self, info: QueuedPod, spec, node: str) -> None:
        """The asynchronous bind (upstream's binding goroutine) without a process: it starts where
        a process started at the end of the cycle would (:func:`first_step`) and goes on in
        :meth:`_bound` where that process would resume (``Client.send``: same events, same order,
        the same Retry-After retries)."""
        value = info.pod.evolve(node_name=node, nominated_node=None)
        self.world.send(self.client, "create", "pods/binding", info.key, value,
                        lambda resp: self._bound(info, spec, node, resp), size_bytes=POD_BYTES,
                        precondition=_can_bind, partition=node)

    def _bound(self, info: QueuedPod, spec, node: str, resp) -> None:
        w, key = self.world, info.key
        now = self.env.now
        if resp.ok:
            self.events.scheduled(info.pod, node)  # issue 18 hook
            self.bound += 1
            if self.first_bound_s != self.first_bound_s:
                self.first_bound_s = now
            self.last_bound_s = now
            w.timeline.mark(info.pod.uid, "bound", now)
            w.timeline.set_node(info.pod.uid, node)
            if self.listeners:
                self._notify("bound", info.pod, now)
            return
        if self.cache.forget(key, spec):
            self._notify("removed", info.pod, now)
            self._event(_ASSIGNED_DELETE, spec, None)
        if resp.code == 409:
            self.counters["bind_conflicts"] += 1
            if not still_pending(self.pods_informer.cache.get(key)):
                return  # gone, terminating or bound elsewhere: nothing to requeue
        else:
            self.counters["bind_errors"] += 1
        if self.queue.get(key) is None and still_pending(self.pods_informer.cache.get(key)):
            self.queue.add_backoff(info, now)

    # ------------------------------------------------------------------------------- results
    def throughput_window(self, kind: str = "bound") -> tuple[int, float, float]:
        """``(count, start_s, end_s)``: successes of ``kind`` (``bound``: bindings committed, as
        scheduler_perf counts; ``scheduled``: cycles that found a node) between the first
        scheduling attempt and the last success. NaN times when there was none."""
        if kind == "bound":
            return self.bound, self.first_attempt_s, self.last_bound_s
        if kind == "scheduled":
            return self.scheduled, self.first_attempt_s, self.last_scheduled_s
        raise ValueError(f"kind must be 'bound' or 'scheduled', got {kind!r}")

    def throughput_pods_per_s(self, kind: str = "bound") -> float:
        """Successes per virtual second over :meth:`throughput_window` (0 when undefined)."""
        n, t0, t1 = self.throughput_window(kind)
        span = t1 - t0
        return n / span if n and span > 0 else 0.0

    def stats(self) -> dict:
        """Headline figures for a run summary (counts, throughputs in pods/s, busy seconds,
        pending pods and their reasons)."""
        c = self.counters
        return {
            "attempts": c["scheduling_attempts"], "scheduled": self.scheduled, "bound": self.bound,
            "unschedulable_attempts": c["unschedulable"], "bind_conflicts": c["bind_conflicts"],
            "bind_errors": c["bind_errors"], "preemptions": c["preemptions"],
            "throughput_pods_per_s": self.throughput_pods_per_s("bound"),
            "cycle_throughput_pods_per_s": self.throughput_pods_per_s("scheduled"),
            "busy_s": self.busy_s, "pending": len(self.queue),
            "pending_reasons": dict(self.pending_reasons().most_common()),
            "given_up": c["given_up"], "given_up_reasons": dict(self.given_up_reasons.most_common()),
            "profiles": list(self.profiles.frameworks), "pods_without_profile": c["pods_without_profile"],
            "time_share": self.cost.shares(), "attempts_per_pod": self.attempts_per_pod(),
            "batched_pods": sum(fw.batch.batched for fw in self.profiles.frameworks.values() if fw.batch),
        }

    def attempts_per_pod(self) -> dict[str, float | None]:
        """Scheduling attempts per pod that was attempted at least once: mean, p50, p99, max."""
        tl = self.world.timeline
        att = tl.attempts[: tl.n]
        att = att[att > 0]
        if att.size == 0:
            return {"mean": None, "p50": None, "p99": None, "max": None}
        return {"mean": round(float(att.mean()), 4), "p50": float(np.quantile(att, 0.5)),
                "p99": float(np.quantile(att, 0.99)), "max": int(att.max())}

    def pending_reasons(self) -> Counter[str]:
        """``"Plugin: reason"`` → pods still queued whose last attempt failed with it."""
        out: Counter[str] = Counter()
        for key, reasons in self._last_reasons.items():
            if key in self.queue:
                out.update(reasons)
        return out
