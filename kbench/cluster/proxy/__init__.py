"""kube-proxy: one per node, it programs Service rules from EndpointSlices.

In Kubernetes each kube-proxy watches Services and EndpointSlices and syncs iptables/nftables
rules. kbench models the proxies as passive watchers delivered in bulk, with their rule-sync
delay (:mod:`.kubeproxy`).
"""

from kbench.cluster.proxy.kubeproxy import KubeProxyFleet

__all__ = ["KubeProxyFleet"]
