"""Lifecycle benchmarks (issue 4, issue 8): the bundled scenarios through the whole control plane.

``make test`` runs only the smoke (a tiny scenario through the same code path); ``make bench`` runs
the full ``workloads/density-5k.yaml`` (5,000 nodes, 150,000 pods) and the demo.
"""

from pathlib import Path

import pytest

from kbench.config import load_scenario, scenario_from_dict
from kbench.experiment.runner import run

ROOT = Path(__file__).resolve().parents[2]


def test_lifecycle_smoke():
    sc = scenario_from_dict({"name": "smoke", "duration_s": 30,
                             "cluster": {"nodes": [{"count": 3}]},
                             "workload": {"deployments": [{"name": "w", "replicas": 10}]}})
    s = run(sc).summary
    assert s["pods"]["running"] == 10


@pytest.mark.slow
@pytest.mark.benchmark(group="scenarios")
def test_bench_demo(benchmark):
    sc = load_scenario(ROOT / "workloads" / "demo.yaml")
    s = benchmark.pedantic(lambda: run(sc).summary, rounds=1, iterations=1)
    benchmark.extra_info.update(wall_s=s["sim"]["wall_s"], events=s["sim"]["events"])


@pytest.mark.slow
@pytest.mark.benchmark(group="scenarios")
def test_bench_density_5k(benchmark):
    sc = load_scenario(ROOT / "workloads" / "density-5k.yaml")
    s = benchmark.pedantic(lambda: run(sc).summary, rounds=1, iterations=1)
    benchmark.extra_info.update(wall_s=s["sim"]["wall_s"], events=s["sim"]["events"],
                                pods=s["pods"]["created"])
    assert s["pods"]["created"] == 150_000


# SimPy events per pod of the density template (kbench bench --quick: 100 nodes, 600 pods, 40 s).
# Counted, so machine-independent. Before issue 18: 27,881 events (46.5 per pod); with the status
# manager's writes (Pending, Running), the ReplicaSet and Deployment status writes and Events:
# 37,402 (62.3 per pod; docs/WRITE_MIX.md says what each costs). The bound catches a regression.
DENSITY_EVENTS_PER_POD = 62.3


def test_density_events_per_pod_budget():
    from kbench.bench import _density

    s = run(scenario_from_dict(_density(100, 600, 300, 40, "density-events-budget"))).summary
    per_pod = s["sim"]["events"] / s["pods"]["created"]
    assert s["pods"]["running"] == 600
    assert per_pod <= DENSITY_EVENTS_PER_POD * 1.03
    assert s["writes_per_pod"]["pods/status"]["patch"] == 2.0  # Pending and Running (J10)
    assert 4.0 <= s["events"]["written"] / 600 <= 5.0  # Scheduled, Pulled, Created, Started + controllers
    # the recorders' count is the apiserver's, also when a tick's batch is split by APF seats
    comp = s["writes_by_component"]
    assert s["events"]["created"] == sum(c.get("events.create", 0) for c in comp.values())
    assert s["events"]["patched"] == sum(c.get("events.patch", 0) for c in comp.values())
    assert s["events"]["written"] <= s["events"]["emitted"]
