"""The normalized trace tables, and the checks every importer shares (docs/TRACE_CONTRACT.md).

Every importer turns one published trace file into a :class:`Trace`: a ``pods`` table (one row per
pod, in arrival order), a ``nodes`` table where the trace has one, and a ``requests`` table for API
audit logs. Units are in the column names: times in seconds, CPU in millicores, memory in bytes,
GPU share in thousandths of one GPU.

Malformed input raises :class:`~kbench.errors.TraceError` with ``source="path:line"`` (1-based; a
header is line 1) and a message that says what was expected, e.g.
``expected a number in column cpu_milli, got 'abc'``. With ``skip_bad_rows=True`` the bad rows are
dropped and counted in :attr:`Trace.bad_rows` instead; a wrong header is never skippable.

CSV files are read with :func:`pandas.read_csv` (every column as text, then converted and checked
column by column with numpy), after a quick pass that counts the fields of each line, so that a
short or long line is reported with its line number. None of the published CSV traces quotes its
fields, so quotes are read as ordinary characters. A gzip-compressed file (told by its magic bytes,
whatever its name, e.g. the bundled ``workloads/traces/*.csv.gz``) is decompressed on reading.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kbench.errors import TraceError

MIB = 2**20
GIB = 2**30

POD_COLUMNS: dict[str, str] = {
    "name": "str", "arrival_s": "float64", "deletion_s": "float64", "duration_s": "float64",
    "cpu_milli": "float64", "memory_bytes": "float64", "gpu_count": "int64", "gpu_milli": "int64",
    "gpu_model": "str", "priority": "int64", "qos": "str", "owner": "str", "app": "str",
    "max_per_node": "int64", "phase": "str",
}
"""Columns of :attr:`Trace.pods` and their dtypes, in order."""

NODE_COLUMNS: dict[str, str] = {
    "name": "str", "cpu_milli": "float64", "memory_bytes": "float64", "gpu_count": "int64", "gpu_model": "str",
}
"""Columns of :attr:`Trace.nodes` and their dtypes, in order."""

REQUEST_COLUMNS: dict[str, str] = {
    "time_s": "float64", "verb": "str", "resource": "str", "namespace": "str", "name": "str", "user": "str",
    "user_agent": "str", "client": "str", "code": "int64",
}
"""Columns of :attr:`Trace.requests` (audit logs) and their dtypes, in order."""

_DEFAULTS = {"str": "", "float64": np.nan, "int64": 0}
_POD_DEFAULTS = {"max_per_node": -1}


@dataclass
class Trace:
    """A trace in the normalized tables.

    Attributes:
        format: The format name it was read as (``openb-pods``, ``dlrm``, ...).
        source: The file it was read from.
        pods: One row per pod in arrival order (:data:`POD_COLUMNS`; times in seconds from the trace
            start, NaN arrival = present before the window, NaN deletion = not deleted in it).
        nodes: One row per node (:data:`NODE_COLUMNS`), or None when the trace has no node list.
        requests: API requests (:data:`REQUEST_COLUMNS`, audit logs only), or None.
        bad_rows: Rows skipped as malformed (``skip_bad_rows=True``).
    """

    format: str
    source: str
    pods: pd.DataFrame
    nodes: pd.DataFrame | None = None
    requests: pd.DataFrame | None = None
    bad_rows: int = 0


def _table(columns: dict[str, str], data: dict, n: int, defaults: dict | None = None) -> pd.DataFrame:
    out = {}
    for col, dtype in columns.items():
        value = data.get(col)
        if value is None:
            value = (defaults or {}).get(col, _DEFAULTS[dtype])
        if np.ndim(value) == 0:
            value = [value] * n
        if dtype == "str":
            out[col] = pd.Series(np.asarray(value, dtype=object), dtype="str")
        else:
            out[col] = pd.Series(np.asarray(value, dtype=dtype))
    return pd.DataFrame(out, columns=list(columns))


def pods_table(data: dict, n: int, *, sort: bool = True) -> pd.DataFrame:
    """Build a pods table from column arrays, filling missing columns with their defaults.

    Args:
        data: Column name -> array (or scalar) of length ``n``; unknown keys are ignored.
        n: Number of rows.
        sort: Order rows by ``arrival_s`` (stable; pods present before the window first).
    """
    df = _table(POD_COLUMNS, data, n, _POD_DEFAULTS)
    if sort and n:
        df = df.sort_values("arrival_s", kind="stable", na_position="first").reset_index(drop=True)
    return df


def nodes_table(data: dict, n: int) -> pd.DataFrame:
    """Build a nodes table (:data:`NODE_COLUMNS`) from column arrays, in the given order."""
    return _table(NODE_COLUMNS, data, n)


def requests_table(data: dict, n: int) -> pd.DataFrame:
    """Build a requests table (:data:`REQUEST_COLUMNS`) from column arrays, in the given order."""
    return _table(REQUEST_COLUMNS, data, n)


def duration_from(arrival_s: np.ndarray, scheduled_s: np.ndarray, deletion_s: np.ndarray) -> np.ndarray:
    """Run time in seconds: deletion − scheduled, else deletion − arrival; NaN when unknown."""
    start = np.where(np.isnan(scheduled_s), arrival_s, scheduled_s)
    return deletion_s - start


GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """The file's bytes, decompressed when it is gzip (told by the magic bytes, not the name).

    Args:
        path: The file.
        limit: Read at most this many (decompressed) bytes; None reads all.

    Raises:
        TraceError: The file cannot be read or is a damaged gzip file.
    """
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == GZIP_MAGIC
        if not compressed:
            with open(path, "rb") as f:
                return f.read() if limit is None else f.read(limit)
        with gzip.open(path, "rb") as f:
            return f.read() if limit is None else f.read(limit)
    except OSError as e:  # gzip.BadGzipFile is an OSError
        raise TraceError(f"cannot read the trace file: {e.strerror or e}", source=str(path)) from None
    except (EOFError, zlib.error) as e:
        raise TraceError(f"cannot read the trace file: damaged gzip data ({e})", source=str(path)) from None


def plain_suffix(path: str | Path) -> str:
    """The file's suffix without a final ``.gz`` (``x.yaml.gz`` → ``.yaml``), lower case."""
    name = Path(path).name.lower()
    return Path(name[:-3] if name.endswith(".gz") else name).suffix


