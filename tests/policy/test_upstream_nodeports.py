"""NodePorts against upstream's tables (kbench/validate/upstream_ports.py names the file and commit).

Ports are written ``PROTOCOL/hostIP/hostPort`` as upstream's ``newPod``; the existing pod is bound
to node ``m1``. Reason ``node(s) didn't have free ports for the requested pod ports`` (Unschedulable).
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.policy.api import CycleState
from kbench.validate.builders import node, pod, table
from kbench.validate.upstream_ports import FITS, NODE_PORTS, PORT_HINTS
from policies.nodeports import NodePorts, ports_conflict


def incoming(app, init):
    kw = {"ports": app}
    if init is not None:
        kw["sidecar_ports" if init[0] else "init_ports"] = init[1]
    return pod("p", **kw)


def verdict(p, existing):
    nodes = table([node("m1")], [pod("e", node="m1", ports=existing)] if existing else [])
    plugin = NodePorts()
    state = CycleState()
    if plugin.pre_filter(state, p, nodes).is_skip:
        return "skip"
    res = plugin.filter(state, p, nodes, np.array([0], dtype=np.int64))
    return "" if res.ok[0] else (int(res.code), res.reason_at(0))


@pytest.mark.parametrize("name,app,init,existing,expected", NODE_PORTS, ids=[c[0] for c in NODE_PORTS])
def test_node_ports(name, app, init, existing, expected):
    assert verdict(incoming(app, init), existing) == expected


@pytest.mark.parametrize("name,want,have,fits", FITS, ids=[c[0] for c in FITS])
def test_fits(name, want, have, fits):
    assert (verdict(pod("p", ports=want), have) == "") is fits
    assert (not ports_conflict(pod("p", ports=want).host_ports, pod("e", ports=have).host_ports)) is fits


@pytest.mark.parametrize("name,deleted,queue", PORT_HINTS, ids=[c[0] for c in PORT_HINTS])
def test_is_schedulable_after_assigned_pod_deleted(name, deleted, queue):
    target = pod("p", ports=("TCP//8080",))
    old = pod("old", node="fake-node", ports=deleted)
    assert NodePorts._after_pod_deleted(target, old, None) is queue


def test_passes_all_only_when_no_node_uses_the_ports():
    nodes = table([node("a"), node("b")], [pod("e", node="b", ports=("TCP/0.0.0.0/80",))])
    plugin = NodePorts()
    assert plugin.passes_all(CycleState(), pod("p", ports=("TCP//81",)), nodes)
    assert not plugin.passes_all(CycleState(), pod("p", ports=("TCP//80",)), nodes)


def test_used_ports_follow_pods_coming_and_going():
    nodes = table([node("a")])
    e = pod("e", ports=("UDP/10.0.0.1/53",))
    nodes.add_pod(e, 0)
    assert nodes.used_ports == {("UDP", 53): {0: {"10.0.0.1": 1}}}
    nodes.remove_pod(e, 0)
    assert nodes.used_ports == {}
