"""Queueing-theory checks of APF (Ciw-style): one FIFO queue with c seats is an M/M/c queue.

A level configured as one queue (queues=1, hand_size=1, unbounded length and wait) with NominalCL c
(ServerCL = c, one level) serves Poisson arrivals with exponential service times. Its mean queue
wait must match M/M/1 (Wq = rho / (mu - lambda)) and M/M/c (Erlang C) within the 95% confidence
interval of 10 seeded replications with warm-up trimmed, and its time-average queue length must obey
Little's law. A last test checks isolation between levels and between flows of one level.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from scipy import stats

from kbench.cluster.apiserver.flowcontrol import FlowControl
from kbench.cluster.apiserver.request import Request
from kbench.config import FlowControlConfig
from kbench.validate.queueing import erlang_c_wq, run_level  # the same runner and formula as kbench validate

SEEDS = range(10)


def run_mmc(c: int, lam: float, mu: float, horizon_s: float, warmup_s: float, seed: int) -> dict:
    """One replication of kbench validate's APF-level queue; every request admitted, the level drains."""
    rep = run_level(c, lam, mu, horizon_s, warmup_s, seed)
    assert rep["rejected"] == 0 and rep["drained"]
    return rep


def ci95(xs: list[float]) -> tuple[float, float]:
    """Mean and 95% half-width (Student t, n-1 degrees of freedom)."""
    a = np.asarray(xs)
    return float(a.mean()), float(stats.t.ppf(0.975, len(a) - 1) * a.std(ddof=1) / math.sqrt(len(a)))


@pytest.mark.parametrize("c,lam,mu,horizon_s", [
    (1, 0.6, 1.0, 12000.0),  # M/M/1, rho 0.6: Wq = 0.6 / 0.4 = 1.5 s
    (4, 2.6, 1.0, 5000.0),  # M/M/4, rho 0.65: Erlang C
])
def test_mean_wait_matches_theory(c, lam, mu, horizon_s):
    reps = [run_mmc(c, lam, mu, horizon_s, warmup_s=200.0, seed=s) for s in SEEDS]
    theory = lam / mu / (mu - lam) if c == 1 else erlang_c_wq(c, lam, mu)
    mean, half = ci95([r["wq"] for r in reps])
    print(f"M/M/{c}: Wq theory {theory:.4f} s, simulated {mean:.4f} +- {half:.4f} s (95% CI)")
    assert abs(mean - theory) <= half
    assert half < 0.1 * theory  # the interval is narrow enough to mean something
    for r in reps:  # Little's law on the level: Lq = lambda x Wq
        assert r["lq"] == pytest.approx(r["lam"] * r["wq"], rel=0.02)


def test_erlang_c_reduces_to_mm1():
    assert erlang_c_wq(1, 0.6, 1.0) == pytest.approx(1.5)


def test_isolation_between_levels_and_flows():
    """A workload-low flow far beyond capacity gets 429s; kubelet leases (node-high) never wait;
    a light flow of the same level, queued apart by shuffle sharding, is never rejected and waits
    far less than the hog.

    The light flow still waits up to about one hog service time: fair queuing charges a request
    3 ms at dispatch and its real duration only at completion (queueset.go), so the hog's queues
    lag the progress meter R by the work they have executing.
    """
    hog_service_s = 0.1
    rng = np.random.default_rng(3)
    env = simpy.Environment()
    fc = FlowControl(env, FlowControlConfig(), np.random.default_rng(0))
    waits: dict[str, list[float]] = {"hog": [], "kubelet": [], "polite": []}
    rejected: dict[str, int] = dict.fromkeys(waits, 0)

    def call(kind, r, service_s):
        if (yield fc.admit(r)):
            waits[kind].append(r.dispatched_s - r.arrival_s)
            yield env.timeout(service_s)
            fc.release(r)
        else:
            rejected[kind] += 1

    def source(kind, rate, make, service_s, until_s=5.0):
        while True:
            yield env.timeout(rng.exponential(1 / rate))
            if env.now >= until_s:
                return
            env.process(call(kind, make(), service_s))

    sa = ("system:serviceaccounts", "system:authenticated")
    # hog: 6,000/s x 0.1 s = 600 seats wanted, workload-low has 245 (A11)
    env.process(source("hog", 6000.0, lambda: Request(
        "list", "configmaps", user="system:serviceaccount:ns:hog", groups=sa), hog_service_s))
    env.process(source("polite", 5.0, lambda: Request(
        "get", "configmaps", user="system:serviceaccount:ns:polite", groups=sa), 0.05))
    env.process(source("kubelet", 50.0, lambda: Request(
        "update", "leases", user=f"system:node:n{rng.integers(100)}", groups=("system:nodes",)), 0.005))
    env.run()
    counts = fc.counters()
    mean = {k: float(np.mean(v)) for k, v in waits.items()}
    print({k: (len(v), rejected[k], round(mean[k], 4)) for k, v in waits.items()})
    assert rejected["hog"] > 5000 and counts["workload-low"]["rejected_queue_full"] == rejected["hog"]
    assert rejected["kubelet"] == 0 and max(waits["kubelet"]) == 0.0
    assert counts["node-high"]["dispatched"] == len(waits["kubelet"])
    assert rejected["polite"] == 0 and mean["polite"] < mean["hog"] / 5
    assert max(waits["polite"]) < 2 * hog_service_s
