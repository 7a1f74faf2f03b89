"""kube-proxy's sync cost in a running cluster: network programming latency grows with Services x
endpoints in iptables mode, hardly in nftables mode, and more without partial syncs (L1-L4)."""

from __future__ import annotations

import pytest

from kbench.config import scenario_from_dict
from kbench.experiment.runner import run


def npl(copies: int, mode: str, **proxy) -> dict:
    data = {"name": "npl", "seed": 5, "duration_s": 60,
            "clients": {"controller-manager": {"qps": 500, "burst": 1000}, "scheduler": {"qps": 500, "burst": 1000}},
            "cluster": {"nodes": [{"count": 10, "cpu_cores": 32, "pods": 200}]},
            "kubeproxy": {"mode": mode, "min_sync_period_s": 0, **proxy},
            "workload": {"deployments": [{"name": "svc", "replicas": 20, "copies": copies, "service": True,
                                          "template": {"cpu_cores": "10m"}}]}}
    return run(scenario_from_dict(data)).summary["kube_proxy"]


@pytest.fixture(scope="module")
def runs():
    return {(mode, n): npl(n, mode) for mode in ("iptables", "nftables") for n in (5, 50)}


def test_iptables_programming_latency_grows_with_services_times_endpoints(runs):
    small, large = runs[("iptables", 5)], runs[("iptables", 50)]
    assert small["services"] == 5 and 95 <= small["endpoints"] <= 100  # (as of the last sync)
    assert large["services"] == 50 and 950 <= large["endpoints"] <= 1000
    # O = 5 S + 4 E: 425 -> 4,250 objects at 20 us each: +77 ms on every partial sync
    assert large["sync_s"]["p50"] - small["sync_s"]["p50"] > 0.01  # (the median sync saw about half of them)
    assert large["network_programming_latency_s"]["p50"] > small["network_programming_latency_s"]["p50"] + 0.04


def test_nftables_programming_latency_hardly_grows(runs):
    small, large = runs[("nftables", 5)], runs[("nftables", 50)]
    # S + E: 105 -> 1,050 elements at 3 us each: +3 ms
    assert large["network_programming_latency_s"]["p50"] <= 1.10 * small["network_programming_latency_s"]["p50"] + 0.005
    assert large["network_programming_latency_s"]["p50"] < runs[("iptables", 50)]["network_programming_latency_s"]["p50"]


def test_full_syncs_block_partial_changes(runs):
    full = npl(50, "iptables", partial_sync=False)
    assert full["full_syncs"] == full["syncs"]
    assert runs[("iptables", 50)]["full_syncs"] == 10  # one first sync per proxy, then partial ones
    # a full sync costs 48 us per object instead of 20 (up to +120 ms at 4,250 objects)
    assert full["sync_s"]["p50"] > runs[("iptables", 50)]["sync_s"]["p50"] + 0.02
    assert full["network_programming_latency_s"]["p50"] > runs[("iptables", 50)]["network_programming_latency_s"]["p50"]
