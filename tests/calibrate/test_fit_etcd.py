"""The etcd fit (kbench/calibrate/fit_etcd.py) on measurements the model itself made with known
parameters: it must recover them, and its prediction at 16 clients must match the model's own.

The "measurement" of a point is what a real etcd would report for the model's run: throughput and
client-side latency from the model, etcd's CPU = puts x its own CPU per put + raft batches x the
batch CPU, the load generator's and the interrupts' CPU per request, WAL fsyncs = batches, the fsync
histogram's mean and p99 from the fsync distribution, and the server's handling time at 1 client
(batch CPU + fsync + apply).
"""

from __future__ import annotations

import functools
import math
import os

import pytest

from kbench.calibrate.fit_etcd import LiveTestbed, etcd_on_testbed, fit_puts, predict
from kbench.calibrate.loadgen import LivePoint, Window
from kbench.config import EtcdConfig
from kbench.dist import Dist
from kbench.validate.etcd import closed_loop_stats

ETCD_OWN, CLIENT, IRQ, BATCH, APPLY = 250e-6, 150e-6, 40e-6, 200e-6, 20e-6
MEASURE_S = 10.0  # each measured window, virtual seconds
WINDOW_S = 5.0  # the fit's model runs: half the default, enough for the tolerances below
GRPC = Dist.lognormal(400e-6, 1.0e-3)
FSYNC = Dist.lognormal(150e-6, 900e-6)
TRUE = EtcdConfig(members=1, rtt_s=Dist.const(0.0), fsync_s=FSYNC, grpc_rtt_s=GRPC, apply_per_entry_s=APPLY,
                  write_cpu_s=ETCD_OWN + CLIENT + IRQ, batch_cpu_s=BATCH, cores=2, compaction_interval_s=0.0)


@functools.cache
def measured(clients: int, seed: int) -> Window:
    st = closed_loop_stats(clients, 1.0, MEASURE_S, cfg=TRUE, seed=seed, percentiles=True)
    x = st.throughput
    batches = x / st.entries_per_batch
    return Window(MEASURE_S, int(x * MEASURE_S), x, st.latency_mean_s, st.latency_p50_s, st.latency_p99_s,
                  client_cpu_cores=x * CLIENT, etcd_cpu_cores=x * ETCD_OWN + batches * BATCH, busy_cores=math.nan,
                  irq_cores=x * IRQ, foreign_cores=0.0, fsyncs=batches * MEASURE_S, fsync_mean_s=FSYNC.expected(),
                  fsync_p99_s=FSYNC.p99, proposals=x * MEASURE_S, handling_mean_s=BATCH + FSYNC.expected() + APPLY,
                  backend_commit_mean_s=math.nan)


@pytest.fixture(scope="module")
def fitted():
    lo = LivePoint("put", 1, [measured(1, s) for s in (11, 12, 13)])
    hi = LivePoint("put", 4, [measured(4, s) for s in (11, 12, 13)])
    mp = pytest.MonkeyPatch()
    mp.setattr(os, "cpu_count", lambda: 2)  # the testbed of the fixture has 2 cores, whatever runs the test
    try:
        yield fit_puts(lo, hi, members=1, loopback=True, etcd_cores=None, window_s=WINDOW_S)
    finally:
        mp.undo()


def test_fit_recovers_the_parameters(fitted):
    etcd, bed = fitted["etcd"], fitted["testbed"]
    assert etcd["fsync_s"].expected() == pytest.approx(FSYNC.expected(), rel=1e-9)
    assert etcd["fsync_s"].p99 == pytest.approx(FSYNC.p99, rel=1e-6)
    assert etcd["batch_cpu_s"] == pytest.approx(BATCH, rel=0.15)
    # what the batch CPU's error moves, it moves between apply and the per-request CPU, not in total
    assert etcd["batch_cpu_s"] + etcd["apply_per_entry_s"] == pytest.approx(BATCH + APPLY, rel=0.02)
    assert etcd["write_cpu_s"] == pytest.approx(ETCD_OWN, rel=0.10)
    assert etcd["grpc_rtt_s"].expected() == pytest.approx(GRPC.expected(), rel=0.10)
    assert etcd["cores"] == 2 and etcd["members"] == 1
    assert bed.shared_cores == 2
    assert bed.client_cpu_per_request_s == pytest.approx(CLIENT, rel=1e-6)
    assert bed.irq_cpu_per_request_s == pytest.approx(IRQ, rel=1e-6)
    assert bed.write_cpu_s == pytest.approx(ETCD_OWN + CLIENT + IRQ, rel=0.10)
    assert "etcd.rtt_s" in fitted["not_fitted"] and "etcd.apply_per_entry_s" in fitted["fits"]


def test_fitted_model_predicts_16_clients_like_the_true_one(fitted):
    """The point of the fit: from 1 and 4 clients, predict what it was not fitted to."""
    etcd = fitted["etcd"]
    cfg = EtcdConfig(members=1, rtt_s=Dist.const(0.0), fsync_s=etcd["fsync_s"], grpc_rtt_s=etcd["grpc_rtt_s"],
                     apply_per_entry_s=etcd["apply_per_entry_s"], batch_cpu_s=etcd["batch_cpu_s"], cores=2)
    bed: LiveTestbed = fitted["testbed"]
    x, w, _ = predict(etcd_on_testbed(cfg, bed), 16, seeds=(3,))
    x_true, w_true, _ = predict(TRUE, 16, seeds=(3,))
    assert x == pytest.approx(x_true, rel=0.05) and w == pytest.approx(w_true, rel=0.05)


def test_the_fit_reproduces_its_own_points(fitted):
    for clients, (x, _w, _b) in fitted["check"].items():
        x_meas = measured(clients, 11).throughput
        assert x == pytest.approx(x_meas, rel=0.10)


def test_go_spinning_is_left_out_of_the_cpu_per_put(fitted):
    """etcd's CPU includes the Go runtime's idle spinning (kbench/calibrate/gosched.py): with the
    scheduler trace's spinning cores in the windows, the fit recovers the write CPU of the same
    measurements without spinning (the module's fit); without a trace (the module's windows) the fit
    says that spinning, if any, was counted as work."""
    spin = 0.15  # cores spinning at the 4-client point

    def spinning(w: Window) -> Window:
        return Window(**{**w.__dict__, "etcd_cpu_cores": w.etcd_cpu_cores + spin, "spin_cores": spin})

    lo = LivePoint("put", 1, [measured(1, s) for s in (11, 12, 13)])
    hi = LivePoint("put", 4, [spinning(measured(4, s)) for s in (11, 12, 13)])
    mp = pytest.MonkeyPatch()
    mp.setattr(os, "cpu_count", lambda: 2)
    try:
        traced = fit_puts(lo, hi, members=1, loopback=True, etcd_cores=None, window_s=WINDOW_S)
    finally:
        mp.undo()
    # the spinning per put is the mean over the windows, the rest of the CPU the median window's: equal
    # to a few parts in 10^5 here, where the windows' throughputs differ by about 1 %; counted as work,
    # the spinning would add 0.15 cores / ~3,000 puts/s = ~50 us (~20 %) to etcd's write CPU
    assert traced["etcd"]["write_cpu_s"] == pytest.approx(fitted["etcd"]["write_cpu_s"], rel=1e-3)
    assert traced["testbed"].write_cpu_s == pytest.approx(fitted["testbed"].write_cpu_s, rel=1e-3)
    assert "spinning" in traced["fits"]["etcd.write_cpu_s"]["from"]
    assert "unknown" in fitted["fits"]["etcd.write_cpu_s"]["from"]
