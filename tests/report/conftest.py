"""Shared fixtures of the report tests: a demo run, a run whose names are hostile, synthetic folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
EVIL = "<script>alert(1)</script>"

EVIL_SCENARIO = """
version: 1
name: "<script>alert(1)</script>"
seed: 2
duration_s: 40s
cluster:
  nodes: [{count: 5, cpu_cores: 4, memory_bytes: 8Gi}]
workload:
  deployments: [{name: web, replicas: 20, template: {cpu_cores: 100m}}]
"""


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The demo scenario (workloads/demo.yaml) run once per session (about 10 s)."""
    from kbench.experiment.runner import run

    return run(REPO / "workloads" / "demo.yaml", out_dir=tmp_path_factory.mktemp("demo")).run_dir


@pytest.fixture(scope="session")
def evil_run(tmp_path_factory) -> Path:
    """A small run whose scenario is named ``<script>alert(1)</script>``."""
    from kbench.experiment.runner import run

    d = tmp_path_factory.mktemp("evil")
    (d / "evil.yaml").write_text(EVIL_SCENARIO)
    return run(d / "evil.yaml", out_dir=d / "results").run_dir


@pytest.fixture
def evil_comparison(tmp_path) -> Path:
    """A comparison folder (comparison.json only) whose policies have hostile names."""
    from kbench.experiment.compare import analyse

    rng = np.random.default_rng(5)
    pols = ["default", EVIL, "<b>bold</b>&amp"]
    values = {p: [list(1.0 + i + rng.random(6)), list(20 + rng.random(6))] for i, p in enumerate(pols)}
    comp = analyse(values, ["pod_startup_s.p99", "scheduling.throughput_pods_per_s"], list(range(6)), "default")
    comp["scenario"] = EVIL
    folder = tmp_path / "cmp"
    folder.mkdir()
    (folder / "comparison.json").write_text(json.dumps(comp))
    return folder


def make_sweep(folder: Path) -> Path:
    """A synthetic sweep folder following the sweep contract (sweep.json, cells.parquet)."""
    grid = {"nodes": [10, 100, 1000, 10000], "qps": [5, 50]}
    policies, seeds = ["default", "spread"], [1, 2, 3]
    rows = []
    for n in grid["nodes"]:
        for q in grid["qps"]:
            for p in policies:
                for s in seeds:
                    rows.append({"cell_id": f"n{n}-q{q}-{p}-s{s}", "param.nodes": n, "param.qps": q, "policy": p,
                                 "seed": s, "status": "complete", "wall_s": 0.1,
                                 "pod_startup_s.p99": 0.05 + n / 100.0 * (1.5 if p == "spread" else 1.0) + s * 0.01,
                                 "scheduling.throughput_pods_per_s": q * 2.0 + s})
    rows.append({**rows[0], "cell_id": "failed-one", "status": "failed", "pod_startup_s.p99": np.nan})
    folder.mkdir(parents=True)
    (folder / "sweep.json").write_text(json.dumps({"kind": "sweep", "name": "sweep-test", "grid": grid,
                                                   "policies": policies, "seeds": seeds,
                                                   "metrics": ["pod_startup_s.p99",
                                                               "scheduling.throughput_pods_per_s"]}))
    pd.DataFrame(rows).to_parquet(folder / "cells.parquet", index=False)
    (folder / "cells").mkdir()
    (folder / "runs").mkdir()
    return folder


@pytest.fixture
def sweep_folder(tmp_path) -> Path:
    return make_sweep(tmp_path / "sweep")


ENVELOPE = {
    "dimension": "clients", "slo": "staleness_p99_s", "threshold": 10.5, "breach_value": 200, "last_pass": 180,
    "first_fail": 200, "replications": 2, "status": "breach", "seeds": [1, 2], "min": 20, "max": 400,
    "tolerance": 0.1, "scenario": "envelope-small",
    "rule": "a step fails when the SLO fails in at least half of its replications (2 x fails >= replications)",
    "steps": [{"value": v, "pass": ok, "values": vals, "passes": [x <= 10.5 for x in vals], "threshold": 10.5,
               "run_dirs": []} for v, ok, vals in ((20, True, [5.3, 5.4]), (40, True, [5.4, 5.5]),
                                                    (80, True, [5.4, 6.0]), (160, True, [8.5, 9.0]),
                                                    (320, False, [16.0, 15.5]), (240, False, [13.3, 12.9]),
                                                    (200, False, [11.2, 10.4]), (180, True, [10.0, 9.7]))],
}


@pytest.fixture
def envelope_folder(tmp_path) -> Path:
    """An envelope folder (manifest kind envelope, envelope.json) as kbench envelope writes it."""
    folder = tmp_path / "20261203-envelope-envelope-small-clients"
    folder.mkdir()
    (folder / "envelope.json").write_text(json.dumps({**ENVELOPE, "envelope_dir": str(folder)}))
    (folder / "manifest.json").write_text(json.dumps({"schema_version": 2, "kind": "envelope", "run_id": folder.name,
                                                      "status": "complete", "scenario": "envelope-small"}))
    return folder
