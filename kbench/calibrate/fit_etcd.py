"""Fit kbench's etcd model to live measurements at a low and a higher client count (1 and 4).

What each field comes from (docs/CALIBRATE.md has the reasoning and what the fit cannot see):

* ``members``: ``/v3/cluster/member/list``; ``rtt_s``: the leader's
  ``etcd_network_peer_round_trip_time_seconds`` (mean and p99 -> lognormal); not fitted with one
  member.
* ``fsync_s``: ``etcd_disk_wal_fsync_duration_seconds`` at the low point (one fsync per put):
  mean = sum/count, p99 from the buckets -> lognormal (:func:`lognormal_from_mean_p99`). Never from
  a loaded point: under load the fsync's completion waits for a core, which the CPU pool models.
* ``write_cpu_s`` and ``batch_cpu_s``: the CPU per put at the high point, Δ``process_cpu_seconds_total``
  / Δputs less the Go runtime's idle spinning when etcd's scheduler trace is given
  (:mod:`kbench.calibrate.gosched`), is ``write_cpu_s + batch_cpu_s / B`` with B the entries per fsync
  (Δ``etcd_server_proposals_committed_total`` / Δfsyncs). The split is the ``batch_cpu_s`` for which
  the model's own entries per batch at the high point equals B (a 1-D root): the raft loop's CPU
  is what makes batches grow under load.
* ``apply_per_entry_s``: the server's handling time (``grpc_server_handling_seconds`` for Put,
  needs ``--metrics extensive``) at the low point minus the fsync and the batch CPU.
* ``grpc_rtt_s``: what the client sees beyond the server (mean latency at the low point minus
  fsync, apply and batch CPU); its shape is the lognormal sigma for which the model's p99 at the
  low point equals the measured one (a 1-D root).
* ``cores``: the machine's cores for a loopback endpoint (etcd's GOMAXPROCS), else ``--etcd-cores``.
* ``read_base_s`` (with ranges): ``grpc_server_handling_seconds`` for Range at the low point.

The *testbed* (``testbed:``) is what a validation against this etcd must model besides etcd: with a
loopback endpoint the load generator and the interrupts share etcd's cores, so their CPU per
request joins etcd's on a pool of the machine's cores. It is never applied to a scenario.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace

from kbench.calibrate.dists import dist_yaml, lognormal_from_mean_p99, lognormal_from_mean_sigma, rel
from kbench.calibrate.loadgen import PACKING, LivePoint
from kbench.config import EtcdConfig
from kbench.config.calibration import format_duration
from kbench.dist import Dist
from kbench.validate.etcd import closed_loop_stats

FIT_WINDOW_S = 10.0
"""Virtual seconds of each model run inside a root find."""


@dataclass(frozen=True)
class LiveTestbed:
    """The machine a live measurement ran on, as the model of that measurement needs it.

    Attributes:
        shared_cores: Cores of the pool (the machine's, when the load generator shares them).
        client_cpu_per_request_s: The load generator's CPU per request on that pool, seconds.
        irq_cpu_per_request_s: Interrupt handling per request on that pool, seconds.
        write_cpu_s: CPU per request on the pool besides the raft batch's (etcd's, the client's,
            the interrupts'), seconds.
    """

    shared_cores: int
    client_cpu_per_request_s: float
    irq_cpu_per_request_s: float
    write_cpu_s: float


def etcd_on_testbed(etcd: EtcdConfig, bed: LiveTestbed) -> EtcdConfig:
    """The etcd model of the testbed: the calibration's etcd with the shared pool's CPU."""
    return replace(etcd, cores=bed.shared_cores, write_cpu_s=bed.write_cpu_s, compaction_interval_s=0.0)


def predict(cfg: EtcdConfig, clients: int, *, seeds: tuple[int, ...] = (7, 8, 9),
            window_s: float = FIT_WINDOW_S) -> tuple[float, float, float]:
    """(throughput /s, mean latency s, entries per batch) of closed-loop puts, averaged over seeds."""
    runs = [closed_loop_stats(clients, 1.0, window_s, cfg=cfg, seed=s) for s in seeds]
    return (sum(r.throughput for r in runs) / len(runs), sum(r.latency_mean_s for r in runs) / len(runs),
            sum(r.entries_per_batch for r in runs) / len(runs))


def _bisect(f: Callable[[float], float], target: float, lo: float, hi: float, steps: int) -> tuple[float, str]:
    """The x in [lo, hi] where increasing ``f`` crosses ``target``, and how it ended (``root`` or a bound)."""
    flo, fhi = f(lo), f(hi)
    if flo >= target:
        return lo, "lower bound"
    if fhi <= target:
        return hi, "upper bound"
    for _ in range(steps):
        mid = (lo + hi) / 2
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2, "root"


def _values(point: LivePoint, get: Callable) -> list[float]:
    return [v for v in (get(w) for w in point.windows) if v == v]


def _rse(vals: list[float]) -> float:
    """Relative standard error of the mean (0 with fewer than two values)."""
    if len(vals) < 2:
        return 0.0
    m = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
    return sd / math.sqrt(len(vals)) / abs(m) if m else 0.0


def spin_per_put(point: LivePoint) -> float | None:
    """Go's idle spinning per request at a point, seconds: the mean over its windows of spinning cores
    per request (the trace samples a 0/1/2 count, so every window's samples are used, not only the
    median window's); None when no window has a scheduler trace."""
    vals = [w.spin_cores / w.throughput for w in point.windows if w.spin_cores == w.spin_cores and w.throughput > 0]
    return sum(vals) / len(vals) if vals else None


def fit_puts(lo: LivePoint, hi: LivePoint, *, members: int, loopback: bool, etcd_cores: int | None,
             rtt: Dist | None = None, say: Callable[[str], None] | None = None,
             window_s: float = FIT_WINDOW_S) -> dict:
    """Fit the etcd model's write path to two put points (module docstring).

    Args:
        lo: The low point (1 client).
        hi: The higher point (4 clients).
        members: Cluster members.
        loopback: The endpoint is on this machine (the client shares its cores).
        etcd_cores: etcd's cores when known (a remote endpoint: ``--etcd-cores``).
        rtt: The member round trip, when fitted from peer metrics.
        say: Progress lines.
        window_s: Virtual seconds of each model run of the batch-CPU search and of the check at both
            points (shorter is faster and noisier; tests of the method use a few seconds).

    Returns:
        ``{"etcd": overlay values (model units), "fits": {...}, "not_fitted": {...}, "testbed":
        LiveTestbed, "check": model figures at both points}``.
    """
    w1, wh = lo.median, hi.median
    m, q = w1.fsync_mean_s, w1.fsync_p99_s
    fsync = lognormal_from_mean_p99(m, q)
    handling = w1.handling_mean_s
    cores = (os.cpu_count() or 1) if loopback else (etcd_cores or EtcdConfig().cores)
    client = wh.per_request(wh.client_cpu_cores) if loopback else 0.0
    irq = wh.per_request(wh.irq_cores) if loopback and wh.irq_cores == wh.irq_cores else 0.0
    spin = spin_per_put(hi)  # Go's idle spinning is not work (gosched)
    etcd_cpu = wh.per_request(wh.etcd_cpu_cores) - (spin or 0.0)
    total = etcd_cpu + client + irq
    batch = wh.entries_per_fsync
    base = EtcdConfig(members=members, rtt_s=rtt or Dist.const(0.0), fsync_s=fsync, cores=cores,
                      compaction_interval_s=0.0)
    apply_default = base.apply_per_entry_s

    def config(b: float, sigma: float) -> EtcdConfig:
        apply = max(handling - m - b, 1e-6) if handling == handling else apply_default
        g = max(w1.latency_mean_s - m - apply - b, 1e-6)
        return replace(base, apply_per_entry_s=apply, grpc_rtt_s=lognormal_from_mean_sigma(g, sigma),
                       write_cpu_s=max(total - b / batch, 0.0), batch_cpu_s=b)

    sigma = 0.5
    b_max = max(0.0, min(0.9 * total * batch, w1.latency_mean_s - m - 1e-6))
    if say:
        say(f"fitting batch_cpu_s: the model's entries per fsync at {hi.clients} clients = {batch:.2f}")
    seen: list[tuple[float, float]] = []

    def batch_at(b: float) -> float:
        v = closed_loop_stats(hi.clients, 1.0, window_s, cfg=config(b, sigma), seed=7).entries_per_batch
        seen.append((b, v))
        return v

    b, how_b = _bisect(batch_at, batch, 0.0, b_max, 10)
    if say:
        say(f"fitting grpc_rtt_s's shape: the model's p99 at {lo.clients} client = {w1.latency_p99_s * 1e3:.3f} ms")

    def p99_at(s: float) -> float:
        return closed_loop_stats(lo.clients, 0.5, 5.0, cfg=config(b, s), seed=7, percentiles=True).latency_p99_s

    sigma, how_s = _bisect(p99_at, w1.latency_p99_s, 0.0, 1.5, 8)
    cfg = config(b, sigma)
    slope = (seen[1][1] - seen[0][1]) / (seen[1][0] - seen[0][0]) if len(seen) > 1 and seen[1][0] != seen[0][0] else 0
    b_err = _rse(_values(hi, lambda w: w.entries_per_fsync)) * batch / slope / b if slope > 0 and b > 0 else None
    own = max(etcd_cpu - b / batch, 0.0)
    bed = LiveTestbed(cores, client, irq, cfg.write_cpu_s)
    x_lo, w_lo, _ = predict(cfg, lo.clients, window_s=window_s)
    x_hi, w_hi, b_hi = predict(cfg, hi.clients, window_s=window_s)
    etcd = {"members": members, "fsync_s": fsync, "grpc_rtt_s": cfg.grpc_rtt_s, "write_cpu_s": own,
            "batch_cpu_s": b, "cores": cores}
    src_lo = f"put, {lo.clients} client, {len(lo.windows)} windows x {w1.seconds:.0f} s (median window)"
    src_hi = f"put, {hi.clients} clients, {len(hi.windows)} windows x {wh.seconds:.0f} s (median window)"
    fits = {
        "etcd.members": {"method": "observed", "error_rel": 0.0, "from": "/v3/cluster/member/list"},
        "etcd.fsync_s": {"method": "closed form: lognormal from mean and p99", "error_rel": rel(
            _rse(_values(lo, lambda w: w.fsync_mean_s))),
            "from": f"{src_lo}: etcd_disk_wal_fsync_duration_seconds sum/count = {format_duration(m)} over "
                    f"{w1.fsyncs:.0f} fsyncs, p99 {format_duration(q)} from the buckets"
                    + (" (inside the first bucket: an upper bound)" if q <= 1e-3 else "")},
        "etcd.grpc_rtt_s": {"method": "closed form (mean) + 1-D root (sigma: the model's p99 = measured p99, "
                                      f"{how_s})", "error_rel": rel(_rse(_values(lo, lambda w: w.latency_mean_s))),
                            "from": f"{src_lo}: client mean latency {format_duration(w1.latency_mean_s)} - fsync - "
                                    "apply - batch CPU"},
        "etcd.write_cpu_s": {"method": "closed form", "error_rel": rel(_rse(_values(
            hi, lambda w: w.per_request(w.etcd_cpu_cores)))),
            "from": f"{src_hi}: process_cpu_seconds_total {format_duration(wh.per_request(wh.etcd_cpu_cores))} "
                    "per put - "
                    + (f"Go's idle spinning {format_duration(spin)} per put (GODEBUG=schedtrace, mean of "
                       f"{len(hi.windows)} windows) - " if spin is not None else "")
                    + "batch_cpu_s / entries per fsync"
                    + ("" if spin is not None else
                       " (Go's idle spinning unknown without etcd's scheduler trace: counted as work)")},
        "etcd.batch_cpu_s": {"method": f"1-D root: the model's entries per fsync at {hi.clients} clients = "
                                       f"{batch:.3g} ({how_b})", "error_rel": rel(b_err) if b_err else None,
                             "from": f"{src_hi}: etcd_server_proposals_committed_total / "
                                     "etcd_disk_wal_fsync_duration_seconds_count"},
        "etcd.cores": {"method": "observed", "error_rel": 0.0,
                       "from": "os.cpu_count() on the etcd host (loopback endpoint)" if loopback else "--etcd-cores"},
    }
    not_fitted = {"etcd.max_batch_entries": "never reached at these loads"}
    if not loopback and etcd_cores is None:
        del etcd["cores"], fits["etcd.cores"]
        not_fitted["etcd.cores"] = "a remote etcd's cores are not in its metrics: give --etcd-cores"
    if handling == handling:
        etcd["apply_per_entry_s"] = cfg.apply_per_entry_s
        fits["etcd.apply_per_entry_s"] = {
            "method": "closed form", "error_rel": rel(_rse(_values(lo, lambda w: w.handling_mean_s))),
            "from": f"{src_lo}: grpc_server_handling_seconds{{grpc_method=Put}} mean "
                    f"{format_duration(handling)} - fsync mean - batch CPU"}
    else:
        not_fitted["etcd.apply_per_entry_s"] = ("grpc_server_handling_seconds is not exported (etcd runs "
                                                "without --metrics extensive)")
    if rtt is None:
        not_fitted["etcd.rtt_s"] = ("one member: no peer round trips (etcd_network_peer_round_trip_time_seconds "
                                    "absent)" if members == 1 else "no peer round-trip samples")
    check = {lo.clients: (x_lo, w_lo, math.nan), hi.clients: (x_hi, w_hi, b_hi)}
    return {"etcd": etcd, "fits": fits, "not_fitted": not_fitted, "testbed": bed, "check": check}


def etcd_yaml(etcd: dict) -> dict:
    """The fitted etcd values in a calibration file's units."""
    out = {}
    for key, v in etcd.items():
        if isinstance(v, Dist):
            out[key] = dist_yaml(v)
        elif key.endswith("_s"):
            out[key] = format_duration(v)
        else:
            out[key] = v
    return out


def testbed_yaml(bed: LiveTestbed, loopback: bool, value_bytes: int) -> dict:
    """The ``testbed:`` section of a calibration file."""
    return {"client_packing": PACKING, "loopback": loopback, "value_bytes": value_bytes,
            "shared_cores": bed.shared_cores,
            "client_cpu_per_request_s": format_duration(bed.client_cpu_per_request_s),
            "irq_cpu_per_request_s": format_duration(bed.irq_cpu_per_request_s),
            "write_cpu_s": format_duration(bed.write_cpu_s)}
