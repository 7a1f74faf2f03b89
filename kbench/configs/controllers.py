"""kube-controller-manager settings (section ``controllers:`` of a scenario)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ControllersConfig:
    """Controllers of kube-controller-manager.

    Attributes:
        node_monitor_grace_period_s: A node without a lease renewal this long is NotReady (F7: 50 s).
    """

    node_monitor_grace_period_s: float = 50.0  # F7
