"""The etcd model against etcd's own benchmark (B4 writes, B5 reads), with default costs.

Closed-loop clients: each issues a request, waits for the reply, issues the next one. Statistics
are taken over a window after a warm-up, from :meth:`Etcd.snapshot` differences.
"""

from __future__ import annotations

import numpy as np
import pytest

from kbench.validate.etcd import closed_loop  # the closed-loop driver kbench validate uses


def within_factor(measured: float, reference: float, factor: float = 2.0) -> bool:
    return reference / factor <= measured <= reference * factor


def test_b4_one_client_writes():
    """B4: 1 client, 583 writes/s at 1.6 ms mean."""
    x, w, in_flight = closed_loop(1, warmup_s=0.1, window_s=5.0)
    assert within_factor(x, 583), x
    assert within_factor(w, 1.6e-3), w
    assert 1e-3 <= w <= 2e-3  # the brief's band
    assert in_flight == pytest.approx(1.0, rel=1e-3)


def test_b4_thousand_clients_writes_and_littles_law():
    """B4: 1000 clients, 44,341 writes/s at 22 ms mean; and L = X * W on the write path."""
    x, w, in_flight = closed_loop(1000, warmup_s=0.5, window_s=2.0)
    assert within_factor(x, 44_341), x
    assert within_factor(w, 22e-3), w
    assert in_flight == pytest.approx(1000, rel=1e-3)  # closed loop, no think time
    assert x * w == pytest.approx(in_flight, rel=0.02)


def test_group_commit_raises_throughput_with_concurrency():
    """Throughput grows with clients until the serial apply stage saturates (B4, B15)."""
    xs = [closed_loop(n, warmup_s=0.05, window_s=0.5)[0] for n in (1, 10, 100)]
    assert xs[0] < xs[1] < xs[2]
    assert xs[2] > 10 * xs[0]


@pytest.mark.parametrize(("linearizable", "ref_s"), [(True, 0.7e-3), (False, 0.3e-3)])
def test_b5_one_client_reads(linearizable: bool, ref_s: float):
    """B5: 1 client, linearizable 0.7 ms (1,353/s), serializable 0.3 ms (2,909/s)."""
    x, w, _ = closed_loop(1, warmup_s=0.05, window_s=2.0, kind="read", linearizable=linearizable)
    assert within_factor(w, ref_s), w
    assert within_factor(x, 1 / ref_s * 0.95), x  # B5 reports 1,353/s and 2,909/s


def test_b5_thousand_clients_serializable_read_throughput():
    """B5: 1000 clients, 185,758 serializable reads/s (the latency, 2.2 ms, is not asserted:
    with 1000 clients always in flight Little's law implies ~5.4 ms, so the published pair is not
    a closed loop of 1000)."""
    x, w, in_flight = closed_loop(1000, warmup_s=0.05, window_s=0.15, kind="read", linearizable=False)
    assert within_factor(x, 185_758), x
    assert x * w == pytest.approx(in_flight, rel=0.02)


def test_same_seed_same_throughput():
    assert closed_loop(50, 0.02, 0.1, seed=3) == closed_loop(50, 0.02, 0.1, seed=3)
    assert np.isfinite(closed_loop(50, 0.02, 0.1, seed=4)[1])
