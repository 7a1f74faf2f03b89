"""The SLO monitor: a watch on every pod, as ClusterLoader2's pod-startup measurement keeps (F3).

It marks ``running_observed`` when a pod's Running status is seen through the watch (F1's end
point), and tells the workload driver when a bare pod finished. It authenticates as
``system:masters`` (exempt from APF), as an out-of-cluster test harness with admin credentials
does, so measuring does not change what is measured.
"""

from __future__ import annotations

from collections.abc import Callable

from kbench.cluster.objects.stored import PodObj
from kbench.cluster.world import World


class SloMonitor:
    """Watches every pod and marks observations in the pod timeline.

    Args:
        world: The run's world.
        on_finished: Called with a pod version that Succeeded or Failed (first time seen).
    """

    def __init__(self, world: World, on_finished: Callable[[PodObj], None] | None = None):
        self.world = world
        self.on_finished = on_finished
        client = world.client("slo-monitor", "slo-monitor", "kbench:slo-monitor", ("system:masters",))
        client.limiter.qps = 0
        self.informer = world.informer(client, "pods", on_add=self._seen, on_update=lambda _o, n: self._seen(n))

    def start(self) -> None:
        """Start the watch."""
        self.informer.start()

    def _seen(self, pod: PodObj) -> None:
        if pod.phase == "Running":
            self.world.timeline.mark(pod.uid, "running_observed", self.world.env.now)
        elif pod.finished and self.on_finished is not None:
            self.on_finished(pod)
