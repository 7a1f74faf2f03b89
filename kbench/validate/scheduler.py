"""kube-scheduler throughput against scheduler_perf (CALIBRATION M1), and Little's law on its queue.

SchedulingBasic: 5,000 nodes, the default profile, pods created at once; scheduler_perf's current
threshold is 680 pods/s, the one figure kbench's cycle cost is calibrated to (``scale``,
:class:`~kbench.config.scheduler.SchedulerCostConfig`; the exact workload runs in
tests/model/test_scheduler_cost.py and ``python -m kbench.validate.calibrate``). This check creates
the pods at once on 4-core nodes, so the simulated cycle rate must lie within a factor of 1.5 of 680
(a calibration check, not a prediction). The scheduler's client QPS is raised (as scheduler_perf's
client is effectively unlimited) so that bindings do not cap the figure.

Little's law: :class:`QueueProbe` wraps the scheduling queue's ``add``/``done``/``delete`` on the
instance (the model is not edited). It integrates the queue's own size, ``len(queue)`` (active,
backoff, unschedulable and in-flight pods), over time, and times each pod from its first ``add`` to
the ``done``/``delete`` that removes it. L = λ·W holds when the queue's accounting neither loses nor
duplicates pods.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kbench.cluster.objects.stored import PodObj
from kbench.cluster.scheduler.scheduler import Scheduler
from kbench.cluster.world import World
from kbench.config import scenario_from_dict
from kbench.config.cluster import NodeGroup
from kbench.config.workload import PodTemplate
from kbench.validate.record import Record, mean_ci
from kbench.workload.podspec import nodes_from_groups, pod_from_template

GROUPS = ("system:masters", "system:authenticated")  # exempt from APF: the harness must not be throttled


class QueueProbe:
    """Occupancy integral and sojourn times of a :class:`SchedulingQueue` (an observer).

    Args:
        queue: The scheduler's queue (its methods are wrapped on this instance only).
        env: The SimPy environment (for the clock).
    """

    def __init__(self, queue, env):
        self.queue, self.env = queue, env
        self.area = 0.0  # integral of len(queue) dt, pod-seconds
        self._last_t, self._last_n = env.now, len(queue)
        self.entered: dict[str, float] = {}
        self.sojourns: list[float] = []
        self.t0 = env.now
        add, done, delete = queue.add, queue.done, queue.delete

        def tick():
            now = self.env.now
            self.area += self._last_n * (now - self._last_t)
            self._last_t = now

        def after():
            self._last_n = len(self.queue)

        def w_add(pod, now):
            tick()
            if pod.key not in self.queue:
                self.entered[pod.key] = self.env.now
            out = add(pod, now)
            after()
            return out

        def leave(fn, key):
            tick()
            held = key in self.queue
            out = fn(key)
            if held and key not in self.queue and key in self.entered:
                self.sojourns.append(self.env.now - self.entered.pop(key))
            after()
            return out

        queue.add = w_add
        queue.done = lambda key: leave(done, key)
        queue.delete = lambda key: leave(delete, key)

    def little(self) -> tuple[float, float, float]:
        """(L time-average size, λ departures per second, W mean sojourn s) from ``t0`` to now."""
        self.area += self._last_n * (self.env.now - self._last_t)
        self._last_t = self.env.now
        span = self.env.now - self.t0
        return self.area / span, len(self.sojourns) / span, float(np.mean(self.sojourns))


def scheduling_basic(nodes: int, pods: int, seed: int, until_s: float = 30.0,
                     calibration: str | Path | None = None) -> dict:
    """Create ``pods`` pods at t = 1 s on ``nodes`` 4-core nodes; run the default-profile scheduler.

    Returns:
        ``cycles``: scheduling cycles that found a node per second; ``bound``: pods bound;
        ``L``, ``lam``, ``W``: the queue probe's figures.
    """
    w = World(scenario_from_dict({"name": "validate-sched", "seed": seed, "duration_s": until_s,
                                  "clients": {"scheduler": {"qps": 5000, "burst": 5000}}},
                                 calibration=calibration))
    w.add_nodes(nodes_from_groups([NodeGroup(count=nodes, cpu_cores=4.0, zones=3)]))
    w.plane.start()
    s = Scheduler(w)
    probe = QueueProbe(s.queue, w.env)
    s.start()
    client = w.client("driver", "workload", "system:serviceaccount:default:driver", GROUPS)
    client.limiter.qps = 0  # a harness: no client-side limit
    specs = []
    for i in range(pods):
        key = f"default/p{i}"
        specs.append(PodObj(key, w.pod_uid(key, "Pod"), pod_from_template(f"p{i}", "default",
                                                                          PodTemplate(cpu_cores=0.1))))

    def create():
        yield w.env.timeout(1.0)
        for p in specs:
            w.env.process(w.create_pod(client, p))

    w.env.process(create())
    w.env.run(until=until_s)
    lq, lam, wq = probe.little()
    return {"cycles": s.throughput_pods_per_s("scheduled"), "bound": s.bound, "L": lq, "lam": lam, "W": wq}


def check_scheduler(quick: bool = True, calibration: str | Path | None = None) -> list[Record]:
    """M1 throughput at 5,000 nodes (the calibration) and Little's law on the scheduling queue."""
    seeds = [7] if quick else [7, 8, 9]
    pods = 300 if quick else 2000
    until = 20.0 if quick else 40.0
    runs = [scheduling_basic(5000, pods, s, until, calibration) for s in seeds]
    m, lo, hi = mean_ci(r["cycles"] for r in runs)
    out = [Record("scheduler/throughput_5000_nodes", f"default-profile pods/s at 5,000 nodes ({pods} pods)",
                  680.0, m, lo, hi, tolerance=1.5, kind="factor",
                  source="CALIBRATION M1 (scheduler_perf SchedulingBasic/5000Nodes_10000Pods: 680 pods/s)",
                  unit="1/s", samples=len(runs),
                  note="calibration: the cost model's scale is solved from this figure"),
           Record("scheduler/all_pods_bound", "pods bound by the end of the run (fewest over seeds)", float(pods),
                  float(min(r["bound"] for r in runs)), kind="exact", source="the run's own pod count",
                  unit="pods", samples=len(runs), note="a throughput figure only counts if every pod got a node")]
    errs = [r["L"] / (r["lam"] * r["W"]) - 1 for r in runs]
    m, lo, hi = mean_ci(errs)
    out.append(Record("little/scheduler_queue", "scheduling queue: time-average size / (lambda x W) - 1",
                      0.0, m, lo, hi, tolerance=0.02, kind="rel", source="theory: Little's law L = lambda W",
                      unit="ratio-1", samples=len(runs),
                      note=f"L = {np.mean([r['L'] for r in runs]):.2f} pods, observer wraps the queue"))
    return out