def read_text(path: str | Path) -> str:
    """The file as text (UTF-8, BOM dropped, line ends normalised to ``\\n``; gzip decompressed).

    Raises:
        TraceError: The file cannot be read, is not UTF-8, or contains a NUL byte (with its line).
    """
    data = read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise TraceError(f"expected UTF-8 text, got byte 0x{data[e.start]:02x}", source=f"{path}:{line}") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise TraceError("expected text, got a NUL byte", source=f"{path}:{text.count(chr(10), 0, nul) + 1}")
    return text.replace("\r\n", "\n")


def split_header(line: str) -> list[str]:
    """The fields of a CSV header line, stripped."""
    return [f.strip() for f in line.split(",")]


def check_header(path: str | Path, text: str, choices: Sequence[Sequence[str]], what: str) -> list[str]:
    """Check that line 1 is exactly one of the headers in ``choices``; return the one it is.

    Raises:
        TraceError: At ``path:1``, naming the expected header and the missing columns.
    """
    first = text.split("\n", 1)[0]
    got = split_header(first)
    for cols in choices:
        if got == list(cols):
            return list(cols)
    want = " or ".join(repr(",".join(c)) for c in choices)
    missing = [c for c in choices[0] if c not in got]
    hint = f" (missing column {', '.join(missing)})" if missing and len(missing) < len(choices[0]) else ""
    raise TraceError(f"expected the {what} header {want}, got {first[:200]!r}{hint}", source=f"{path}:1")


