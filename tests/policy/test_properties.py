"""Hypothesis invariants over every named policy (STYLE habit 13).

* a placement never exceeds any node's allocatable on any resource, nor any GPU's share;
* every plugin's score is an integer in 0..100;
* the same seed gives the same choices.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbench.cluster.objects import Container, Node, NodeTable, Pod
from kbench.policy.framework import Framework

GI = 2**30
# policy → the module that provides it (skip only if that module is missing)
KUBE = {"default": "policies.noderesources", "least-allocated": "policies.noderesources",
        "most-allocated": "policies.noderesources", "balanced": "policies.noderesources",
        "requested-to-capacity-ratio": "policies.noderesources"}
RESEARCH = {"fgd": "policies.fgd", "best-fit": "policies.bestfit", "dot-prod": "policies.dotprod",
            "packing": "policies.packing", "clustering": "policies.clustering", "first-fit": "policies.firstfit",
            "random": "policies.random_policy"}

node_st = st.builds(
    lambda cpu, mem, gpus, model: (cpu, mem, gpus, model),
    st.integers(1, 32).map(lambda c: c * 500), st.integers(1, 64), st.sampled_from([0, 0, 1, 2, 4, 8]),
    st.sampled_from(["T4", "V100"]))


def pod_st(sharing: bool):
    kinds = ["none", "whole", "share"] if sharing else ["none", "whole"]
    return st.tuples(st.one_of(st.none(), st.integers(0, 80).map(lambda c: c * 100)),
                     st.one_of(st.none(), st.integers(0, 16).map(lambda m: m * GI // 2)),
                     st.sampled_from(kinds), st.integers(1, 4), st.integers(1, 9).map(lambda u: u * 100))


def build_nodes(specs) -> NodeTable:
    nodes = []
    for i, (cpu, mem, gpus, model) in enumerate(specs):
        alloc = {"cpu": cpu, "memory": mem * GI, "pods": 8}
        if gpus:
            alloc["nvidia.com/gpu"] = gpus
        nodes.append(Node(f"n{i}", alloc, gpu_count=gpus, gpu_model=model if gpus else None))
    return NodeTable.from_nodes(nodes)


def build_pod(i: int, spec, kube: bool) -> Pod:
    cpu, mem, kind, k, u = spec
    req = {}
    if cpu is not None:
        req["cpu"] = cpu
    if mem is not None:
        req["memory"] = mem
    gpu = {}
    if kind == "whole":
        if kube:
            req["nvidia.com/gpu"] = k
        gpu = {"gpu_count": k}
    elif kind == "share":
        gpu = {"gpu_milli": u}
    return Pod(f"p{i}", containers=[Container("c", requests=req)], **gpu)


def check_invariants(nodes: NodeTable, res) -> None:
    assert np.all(nodes.requested <= nodes.allocatable + 1e-6), "a node is over-committed"
    assert np.all(nodes.pod_count <= nodes.allocatable_of("pods"))
    real = np.arange(nodes.gpu_free_milli.shape[1])[None, :] < nodes.gpu_count[:, None]
    free = nodes.gpu_free_milli
    assert np.all((free[real] >= 0) & (free[real] <= 1000)) and np.all(free[~real] == -1)
    for name, arr in res.scores.items():
        if arr is not None:
            vals = arr[res.scored]
            assert vals.dtype.kind == "i" and np.all((vals >= 0) & (vals <= 100)), name


def run(policy: str, node_specs, pod_specs, seed: int, kube: bool):
    nodes = build_nodes(node_specs)
    fw = Framework(policy, seed)
    choices = []
    for i, spec in enumerate(pod_specs):
        res = fw.schedule(build_pod(i, spec, kube), nodes)
        check_invariants(nodes, res)
        choices.append((res.node, res.gpus))
    return choices


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("policy", sorted(KUBE))
@SETTINGS
@given(node_specs=st.lists(node_st, min_size=1, max_size=6), pod_specs=st.lists(pod_st(False), max_size=14),
       seed=st.integers(0, 2**32 - 1))
def test_kube_policies_never_overcommit_and_are_deterministic(policy, node_specs, pod_specs, seed):
    pytest.importorskip(KUBE[policy])
    first = run(policy, node_specs, pod_specs, seed, kube=True)
    assert first == run(policy, node_specs, pod_specs, seed, kube=True)


@pytest.mark.parametrize("policy", sorted(RESEARCH))
@SETTINGS
@given(node_specs=st.lists(node_st, min_size=1, max_size=6), pod_specs=st.lists(pod_st(True), max_size=14),
       seed=st.integers(0, 2**32 - 1))
def test_research_policies_never_overcommit_any_gpu_and_are_deterministic(policy, node_specs, pod_specs, seed):
    pytest.importorskip(RESEARCH[policy])
    first = run(policy, node_specs, pod_specs, seed, kube=False)
    assert first == run(policy, node_specs, pod_specs, seed, kube=False)
