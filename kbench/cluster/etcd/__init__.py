"""etcd: the cluster's consistent store, written through raft and read by range.

In Kubernetes only the apiserver talks to it; every write is a raft proposal committed by a quorum
with a group-committed WAL fsync, applied to the MVCC store, and published to watchers. kbench
models the commit path, serial apply, range reads on a core pool, compaction and the quota.
"""

from kbench.cluster.etcd.records import CommitRecord, EtcdConflict, EtcdRequestTooLarge, EtcdStats
from kbench.cluster.etcd.server import Etcd

__all__ = ["CommitRecord", "Etcd", "EtcdConflict", "EtcdRequestTooLarge", "EtcdStats"]
