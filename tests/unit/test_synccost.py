"""kube-proxy's sync cost by mode: each fitted constant reproduces its anchor; the rest grows right."""

from __future__ import annotations

import pytest

from kbench.cluster.proxy import synccost as sc
from kbench.config.kubelet import KubeProxyConfig

T0 = 0.05  # the median of kubeproxy.sync_s


def cost(mode, services, endpoints, full, **over):
    return T0 + sc.sync_cost_s(KubeProxyConfig(mode=mode, **over), services, endpoints, full)


def test_iptables_constants_reproduce_the_5000_node_anchors():
    # L2: CL2 at 5,000 nodes holds 8,250 Services and 82,000 endpoints (O = 369,250)
    assert sc.CL2_5K_OBJECTS == 369_250
    assert cost("iptables", 8_250, 82_000, False) == pytest.approx(sc.L2_AFTER_SYNC_S, rel=0.01)  # 7.5 s
    assert cost("iptables", 8_250, 82_000, True) == pytest.approx(sc.L2_BEFORE_SYNC_S, rel=0.01)  # 17.7 s


def test_nftables_constants_reproduce_their_anchors():
    seconds, elements = sc.NFT_PARTIAL_ANCHOR  # PR #126013: 10,000 Services x 2 endpoints
    assert cost("nftables", 10_000, elements - 10_000, False) == pytest.approx(seconds, rel=0.01)
    seconds, elements = sc.NFT_FULL_ANCHOR  # issue #135639
    assert cost("nftables", 5_006, elements - 5_006, True) == pytest.approx(seconds, rel=0.01)


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_cost_grows_with_services_and_endpoints(mode):
    base = cost(mode, 100, 1_000, False)
    assert cost(mode, 200, 1_000, False) > base
    assert cost(mode, 100, 2_000, False) > base
    assert cost(mode, 100, 1_000, True) > base  # a full sync costs more than a partial one


def test_nftables_partial_syncs_are_cheaper_per_object_than_iptables():
    assert cost("nftables", 8_250, 82_000, False) < cost("iptables", 8_250, 82_000, False) / 5


def test_fixed_and_ipvs_do_not_grow():
    assert cost("fixed", 10_000, 100_000, True) == T0
    assert cost("ipvs", 10, 10, False) == cost("ipvs", 10_000, 100_000, False) == pytest.approx(T0 + 1.15e-3)


def test_unknown_mode_is_refused():
    from kbench.errors import ConfigError
    with pytest.raises(ConfigError):
        KubeProxyConfig(mode="userspace")
