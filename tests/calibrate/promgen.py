"""Prometheus text dumps generated from known parameters, for the round-trip tests of
``kbench calibrate metrics`` (not a test module).

The dumps use the upstream names and labels that ``kbench run --metrics`` writes (issue 19's
exporter, kbench/metrics/prometheus.py on its branch: ``apiserver_request_sli_duration_seconds``
with verb, group, version, resource, subresource, scope, component; ``etcd_request_duration_seconds``
with operation, group, resource; ``scheduler_scheduling_attempt_duration_seconds`` with result,
profile; upstream bucket bounds) plus the families a real control plane has and the fits read:
etcd's ``etcd_disk_wal_fsync_duration_seconds``, ``etcd_network_peer_round_trip_time_seconds``,
``process_cpu_seconds_total``, ``grpc_server_handled_total`` and ``grpc_server_handling_seconds``;
the apiserver's ``apiserver_response_sizes``, ``apiserver_storage_objects``,
``apiserver_flowcontrol_nominal_limit_seats`` and webhook durations; the scheduler's
``scheduler_framework_extension_point_duration_seconds``. Latency means are exactly what the model's
cost structure gives at low utilisation (docs/CALIBRATE.md), so every fitted mean can be checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kbench.dist import Dist
from kbench.policy.framework import num_feasible_nodes_to_find

API_BOUNDS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0,
              20.0, 30.0, 45.0, 60.0)
SLI_BOUNDS = API_BOUNDS[2:]
FSYNC_BOUNDS = tuple(0.001 * 2**i for i in range(14))  # etcd 3.4 wal: ExponentialBuckets(0.001, 2, 14)
RTT_BOUNDS = tuple(0.0001 * 2**i for i in range(16))  # etcd peer RTT: ExponentialBuckets(0.0001, 2, 16)
SCHED_BOUNDS = tuple(0.001 * 2**i for i in range(15))
EXT_BOUNDS = tuple(0.0001 * 2**i for i in range(12))
SIZE_BOUNDS = tuple(100 * 10**i for i in range(8))
NETWORK_BYTES_PER_S = 1.25e9  # ApiserverConfig's default (kbench default)
LIST_ETCD_CPU_S_PER_OBJECT = 26e-6  # ApiserverConfig's default (I7)


@dataclass
class Known:
    """The parameters the dumps are made from (seconds; bytes)."""

    fsync: Dist = field(default_factory=lambda: Dist.lognormal(0.8e-3, 4e-3))
    rtt: Dist = field(default_factory=lambda: Dist.lognormal(0.5e-3, 2e-3))
    peers: int = 2
    grpc_mean: float = 0.4e-3
    server_side: float = 1.6e-3  # etcd's Txn handling mean
    write_cpu: float = 90e-6
    batch_cpu: float = 250e-6
    read_cpu: float = 60e-6
    base: float = 450e-6
    admission: float = 250e-6
    list_cache: float = 3e-6
    encode: float = 4e-9
    webhook: Dist = field(default_factory=lambda: Dist.lognormal(5e-3, 30e-3))
    seats: int = 800
    cycle_base: float = 1.1e-3
    filter_node: float = 3e-6
    score_node: float = 5e-6
    bind: float = 2e-3
    nodes: int = 1000


def _lab(labels: dict) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""


def histogram(name: str, bounds, samples=None, *, mean: float | None = None, count: int = 0,
              labels: dict | None = None, help_type: bool = True) -> list[str]:
    """A histogram from samples, or ``count`` observations all at ``mean``."""
    labels = labels or {}
    if samples is not None:
        values = np.asarray(samples, dtype=float)
    else:
        values = np.full(count, mean)
    cum = [int(np.count_nonzero(values <= b)) for b in bounds]
    out = [f"# TYPE {name} histogram"] if help_type else []
    out += [f"{name}_bucket{_lab({**labels, 'le': repr(float(b))})} {c}" for b, c in zip(bounds, cum, strict=True)]
    out += [f"{name}_bucket{_lab({**labels, 'le': '+Inf'})} {len(values)}",
            f"{name}_sum{_lab(labels)} {float(values.sum())!r}", f"{name}_count{_lab(labels)} {len(values)}"]
    return out


def etcd_dumps(k: Known, mixes: list[tuple[int, int, int]], seed: int = 1) -> list[str]:
    """One etcd dump per cumulative point of ``mixes``: (writes, fsyncs, reads) added by each window."""
    rng = np.random.default_rng(seed)
    fs = k.fsync.sample(rng, 40_000)
    rtts = {f"peer{i}": k.rtt.sample(rng, 1000 * (len(mixes) + 1)) for i in range(k.peers)}
    dumps = []
    writes, fsyncs, reads = 10_000, 4_000, 3_000  # since the process started
    cpu = 3.0
    for i, (w, f, r) in enumerate([(0, 0, 0), *mixes]):
        writes, fsyncs, reads = writes + w, fsyncs + f, reads + r
        cpu += w * k.write_cpu + f * k.batch_cpu + r * k.read_cpu
        lines = ["# TYPE etcd_server_has_leader gauge", "etcd_server_has_leader 1",
                 "# TYPE process_cpu_seconds_total counter", f"process_cpu_seconds_total {cpu!r}",
                 "# TYPE grpc_server_handled_total counter",
                 f'grpc_server_handled_total{{grpc_code="OK",grpc_method="Txn",grpc_service="etcdserverpb.KV",'
                 f'grpc_type="unary"}} {writes}',
                 f'grpc_server_handled_total{{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",'
                 f'grpc_type="unary"}} {reads}']
        lines += histogram("etcd_disk_wal_fsync_duration_seconds", FSYNC_BOUNDS, fs[:fsyncs])
        lines += histogram("grpc_server_handling_seconds", FSYNC_BOUNDS, mean=k.server_side, count=max(writes, 1),
                           labels={"grpc_method": "Txn", "grpc_service": "etcdserverpb.KV", "grpc_type": "unary"})
        lines.append("# TYPE etcd_network_peer_round_trip_time_seconds histogram")
        for peer, v in rtts.items():
            lines += histogram("etcd_network_peer_round_trip_time_seconds", RTT_BOUNDS, v[: 1000 * (i + 1)],
                               labels={"To": peer}, help_type=False)
        dumps.append("\n".join(lines) + "\n")
    return dumps


CELLS = [  # verb, resource, group, scope, requests, response bytes, objects (LIST), etcd op or None
    ("GET", "pods", "", "resource", 4000, 3_000, 1, None),
    ("LIST", "pods", "", "cluster", 300, 6_000_000, 2000, None),
    ("LIST", "nodes", "", "cluster", 200, 2_500_000, 1000, None),
    ("GET", "leases", "coordination.k8s.io", "resource", 2000, 400, 1, None),
    ("POST", "pods", "", "resource", 2500, 3_000, 1, "create"),
    ("PUT", "leases", "coordination.k8s.io", "resource", 6000, 400, 1, "update"),
    ("PATCH", "nodes", "", "resource", 1000, 4_096, 1, "update"),
    ("DELETE", "pods", "", "resource", 500, 3_000, 1, "delete"),
]


def apiserver_dump(k: Known, cells=CELLS, webhooks: bool = True, bind: bool = False, seed: int = 2) -> str:
    """The apiserver's dump: SLI means from the handler cost structure, etcd as seen from it, APF."""
    rng = np.random.default_rng(seed)
    write_mean = k.grpc_mean + k.server_side
    objects = {"pods": 2000, "nodes": k.nodes, "leases.coordination.k8s.io": k.nodes}
    lines = ["# TYPE apiserver_request_sli_duration_seconds histogram",
             "# TYPE apiserver_response_sizes histogram", "# TYPE etcd_request_duration_seconds histogram",
             "# TYPE apiserver_storage_objects gauge"]
    etcd_ops: dict[tuple[str, str, str], int] = {}
    for verb, res, group, scope, n, size, objs, op in cells:
        mutating = op is not None
        mean = k.base + size * k.encode + size / NETWORK_BYTES_PER_S
        if mutating:
            mean += k.admission + write_mean
            etcd_ops[(op, group, res)] = etcd_ops.get((op, group, res), 0) + n
        else:
            mean += k.list_cache * objs
        labels = {"verb": verb, "group": group, "version": "v1", "resource": res, "subresource": "", "scope": scope,
                  "component": "apiserver"}
        lines += histogram("apiserver_request_sli_duration_seconds", SLI_BOUNDS, mean=mean, count=n, labels=labels,
                           help_type=False)
        if not mutating:  # upstream observes response sizes of GET and LIST only
            lines += histogram("apiserver_response_sizes", SIZE_BOUNDS, mean=size, count=n, labels=labels,
                               help_type=False)
    if bind:  # the scheduler's bindings (a subresource: not a handler-cost cell)
        lines += histogram("apiserver_request_sli_duration_seconds", SLI_BOUNDS, mean=k.bind, count=3000,
                           labels={"verb": "POST", "group": "", "version": "v1", "resource": "pods",
                                   "subresource": "binding", "scope": "resource", "component": "apiserver"},
                           help_type=False)
    for (op, group, res), n in sorted(etcd_ops.items()):
        lines += histogram("etcd_request_duration_seconds", API_BOUNDS, mean=write_mean, count=n,
                           labels={"operation": op, "group": group, "resource": res}, help_type=False)
    for res, n in objects.items():
        lines.append(f'apiserver_storage_objects{{resource="{res}"}} {n}')
    lines.append("# TYPE apiserver_flowcontrol_nominal_limit_seats gauge")
    shares = {"system": 30, "node-high": 40, "leader-election": 10, "workload-high": 40, "workload-low": 100,
              "global-default": 20, "catch-all": 5}
    total = sum(shares.values())
    for level, sh in shares.items():
        lines.append(f'apiserver_flowcontrol_nominal_limit_seats{{priority_level="{level}"}} '
                     f'{math.ceil(k.seats * sh / total)}')
    lines.append('apiserver_flowcontrol_nominal_limit_seats{priority_level="exempt"} 0')
    if webhooks:
        lines += histogram("apiserver_admission_webhook_admission_duration_seconds", API_BOUNDS,
                           k.webhook.sample(rng, 20_000), labels={"name": "hook.example.com", "operation": "CREATE",
                                                                  "rejected": "false", "type": "validating"})
    return "\n".join(lines) + "\n"


def scheduler_dump(k: Known, extension_points: bool = True) -> str:
    """The scheduler's dump: attempts = cycle + bind, and Filter/Score/Bind extension points."""
    evaluated = num_feasible_nodes_to_find(k.nodes)
    filt, score = k.filter_node * evaluated, k.score_node * evaluated
    attempt = k.cycle_base + filt + score + k.bind
    lines = histogram("scheduler_scheduling_attempt_duration_seconds", SCHED_BOUNDS, mean=attempt, count=3000,
                      labels={"result": "scheduled", "profile": "default-scheduler"})
    if extension_points:
        lines.append("# TYPE scheduler_framework_extension_point_duration_seconds histogram")
        for point, mean in (("Filter", filt), ("Score", score), ("Bind", k.bind)):
            lines += histogram("scheduler_framework_extension_point_duration_seconds", EXT_BOUNDS, mean=mean,
                               count=3000, labels={"extension_point": point, "status": "Success",
                                                   "profile": "default-scheduler"}, help_type=False)
    return "\n".join(lines) + "\n"
