"""Replay controls: the FGD inflation rule (exact sequences), shuffling, windows and compression,
the node order, sequential arrival and no-retry semantics, and the FGD binning."""

import types

import numpy as np
import pandas as pd
import pytest

from kbench.cluster.objects import NodeTable
from kbench.config import scenario_from_dict
from kbench.config.workload import TraceReplaySpec
from kbench.errors import ConfigError
from kbench.experiment.runner import run
from kbench.metrics.fgd import FgdRecorder, by_arrived
from kbench.workload.replay import inflate, node_order, original_pods, shuffle_pods


class Scripted:
    """A generator stand-in returning scripted draws (to pin the inflation rule down exactly)."""

    def __init__(self, ints=(), perm=None):
        self.ints = list(ints)
        self.perm = perm

    def integers(self, n):
        v = self.ints.pop(0)
        assert 0 <= v < n
        return v

    def permutation(self, n):
        return np.asarray(self.perm if self.perm is not None else range(n))


def pods(*rows):
    """rows of (name, gpu_count, gpu_milli[, arrival_s, deletion_s, duration_s])."""
    out = []
    for r in rows:
        name, k, u, *t = r
        a, d, dur = (t + [np.nan, np.nan, np.nan])[:3] if t else (0.0, np.nan, np.nan)
        out.append({"name": name, "arrival_s": a, "deletion_s": d, "duration_s": dur, "cpu_milli": 1000.0,
                    "memory_bytes": 2.0**30, "gpu_count": k, "gpu_milli": u, "gpu_model": "", "priority": 0,
                    "qos": "", "owner": "", "app": "", "max_per_node": -1, "phase": ""})
    return pd.DataFrame(out)


# p0: 1 GPU, p1: half a GPU, p2: 2 GPUs, p3: CPU only, p4: 4 GPUs, p5: a quarter: 7,750 milli in all
ORIG = pods(("p0", 1, 1000), ("p1", 1, 500), ("p2", 2, 1000), ("p3", 0, 0), ("p4", 4, 1000), ("p5", 1, 250))
TARGET = 1.3 * 8000  # 130 % of 8 GPUs = 10,400 milli


def test_inflation_stops_at_the_first_draw_whose_per_gpu_milli_overshoots():
    """7,750 + p1 (500) = 8,250; p4 passes the test with its per-GPU milli (8,250 + 1,000 <= 10,400)
    but adds 4 x 1,000 (the artifact's quirk: 12,250); p3 then fails the test (12,250 + 0 > 10,400)."""
    out = inflate(ORIG, ORIG, TARGET, Scripted([1, 4, 3, 0]))
    assert out["name"].tolist()[6:] == ["p1-tuned-0", "p4-tuned-1"]
    assert out["name"].tolist()[:6] == ORIG["name"].tolist()


def test_inflation_does_not_skip_an_overshooting_draw():
    """8,750 after p0, 9,750 after p0 again; the third p0 overshoots (10,750) and ends the loop
    although p5 (250) would still fit."""
    out = inflate(ORIG, ORIG, TARGET, Scripted([0, 0, 0, 5]))
    assert out["name"].tolist()[6:] == ["p0-tuned-0", "p0-tuned-1"]


def test_inflation_samples_from_the_original_list_and_appends_after_the_shuffled_one():
    shuffled = shuffle_pods(ORIG, Scripted(perm=[5, 4, 3, 2, 1, 0]))
    out = inflate(shuffled, ORIG, TARGET, Scripted([0, 2, 5, 1]))
    # p0: 7,750 + 1,000 <= 10,400 -> 8,750; p2: 8,750 + 1,000 <= 10,400 -> 10,750; p5: 11,000 > 10,400
    assert out["name"].tolist() == ["p5", "p4", "p3", "p2", "p1", "p0", "p0-tuned-0", "p2-tuned-1"]


