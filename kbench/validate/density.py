"""Pod startup latency of a ClusterLoader2-like density run against the SLO (CALIBRATION F1, F2).

The SLO (F1: p99 of startup, excluding image pulls, ≤ 5 s) is promised only when churn is at most
20 pod creations/updates/deletions per second (F2). The run creates pods from Deployments through
the ReplicaSet controller at its default client limit (C3: 20 QPS), i.e. exactly at F2's churn,
onto nodes with the pause image pre-pulled (as CL2's density test does), and reads kbench's own SLO
figure (``pod_startup_s.p99`` of the run summary).
"""

from __future__ import annotations

from pathlib import Path

from kbench.config import scenario_from_dict
from kbench.experiment.runner import run
from kbench.validate.record import Record, mean_ci

PAUSE = "registry.k8s.io/pause:3.9"


def density_run(nodes: int, pods: int, seed: int, calibration: str | Path | None = None) -> dict:
    """One density run (``calibration``: a calibration file laid over the defaults); returns the summary."""
    per = max(1, pods // 5)
    deployments = [{"name": f"density-{i}", "replicas": per, "at_s": f"{1 + i}s",
                    "template": {"cpu_cores": "100m", "memory_bytes": "64Mi", "image": PAUSE}} for i in range(5)]
    sc = scenario_from_dict({
        "name": "validate-density", "seed": seed, "duration_s": 30 + pods / 18,
        "cluster": {"nodes": [{"count": nodes, "cpu_cores": 8, "memory_bytes": "32Gi", "zones": 3,
                               "images": {PAUSE: "300Ki"}}]},
        "workload": {"deployments": deployments},
    }, calibration=calibration)
    return run(sc).summary


def check_density(quick: bool = True, calibration: str | Path | None = None) -> list[Record]:
    """F1 p99 startup at F2 churn, and the creation rate that defines that churn."""
    nodes, pods, seeds = (50, 400, [1]) if quick else (500, 6000, [1, 2, 3])
    sums = [density_run(nodes, pods, s, calibration) for s in seeds]
    m, lo, hi = mean_ci(s["pod_startup_s"]["p99"] for s in sums)
    running = min(s["pods"]["running"] for s in sums)
    return [Record("density/pod_startup_p99", f"p99 pod startup (SLO definition), {nodes} nodes, {pods} pods",
                   5.0, m, lo, hi, tolerance=0.0, kind="max",
                   source="CALIBRATION F1 (SLO p99 <= 5 s) at F2 churn (20 pods/s, C3 default QPS)",
                   unit="s", samples=len(sums),
                   note=f"p50 {sums[0]['pod_startup_s']['p50']:.2f} s; {running}/{pods} running; "
                        "published healthy figures p99 2-3.2 s (F13, F14)"),
            Record("density/pod_startup_p99_published", "p99 pod startup vs a healthy 100-node density test",
                   3.15, m, lo, hi, tolerance=2.0, kind="factor",
                   source="CALIBRATION F14 (gce-100Nodes density, v1.14: p99 3.15 s)", unit="s",
                   samples=len(sums), note="order-of-magnitude agreement (within x2)")]
