"""Little's law on etcd's proposals holds under a slow calibrated etcd too: the 1,000-client window is
lengthened to 100 mean latencies when the quick 1 s window would be shorter (its edges biased the check
by +5 % with a CPU-bound fit from a busy machine: 0.75 s per write at 1,000 clients; by -2.0 % at 22
latencies with a live-calibrated etcd in CI)."""

from __future__ import annotations

import yaml

from kbench.validate.etcd import check_etcd

FIT = {"method": "test", "error_rel": 0.1, "from": "a CPU-bound fit of a busy machine"}
SLOW = {"kind": "kbench-calibration", "version": 1,
        "scenario": {"etcd": {"members": 1, "write_cpu_s": "1.5ms", "batch_cpu_s": "400us", "cores": 2}},
        "fits": {k: FIT for k in ("etcd.members", "etcd.write_cpu_s", "etcd.batch_cpu_s", "etcd.cores")}}


def test_little_holds_for_a_slow_calibrated_etcd(tmp_path):
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(SLOW))
    records = {r.name: r for r in check_etcd(quick=True, calibration=path)}
    latency = records["etcd/write_latency_1000_clients"].simulated
    assert latency > 0.5  # the case that needs the longer window (1 s quick window < 100 latencies)
    window_s = float(records["etcd/write_rate_1000_clients"].note.split()[0])
    assert window_s >= 100 * latency
    little = records["little/etcd_proposals_1000"]
    assert little.passed, little
    assert abs(little.simulated) < 0.02
