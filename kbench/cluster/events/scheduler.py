"""kube-scheduler's Events: ``Scheduled`` and ``FailedScheduling`` (and ``Preempted``).

Upstream (kubernetes/kubernetes pkg/scheduler/schedule_one.go @
003b4460edb52bc9a9fe6cf54294e5b3e4681610): after a binding succeeded ``finishBinding`` records a
Normal ``Scheduled`` event (action ``Binding``, "Successfully assigned <ns>/<pod> to <node>");
every failed attempt records a Warning ``FailedScheduling`` (action ``Scheduling``, the status
message as note); preemption records ``Preempted`` on each victim. The scheduler's broadcaster is
the events.k8s.io/v1 one (J6), on its own client (the scheduler's QPS and burst, C2, a bucket of
its own), so a pod's repeated ``FailedScheduling`` is one series: a CREATE, one PATCH, then only
in-memory counts (J5).

The scheduler calls :class:`SchedulerEvents` at those points (one call each, a hook kept apart from
the scheduling loop).
"""

from __future__ import annotations

USER = "system:kube-scheduler"
GROUPS = ("system:authenticated",)


class SchedulerEvents:
    """The scheduler's Event recorder.

    Args:
        world: The run's world.
    """

    def __init__(self, world):
        client = world.client("kube-scheduler-events", "scheduler", USER, GROUPS)
        series = world.scenario.events.scheduler_api == "events.k8s.io"
        self.recorder = world.events.recorder("default-scheduler", "scheduler", client, series=series,
                                              writer="scheduler")
        self.enabled = self.recorder.enabled

    def scheduled(self, pod, node: str) -> None:
        """The binding of ``pod`` (a PodObj) to ``node`` committed."""
        if self.enabled:
            spec = pod.spec
            self.recorder.emit(("Pod", pod.uid), spec.namespace, spec.name, "Normal", "Scheduled",
                               f"Successfully assigned {pod.key} to {node}", action="Binding")

    def failed_scheduling(self, pod, message: str) -> None:
        """An attempt for ``pod`` found no node (``message``: the status message)."""
        if self.enabled:
            spec = pod.spec
            self.recorder.emit(("Pod", pod.uid), spec.namespace, spec.name, "Warning", "FailedScheduling",
                               message, action="Scheduling")

    def preempted(self, victim, preemptor_key: str, node: str) -> None:
        """``victim`` is deleted to make room for ``preemptor_key`` on ``node``."""
        if self.enabled:
            spec = victim.spec
            self.recorder.emit(("Pod", victim.uid), spec.namespace, spec.name, "Normal", "Preempted",
                               f"Preempted by pod {preemptor_key} on node {node}", action="Preempting")
