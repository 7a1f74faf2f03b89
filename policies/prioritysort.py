"""PrioritySort: the default queue order — higher priority first, then the earlier queued pod.

Upstream: kubernetes/kubernetes ``pkg/scheduler/framework/plugins/queuesort/priority_sort.go``
@ eb50f4dd (``Less``: ``p1 > p2 || (p1 == p2 && t1.Before(t2))``).

kbench's :class:`~kbench.cluster.objects.Pod` has no queue timestamp of its own. ``less`` uses the
first of these attributes a pod has (seconds, virtual time): ``queued_s`` (when the scheduling queue
received it, which the simulator may set), then ``created_s``. When neither pod has one, equal
priorities compare as not-less, so a stable sort keeps arrival order.
"""

from __future__ import annotations

from policies.resourceargs import check_keys

NAME = "PrioritySort"
_TIME_ATTRS = ("queued_s", "created_s")


def queued_at(pod) -> float | None:
    """The pod's queue timestamp in seconds, or None when it has none."""
    for attr in _TIME_ATTRS:
        value = getattr(pod, attr, None)
        if value is not None:
            return float(value)
    return None


class PrioritySort:
    """Orders the scheduling queue by priority (descending), then by queue time (ascending)."""

    NAME = NAME
    DESCRIPTION = "Queue order: higher priority first, then earlier queued"

    def __init__(self, args: dict | None = None, handle=None):
        check_keys({} if args is None else args, (), "args", "PrioritySortArgs")
        self.handle = handle

    def less(self, a, b) -> bool:
        """True when ``a`` should be scheduled before ``b``."""
        pa, pb = int(a.priority or 0), int(b.priority or 0)
        if pa != pb:
            return pa > pb
        ta, tb = queued_at(a), queued_at(b)
        if ta is None or tb is None:
            return False
        return ta < tb


PLUGINS = [PrioritySort]
