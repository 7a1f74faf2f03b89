"""The etcd model against a real etcd it was not fitted to (``kbench validate --live-etcd URL``).

Calibrated on 1 and 4 closed-loop clients (``kbench calibrate etcd``, or the points of a
``--calibration`` file made by it), the model of the testbed (the calibration's etcd on a pool of
the machine's cores shared with the load generator's CPU, :mod:`kbench.calibrate.fit_etcd`)
predicts throughput and mean latency at 16 and 64 clients; the same load generator with the same
packing then measures them. ``expected`` is the measurement, ``simulated`` the prediction:
throughput within 25 % and mean latency within 35 % (issue 20's bar). The fit's own residuals at
its calibration points are shown as ``info`` records (a broken fit shows there first).

A prediction made on one machine and measured on another says nothing about the model, and a
virtual machine's speed drifts under it (a neighbour, a CPU quota) by 10-30 % over tens of seconds
without any CPU of its own becoming busy. So when the etcd is calibrated here, the calibration's
points and the predicted ones are measured in the same rounds (one window each per round,
:func:`kbench.calibrate.live.measure_points`), and every point's median window is taken over the
same stretch of time. With a ``--calibration`` file (made earlier, perhaps on a faster or slower
day) the file's highest put point is measured once more after the predicted points: the ``info``
record ``etcd/live_control_throughput_<N>_clients`` compares the two, and when they differ by more
than :data:`DRIFT_LIMIT` its ``extra`` says ``machine_drift`` (the predictions were then measured
on a machine that is not the calibrated one).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from kbench.calibrate import gateway
from kbench.calibrate.fit_etcd import LiveTestbed, etcd_on_testbed, predict
from kbench.calibrate.gosched import SchedTrace
from kbench.calibrate.live import calibrate_etcd, connect, measure_points
from kbench.calibrate.loadgen import PACKING, run_point
from kbench.config import EtcdConfig
from kbench.config.calibration import check_calibration, load_calibration
from kbench.config.loader import from_dict
from kbench.errors import KbenchError
from kbench.quantity import parse_duration
from kbench.validate.etcd import VALUE_BYTES
from kbench.validate.record import Record

THROUGHPUT_TOLERANCE = 0.25
LATENCY_TOLERANCE = 0.35
DRIFT_LIMIT = 0.15
"""Largest relative change of the control point's throughput for which the machine counts as unchanged."""


def _testbed(doc: dict, source: str) -> tuple[EtcdConfig, LiveTestbed]:
    bed = doc.get("testbed")
    if doc.get("source", {}).get("kind") != "live-etcd" or not isinstance(bed, dict):
        raise KbenchError("not a calibration of a live etcd (kbench calibrate etcd): no testbed section",
                          source=source)
    if bed.get("client_packing") != PACKING:
        raise KbenchError(f"made with client packing {bed.get('client_packing')!r}; this kbench measures with "
                          f"{PACKING!r}: calibrate again", source=source, where="testbed.client_packing")
    etcd = from_dict(EtcdConfig, check_calibration(doc)["etcd"], "scenario.etcd")
    try:
        tb = LiveTestbed(int(bed["shared_cores"]), parse_duration(bed["client_cpu_per_request_s"]),
                     parse_duration(bed["irq_cpu_per_request_s"]), parse_duration(bed["write_cpu_s"]))
    except (KeyError, ValueError, TypeError) as err:
        raise KbenchError(f"incomplete testbed section ({err})", source=source, where="testbed") from None
    return etcd, tb


