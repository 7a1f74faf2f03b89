"""etcd settings (section ``etcd:`` of a scenario).

Each default names its source fact id (``# B4``) from CALIBRATION.md section B, or says
"kbench default" where the calibration has no entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from kbench.dist import Dist
from kbench.errors import ConfigError

# ----------------------------------------------------------------------------------------- etcd


@dataclass(frozen=True)
class EtcdConfig:
    """etcd: raft commit with group-committed fsync, MVCC reads, compaction, quota.

    Attributes:
        members: Cluster members (3 in B3/B4).
        rtt_s: Member-to-member round trip, seconds (B19: ~300 us).
        grpc_rtt_s: Client (apiserver) to leader gRPC round trip, seconds (B19: ~300 us).
        fsync_s: WAL fdatasync of one batch, seconds (B19: ~600 us; B1: p99 < 10 ms).
        apply_per_entry_s: Serial per-entry raft/apply/MVCC cost on the leader, seconds. Sets the
            saturated write throughput: 1/22.5 us ~ 44k writes/s (B4, B6).
        max_batch_entries: Most proposals committed by one fsync (kbench default; B16 bounds a
            batch at 1 MiB per append message).
        read_base_s: Fixed CPU per range read, seconds (B5: 1-client serializable read 0.3 ms
            including RTT; 8 cores / 185k reads/s ~ 43 us of CPU each).
        read_per_object_s: CPU per key read by a range, seconds (I22: 7.97 us, fitted with
            ``read_per_byte_s`` on I6's 1 KB and 1 MB etcd rows; I7's 13 us per 1 KB object is
            both together).
        read_per_byte_s: CPU per byte read, seconds (I22: 5.17 ns/B, I6's 1 MB objects).
        index_walk_s_per_key: CPU per index entry a limited range walks to count the rest of the
            range (``treeIndex.Revisions``), seconds (I22: 0.167 us, I6's cache-path etcd CPU).
        gc_parallel_fraction: Share of the per-byte read CPU done by Go's concurrent GC workers
            (charged to a core, not on the request's path) (I22: 0.74, fitted on I6's 1 MB LIST
            latency).
        max_range_keys: Largest range the apiserver's store asks for when it doubles the limit of
            a selector LIST (I27: maxLimit 10,000, value unverified).
        network_bytes_per_s: etcd to apiserver bandwidth for range replies, bytes/s (kbench
            default 1.25 GB/s = 10 Gbit/s).
        apply_per_byte_s: Apply (MVCC + bbolt) CPU per byte of a stored value, seconds (kbench
            default 2 ns/B: B4's 22.5 us per entry was measured with 256-byte values).
        wal_bytes_per_s: WAL write bandwidth added to a batch's fsync, bytes/s (kbench default
            200 MB/s, a sequential SSD write).
        compaction_batch_keys: Revisions a compaction removes per batch (B10, I25: 1000).
        compaction_batch_sleep_s: Pause between compaction batches, seconds (I25: 10 ms).
        compact_per_key_s: CPU per revision compacted, holding the backend's write transaction
            (applies wait behind it, B6), seconds (kbench default 5 us).
        cores: etcd's CPU cores, shared by reads, write CPU and the raft loop (B4's VMs have 8
            vCPU).
        compaction_interval_s: apiserver-driven compaction period, seconds (A24, B11).
        quota_bytes: Backend quota; writes fail above it (B8: 2 GiB).
        election_timeout_s: Writes stall this long during a leader election (B9: 1 s).
        max_request_bytes: Largest request etcd accepts (B7: 1.5 MiB).
        write_cpu_s: CPU of one write request (gRPC, auth, MVCC put, proposal) sharing ``cores``,
            seconds; a busy pool delays the proposal (kbench default 75 us: etcd 3.4.23's CPU per
            put over gRPC measured in docs/CALIBRATE.md, below B4's bound of 8 cores / 44,341
            writes/s = 180 us).
        batch_cpu_s: CPU of the raft loop per batch (Ready handling, WAL encoding, fsync syscall,
            peer sends) on the commit path, shared with the booked CPU, seconds (B4, B19: 220 us
            makes the 1-client write 1.6 ms; 0 with ``write_cpu_s`` 0 is the pre-issue-20 model).
    """

    members: int = 3  # B3
    rtt_s: Dist = Dist.lognormal(300e-6, 1e-3)  # B19
    grpc_rtt_s: Dist = Dist.lognormal(300e-6, 1e-3)  # B19
    fsync_s: Dist = Dist.lognormal(600e-6, 3e-3)  # B19, B1
    apply_per_entry_s: float = 22.5e-6  # B4 (1/44,341 writes/s), B6
    max_batch_entries: int = 10_000  # kbench default (B17's batch limit)
    read_base_s: float = 43e-6  # B5
    read_per_object_s: float = 7.97e-6  # I22 (fit on I6)
    read_per_byte_s: float = 5.17e-9  # I22 (fit on I6)
    index_walk_s_per_key: float = 0.167e-6  # I22 (fit on I6)
    gc_parallel_fraction: float = 0.74  # I22 (fit on I6)
    max_range_keys: int = 10_000  # I27 (value unverified)
    network_bytes_per_s: float = 1.25e9  # kbench default
    apply_per_byte_s: float = 2e-9  # kbench default
    wal_bytes_per_s: float = 2e8  # kbench default
    compaction_batch_keys: int = 1000  # B10, I25
    compaction_batch_sleep_s: float = 0.010  # I25
    compact_per_key_s: float = 5e-6  # kbench default
    cores: int = 8  # B4 setup (8 vCPU)
    compaction_interval_s: float = 300.0  # A24
    quota_bytes: float = 2 * 2**30  # B8
    election_timeout_s: float = 1.0  # B9
    max_request_bytes: float = 1.5 * 2**20  # B7
    write_cpu_s: float = 75e-6  # kbench default (measured, docs/CALIBRATE.md)
    batch_cpu_s: float = 220e-6  # B4, B19 (1-client latency)

    def __post_init__(self) -> None:
        if self.members < 1:
            raise ConfigError("must be >= 1", where="etcd.members")
        if self.cores < 1:
            raise ConfigError("must be >= 1", where="etcd.cores")
        if self.max_batch_entries < 1:
            raise ConfigError("must be >= 1", where="etcd.max_batch_entries")
        if not 0.0 <= self.gc_parallel_fraction < 1.0:
            raise ConfigError("must be in [0, 1)", where="etcd.gc_parallel_fraction")
        for name in ("network_bytes_per_s", "wal_bytes_per_s", "max_range_keys", "compaction_batch_keys"):
            if getattr(self, name) <= 0:
                raise ConfigError("must be > 0", where=f"etcd.{name}")
