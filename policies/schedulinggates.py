"""SchedulingGates (PreEnqueue): a pod with ``spec.schedulingGates`` is not scheduled until they are removed.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/schedulinggates/scheduling_gates.go``
(index copy 7e98ec6319f000e2dec15be8baa5c5e99d4a724b; ``PreEnqueue``, ``EventsToRegister``). A gated
pod gets UnschedulableAndUnresolvable ``waiting for scheduling gates: [foo bar]`` (Go's ``%v`` of the
gate names) and stays out of activeQ; removing its last gate (the pod's own
UpdatePodSchedulingGatesEliminated event) brings it back.
"""

from __future__ import annotations

from kbench.policy.api import Code, Status
from kbench.policy.events import UNSCHEDULED_POD, UPDATE_POD_SCHEDULING_GATES_ELIMINATED, ClusterEvent
from policies.resourceargs import check_keys

NAME = "SchedulingGates"


def gates_message(gates) -> str:
    """Upstream's reason for a gated pod."""
    return f"waiting for scheduling gates: [{' '.join(gates)}]"


class SchedulingGates:
    """PreEnqueue: keep pods with scheduling gates out of the active queue."""

    NAME = NAME
    DESCRIPTION = "PreEnqueue: pods with spec.schedulingGates wait until the gates are removed"

    def __init__(self, args: dict | None = None, handle=None):
        check_keys({} if args is None else args, (), "args", "SchedulingGatesArgs")
        self.handle = handle

    def pre_enqueue(self, pod) -> Status:
        """SUCCESS without gates, else UnschedulableAndUnresolvable naming them."""
        if not pod.scheduling_gates:
            return Status.success()
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (gates_message(pod.scheduling_gates),))

    def events_to_register(self):
        """The pod's own gates removed → Queue (no hint)."""
        return [(ClusterEvent(UNSCHEDULED_POD, UPDATE_POD_SCHEDULING_GATES_ELIMINATED), None)]


PLUGINS = [SchedulingGates]
