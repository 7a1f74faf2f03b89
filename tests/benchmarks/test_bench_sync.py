"""Scale benchmark of the sync experiment (issue 2): 5,000 informers, 10,000 objects, 10 minutes.

Run with ``make bench``; ``make test`` runs a tiny smoke of the same code path so CI catches a
crash. Target (issue 8): under 30 s wall on the 2-core reference machine (stretch 10 s).
"""

import pytest

from kbench.config import scenario_from_dict
from kbench.experiment.sync import run_sync


def _scenario(clients: int, objects: int, duration_s: float):
    return scenario_from_dict({"name": "bench-sync", "seed": 1, "duration_s": duration_s,
                               "sync": {"clients": clients, "objects": objects}})


def test_sync_smoke():
    s = run_sync(_scenario(50, 200, 60), "list-watch").summary
    assert s["lists"] == 50


@pytest.mark.slow
@pytest.mark.benchmark(group="scenarios")
def test_bench_sync_list_watch_5000_clients(benchmark):
    sc = _scenario(5000, 10_000, 600)
    summary = benchmark.pedantic(lambda: run_sync(sc, "list-watch").summary, rounds=1, iterations=1)
    benchmark.extra_info.update(wall_s=summary["wall_s"], staleness_p99_s=summary["staleness_s"]["p99"])
    assert summary["lists"] >= 5000
