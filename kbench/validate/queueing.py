"""Queueing theory checks on an APF priority level configured as a plain FIFO queue.

A level with one queue (queues 1, hand size 1, unbounded length and wait) and NominalCL ``c``
(ServerCL = ``c``, a single level) serving Poisson arrivals is an M/G/c queue: its mean wait must
match Erlang C (M/M/c, M/M/1) and Pollaczek–Khinchine (M/D/1), and its time-average queue length,
integrated by the model itself (:meth:`FlowControl.queue_integral`), must equal λ·W (Little's law).
Each replication has its own seed; the figures are means over replications with a 95 % Student-t
interval, warm-up trimmed.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from kbench.cluster.apiserver.flowcontrol import FlowControl
from kbench.cluster.apiserver.request import Request
from kbench.config import FlowControlConfig, FlowSchemaConfig, PriorityLevelConfig
from kbench.validate.record import Record, mean_ci


def fifo_level(c: int) -> FlowControlConfig:
    """One level "q" with NominalCL ``c`` and one unbounded FIFO queue; every request maps to it."""
    levels = {"q": PriorityLevelConfig(shares=1, queues=1, hand_size=1, queue_length_limit=10**9)}
    return FlowControlConfig(max_requests_inflight=c, max_mutating_requests_inflight=0, levels=levels,
                             flow_schemas={"all": FlowSchemaConfig("q", 1, groups=["*"])},
                             queue_wait_limit_s=math.inf)


def erlang_c_wq(c: int, lam: float, mu: float) -> float:
    """Mean wait in queue of M/M/c, seconds (Erlang C probability of waiting / (c·mu − lambda))."""
    a = lam / mu
    top = a**c / math.factorial(c) / (1 - a / c)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def pk_md1_wq(lam: float, mu: float) -> float:
    """Mean wait in queue of M/D/1, seconds (Pollaczek–Khinchine: rho / (2 mu (1 − rho)))."""
    rho = lam / mu
    return rho / (2 * mu * (1 - rho))


def run_level(c: int, lam: float, mu: float, horizon_s: float, warmup_s: float, seed: int,
              deterministic: bool = False) -> dict:
    """One replication: Poisson arrivals (rate ``lam`` /s) in [0, horizon), service mean 1/``mu`` s.

    Returns:
        ``wq``: mean wait of requests arriving after warm-up (s); ``lq``: time-average queue length
        over [warm-up, horizon] from the model's own integral (requests); ``lam``: measured arrival
        rate over that window (1/s); ``rejected``: admissions refused (0 for an unbounded FIFO);
        ``drained``: the level is empty (no queued request, no seat in use) once every arrival is served.
    """
    arr_rng, svc_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    env = simpy.Environment()
    fc = FlowControl(env, fifo_level(c), np.random.default_rng(seed))
    waits: list[float] = []
    marks: dict[str, float] = {}
    rejected = [0]

    def customer(service_s: float):
        r = Request("get", "pods", user="u", groups=("system:authenticated",))
        if not (yield fc.admit(r)):
            rejected[0] += 1
            return
        if r.arrival_s >= warmup_s:
            waits.append(r.dispatched_s - r.arrival_s)
        yield env.timeout(service_s)
        fc.release(r)

    def mark():
        yield env.timeout(warmup_s)
        marks["warm"] = fc.queue_integral("q")

    def arrivals():
        while True:
            yield env.timeout(arr_rng.exponential(1 / lam))
            if env.now >= horizon_s:
                return
            env.process(customer(1 / mu if deterministic else svc_rng.exponential(1 / mu)))

    env.process(mark())
    env.process(arrivals())
    env.run(until=horizon_s)
    window = horizon_s - warmup_s
    area = fc.queue_integral("q") - marks["warm"]
    env.run()  # serve what is still queued
    drained = fc.queue_length("q") == 0 and fc.seats_in_use("q") == 0
    return {"wq": float(np.mean(waits)), "lq": area / window, "lam": len(waits) / window,
            "rejected": rejected[0], "drained": drained}


CASES = (  # name, c, lambda, mu, deterministic, horizon (full) s, theory, source
    ("mm1_wait", 1, 0.6, 1.0, False, 12000.0, "M/M/1 Wq = rho/(mu - lambda)"),
    ("mmc_wait", 4, 2.6, 1.0, False, 5000.0, "M/M/c Erlang C (c = 4)"),
    ("md1_wait", 1, 0.6, 1.0, True, 12000.0, "M/D/1 Pollaczek-Khinchine"),
)


def check_queueing(quick: bool = True) -> list[Record]:
    """M/M/1, M/M/4 and M/D/1 mean queue waits of an APF level, plus Little's law on that level."""
    seeds = range(5) if quick else range(20)
    scale = 0.25 if quick else 1.0
    tol = 0.20 if quick else 0.05
    out: list[Record] = []
    little_err: list[float] = []
    for name, c, lam, mu, det, horizon, theory in CASES:
        reps = [run_level(c, lam, mu, horizon * scale, 200.0, s, deterministic=det) for s in seeds]
        expected = pk_md1_wq(lam, mu) if det else erlang_c_wq(c, lam, mu)
        m, lo, hi = mean_ci(r["wq"] for r in reps)
        out.append(Record(f"queueing/{name}", f"mean APF queue wait, c={c}, rho={lam / (c * mu):.2f}",
                          expected, m, lo, hi, tolerance=tol, kind="rel", source=f"theory: {theory}",
                          unit="s", samples=len(reps),
                          note=f"{len(reps)} seeds x {horizon * scale:.0f} s, 200 s warm-up"))
        little_err += [r["lq"] / (r["lam"] * r["wq"]) - 1 for r in reps]
    m, lo, hi = mean_ci(little_err)
    out.append(Record("little/apf_queue", "APF level: time-average queue length / (lambda x Wq) - 1",
                      0.0, m, lo, hi, tolerance=0.02, kind="rel", source="theory: Little's law L = lambda W",
                      unit="ratio-1", samples=len(little_err),
                      note="queue length integrated by FlowControl; all replications above"))
    return out
