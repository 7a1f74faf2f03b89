"""etcd write path against etcd's own benchmark (CALIBRATION B4), and Little's law on proposals.

Closed-loop clients each keep one 256-byte write in flight (B4's setup). Throughput and mean latency
come from :meth:`Etcd.snapshot` differences over a window after a warm-up; the in-flight integral
(``write_inflight_area``) is the model's own occupancy of the proposal pipeline, so L = X·W
checks that the pipeline neither loses nor invents work.
"""

from __future__ import annotations

import simpy

from kbench.cluster.etcd.server import Etcd
from kbench.config import EtcdConfig
from kbench.rng import SeedTree
from kbench.validate.record import Record

VALUE_BYTES = 256  # B4/B5: 8-byte keys, 256-byte values


def closed_loop(clients: int, warmup_s: float, window_s: float, *, kind: str = "write",
                linearizable: bool = True, seed: int = 7) -> tuple[float, float, float]:
    """Run ``clients`` closed-loop clients (each issues the next request when the last returns).

    Args:
        kind: ``write`` (updates of the client's own key) or ``read`` (one-object range reads).
        linearizable: For reads: linearizable (through raft) or serializable.

    Returns:
        (throughput requests/s, mean latency s, mean requests in flight), over the window after warm-up.
    """
    env = simpy.Environment()
    etcd = Etcd(env, EtcdConfig(), SeedTree(seed).stream("etcd"))
    etcd.start()

    def client(i: int):
        key = f"k{i}"
        yield etcd.write("bench", key, "create", VALUE_BYTES)
        while True:
            if kind == "write":
                yield etcd.write("bench", key, "update", VALUE_BYTES)
            else:
                yield etcd.read("bench", objects_scanned=1, bytes_returned=VALUE_BYTES,
                                linearizable=linearizable)

    for i in range(clients):
        env.process(client(i))
    env.run(until=warmup_s)
    a = etcd.snapshot()
    env.run(until=warmup_s + window_s)
    b = etcd.snapshot()
    if kind == "write":
        n, lat, area = b.writes - a.writes, b.write_latency_sum_s - a.write_latency_sum_s, \
            b.write_inflight_area - a.write_inflight_area
    else:
        n, lat, area = b.reads - a.reads, b.read_latency_sum_s - a.read_latency_sum_s, \
            b.read_inflight_area - a.read_inflight_area
    return n / window_s, lat / n, area / window_s


def check_etcd(quick: bool = True) -> list[Record]:
    """B4 one-client and 1000-client write throughput and latency, the latency growth, Little's law."""
    window = 1.0 if quick else 3.0
    x1, w1, l1 = closed_loop(1, 0.1, 5.0 if not quick else 2.0)
    xk, wk, lk = closed_loop(1000, 0.3, window)
    src = "CALIBRATION B4 (etcd benchmark, 3 members, SSD)"
    out = [
        Record("etcd/write_rate_1_client", "writes/s, 1 closed-loop client", 583.0, x1, tolerance=2.0,
               kind="factor", source=src, unit="1/s"),
        Record("etcd/write_latency_1_client", "mean write latency, 1 client", 1.6e-3, w1, tolerance=2.0,
               kind="factor", source=src, unit="s"),
        Record("etcd/write_rate_1000_clients", "writes/s, 1000 closed-loop clients", 44_341.0, xk,
               tolerance=2.0, kind="factor", source=src, unit="1/s", note=f"{window} s window"),
        Record("etcd/write_latency_1000_clients", "mean write latency, 1000 clients", 22e-3, wk, tolerance=2.0,
               kind="factor", source=src, unit="s"),
        Record("etcd/latency_shape", "latency at 1000 clients / latency at 1 client (batching, queueing)",
               22e-3 / 1.6e-3, wk / w1, tolerance=2.0, kind="factor", source=src, unit="ratio"),
    ]
    for name, x, w, lq in (("1", x1, w1, l1), ("1000", xk, wk, lk)):
        out.append(Record(f"little/etcd_proposals_{name}", f"etcd writes in flight / (X x W) - 1, {name} clients",
                          0.0, lq / (x * w) - 1, tolerance=0.02, kind="rel",
                          source="theory: Little's law L = lambda W", unit="ratio-1",
                          note="in-flight integral kept by the etcd model"))
    return out
