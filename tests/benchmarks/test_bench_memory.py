"""Bounded memory (issue 10 item 5): a run 10x longer in virtual time with the same pod population
grows peak RSS only a little (per-pod tables are the same; the series grid and watch ChangeLogs
grow with time). Slow: two subprocess runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, resource, sys
from kbench.config import scenario_from_dict
from kbench.experiment.runner import run
base = {"name": "mem", "seed": 2, "duration_s": float(sys.argv[1]),
        "cluster": {"nodes": [{"count": 50, "cpu_cores": 8, "memory_bytes": "32Gi"}]},
        "workload": {"deployments": [{"name": "web", "replicas": 1000,
                                      "template": {"cpu_cores": "100m", "memory_bytes": "64Mi"}}]}}
run(scenario_from_dict(base))
print(json.dumps({"rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _peak_kib(duration_s: float) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(duration_s)], check=True, capture_output=True,
                         text=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])["rss_kib"]


@pytest.mark.slow
def test_peak_rss_10x_longer_run():
    short = _peak_kib(180.0)
    long = _peak_kib(1800.0)
    print(f"peak RSS: {short / 1024:.0f} MiB (3 min virtual) vs {long / 1024:.0f} MiB (30 min virtual)")
    assert long <= short * 1.25 + 20 * 1024
