"""kbench's native trace format: the normalized tables as Parquet or CSV files.

Every other format converts to this one (``kbench workload convert FILE -o OUT``). A native file
holds exactly one table with exactly its columns (any order), named and typed as in
docs/TRACE_CONTRACT.md and :mod:`kbench.workload.traces.common`:

* pods: ``name, arrival_s, deletion_s, duration_s, cpu_milli, memory_bytes, gpu_count, gpu_milli,
  gpu_model, priority, qos, owner, app, max_per_node, phase``;
* nodes: ``name, cpu_milli, memory_bytes, gpu_count, gpu_model``;
* requests: ``time_s, verb, resource, namespace, name, user, user_agent, client, code``.

Units are in the names (seconds, millicores, bytes, thousandths of a GPU). In CSV an empty field
is NaN for the float columns (``arrival_s`` empty = present before the window) and "" for text;
the file is comma-separated with a header line and standard CSV quoting. The table is told by its
columns. :func:`write_native` writes the pods table to the given path and the nodes and requests
tables, when the trace has them, beside it as ``<stem>.nodes<suffix>`` and
``<stem>.requests<suffix>`` (a trace with nodes only is written to the path itself); reading a
pods file picks those companions up again. A Parquet file also records, in its schema metadata
key ``kbench.native``, the format version (1), the table name and the original format and source.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from kbench.errors import TraceError
from kbench.workload.traces.common import (
    NODE_COLUMNS,
    POD_COLUMNS,
    REQUEST_COLUMNS,
    Rows,
    Trace,
    nodes_table,
    pods_table,
    read_text,
    requests_table,
)

VERSION = 1
"""Native format version, written into Parquet metadata."""
TABLES = {"pods": POD_COLUMNS, "nodes": NODE_COLUMNS, "requests": REQUEST_COLUMNS}
"""Table name -> its columns."""
_PARQUET_MAGIC = b"PAR1"
_RULES: dict[str, dict] = {
    "arrival_s": {"required": False, "min_value": 0}, "deletion_s": {"required": False, "min_value": 0},
    "duration_s": {"required": False, "min_value": 0}, "cpu_milli": {"min_value": 0},
    "memory_bytes": {"min_value": 0}, "gpu_count": {"integer": True, "min_value": 0},
    "gpu_milli": {"integer": True, "min_value": 0}, "priority": {"integer": True},
    "max_per_node": {"integer": True, "min_value": -1}, "time_s": {"min_value": 0},
    "code": {"integer": True, "min_value": 0},
}


def is_parquet(path: str | Path) -> bool:
    """Whether the file starts with the Parquet magic bytes."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == _PARQUET_MAGIC
    except OSError:
        return False


def table_of(columns: list[str]) -> str | None:
    """Which native table has exactly these columns (any order), or None."""
    for name, cols in TABLES.items():
        if sorted(columns) == sorted(cols):
            return name
    return None


def _read_frame(path: Path) -> Rows:
    """The file's table as rows to check (for Parquet, "lines" are 1-based row numbers)."""
    if is_parquet(path):
        try:
            frame = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises several unrelated types for a damaged file
            raise TraceError(f"expected a readable Parquet file: {e}", source=f"{path}:1") from None
        frame.columns = [str(c) for c in frame.columns]
        return Rows(path, frame.reset_index(drop=True), np.arange(1, len(frame) + 1))
    reader = csv.reader(io.StringIO(read_text(path)))
    records: list[list[str]] = []
    lines: list[int] = []
    first, dropped = None, 0
    try:
        header = next(reader, [])
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if len(record) != len(header):
                dropped += 1
                first = first or (reader.line_num, f"expected {len(header)} comma-separated fields "
                                                   f"({','.join(header)[:200]}), got {len(record)}")
                continue
            records.append(record)
            lines.append(reader.line_num)
    except csv.Error as e:
        raise TraceError(f"expected CSV: {e}", source=f"{path}:{reader.line_num or 1}") from None
    if not header:
        raise TraceError("expected a native trace header line", source=f"{path}:1")
    frame = pd.DataFrame(records, columns=[h.strip() for h in header], dtype=object)
    return Rows(path, frame, np.asarray(lines, dtype=np.int64), first, dropped)


