"""Closed-loop load on a live etcd from worker processes, measured in windows.

The packing rule (docs/CALIBRATE.md): **one process per client**, each with one keep-alive HTTP
connection and one request in flight (no think time), through etcd's v3 JSON gateway. A client
puts (or ranges) its own key, ``<prefix><run id>/c<i>``, with a fixed value. Calibration and
validation use the same rule, because the client's CPU per request depends on it (it shares the
machine with a local etcd and is part of what is measured).

A point runs its workers once: a warm-up, then consecutive windows. At each window edge the parent
scrapes etcd's ``/metrics`` (its CPU, fsyncs, proposals, server handling time) and reads the
workers' CPU from ``/proc/<pid>/stat``; for a loopback endpoint also the machine's ``/proc/stat``
(busy cores, interrupts) so that CPU used by anything else during a window (``foreign``) is known.
A window with more than :data:`FOREIGN_LIMIT_CORES` of foreign CPU is discarded and another one
measured (at most ``extra`` more). Latencies are taken per request in the workers
(``time.perf_counter``, CLOCK_MONOTONIC, comparable across processes on Linux) and a request
counts in the window its reply ends in.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
import uuid
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from kbench.calibrate.gateway import Endpoint, b64, scrape
from kbench.calibrate.gosched import SchedTrace
from kbench.calibrate.promtext import Scrape
from kbench.errors import KbenchError

FOREIGN_LIMIT_CORES = 0.12
"""A window whose CPU used by other processes exceeds this many cores is measured again."""
PACKING = "one process per client (http.client keep-alive, JSON gateway)"
_CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Window:
    """One measured window of a point.

    Attributes:
        seconds: Its length, seconds.
        requests: Replies that ended in it.
        throughput: Requests per second.
        latency_mean_s, latency_p50_s, latency_p99_s: Client-side latency, seconds.
        client_cpu_cores: CPU of the load generator's workers, cores.
        etcd_cpu_cores: etcd's ``process_cpu_seconds_total`` over the window, cores.
        busy_cores, irq_cores, foreign_cores: The machine (loopback endpoints only, else NaN):
            busy cores, interrupt handling, CPU used by neither etcd nor the load generator.
        fsyncs, fsync_mean_s, fsync_p99_s: WAL fsyncs (``etcd_disk_wal_fsync_duration_seconds``).
        proposals: ``etcd_server_proposals_committed_total`` over the window.
        handling_mean_s: ``grpc_server_handling_seconds`` mean of the op's method (NaN without
            ``--metrics extensive``).
        backend_commit_mean_s: ``etcd_disk_backend_commit_duration_seconds`` mean (off the write
            path, B17; recorded only).
        errors: Failed requests.
        spin_cores: etcd's Go runtime spinning for work over the window, cores (its scheduler
            trace, :mod:`kbench.calibrate.gosched`; NaN without one). Part of ``etcd_cpu_cores``.
    """

    seconds: float
    requests: int
    throughput: float
    latency_mean_s: float
    latency_p50_s: float
    latency_p99_s: float
    client_cpu_cores: float
    etcd_cpu_cores: float
    busy_cores: float
    irq_cores: float
    foreign_cores: float
    fsyncs: float
    fsync_mean_s: float
    fsync_p99_s: float
    proposals: float
    handling_mean_s: float
    backend_commit_mean_s: float
    errors: int = 0
    spin_cores: float = math.nan

    @property
    def entries_per_fsync(self) -> float:
        """Proposals committed per WAL fsync (the raft batch size)."""
        return self.proposals / self.fsyncs if self.fsyncs > 0 else math.nan

    def per_request(self, cores: float) -> float:
        """CPU ``cores`` over the window as seconds per request."""
        return cores / self.throughput if self.throughput > 0 else math.nan


@dataclass
class LivePoint:
    """A point (one op at one client count): its windows and which of them were kept.

    Attributes:
        op: ``put`` or ``range``.
        clients: Concurrent clients (= worker processes).
        windows: The kept windows.
        discarded: Windows discarded for foreign CPU.
        clean: False when no window was free of foreign CPU (all were kept: the point measured a
            busy machine, not etcd).
    """

    op: str
    clients: int
    windows: list[Window] = field(default_factory=list)
    discarded: int = 0
    clean: bool = True

    @property
    def median(self) -> Window:
        """The kept window of median throughput (a consistent set of figures, not per-field medians)."""
        ranked = sorted(self.windows, key=lambda w: w.throughput)
        return ranked[(len(ranked) - 1) // 2]

    def spread(self, attr: str) -> float:
        """Relative standard error of the mean of ``attr`` over the kept windows (0 with one)."""
        vals = [getattr(w, attr) if not callable(getattr(w, attr)) else getattr(w, attr)() for w in self.windows]
        vals = [v for v in vals if v == v]
        if len(vals) < 2:
            return 0.0
        mean = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
        return sd / math.sqrt(len(vals)) / abs(mean) if mean else 0.0

    def to_json(self) -> dict:
        """The point as the calibration file's ``points`` entry: the median window and the spread."""
        m = self.median
        return {"op": self.op, "clients": self.clients, "windows": len(self.windows), "discarded": self.discarded,
                "clean": self.clean,
                "throughput_per_s": round(m.throughput, 1),
                "throughput_range_per_s": [round(min(w.throughput for w in self.windows), 1),
                                           round(max(w.throughput for w in self.windows), 1)],
                **{k: _round(v) for k, v in asdict(m).items() if k not in ("throughput", "requests")},
                "requests": m.requests, "entries_per_fsync": _round(m.entries_per_fsync)}


