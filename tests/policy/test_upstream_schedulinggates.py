"""SchedulingGates against upstream's TestPreEnqueue (kbench/validate/upstream_ports.py names the source)."""

from __future__ import annotations

import pytest

from kbench.policy.events import UNSCHEDULED_POD, UPDATE_POD_SCHEDULING_GATES_ELIMINATED, ClusterEvent
from kbench.validate.builders import pod
from kbench.validate.upstream_ports import GATES
from policies.schedulinggates import SchedulingGates


@pytest.mark.parametrize("name,gates,expected", GATES, ids=[c[0] for c in GATES])
def test_pre_enqueue(name, gates, expected):
    st = SchedulingGates().pre_enqueue(pod("p", scheduling_gates=gates))
    assert (None if st.ok else (int(st.code), st.message())) == expected


def test_is_schedulable_after_update_target_pod_scheduling_gates_eliminated():
    """Upstream TestIsSchedulableAfterUpdateTargetPodSchedulingGatesEliminated: Queue (no hint)."""
    (event, hint), = SchedulingGates().events_to_register()
    assert event == ClusterEvent(UNSCHEDULED_POD, UPDATE_POD_SCHEDULING_GATES_ELIMINATED)
    assert hint is None