def test_inflation_tunes_down_by_removing_random_pods():
    out = inflate(ORIG, ORIG, 4000.0, Scripted([4, 0, 0]))  # remove p4 (3,750 left)
    assert out["name"].tolist() == ["p0", "p1", "p2", "p3", "p5"]
    with pytest.raises(ConfigError, match="request no gpu"):
        inflate(pods(("c", 0, 0)), pods(("c", 0, 0)), 100.0, Scripted([0]))


def test_inflated_sequence_for_a_seed_is_fixed():
    """Golden sequence: the same seed gives the same shuffle and the same appended samples."""
    rng = np.random.default_rng(42)
    seq = inflate(shuffle_pods(ORIG, rng), ORIG, TARGET, rng)
    assert seq["name"].tolist() == GOLDEN
    rng = np.random.default_rng(42)
    assert inflate(shuffle_pods(ORIG.iloc[::-1], rng), ORIG, TARGET, rng)["name"].tolist() == GOLDEN


GOLDEN = ["p3", "p2", "p5", "p4", "p1", "p0", "p0-tuned-0", "p4-tuned-1"]  # 7,750 + 1,000 + 4,000


def test_window_sampling_cap_and_compression():
    df = pods(("a", 0, 0, np.nan, 8.0, 8.0), ("b", 0, 0, 5.0, 50.0, 45.0), ("c", 0, 0, 10.0, np.nan, np.nan),
              ("d", 0, 0, 20.0, 25.0, 5.0), ("e", 0, 0, 30.0, 40.0, 10.0))
    spec = TraceReplaySpec(file="x", window_s=[10, 30], cap_duration_s=12, compress=2)
    out = original_pods(df, spec, np.random.default_rng(0))
    assert out["name"].tolist() == ["b", "c", "d"]  # a left before the window, e arrived after it
    assert out["arrival_s"].tolist() == [0.0, 0.0, 5.0]  # b present at the start; shifted by -10; / 2
    assert out["deletion_s"].tolist()[0] == 6.0 and np.isnan(out["deletion_s"][1])  # min(40, 0 + 12) / 2
    assert out["deletion_s"].tolist()[2] == 7.5 and out["duration_s"].tolist()[0] == 6.0
    sampled = original_pods(pods(*[(f"p{i}", 0, 0, float(i)) for i in range(2000)]),
                            TraceReplaySpec(file="x", sample_pods=0.25, max_pods=300), np.random.default_rng(1))
    assert len(sampled) == 300 and sampled["arrival_s"].is_monotonic_increasing


def test_node_order_is_a_seeded_permutation_of_the_sorted_names():
    names = ["n-b", "n-c", "n-a"]
    assert node_order(names, Scripted(perm=[2, 0, 1])) == ["n-b", "n-c", "n-a"]  # n-a gets rank 2 ...
    a = node_order([f"n{i:03d}" for i in range(100)], np.random.default_rng(5))
    assert a == node_order([f"n{i:03d}" for i in range(99, -1, -1)], np.random.default_rng(5))
    assert a != sorted(a)


# ----------------------------------------------------------------------- in the simulated cluster

NODES = "sn,cpu_milli,memory_mib,gpu,model\n" + "".join(f"n{i},8000,32768,1,T4\n" for i in range(2))
POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"


def _files(tmp_path, pod_rows, nodes=NODES):
    (tmp_path / "nodes.csv").write_text(nodes)
    (tmp_path / "pods.csv").write_text(POD_HEADER + "".join(pod_rows))
    return str(tmp_path / "pods.csv"), str(tmp_path / "nodes.csv")


def _run(tmp_path, pod_rows, nodes=NODES, **trace):
    pods_file, nodes_file = _files(tmp_path, pod_rows, nodes)
    sc = scenario_from_dict({"name": "r", "seed": 1, "duration_s": 600, "scheduler": {"policy": "best-fit"},
                             "workload": {"traces": [{"file": pods_file, "nodes_file": nodes_file, **trace}]}})
    return run(sc)