def _round(v: float) -> float | None:
    if isinstance(v, int):
        return v
    if v != v:
        return None
    return float(f"{v:.4g}")


# ------------------------------------------------------------------------------------ workers

def _worker(host: str, port: int, tls: bool, path: str, body: bytes, setup: bytes | None,
            ready, stop, results) -> None:
    """One client: a keep-alive connection, one request in flight, until ``stop`` is set."""
    import gc
    import http.client
    import ssl

    # A forked worker inherits its parent's heap (a test session's can be GBs): collections that walked it
    # would copy its pages and charge that CPU to the client per request.
    gc.freeze()
    if tls:
        conn = http.client.HTTPSConnection(host, port, timeout=30, context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Content-Type": "application/json"}
    errors = 0
    try:
        if setup is not None:  # a range needs its key to exist
            conn.request("POST", "/v3/kv/put", setup, headers)
            conn.getresponse().read()
        conn.request("POST", path, body, headers)  # connect
        conn.getresponse().read()
    except OSError:
        errors += 1
    ends, lats = array("d"), array("d")
    clock = time.perf_counter
    ready.wait()
    while not stop.value:
        t = clock()
        try:
            conn.request("POST", path, body, headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors += 1
                continue
        except (OSError, http.client.HTTPException):
            errors += 1
            time.sleep(0.01)
            conn.close()
            continue
        e = clock()
        ends.append(e)
        lats.append(e - t)
    results.put((os.getpid(), ends.tobytes(), lats.tobytes(), errors))


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / _CLK
    except (OSError, IndexError, ValueError):
        return math.nan


def _machine() -> tuple[float, float, float]:
    """(all jiffies, idle + iowait, irq + softirq) of every core, as seconds."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return math.nan, math.nan, math.nan
    return sum(v[:8]) / _CLK, (v[3] + v[4]) / _CLK, (v[5] + v[6]) / _CLK


@dataclass
class _Edge:
    t: float
    metrics: Scrape
    workers: float
    parent: float
    machine: tuple[float, float, float]


def _edge(ep: Endpoint, pids: list[int]) -> _Edge:
    metrics = scrape(ep)
    t = time.perf_counter()
    parent = sum(os.times()[:2])
    return _Edge(t, metrics, sum(_proc_cpu(p) for p in pids), parent, _machine())


def _window(a: _Edge, b: _Edge, lats: list[float], op: str, loopback: bool, errors: int) -> Window:
    span = b.t - a.t
    n = len(lats)
    lats.sort()
    ma, mb = a.metrics, b.metrics
    fsync = mb.histogram("etcd_disk_wal_fsync_duration_seconds").minus(ma.histogram("etcd_disk_wal_fsync_duration_seconds"))
    method = "Put" if op == "put" else "Range"
    hand = mb.histogram("grpc_server_handling_seconds", grpc_method=method).minus(
        ma.histogram("grpc_server_handling_seconds", grpc_method=method))
    commit = mb.histogram("etcd_disk_backend_commit_duration_seconds").minus(
        ma.histogram("etcd_disk_backend_commit_duration_seconds"))
    etcd = (mb.total("process_cpu_seconds_total") - ma.total("process_cpu_seconds_total")) / span
    clients = (b.workers - a.workers) / span
    busy = irq = foreign = math.nan
    if loopback:
        total = b.machine[0] - a.machine[0]
        if total > 0:
            cores = os.cpu_count() or 1
            busy = (total - (b.machine[1] - a.machine[1])) / total * cores
            irq = (b.machine[2] - a.machine[2]) / total * cores
            foreign = max(0.0, busy - etcd - clients - irq - (b.parent - a.parent) / span)
    return Window(span, n, n / span, sum(lats) / n if n else math.nan, _pct(lats, 0.5), _pct(lats, 0.99),
                  clients, etcd, busy, irq, foreign, fsync.count, fsync.mean, fsync.quantile(0.99),
                  mb.total("etcd_server_proposals_committed_total") - ma.total("etcd_server_proposals_committed_total"),
                  hand.mean, commit.mean, errors)


def _pct(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return math.nan
    i = min(len(sorted_vals) - 1, max(0, math.ceil(q * len(sorted_vals)) - 1))
    return sorted_vals[i]


def run_point(ep: Endpoint, clients: int, op: str = "put", *, windows: int = 3, duration_s: float = 10.0,
              warmup_s: float = 2.0, value_bytes: int = 256, prefix: bytes = b"/kbench-calibrate/",
              extra: int = 3, sched: SchedTrace | None = None, say: Callable[[str], None] | None = None) -> LivePoint:
    """Measure one point: ``clients`` closed-loop clients doing ``op`` for ``windows`` windows.

    Args:
        ep: The endpoint to load (the leader).
        clients: Worker processes, one client each.
        op: ``put`` or ``range`` (linearizable, of the client's own key).
        windows: Windows to keep.
        duration_s: Length of a window, seconds.
        warmup_s: Load before the first window, seconds.
        value_bytes: Size of the value put, bytes.
        prefix: Key prefix (a run id and the client number follow).
        extra: Windows that may be added to replace ones discarded for foreign CPU.
        sched: etcd's Go scheduler trace, for each window's spinning (``Window.spin_cores``).
        say: Progress lines (stderr).

    Raises:
        KbenchError: Every request failed (etcd went away or refuses the writes).
    """
    run_id = uuid.uuid4().hex[:8].encode()
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    ready = ctx.Barrier(clients + 1)
    stop = ctx.RawValue("b", 0)
    results = ctx.Queue()
    value = b"v" * value_bytes
    procs = []
    for i in range(clients):
        key = prefix + run_id + b"/c%d" % i
        put = json.dumps({"key": b64(key), "value": b64(value)}).encode()
        if op == "put":
            path, body, setup = "/v3/kv/put", put, None
        else:
            path, body, setup = "/v3/kv/range", json.dumps({"key": b64(key)}).encode(), put
        p = ctx.Process(target=_worker, args=(ep.host, ep.port, ep.tls is not None, path, body, setup,
                                              ready, stop, results), daemon=True)
        p.start()
        procs.append(p)
    pids = [p.pid for p in procs]
    point = LivePoint(op, clients)
    try:
        ready.wait(timeout=60)
        time.sleep(warmup_s)
        edges = [_edge(ep, pids)]
        kept: list[tuple[int, bool]] = []
        while sum(k for _, k in kept) < windows and len(kept) < windows + extra:
            time.sleep(duration_s)
            edges.append(_edge(ep, pids))
            kept.append((len(edges) - 2, True))
            if ep.loopback:  # screen foreign CPU now, so that a bad window is replaced at once
                w = _window(edges[-2], edges[-1], [], op, True, 0)
                if w.foreign_cores > FOREIGN_LIMIT_CORES:
                    kept[-1] = (kept[-1][0], False)
                    if say:
                        say(f"  window {len(kept)}: {w.foreign_cores:.2f} cores used by other processes, "
                            "measuring another")
    finally:
        stop.value = 1
        gathered = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(timeout=10)
    ends = array("d")
    lats = array("d")
    errors = 0
    for _pid, e, lat, err in gathered:
        ends.frombytes(e)
        lats.frombytes(lat)
        errors += err
    if not ends:
        raise KbenchError(f"no {op} request to {ep.url} succeeded with {clients} clients ({errors} failed)")
    order = sorted(range(len(ends)), key=ends.__getitem__)
    ends_sorted = [ends[i] for i in order]
    lats_sorted = [lats[i] for i in order]
    measured = []
    for idx, keep in kept:
        a, b = edges[idx], edges[idx + 1]
        lo, hi = bisect_left(ends_sorted, a.t), bisect_left(ends_sorted, b.t)
        w = _window(a, b, lats_sorted[lo:hi], op, ep.loopback, errors)
        if sched is not None:
            w.spin_cores = sched.spinning(a.t, b.t)
        measured.append((w, keep))
    point.windows = [w for w, keep in measured if keep]
    point.discarded = len(measured) - len(point.windows)
    if not point.windows:  # never quiet: keep them all, and say so
        point.windows = [w for w, _ in measured]
        point.clean = False
    return point
