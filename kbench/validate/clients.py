"""Client rate limits visible in what the cluster does (CALIBRATION C3, C4).

* C3: kube-controller-manager's client (QPS 20, burst 30). A Deployment of many replicas makes the
  ReplicaSet controller create pods as fast as its token bucket allows: after the burst of 30 the
  pod creation rate must be 20/s (status writes share the bucket, so slightly under).
* C4: the kubelet's client (QPS 50, burst 100). Many pods land on one node whose runtime is made
  nearly instant, so status PATCHes are limited only by the kubelet's bucket: after the burst the
  status-update rate must be 50/s.

Rates are read from a sampler (an observer process) of ``world.counters`` on a fixed grid, over the
part of the run where a backlog exists (between the burst and the last 10 % of the events).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kbench.config import scenario_from_dict
from kbench.experiment import runner
from kbench.validate.record import Record


def _sampled_rate(counter: str, scenario: dict, until_s: float, skip: int, step_s: float = 0.25,
                  calibration: str | Path | None = None) -> tuple[float, int]:
    """Run ``scenario``; return (rate /s of ``counter`` between ``skip`` events and 90 % of the total, total)."""
    sc = runner.effective_scenario(scenario_from_dict(scenario, calibration=calibration))
    world, comps = runner.build(sc)
    runner.start(world, comps)
    times: list[float] = []
    counts: list[int] = []

    def sample():
        while True:
            times.append(world.env.now)
            counts.append(int(world.counters[counter]))
            yield world.env.timeout(step_s)

    world.env.process(sample())
    world.env.run(until=until_s)
    t, c = np.asarray(times), np.asarray(counts)
    total = int(c[-1])
    lo, hi = skip, int(0.9 * total)
    i, j = int(np.searchsorted(c, lo)), int(np.searchsorted(c, hi))
    if j <= i or t[j] <= t[i]:
        return float("nan"), total
    return float((c[j] - c[i]) / (t[j] - t[i])), total


def controller_creation_rate(replicas: int, calibration: str | Path | None = None) -> tuple[float, int]:
    """Pods created per second by the ReplicaSet controller at default client settings (C3)."""
    return _sampled_rate("pods_created", {
        "name": "validate-c3", "seed": 5, "duration_s": 60 + replicas / 15,
        "cluster": {"nodes": [{"count": 20, "cpu_cores": 64, "memory_bytes": "256Gi", "pods": 1000}]},
        "workload": {"deployments": [{"name": "web", "replicas": replicas, "at_s": "1s",
                                      "template": {"cpu_cores": "10m", "memory_bytes": "16Mi"}}]},
    }, 10 + replicas / 15, skip=60, calibration=calibration)


def kubelet_status_rate(pods: int, calibration: str | Path | None = None) -> tuple[float, int]:
    """Pod status PATCHes per second of one kubelet with an instant runtime (C4)."""
    fast = {"kind": "constant", "value": 0.001}
    return _sampled_rate("status_updates", {
        "name": "validate-c4", "seed": 5, "duration_s": 120,
        "clients": {"controller-manager": {"qps": 5000, "burst": 5000},
                    "scheduler": {"qps": 5000, "burst": 5000}},
        "kubelet": {"runtime_parallelism": 10000, "admission_s": fast, "sandbox_s": fast,
                    "container_start_s": fast, "pleg": "evented"},
        "cluster": {"nodes": [{"count": 1, "cpu_cores": 1000, "memory_bytes": "4Ti", "pods": 5000,
                               "images": {"registry.k8s.io/pause:3.9": "300Ki"}}]},
        "workload": {"deployments": [{"name": "burst", "replicas": pods, "at_s": "2s",
                                      "template": {"cpu_cores": "10m", "memory_bytes": "16Mi",
                                                   "image": "registry.k8s.io/pause:3.9"}}]},
    }, 2 + 5 + pods / 40, skip=150, calibration=calibration)


def check_clients(quick: bool = True, calibration: str | Path | None = None) -> list[Record]:
    """C3 pod creation rate and C4 kubelet status-update rate."""
    c3, n3 = controller_creation_rate(400 if quick else 1500, calibration)
    c4, n4 = kubelet_status_rate(600 if quick else 2000, calibration)
    return [
        Record("clients/controller_create_rate", "pods created/s by the ReplicaSet controller after its burst",
               20.0, c3, tolerance=0.08, kind="rel",
               source="CALIBRATION C3 (kube-controller-manager --kube-api-qps 20, burst 30)", unit="1/s",
               note=f"{n3} pods; its status writes and Events share its bucket, so under 20"),
        Record("clients/kubelet_status_rate", "pod status PATCH/s of one kubelet after its burst",
               50.0, c4, tolerance=0.08, kind="rel",
               source="CALIBRATION C4 (kubelet kubeAPIQPS 50, burst 100)", unit="1/s",
               note=f"{n4} status updates on one node, runtime made instant"),
    ]
