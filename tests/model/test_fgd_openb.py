"""The bundled trace scenarios on the real openb trace (workloads/traces), reduced to stay fast:
fgd-openb.yaml runs for all six FGD-paper policies through ``kbench run -o json`` with the same pod
sequence for every policy, and openb.yaml replays the trace's times with departures.

The reduction keeps the experiment's shape: a seeded 5 % of the 1,213 GPU nodes (about 60 nodes,
310 GPUs) and the first 300 pods, inflated to 130 % of that capacity (about 530 pods)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from kbench.bundled import TRACES
from kbench.cli import app
from kbench.config import load_scenario
from kbench.experiment.runner import run

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("random", "dot-prod", "clustering", "packing", "best-fit", "fgd")


def reduced(tmp_path: Path, name: str, params: dict | None = None, **trace) -> Path:
    """A copy of workloads/<name> with absolute trace paths and the replay overrides ``trace``."""
    data = yaml.safe_load((ROOT / "workloads" / name).read_text())
    data["workload"]["params"].update({"traces": str(TRACES), **(params or {})})
    data["workload"]["traces"][0].update(trace)
    out = tmp_path / name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


@pytest.fixture(scope="module")
def fgd_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fgd")
    path = reduced(tmp, "fgd-openb.yaml", sample_nodes=0.05, max_pods=300)
    cli = CliRunner()
    out = {}
    for policy in POLICIES:
        res = cli.invoke(app, ["run", str(path), "--policy", policy, "--seed", "43", "--out", str(tmp / "r"),
                               "-o", "json"])
        assert res.exit_code == 0, res.output
        out[policy] = json.loads(res.stdout)
    return out


def test_every_fgd_paper_policy_runs_and_reports_the_fgd_metrics(fgd_runs):
    for policy, s in fgd_runs.items():
        assert s["policy"] == policy and s["seed"] == 43 and s["status"] == "complete"
        g = s["gpu"]
        unalloc = g["unallocated_pct_at_arrived"]
        keys = sorted(int(k) for k in unalloc)
        assert keys[0] == 0 and keys[-1] >= 125  # arrivals run up to ~130 % of capacity
        assert all(0 <= v <= 100 for v in unalloc.values())
        assert 120 <= g["arrived_pct_final"] <= 131
        assert set(g["frag_amount_pct_at_arrived"]) == set(unalloc) == set(g["frag_rate_pct_at_arrived"])
        # no retries: every failed pod is given up and stays pending; sequential: one attempt each
        assert s["scheduling"]["given_up"] == s["pods"]["created"] - s["pods"]["scheduled"] > 0
        assert s["scheduling"]["attempts"] == s["pods"]["created"] == g["fgd_events"]
        assert s["replay"][0]["nodes"] < 100 and 400 < s["replay"][0]["pods"] < 700


def test_every_policy_sees_the_same_pod_sequence_and_node_order(fgd_runs):
    names = {}
    for policy, s in fgd_runs.items():
        pods = pd.read_parquet(Path(s["run_dir"]) / "pods.parquet")
        names[policy] = pods.sort_values("created_s")["pod"].tolist()
        assert len(names[policy]) == s["pods"]["created"]
    first = names["fgd"]
    assert any("-tuned-" in n for n in first)  # inflation appended samples
    assert all(seq == first for seq in names.values())


def test_packing_policies_allocate_more_than_random_once_the_cluster_is_full(fgd_runs):
    """The paper's qualitative result at this small scale: past 100 % arrived, Random leaves the
    most GPU unallocated (averaged over the bins 100..125)."""
    def tail(policy):
        u = fgd_runs[policy]["gpu"]["unallocated_pct_at_arrived"]
        return np.mean([u[str(x)] for x in range(100, 126) if str(x) in u])
    assert tail("fgd") < tail("random") and tail("best-fit") < tail("random")


def test_recorded_frag_matches_a_full_recomputation(tmp_path):
    sc = load_scenario(reduced(tmp_path, "fgd-openb.yaml", sample_nodes=0.03, max_pods=150))
    r = run(sc, policy="fgd", seed=7)
    fgd, gpu = r.frames["fgd"], r.summary["gpu"]
    last = fgd.iloc[-1]
    cap = gpu["gpus"] * 1000
    # the incremental per-node F_n against the end-of-run figures, computed from scratch
    assert 100 * last["frag_milli"] / cap == pytest.approx(gpu["frag_amount_pct"], abs=1e-3)
    assert 100 * last["allocated_milli"] / cap == pytest.approx(gpu["allocated_pct"], abs=1e-3)
    assert fgd["arrived_milli"].is_monotonic_increasing and len(fgd) == r.summary["pods"]["created"]


def test_pod_list_is_a_parameter(tmp_path):
    sc = load_scenario(reduced(tmp_path, "fgd-openb.yaml", sample_nodes=0.03, max_pods=100),
                       params={"pods": "openb_pod_list_gpushare40.csv"})
    assert sc.workload.traces[0].file.endswith("${traces}/${pods}")  # filled in at build time
    r = run(sc, policy="best-fit", seed=1)
    assert r.summary["replay"][0]["original_pods"] == 100
    assert "gpushare40" in r.world.scenario.workload.traces[0].file


def test_openb_replays_the_trace_times_with_departures(tmp_path):
    path = reduced(tmp_path, "openb.yaml", sample_nodes=0.1, window_s=[10_000_000, 10_150_000],
                   cap_duration_s=20_000)
    res = CliRunner().invoke(app, ["run", str(path), "--policy", "fgd", "--out", str(tmp_path / "r"), "-o", "json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["status"] == "complete" and s["pods"]["created"] > 100
    assert s["counters"]["replay_departures"] > 50 and s["pods"]["deleted"] > 50
    assert "allocated_pct" in s["gpu"] and "frag_rate_pct" in s["gpu"]
    assert s["sim"]["virtual_s"] < 200


@pytest.mark.slow
def test_full_size_fgd_beats_random_as_in_the_paper():
    """Full size (about 40 s per policy): at 100 % arrived the paper's seed-42 rows give FGD 4.86 %
    and Random about 13 % unallocated (experiments/analysis/expected_results)."""
    sc = load_scenario(ROOT / "workloads" / "fgd-openb.yaml")
    u = {p: run(sc, policy=p, seed=42).summary["gpu"]["unallocated_pct_at_arrived"] for p in ("fgd", "random")}
    assert u["fgd"][100] < 6.0 < 11.0 < u["random"][100]