def _missing(value: object) -> bool:
    """None, NaN or pd.NA."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


class Rows:
    """Rows of a table read from a file, checked column by column; remembers the first bad line.

    Args:
        path: The file, for error messages.
        frame: The rows: text columns as Python strings ("" = empty), and columns already parsed
            as float64 (NaN = empty field).
        lines: The 1-based file line of each row.
        first: The first bad line found before (line, message), e.g. a wrong field count.
        dropped: Lines already left out as bad.
        raw_lines: The CSV text of each row, to quote a bad value of a float64 column.
    """

    def __init__(self, path: str | Path, frame: pd.DataFrame, lines: np.ndarray,
                 first: tuple[int, str] | None = None, dropped: int = 0, raw_lines: list[str] | None = None):
        self.path = str(path)
        self.frame = frame
        self.lines = lines
        self.bad = np.zeros(len(frame), dtype=bool)
        self.first = first
        self.dropped = dropped
        self._raw_lines = raw_lines

    def __len__(self) -> int:
        return len(self.frame)

    def flag(self, mask: np.ndarray, message: Callable[[int], str]) -> None:
        """Mark rows in ``mask`` bad; ``message(row)`` describes the first of them."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.bad |= mask
        row = int(np.argmax(mask))
        line = int(self.lines[row])
        if self.first is None or line < self.first[0]:
            self.first = (line, message(row))

    def text(self, col: str) -> np.ndarray:
        """Column ``col`` as an object array of stripped strings."""
        column = self.frame[col]
        column = column.where(column.notna(), "")
        return column.astype(str).str.strip().to_numpy(dtype=object)

    def raw(self, row: int, col: str) -> str:
        """The field ``col`` of ``row`` as written in the file."""
        column = self.frame[col]
        if column.dtype == np.float64 and self._raw_lines is not None:
            return self._raw_lines[row].split(",")[list(self.frame.columns).index(col)]
        value = column.iloc[row]
        return "" if value is None else str(value)

    def number(self, col: str, *, required: bool = True, integer: bool = False,
               min_value: float | None = None, what: str | None = None) -> np.ndarray:
        """Column ``col`` as float64 (NaN where empty), flagging rows that break the rules.

        Args:
            col: Column name.
            required: An empty field is bad (else it reads as NaN).
            integer: The value must be a whole number.
            min_value: The smallest allowed value.
            what: How to describe a good value (``"a time >= 0"``); derived from the rules if None.
        """
        column = self.frame[col]
        if column.dtype == np.float64:
            values = np.array(column, dtype=np.float64)
            empty = np.isnan(values)
        else:
            shown = column.to_numpy(dtype=object)
            values = np.array(pd.to_numeric(column, errors="coerce"), dtype=np.float64)
            empty = np.zeros(len(values), dtype=bool)
            odd = np.flatnonzero(~np.isfinite(values))
            empty[odd] = [_missing(shown[i]) or not str(shown[i]).strip() for i in odd]
        bad = ~empty & ~np.isfinite(values)
        if required:
            bad |= empty
        with np.errstate(invalid="ignore"):
            if integer:
                bad |= np.isfinite(values) & ((values != np.floor(values)) | (np.abs(values) > 2.0**53))
            if min_value is not None:
                bad |= values < min_value
        if what is None:
            what = "a whole number" if integer else "a number"
            if min_value is not None:
                what += f" >= {min_value:g}"
        self.flag(bad, lambda r: f"expected {what} in column {col}, got {self.raw(r, col)!r}")
        values[bad] = np.nan
        return values

    def finish(self, skip_bad_rows: bool) -> np.ndarray:
        """Raise for the first bad line, or (skipping) return the mask of good rows.

        Raises:
            TraceError: ``path:line: message`` for the first bad line, unless ``skip_bad_rows``.
        """
        if self.first is not None and not skip_bad_rows:
            line, message = self.first
            raise TraceError(message, source=f"{self.path}:{line}")
        return ~self.bad

    @property
    def bad_count(self) -> int:
        """Bad rows so far, including lines left out for a wrong field count."""
        return int(self.bad.sum()) + self.dropped


def read_rows(path: str | Path, text: str, columns: Sequence[str], *, header: bool,
              numeric: Collection[str] = ()) -> Rows:
    """Split CSV text into rows of ``columns``, one per non-blank line.

    Lines whose field count differs from ``len(columns)`` are left out and recorded as bad
    (``expected N fields ...``); :meth:`Rows.finish` raises for them unless bad rows are skipped.
    Columns in ``numeric`` are parsed as float64 by the CSV reader when every value allows it
    (the fast path); otherwise every column is read as text and checked by :meth:`Rows.number`.

    Args:
        path: The file, for error messages.
        text: Its contents (from :func:`read_text`).
        columns: Column names, in file order.
        header: Line 1 is a header (already checked) and is not a row.
        numeric: Columns expected to hold numbers.
    """
    lines = text.split("\n")
    n = len(columns)
    keep: list[str] = []
    numbers: list[int] = []
    first: tuple[int, str] | None = None
    dropped = 0
    for i in range(1 if header else 0, len(lines)):
        line = lines[i]
        fields = line.count(",") + 1
        if fields == n and (n > 1 or line.strip()):
            keep.append(line)
            numbers.append(i + 1)
        elif line.strip():
            dropped += 1
            if first is None:
                first = (i + 1, f"expected {n} comma-separated fields ({','.join(columns)}), got {fields}")
    if not keep:
        frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
        return Rows(path, frame, np.zeros(0, dtype=np.int64), first, dropped)
    body = "\n".join(keep)
    options = dict(header=None, names=list(columns), quoting=csv.QUOTE_NONE, skip_blank_lines=False,
                   index_col=False, engine="c", lineterminator="\n", keep_default_na=False)
    try:
        dtypes = {c: (np.float64 if c in numeric else object) for c in columns}
        frame = pd.read_csv(io.StringIO(body), dtype=dtypes, na_values={c: [""] for c in numeric}, **options)
    except (ValueError, OverflowError):
        frame = pd.read_csv(io.StringIO(body), dtype=object, na_filter=False, **options)
    return Rows(path, frame, np.asarray(numbers, dtype=np.int64), first, dropped, keep)


def line_error(path: str | Path, line: int, message: str) -> TraceError:
    """A :class:`TraceError` at ``path:line``."""
    return TraceError(message, source=f"{path}:{line}")
