"""``kbench calibrate etcd`` as a library call: measure a live etcd and write the calibration.

:func:`calibrate_etcd` probes every endpoint first (nothing is started before all answer), finds
the leader and the members, refuses a Kubernetes etcd unless allowed, measures each op at each
client count in rounds (:func:`measure_points`), deletes its keys, fits
(:mod:`kbench.calibrate.fit_etcd`) and returns the calibration document (the YAML of
:mod:`kbench.config.calibration`, with the measured points and the testbed).
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable, Sequence

from kbench.calibrate import gateway
from kbench.calibrate.dists import dist_yaml, lognormal_from_mean_p99, rel
from kbench.calibrate.fit_etcd import LiveTestbed, etcd_yaml, fit_puts, spin_per_put, testbed_yaml
from kbench.calibrate.gosched import SchedTrace
from kbench.calibrate.loadgen import LivePoint, run_point
from kbench.config.calibration import KIND, VERSION, format_duration
from kbench.errors import KbenchError

KUBERNETES_PREFIX = b"/registry/"


def connect(urls: Sequence[str], *, cacert: str | None = None, cert: str | None = None,
            key: str | None = None) -> tuple[list[gateway.Endpoint], str]:
    """Parse and probe every endpoint; return them and etcd's version.

    Raises:
        KbenchError: A bad URL or an endpoint that does not answer (one line).
    """
    if not urls:
        raise KbenchError("give at least one etcd client URL", where="--endpoints")
    eps = [gateway.endpoint(u, cacert, cert, key) for u in urls]
    versions = [gateway.probe(ep) for ep in eps]
    return eps, versions[0]


def calibrate_etcd(urls: Sequence[str], *, clients: Sequence[int] = (1, 4), ops: Sequence[str] = ("put",),
                   duration_s: float = 10.0, warmup_s: float = 2.0, repeat: int = 3, value_bytes: int = 256,
                   prefix: str = "/kbench-calibrate/", allow_kubernetes: bool = False, etcd_cores: int | None = None,
                   cacert: str | None = None, cert: str | None = None, key: str | None = None,
                   command: str = "", measured: dict[tuple[str, int], LivePoint] | None = None,
                   sched: SchedTrace | None = None, say: Callable[[str], None] | None = None) -> dict:
    """Measure a live etcd at ``clients`` and fit the etcd model (module docstring).

    Args:
        urls: Client URLs of the members.
        clients: Client counts; the fit uses the lowest and the highest.
        ops: ``put`` (required) and optionally ``range``.
        duration_s: Length of a window, seconds.
        warmup_s: Load before a point's first window, seconds.
        repeat: Windows per point, one per round of :func:`measure_points` (the median window is used).
        value_bytes: Size of each value put, bytes.
        prefix: Key prefix; every key written is deleted at the end.
        allow_kubernetes: Load an etcd that holds Kubernetes' ``/registry/`` keys anyway.
        etcd_cores: etcd's cores for a remote endpoint.
        cacert, cert, key: TLS files for https endpoints.
        command: The command line, recorded in the file.
        measured: Points already measured (:func:`measure_points`), keyed by (op, clients): fit these
            instead of measuring.
        sched: etcd's Go scheduler trace (``GODEBUG=schedtrace=50``, :mod:`kbench.calibrate.gosched`):
            the fit then leaves the runtime's idle spinning out of the CPU per put.
        say: Progress lines (stderr).

    Raises:
        KbenchError: Unreachable endpoints, a Kubernetes etcd, bad options, failed requests.
    """
    cs = sorted(set(int(c) for c in clients))
    if len(cs) < 2 or cs[0] < 1:
        raise KbenchError(f"need two client counts >= 1 (the fit uses the lowest and the highest), got {list(clients)}",
                          where="--clients")
    if "put" not in ops or not set(ops) <= {"put", "range"}:
        raise KbenchError(f"expected put or put,range, got {','.join(ops)}", where="--ops")
    if repeat < 1 or duration_s <= 0 or warmup_s < 0 or value_bytes < 1:
        raise KbenchError("--repeat, --duration and --value-bytes must be positive")
    eps, version = connect(urls, cacert=cacert, cert=cert, key=key)
    lead = gateway.leader(eps)
    members = gateway.members(lead)
    pre = prefix.encode()
    if pre.startswith(KUBERNETES_PREFIX[:-1]):
        raise KbenchError(f"the key prefix {prefix!r} is inside Kubernetes' /registry", where="--prefix")
    if not allow_kubernetes and gateway.count_keys(lead, KUBERNETES_PREFIX):
        raise KbenchError(f"etcd at {lead.url} holds Kubernetes objects (keys under /registry/): calibrating "
                          "loads it hard; pass --allow-kubernetes-etcd to do it anyway")
    if measured is None:
        points = measure_points(lead, [(op, c) for op in ("put", "range") if op in ops for c in cs], rounds=repeat,
                                duration_s=duration_s, warmup_s=warmup_s, value_bytes=value_bytes, prefix=pre,
                                sched=sched, say=say)
    else:
        points = {k: measured[k] for k in [(op, c) for op in ("put", "range") if op in ops for c in cs]}
    rtt = _peer_rtt(lead)
    fit = fit_puts(points[("put", cs[0])], points[("put", cs[-1])], members=members, loopback=lead.loopback,
                   etcd_cores=etcd_cores, rtt=rtt, say=say)
    etcd = etcd_yaml(fit["etcd"])
    fits, not_fitted = fit["fits"], fit["not_fitted"]
    if rtt is not None:
        etcd["rtt_s"] = dist_yaml(rtt)
        fits["etcd.rtt_s"] = {"method": "closed form: lognormal from mean and p99", "error_rel": None,
                              "from": f"{lead.url}/metrics: etcd_network_peer_round_trip_time_seconds, every peer"}
    if ("range", cs[0]) in points:
        w = points[("range", cs[0])].median
        if w.handling_mean_s == w.handling_mean_s:
            etcd["read_base_s"] = format_duration(w.handling_mean_s)
            fits["etcd.read_base_s"] = {"method": "closed form", "error_rel": rel(points[("range", cs[0])].spread(
                "handling_mean_s")), "from": f"range, {cs[0]} client: grpc_server_handling_seconds{{grpc_method=Range}} "
                                             "mean"}
        else:
            not_fitted["etcd.read_base_s"] = "grpc_server_handling_seconds is not exported (no --metrics extensive)"
    else:
        not_fitted["etcd.read_base_s"] = "ranges not measured (--ops put,range)"
    not_fitted.setdefault("etcd.read_per_object_s", "only one-key ranges are measured")
    check = fit["check"]
    out_points = []
    for (op, c), p in points.items():
        entry = p.to_json()
        if op == "put" and c in check:
            x, wm, b = check[c]
            entry.update(model_throughput_per_s=round(x, 1), model_latency_mean_s=float(f"{wm:.4g}"))
            if b == b:
                entry["model_entries_per_fsync"] = round(b, 3)
        out_points.append(entry)
    notes = []
    bed: LiveTestbed = fit["testbed"]
    hi = points[("put", cs[-1])].median
    if lead.loopback and (hi.busy_cores > 0.85 * bed.shared_cores or
                          hi.client_cpu_cores / cs[-1] > 0.4):
        notes.append(f"the load generator shares the bottleneck: at {cs[-1]} clients the machine was "
                     f"{hi.busy_cores:.2f} of {bed.shared_cores} cores busy, {hi.client_cpu_cores:.2f} of them the "
                     "load generator's; its CPU is in testbed:, not in scenario:")
    if spin_per_put(points[("put", cs[-1])]) is None:
        notes.append("Go's idle spinning was counted as write CPU (no scheduler trace): it is large at light load "
                     "and gone under load, so predictions under load come out slow; start etcd with "
                     "GODEBUG=schedtrace=50 and give its log with --go-schedtrace (docs/CALIBRATE.md)")
    notes.append("measured through etcd's JSON gateway: its HTTP/JSON handling (about 0.16 ms and 140 us of etcd "
                 "CPU per put on etcd 3.4.23, docs/CALIBRATE.md) is in grpc_rtt_s and write_cpu_s; the apiserver "
                 "speaks gRPC")
    return {
        "kind": KIND, "version": VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "source": {"command": command, "kind": "live-etcd", "etcd_version": version, "endpoints": [e.url for e in eps],
                   "leader": lead.url, "members": members, "protocol": "json-gateway",
                   "machine": {"cores": os.cpu_count(), "loopback": lead.loopback}},
        "scenario": {"etcd": etcd},
        "fits": fits,
        "not_fitted": not_fitted,
        "testbed": testbed_yaml(bed, lead.loopback, value_bytes),
        "points": out_points,
        "notes": notes,
    }


def measure_points(lead: gateway.Endpoint, points: Sequence[tuple[str, int]], *, rounds: int, duration_s: float,
                   warmup_s: float, value_bytes: int, prefix: bytes, sched: SchedTrace | None = None,
                   say: Callable[[str], None] | None = None) -> dict[tuple[str, int], LivePoint]:
    """Measure each (op, clients) point ``rounds`` times, one window per visit, the points in turn.

    A virtual machine's speed drifts by 10-30 % over tens of seconds with none of its own CPU
    counters showing it (docs/CALIBRATE.md): measured one after the other, a point could see a slow
    machine and the next a fast one. In rounds, every point samples the same stretch of time, and
    the median window of each is taken over all of it. The keys written are deleted at the end.
    With ``sched`` (etcd's Go scheduler trace) each window also has its spinning cores.
    """
    out = {k: LivePoint(*k) for k in points}
    try:
        for r in range(rounds):
            for op, c in points:
                if say:
                    say(f"{op} with {c} client{'s' if c > 1 else ''}, round {r + 1} of {rounds}: {warmup_s:g} s "
                        f"warm-up + {duration_s:g} s")
                got = run_point(lead, c, op, windows=1, duration_s=duration_s, warmup_s=warmup_s,
                                value_bytes=value_bytes, prefix=prefix, sched=sched, say=say)
                p = out[(op, c)]
                p.windows.extend(got.windows)
                p.discarded += got.discarded
                p.clean = p.clean and got.clean
    finally:
        gateway.delete_prefix(lead, prefix)
    return out


def _peer_rtt(ep: gateway.Endpoint):
    """The member round trip from the leader's peer RTT histogram, or None without peers."""
    scrape = gateway.scrape(ep)
    h = scrape.histogram("etcd_network_peer_round_trip_time_seconds")
    if h.count <= 0:
        return None
    return lognormal_from_mean_p99(h.mean, h.quantile(0.99))
