"""The kubelet's token refreshes (J13): one TokenRequest per running pod every 0.8 x TTL less up to
the jitter, sent in batches per tick, counted once per request even when APF splits a batch."""

from __future__ import annotations

import pytest

from kbench.config import scenario_from_dict
from kbench.experiment.runner import run

PODS = 120


def refresh_run(inflight: int):
    data = {"name": "tokens", "seed": 4, "duration_s": 100,
            "apiserver": {"flowcontrol": {"max_requests_inflight": inflight // 2,
                                          "max_mutating_requests_inflight": inflight - inflight // 2}},
            "kubelet": {"token_expiration_s": 50, "token_jitter_s": 5, "token_batch_tick_s": 5},
            "cluster": {"nodes": [{"count": 4, "cpu_cores": 64, "pods": 110,
                                   "images": {"registry.k8s.io/pause:3.9": "300Ki"}}]},
            "clients": {"controller-manager": {"qps": 500, "burst": 1000}},
            "workload": {"deployments": [{"name": "web", "replicas": PODS,
                                          "template": {"cpu_cores": "10m"}}]}}
    return run(scenario_from_dict(data))


@pytest.mark.parametrize("inflight", [600, 60])
def test_each_running_pod_refreshes_its_token_once_per_period(inflight):
    r = refresh_run(inflight)
    st = r.world.plane.stats
    requests = st.total("count", resource="serviceaccounts/token")
    # the kubelet's count is the apiserver's: no member of a split batch is counted twice
    assert r.summary["counters"]["token_requests"] == requests - st.total("errors", resource="serviceaccounts/token")
    # started by ~10 s, refreshed 35-40 s later (0.8 x 50 s less up to 5 s), then again: 2 refreshes
    # per pod by t = 100 s, a third for none
    assert r.summary["pods"]["running"] == PODS
    assert 2 * PODS <= requests - PODS <= 2 * PODS + PODS // 10
    assert r.world.plane.etcd.values("serviceaccounts/token") == {}  # stored nowhere (J12)
