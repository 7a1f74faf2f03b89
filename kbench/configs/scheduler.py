"""kube-scheduler settings (section ``scheduler:`` of a scenario)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SchedulerConfig:
    """kube-scheduler in time.

    Attributes:
        policy: Policy name or file (``default``, ``fgd``, ``my_policy.py``...).
    """

    policy: str = "default"