def _load_table(path: Path, skip_bad_rows: bool, want: str | None = None) -> tuple[str, pd.DataFrame, int]:
    rows = _read_frame(path)
    cols = list(rows.frame.columns)
    table = table_of(cols)
    if table is None or (want is not None and table != want):
        expect = ",".join(TABLES[want]) if want else " or ".join(repr(",".join(c)) for c in TABLES.values())
        raise TraceError(f"expected the native {want or 'pods, nodes or requests'} columns {expect}, got "
                         f"{','.join(cols)[:200]!r}", source=f"{path}:1")
    data = {}
    for col, dtype in TABLES[table].items():
        data[col] = rows.text(col) if dtype == "str" else rows.number(col, **_RULES.get(col, {}))
    if table == "pods":
        gpu_milli = data["gpu_milli"]
        rows.flag(gpu_milli > 1000, lambda r: f"expected gpu_milli <= 1000, got {rows.raw(r, 'gpu_milli')!r}")
    keep = rows.finish(skip_bad_rows)
    data = {k: v[keep] for k, v in data.items()}
    n = int(keep.sum())
    for col, dtype in TABLES[table].items():
        if dtype == "int64":
            data[col] = data[col].astype(np.int64)
    build = {"pods": pods_table, "nodes": nodes_table, "requests": requests_table}[table]
    return table, build(data, n), rows.bad_count


def companion(path: str | Path, table: str) -> Path:
    """The file beside ``path`` that holds ``table``: ``x.parquet`` -> ``x.nodes.parquet``
    (``x.csv.gz`` -> ``x.nodes.csv.gz``)."""
    p = Path(path)
    gz = ".gz" if p.suffix == ".gz" else ""
    base = p.with_suffix("") if gz else p
    return p.with_name(f"{base.stem}.{table}{base.suffix}{gz}")


def load(path: str | Path, *, skip_bad_rows: bool = False) -> Trace:
    """Read a native file (Parquet or CSV), and its companion tables for a pods file.

    Args:
        path: The file.
        skip_bad_rows: Skip and count malformed rows instead of raising.

    Raises:
        TraceError: ``path:line: what was expected`` (for Parquet, the 1-based row).
    """
    path = Path(path)
    table, df, bad = _load_table(path, skip_bad_rows)
    tables: dict[str, pd.DataFrame | None] = {"pods": None, "nodes": None, "requests": None, table: df}
    if table == "pods":
        for other in ("nodes", "requests"):
            side = companion(path, other)
            if side.is_file():
                _, tables[other], more = _load_table(side, skip_bad_rows, other)
                bad += more
    pods = tables["pods"] if tables["pods"] is not None else pods_table({}, 0)
    return Trace("native", str(path), pods, tables["nodes"], tables["requests"], bad)


def write_native(trace: Trace, path: str | Path) -> list[Path]:
    """Write a trace in the native format (``.parquet`` or ``.csv``, by the suffix).

    Args:
        trace: The trace.
        path: The pods file; nodes and requests go to :func:`companion` files beside it (a trace
            with nodes but no pods writes its nodes to ``path``).

    Returns:
        The files written.

    Raises:
        TraceError: The suffix is neither ``.parquet`` nor ``.csv``, or the file cannot be written.
    """
    path = Path(path)
    if path.suffix not in (".parquet", ".csv"):
        raise TraceError(f"expected an output file ending in .parquet or .csv, got {path.name!r}",
                         source=str(path))
    parts: list[tuple[str, pd.DataFrame, Path]] = []
    if len(trace.pods) == 0 and trace.nodes is not None and trace.requests is None:
        parts.append(("nodes", trace.nodes, path))
    else:
        parts.append(("pods", trace.pods, path))
        for name, df in (("nodes", trace.nodes), ("requests", trace.requests)):
            if df is not None:
                parts.append((name, df, companion(path, name)))
    written = []
    for name, df, out in parts:
        df = df[list(TABLES[name])]
        try:
            if out.suffix == ".csv":
                df.to_csv(out, index=False, na_rep="", lineterminator="\n")
            else:
                _write_parquet(df, out, {"version": VERSION, "table": name, "format": trace.format,
                                         "source": trace.source})
        except OSError as e:
            raise TraceError(f"cannot write the native trace: {e.strerror or e}", source=str(out)) from None
        written.append(out)
    return written


def _write_parquet(df: pd.DataFrame, out: Path, meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[b"kbench.native"] = json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata(schema_meta), out)
