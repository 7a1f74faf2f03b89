"""Kubelet fleet benchmarks (group ``components``): heartbeats of an idle fleet, and the pod pipeline.

* 300 idle nodes for 305 virtual seconds: lease renewals (batched at the 0.1 s tick) and one node
  status GET + PATCH per node, through the whole request path;
* 400 pods started, run and finished on 20 nodes (TokenRequest, sandbox, pulls, containers,
  PLEG, two status PATCHes each).

Under ``make test`` (``--benchmark-disable``) each case runs once as a smoke test.
"""

import pytest

from tests.unit.test_kubelet import Harness


@pytest.mark.benchmark(group="components")
def test_component_kubelet_heartbeats_300_nodes(benchmark):
    def go():
        h = Harness(nodes=300, kubelet={"start_spread_s": 1.0})
        h.run(305.0)
        return h.w.counters

    counters = benchmark.pedantic(go, rounds=1, iterations=1)
    assert 300 * 295 / 10.5 <= counters["lease_renewals"] <= 300 * 305 / 10.0 + 300
    assert 300 <= counters["node_status_updates"] <= 330  # each node once, a few (due before 5 s) twice


@pytest.mark.benchmark(group="components")
def test_component_kubelet_pod_pipeline_400_pods(benchmark):
    def go():
        h = Harness(nodes=20, cpu=64.0)
        for i in range(400):
            h.pod(f"p{i}", at=i * 0.05, node=i % 20, duration=5.0)
        h.run(60.0)
        return h.w.counters

    counters = benchmark.pedantic(go, rounds=3, iterations=1)
    assert counters["token_requests"] == 400
    assert counters["status_updates"] == 1200  # Pending, Running, then Succeeded (J10)
