"""Engine benchmarks (group ``engine``): SimPy's kernel alone, the denominator of kbench's efficiency.

Under ``make test`` (``--benchmark-disable``) each case runs once as a smoke test.
"""

import pytest
import simpy

from kbench.bench import simpy_timeout_rate

N = 20_000


@pytest.mark.benchmark(group="engine")
def test_engine_timeout_loop(benchmark):
    def loop():
        env = simpy.Environment()

        def proc():
            for _ in range(N):
                yield env.timeout(1.0)

        env.process(proc())
        env.run()
        return env.now

    assert benchmark(loop) == N


@pytest.mark.benchmark(group="engine")
def test_engine_callback_timeouts(benchmark):
    """Bare timeouts with a callback each (how kbench delivers watch events and frees seats)."""
    def loop():
        env = simpy.Environment()
        hits = []
        for i in range(N):
            env.timeout(i * 0.001).callbacks.append(hits.append)
        env.run()
        return len(hits)

    assert benchmark(loop) == N


def test_simpy_timeout_rate_is_measured():
    rate = simpy_timeout_rate(events=20_000, processes=10)
    assert rate > 1000  # events per wall second; SimPy does ~10^5-10^6 on any machine