def test_sequential_arrival_and_no_retry(tmp_path):
    rows = [f"p{i},1000,1024,1,1000,,LS,Running,{i},,\n" for i in range(4)]
    r = _run(tmp_path, rows, sequential=True, departures=False, retry_unschedulable=False, linger_s=2)
    s = r.summary
    assert s["scheduling"]["given_up"] == 2 and s["scheduling"]["attempts"] == 4
    assert s["pods"]["created"] == 4 and s["pods"]["scheduled"] == 2 and s["pods"]["pending"] == 2
    df = r.frames["pods"].set_index("pod").loc[[f"default/p{i}" for i in range(4)]]
    assert (df["attempts"] == 1).all()  # never retried
    # the next pod is created only once the previous one is bound or its attempt failed
    done = df["bound_s"].fillna(df["first_attempt_s"]).to_numpy()
    assert (df["created_s"].to_numpy()[1:] >= done[:-1]).all()
    assert r.world.scenario.scheduler.retry_unschedulable is False
    assert s["sim"]["virtual_s"] < 60  # ended when the replay was done, not at duration_s


@pytest.mark.parametrize("retry", [False, True])
def test_a_given_up_pod_stays_pending_when_room_frees_up(tmp_path, retry):
    one = "sn,cpu_milli,memory_mib,gpu,model\nn0,8000,32768,1,T4\n"
    rows = ["a,1000,1024,1,1000,,LS,Running,0,10,0\n", "b,1000,1024,1,1000,,LS,Running,1,,\n"]
    r = _run(tmp_path, rows, nodes=one, retry_unschedulable=retry, linger_s=20)
    b = r.frames["pods"].set_index("pod").loc["default/b"]
    assert r.summary["counters"]["replay_departures"] == 1
    if retry:
        assert b["bound_s"] > 10 and b["attempts"] >= 2
    else:
        assert np.isnan(b["bound_s"]) and b["attempts"] == 1 and r.summary["scheduling"]["given_up"] == 1


# ------------------------------------------------------------------------------- FGD binning

def test_by_arrived_averages_per_rounded_bin_and_fills_empty_bins_from_neighbours():
    x = np.array([0.4, 0.6, 1.4, 2.5, 3.5, 6.2])  # rounds (half to even) to 0, 1, 1, 2, 4, 6
    v = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    out = by_arrived(x, v, max_pct=8)
    # bin 3 is empty: bins 2..4 -> (40 + 50) / 2; bin 5: bins 4..6 -> 55; 7: bins 6..8 -> 60; 8: none
    assert out == {0: 10.0, 1: 25.0, 2: 40.0, 3: 45.0, 4: 50.0, 5: 55.0, 6: 60.0, 7: 60.0}


def test_recorder_summary_on_a_hand_made_event_list():
    rec = FgdRecorder(types.SimpleNamespace(nodes=NodeTable(), listeners=[]), typical=None)
    cap = 10_000.0  # 10 GPUs
    # (t, arrived, allocated, frag, idle) in milli-GPU
    rec._rows = [(0, 0, 0, 1400, 10_000), (1, 1000, 1000, 1200, 9000), (2, 2040, 1000, 1500, 9000),
                 (3, 3960, 3000, 500, 7000)]
    rec.capacity_milli = cap
    s = rec.summary(max_pct=41)
    # arrived % 0, 10, 20.4 -> 20, 39.6 -> 40; allocation % 0, 10, 10, 30
    assert s["unallocated_pct_at_arrived"] == {0: 100.0, 1: 100.0, 9: 90.0, 10: 90.0, 11: 90.0, 19: 90.0,
                                               20: 90.0, 21: 90.0, 39: 70.0, 40: 70.0, 41: 70.0}
    assert s["frag_amount_pct_at_arrived"][20] == 15.0 and s["frag_amount_pct_at_arrived"][40] == 5.0
    assert s["frag_rate_pct_at_arrived"][10] == pytest.approx(100 * 1200 / 9000, abs=0.01)
    assert s["arrived_pct_final"] == 39.6 and s["fgd_events"] == 4