def check_live_etcd(url: str, *, calibration: str | Path | None = None, clients: Sequence[int] = (16, 64),
                    calibrate_clients: Sequence[int] = (1, 4), duration_s: float = 10.0, warmup_s: float = 2.0,
                    repeat: int = 3, sched: SchedTrace | None = None,
                    say: Callable[[str], None] | None = None) -> list[Record]:
    """Predict and measure closed-loop puts at ``clients`` (module docstring).

    Args:
        url: The etcd client URL.
        calibration: A calibration file of this etcd (``kbench calibrate etcd``); without one the
            etcd is calibrated on ``calibrate_clients``, measured in the same rounds as ``clients``.
        clients: Client counts to predict and measure.
        calibrate_clients: Client counts of the calibration made here.
        duration_s: Window length, seconds.
        warmup_s: Warm-up before a point's windows, seconds.
        repeat: Rounds: windows per point (the median window is used).
        sched: The etcd's Go scheduler trace (``GODEBUG=schedtrace``): the calibration made here
            leaves the runtime's idle spinning out of the CPU per put (:mod:`kbench.calibrate.gosched`).
        say: Progress lines.
    """
    eps, version = connect([url])
    lead = gateway.leader(eps)
    pre = b"/kbench-validate/"
    wanted = [("put", n) for n in clients]
    if calibration is not None:
        cal = load_calibration(calibration)
        doc, source = cal.content, str(calibration)
        measured = measure_points(lead, wanted, rounds=repeat, duration_s=duration_s, warmup_s=warmup_s,
                                  value_bytes=VALUE_BYTES, prefix=pre, sched=sched, say=say)
    else:  # the calibration's points and the predicted ones in the same rounds (measure_points)
        cal_points = [("put", n) for n in sorted(set(calibrate_clients))]
        measured = measure_points(lead, [*cal_points, *(k for k in wanted if k not in cal_points)], rounds=repeat,
                                  duration_s=duration_s, warmup_s=warmup_s, value_bytes=VALUE_BYTES, prefix=pre,
                                  sched=sched, say=say)
        doc = calibrate_etcd([url], clients=calibrate_clients, duration_s=duration_s, warmup_s=warmup_s,
                             repeat=repeat, command=f"kbench validate --live-etcd {url}", measured=measured,
                             sched=sched, say=say)
        source = "calibrated here, in the same rounds"
    etcd, bed = _testbed(doc, source)
    cfg = etcd_on_testbed(etcd, bed)
    cal_from = ", ".join(str(p["clients"]) for p in doc.get("points", []) if p.get("op") == "put")
    src = f"live etcd {version} at {url}, calibrated on {cal_from} clients ({source})"
    out: list[Record] = []
    for p in doc.get("points", []):
        if p.get("op") == "put" and p.get("model_throughput_per_s"):
            n = p["clients"]
            out.append(Record(f"etcd/live_fit_throughput_{n}_clients", f"puts/s at {n} clients: the fit's own "
                              "calibration point", float(p["throughput_per_s"]), float(p["model_throughput_per_s"]),
                              kind="info", source=src, unit="1/s", note="residual of the fit, not a prediction"))
    for n in clients:
        x_pred, w_pred, b_pred = predict(cfg, n)
        if say:
            say(f"put with {n} clients: predicted {x_pred:.0f}/s at {w_pred * 1e3:.2f} ms")
        point = measured[("put", n)]
        m = point.median
        busy = not point.clean or not all(q.get("clean", True) for q in doc.get("points", []))
        extra = {"foreign_cores": None if math.isnan(m.foreign_cores) else round(m.foreign_cores, 3),
                 "machine_busy": busy, "client_cpu_cores": round(m.client_cpu_cores, 3),
                 "entries_per_fsync": round(m.entries_per_fsync, 3), "predicted_entries_per_fsync": round(b_pred, 3),
                 "spin_cores": None if math.isnan(m.spin_cores) else round(m.spin_cores, 3),
                 "throughput_range_per_s": [round(min(w.throughput for w in point.windows), 1),
                                            round(max(w.throughput for w in point.windows), 1)]}
        note = (("MACHINE BUSY (other processes used the CPU in every window: not a measurement of etcd); "
                 if busy else "")
                + f"median of {len(point.windows)} windows x {m.seconds:.0f} s ({point.discarded} discarded; "
                f"{extra['throughput_range_per_s'][0]:.0f}-{extra['throughput_range_per_s'][1]:.0f}/s); "
                f"entries per fsync measured {m.entries_per_fsync:.2f}, predicted {b_pred:.2f}; client CPU "
                f"{m.client_cpu_cores:.2f} cores ({m.per_request(m.client_cpu_cores) * 1e6:.0f} us per put); foreign CPU "
                + ("-" if math.isnan(m.foreign_cores) else f"{m.foreign_cores:.2f} cores")
                + ("" if math.isnan(m.spin_cores) else f"; Go spinning {m.spin_cores:.2f} cores"))
        out.append(Record(f"etcd/live_throughput_{n}_clients", f"puts/s, {n} closed-loop clients",
                          m.throughput, x_pred, tolerance=THROUGHPUT_TOLERANCE, kind="rel", source=src,
                          unit="1/s", samples=len(point.windows), note=note, extra=extra))
        out.append(Record(f"etcd/live_latency_{n}_clients", f"mean put latency, {n} closed-loop clients",
                          m.latency_mean_s, w_pred, tolerance=LATENCY_TOLERANCE, kind="rel", source=src,
                          unit="s", samples=len(point.windows), note=note, extra=extra))
    if calibration is not None:
        try:
            out.extend(_control(lead, doc, pre, duration_s, warmup_s, src, say))
        finally:
            gateway.delete_prefix(lead, pre)
    return out


def _control(lead, doc: dict, prefix: bytes, duration_s: float, warmup_s: float, src: str,
             say: Callable[[str], None] | None) -> list[Record]:
    """The calibration's highest put point measured again, one window (module docstring)."""
    puts = [p for p in doc.get("points", []) if p.get("op") == "put" and p.get("throughput_per_s")]
    if not puts:
        return []
    cal = max(puts, key=lambda p: p["clients"])
    n, before = cal["clients"], float(cal["throughput_per_s"])
    if say:
        say(f"put with {n} clients again: is the machine still the calibrated one?")
    m = run_point(lead, n, "put", windows=1, duration_s=duration_s, warmup_s=warmup_s, prefix=prefix, say=say).median
    change = m.throughput / before - 1
    drift = abs(change) > DRIFT_LIMIT
    note = (f"{m.throughput:.0f} puts/s now, {before:.0f} at the calibration ({change:+.1%}): "
            + (f"MACHINE DRIFT (more than {DRIFT_LIMIT:.0%}: the predictions were measured on a machine that is "
               "not the calibrated one)" if drift else f"unchanged within {DRIFT_LIMIT:.0%}")
            + f"; client CPU {m.per_request(m.client_cpu_cores) * 1e6:.0f} us per put")
    return [Record(f"etcd/live_control_throughput_{n}_clients", f"puts/s at {n} clients after the predicted points, "
                   "against the calibration's", m.throughput, before, kind="info", source=src, unit="1/s",
                   samples=1, note=note, extra={"machine_drift": drift, "change": round(change, 4)})]
