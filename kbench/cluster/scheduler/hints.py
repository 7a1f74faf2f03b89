"""QueueingHints: which cluster events move which unschedulable pods (KEP-4247, CALIBRATION M8, M9).

Upstream ``pkg/scheduler/backend/queue/scheduling_queue.go`` (``isPodWorthRequeuing``,
``requeuePodViaQueueingHint``, ``isEventOfInterest``; v1.32-era code index copy 102791543) in
kbench's terms:

* every profile's plugins register ``(event, hint)`` pairs (``events_to_register``); a pod remembers
  the plugins that rejected it (``unschedulable``) or returned Pending (``pending``);
* an event concerns a pod only through the hints of the pod's own rejecting plugins: the first
  "Queue" from a Pending plugin sends it straight to activeQ, from another plugin to backoffQ (or
  activeQ when its backoff is over); all "QueueSkip" leaves it in the pool. A pod with no recorded
  rejector, and the wildcard events (the 5-minute flush), always move it;
* with the SchedulerQueueingHints gate off, every hint answers Queue, and a plugin that registers
  Node Add also gets UpdateNodeTaint and UpdateNodeLabel (M9); the event filter by registration
  stays (upstream's cluster-event map predates hints).

Not modelled: the hints-off ``preCheck`` admission filter of node events (upstream checks
NodeName, NodeUnschedulable, NodeAffinity, TaintToleration and Fit of the pod against the changed
node before moving it); with hints off kbench moves every pod whose rejectors registered the event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kbench.policy.events import (
    NODE,
    UPDATE_NODE_LABEL,
    UPDATE_NODE_TAINT,
    WILDCARD,
    ActionType,
    ClusterEvent,
)

SKIP, BACKOFF, ACTIVE = 0, 1, 2
"""Requeue strategies: stay in the pool, go to backoffQ (activeQ once the backoff is over), go to
activeQ at once (upstream ``queueSkip``, ``queueAfterBackoff``, ``queueImmediately``)."""


@dataclass
class HintMap:
    """One profile's registrations: ``[(registered event, plugin, hint or None)]``."""

    entries: list[tuple[ClusterEvent, str, object]] = field(default_factory=list)
    _interest: dict = field(default_factory=dict, repr=False)

    def plugins_for(self, event: ClusterEvent) -> frozenset[str]:
        """Plugins that registered an event matching ``event`` (cached per event)."""
        hit = self._interest.get(event)
        if hit is None:
            hit = self._interest[event] = frozenset(name for reg, name, _ in self.entries if reg.matches(event))
        return hit


def build_hint_map(framework, enabled: bool) -> HintMap:
    """The registrations of the plugins that can reject a pod (PreEnqueue, PreFilter, Filter,
    Reserve, Permit: upstream's ``fillEnqueueExtensions``); see the module docstring for the gate.
    Such a plugin without ``events_to_register`` is registered for every event (upstream does the
    same for a plugin without EnqueueExtensions)."""
    out = HintMap()
    points = framework.points
    names = dict.fromkeys(n for p in ("preEnqueue", "preFilter", "filter", "reserve", "permit") for n in points[p])
    for name in names:
        plugin = framework.plugins[name]
        register = getattr(plugin, "events_to_register", None)
        if register is None:
            out.entries.append((ClusterEvent(WILDCARD, ActionType.ALL), name, None))
            continue
        for event, hint in register():
            if not enabled:
                hint = None
                if event.resource == NODE and event.action & 1:  # Add
                    event = ClusterEvent(NODE, event.action | UPDATE_NODE_TAINT | UPDATE_NODE_LABEL)
            out.entries.append((event, name, hint))
    return out


def worth_requeuing(hints: HintMap, spec, rejectors: frozenset, pending: frozenset, event: ClusterEvent,
                    old, new, counter: list) -> int:
    """Upstream ``isPodWorthRequeuing``: SKIP, BACKOFF or ACTIVE for one pod and one event.

    Args:
        hints: The pod's profile's registrations.
        spec: The pod's spec (what the hints read).
        rejectors: Plugins that rejected the pod (Unschedulable or UnschedulableAndUnresolvable).
        pending: Plugins that returned Pending.
        event: The emitted event; ``old`` / ``new`` its objects (see :mod:`kbench.policy.events`).
        counter: ``counter[0]`` counts hint calls (for the cycle cost).
    """
    if not rejectors and not pending:
        return BACKOFF
    if event.is_wildcard:
        return BACKOFF
    strategy = SKIP
    for reg, name, hint in hints.entries:
        if name not in rejectors and name not in pending:
            continue
        if not reg.matches(event):
            continue
        if hint is not None:
            counter[0] += 1
            try:
                queue = bool(hint(spec, old, new))
            except Exception:  # noqa: BLE001 - upstream treats a hint error as Queue
                queue = True
            if not queue:
                continue
        if name in pending:
            return ACTIVE
        strategy = BACKOFF
        if not pending:
            return BACKOFF
    return strategy
