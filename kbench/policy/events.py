"""Cluster events and QueueingHints (upstream ``framework.ClusterEvent``, KEP-4247, CALIBRATION M8/M9).

A plugin that can reject a pod says which cluster events may make that pod schedulable again::

    def events_to_register(self):
        return [(ClusterEvent(NODE, ADD | UPDATE_NODE_LABEL), self._after_node_change)]

Each entry is ``(event, hint)``; ``hint(pod, old, new) -> bool`` answers "Queue" (True) or
"QueueSkip" (False) for a pod the plugin rejected; ``None`` means always Queue. For node events
``old`` / ``new`` are :class:`NodeChange` views (``old`` None on Add, ``new`` None on Delete); for
pod events they are pod specs (:class:`~kbench.cluster.objects.Pod`), ``old`` None on Add and
``new`` None on Delete. ``pod`` is the rejected pod's spec.

Resources: ``ASSIGNED_POD`` (a pod bound to a node), ``UNSCHEDULED_POD`` (the rejected pod itself),
``NODE``, and the wildcard events ``UNSCHEDULABLE_TIMEOUT`` (the 5-minute flush, D2) and
``FORCE_ACTIVATE``, which move every pod regardless of hints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntFlag

ASSIGNED_POD = "AssignedPod"
UNSCHEDULED_POD = "UnscheduledPod"
NODE = "Node"
WILDCARD = "*"


class ActionType(IntFlag):
    """Upstream ``framework.ActionType`` (the subset kbench emits)."""

    ADD = 1
    DELETE = 2
    UPDATE_NODE_ALLOCATABLE = 4
    UPDATE_NODE_LABEL = 8
    UPDATE_NODE_TAINT = 16
    UPDATE_NODE_CONDITION = 32
    UPDATE_POD_LABEL = 64
    UPDATE_POD_SCALE_DOWN = 128
    UPDATE_POD_TOLERATION = 256
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 512
    ALL = 1023


ADD, DELETE = ActionType.ADD, ActionType.DELETE
UPDATE_NODE_ALLOCATABLE = ActionType.UPDATE_NODE_ALLOCATABLE
UPDATE_NODE_LABEL = ActionType.UPDATE_NODE_LABEL
UPDATE_NODE_TAINT = ActionType.UPDATE_NODE_TAINT
UPDATE_NODE_CONDITION = ActionType.UPDATE_NODE_CONDITION
UPDATE_POD_LABEL = ActionType.UPDATE_POD_LABEL
UPDATE_POD_SCALE_DOWN = ActionType.UPDATE_POD_SCALE_DOWN
UPDATE_POD_TOLERATION = ActionType.UPDATE_POD_TOLERATION
UPDATE_POD_SCHEDULING_GATES_ELIMINATED = ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    """A resource and the actions on it (flags). A registered event matches an emitted one when
    the resources agree (or either is the wildcard) and their actions share a flag."""

    resource: str
    action: ActionType

    def matches(self, other: ClusterEvent) -> bool:
        """Whether this (registered) event covers ``other`` (an emitted one)."""
        if self.resource == WILDCARD or other.resource == WILDCARD:
            return True
        return self.resource == other.resource and bool(self.action & other.action)

    @property
    def is_wildcard(self) -> bool:
        """The flush and force-activate events: every pod moves, hints are not asked."""
        return self.resource == WILDCARD


UNSCHEDULABLE_TIMEOUT = ClusterEvent(WILDCARD, ActionType.ALL)
"""A pod stayed longer than the limit in the unschedulable pool (D2)."""

Hint = Callable[[object, object, object], bool]
"""``hint(pod, old, new) -> Queue?`` (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class NodeChange:
    """What node hints read of a node version: labels, taints, cordon flag and allocatable."""

    name: str
    labels: dict
    taints: tuple
    unschedulable: bool
    allocatable: dict


def node_actions(old: NodeChange, new: NodeChange) -> ActionType:
    """The update actions between two versions of a node (upstream ``NodeSchedulingPropertiesChange``)."""
    action = ActionType(0)
    if old.labels != new.labels:
        action |= UPDATE_NODE_LABEL
    if old.taints != new.taints or old.unschedulable != new.unschedulable:
        action |= UPDATE_NODE_TAINT
    if old.allocatable != new.allocatable:
        action |= UPDATE_NODE_ALLOCATABLE
    return action
