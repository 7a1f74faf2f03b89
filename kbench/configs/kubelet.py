"""Kubelet and kube-proxy settings (sections ``kubelet:`` and ``kubeproxy:`` of a scenario)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KubeletConfig:
    """The kubelet's pod startup pipeline, heartbeats and status reporting.

    Attributes:
        lease_renew_interval_s: Node lease renewal period (F6: 10 s).
    """

    lease_renew_interval_s: float = 10.0  # F6


@dataclass(frozen=True)
class KubeProxyConfig:
    """kube-proxy's rule sync.

    Attributes:
        min_sync_period_s: Minimum interval between rule syncs (H1: 1 s).
    """

    min_sync_period_s: float = 1.0  # H1
