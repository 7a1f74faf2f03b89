"""scheduler_perf's SchedulingThroughput, computed as upstream computes it.

Upstream: kubernetes/kubernetes ``test/integration/scheduler_perf/util.go`` (``throughputCollector``,
``throughputSampleInterval = time.Second``; code index copy 1107281758, the index lists
0c5e832aa2bb32573ca695858bc421d111c90119), as kbench matches it:

* a pod counts once, when the scheduler's own pod informer sees it go from no node to a node (its
  binding committed and delivered by the watch), if it is in one of the collector's namespaces and
  matches its label selector;
* every second from the collector's start: no pod scheduled yet → no sample; the first second with
  one → remember the count and the time, **no sample** (the first interval is likely an outlier);
  then ``new = scheduled - last``; none new → count a skipped interval; else the throughput
  ``new / (now - last sample time)`` is recorded ``skipped + 1`` times (as if each skipped second had
  seen it) and the count and time move on. The partial interval when the collector stops is not
  sampled;
* the result: samples sorted; ``Average`` their mean, ``PercX = samples[ceil(len x X / 100) - 1]``
  for X = 50, 90, 95, 99; no sample → nulls (upstream warns "Failed to measure
  SchedulingThroughput ... Increase pods and/or nodes").
"""

from __future__ import annotations

import math

INTERVAL_S = 1.0
"""Upstream ``throughputSampleInterval``."""


class ThroughputCollector:
    """Samples one collection window (see the module docstring).

    Args:
        env: The SimPy environment.
        namespaces: Namespaces whose pods count (None: every namespace).
        labels: Labels a pod must carry (``labelSelector`` as a map).
    """

    def __init__(self, env, namespaces: list[str] | None, labels: dict | None = None):
        self.env = env
        self.namespaces = set(namespaces) if namespaces else None
        self.labels = dict(labels or {})
        self.scheduled = 0
        self.samples: list[float] = []
        self.start_s = env.now
        self.end_s: float | None = None
        self.measured: list[str] = []
        self._running = True
        env.process(self._sample())

    def observe(self, pod) -> None:
        """A pod the informer saw bound (the scheduler's ``bound_observers``)."""
        if not self._running:
            return
        spec = pod.spec
        if self.namespaces is not None and spec.namespace not in self.namespaces:
            return
        if any(spec.labels.get(k) != v for k, v in self.labels.items()):
            return
        self.scheduled += 1
        self.measured.append(pod.key)

    def _sample(self):
        env = self.env
        last_count: int | None = None
        last_time = 0.0
        skipped = 0
        while True:
            yield env.timeout(INTERVAL_S)
            if not self._running:
                return
            scheduled = self.scheduled
            if scheduled == 0:
                continue
            if last_count is None:
                last_count, last_time = scheduled, env.now
                continue
            new = scheduled - last_count
            if new == 0:
                skipped += 1
                continue
            throughput = new / (env.now - last_time)
            self.samples.extend([throughput] * (skipped + 1))
            skipped, last_count, last_time = 0, scheduled, env.now

    def stop(self) -> None:
        """Stop collecting (the current partial interval is not sampled)."""
        self._running = False
        self.end_s = self.env.now

    def result(self) -> dict:
        """``{average, p50, p90, p95, p99, samples}`` in pods/s (nulls when there is no sample)."""
        return throughput_stats(self.samples)


def throughput_stats(samples: list[float]) -> dict:
    """Upstream's summary of throughput samples (module docstring)."""
    s = sorted(samples)
    if not s:
        return {"average": None, "p50": None, "p90": None, "p95": None, "p99": None, "samples": 0}

    def perc(x: int) -> float:
        return round(s[math.ceil(len(s) * x / 100) - 1], 6)

    return {"average": round(sum(s) / len(s), 6), "p50": perc(50), "p90": perc(90), "p95": perc(95),
            "p99": perc(99), "samples": len(s)}
