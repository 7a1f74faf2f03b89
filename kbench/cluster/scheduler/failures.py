"""What kube-scheduler does when a cycle finds no node: count the reasons, report, preempt, give up.

Upstream ``schedule_one.go`` (``handleSchedulingFailure``) and DefaultPreemption's PostFilter, in
kbench's terms: the attempt's distinct filter reasons are counted, the ``PodScheduled=False``
condition is written when its message changed, a nominated preemption writes the nomination and
deletes the victims, and the pod goes to the unschedulable pool (or is given up when retries are
off). :class:`FailureHandling` is a part of :class:`~kbench.cluster.scheduler.scheduler.Scheduler`
(its base class), kept here so that the scheduling loop reads on its own.
"""

from __future__ import annotations

from kbench.cluster.objects.stored import POD_BYTES
from kbench.cluster.scheduler.queue import QueuedPod
from kbench.policy.api import Code
from kbench.policy.framework import ScheduleResult
from kbench.policy.results import FilterReasons


def still_pending(cur) -> bool:
    """The pod still exists, is not being deleted and has no node (a write precondition)."""
    return cur is not None and not cur.deleting and cur.node_name is None


class FailureHandling:
    """The failure half of the scheduler (uses its counters, queue, cache, client and listeners)."""

    def _unschedulable(self, info: QueuedPod, result: ScheduleResult, now: float) -> None:
        key = info.key
        self.counters["unschedulable"] += 1
        reasons = self._reasons(result)
        self.unschedulable_reasons.update(reasons)
        self._last_reasons[key] = reasons
        message = result.status.message()
        changed = self.last_failure.get(key) != message
        self.last_failure[key] = message
        self.events.failed_scheduling(info.pod, message)  # issue 18 hook
        if self.listeners:
            self._notify("unschedulable", info.pod, now)
        if not self.cfg.retry_unschedulable:
            self._give_up(info, changed, now)
            return
        victims = result.state.get("victims") if result.nominated_node else None
        if victims and self._may_preempt(info):
            self.counters["preemptions"] += 1
            row = self.nodes.index[result.nominated_node]
            self.nominated[key] = (info.pod.spec, row)
            self.env.process(self._preempt(info.pod, result.nominated_node, list(victims)))
        elif changed and self.cfg.report_unschedulable:
            self.env.process(self._write_condition(info.pod))
        pending = frozenset(n for n, st in result.pre_filter.items() if st.code == Code.PENDING)
        self.queue.add_unschedulable(info, now, frozenset(result.rejectors()) - pending, pending)

    def _give_up(self, info: QueuedPod, changed: bool, now: float) -> None:
        """No retries: the pod leaves the queue for good (counted, reported, never requeued)."""
        key = info.key
        self.queue.done(key)
        self.given_up.add(key)
        self.counters["given_up"] += 1
        self.given_up_reasons.update(self._last_reasons.pop(key, ()))
        self.last_failure.pop(key, None)
        if changed and self.cfg.report_unschedulable:
            self.env.process(self._write_condition(info.pod))
        if self.listeners:
            self._notify("given_up", info.pod, now)

    def _reasons(self, result: ScheduleResult) -> tuple[str, ...]:
        """Distinct ``"Plugin: reason"`` of the nodes that failed this attempt."""
        out: list[str] = []
        reasons = result.filter_reasons
        if isinstance(reasons, FilterReasons):  # straight from the filter log, no per-node arrays
            for name, values in reasons.distinct().items():
                out.extend(f"{name}: {r}" for r in values)
            return tuple(out) if out else (result.status.message(),)
        ev = result.evaluated
        for name, arr in reasons.items():
            vals = arr[ev]
            bad = vals[(vals != None) & (vals != "Success")]  # noqa: E711 - elementwise
            if bad.size:
                out.extend(f"{name}: {r}" for r in dict.fromkeys(bad.tolist()))
        if not out:
            out.append(result.status.message())
        return tuple(out)

    def _may_preempt(self, info: QueuedPod) -> bool:
        """Upstream ``PodEligibleToPreemptOthers``: not while lower-priority pods are still
        terminating on the pod's nominated node."""
        nominated = self.nominated.get(info.key)
        if nominated is None:
            return True
        prio = info.pod.spec.priority
        placed = self.cache.placed
        for k in self.cache.deleting_on.get(nominated[1], ()):
            p = placed.get(k)
            if p is not None and p.spec.priority < prio:
                return False
        return True

    def _write_condition(self, pod):
        """The PodScheduled=False condition (a status write; the model keeps no condition field)."""
        yield from self.world.write(self.client, "patch", "pods/status", pod.key, pod.evolve(),
                                    size_bytes=POD_BYTES, precondition=still_pending)

    def _preempt(self, pod, node: str, victims: list):
        w = self.world
        yield from w.write(self.client, "patch", "pods/status", pod.key, pod.evolve(nominated_node=node),
                           size_bytes=POD_BYTES, precondition=still_pending)
        cache = self.pods_informer.cache
        for victim in victims:
            cur = cache.get(victim.key)
            if cur is None or cur.deleting or cur.node_name != node:
                continue

            def on_node(value, node=node) -> bool:
                return value is not None and not value.deleting and value.node_name == node

            resp = yield from w.write(self.client, "delete", "pods", cur.key, size_bytes=POD_BYTES,
                                      precondition=on_node, partition=node)
            if resp.ok:
                self.events.preempted(cur, pod.key, node)  # issue 18 hook
                self.counters["preemption_victims"] += 1
