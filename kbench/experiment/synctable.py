"""The rows of ``kbench sync``'s table (``-o table`` and ``-o markdown``): no heavy imports, so the
CLI starts without pandas."""

from __future__ import annotations

ROWS = [
    ("LIST /s", ("apiserver", "requests_per_s", "list")),
    ("  LISTs/s (a paginated LIST = 1)", ("lists_logical_per_s",)),
    ("WATCH /s", ("apiserver", "requests_per_s", "watch")),
    ("apiserver MB/s (egress)", ("apiserver", "egress_bytes_per_s"), 1e-6),
    ("  watch events MB/s", ("apiserver", "egress_bytes_by_kind", "watch"), 1e-6),
    ("  saved by gzip MB/s", ("apiserver", "gzip_saved_bytes_per_s"), 1e-6),
    ("ingress MB/s", ("apiserver", "ingress_bytes_per_s"), 1e-6),
    ("apiserver cores", ("apiserver", "cpu_cores")),
    ("apiserver CPU-s", ("apiserver", "cpu_s")),
    ("  of which gzip CPU-s", ("apiserver", "cpu_s_by_kind", "gzip")),
    ("etcd cores", ("etcd", "cpu_cores")),
    ("etcd keys/s", ("etcd", "range_keys_per_s")),
    ("etcd reads /s", ("etcd", "reads_per_s")),
    ("etcd writes /s", ("etcd", "writes_per_s")),
    ("peak memory MB", ("apiserver", "memory_peak_bytes"), 1e-6),
    ("429s", ("apiserver", "rejected_429")),
    ("terminated watchers", ("apiserver", "terminated_watchers")),
    ("staleness mean s", ("staleness_s", "mean")),
    ("staleness p50 s", ("staleness_s", "p50")),
    ("staleness p99 s", ("staleness_s", "p99")),
    ("staleness max s", ("staleness_s", "max")),
    ("LIST p50 s", ("latency_s", "list", "p50")),
    ("LIST p99 s", ("latency_s", "list", "p99")),
    ("relists", ("relists",)),
    ("wall s", ("wall_s",)),
]
"""The rows of the table (``-o table`` and ``-o markdown``): label, path, scale."""


def row_value(summary: dict, path: tuple[str, ...], scale: float = 1.0):
    """The value at ``path`` (scaled), or None."""
    obj = summary
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj * scale if isinstance(obj, int | float) and scale != 1.0 else obj


def column_name(summary: dict) -> str:
    """A run's column header: the strategy and its swept values."""
    swept = summary.get("swept") or {}
    return " ".join([str(summary.get("strategy"))] + [f"{k}={v:g}" for k, v in swept.items()])
