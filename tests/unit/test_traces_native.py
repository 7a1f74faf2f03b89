"""The native format: every trace converts to Parquet or CSV and reads back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kbench.bundled import TRACES
from kbench.errors import TraceError
from kbench.workload.traces import NODE_COLUMNS, POD_COLUMNS, detect_format, load_trace, write_native

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
@pytest.mark.parametrize("source", [TRACES / "openb_pod_list_default.csv.gz", TRACES / "disaggregated_DLRM_trace.csv.gz",
                                    FIXTURES / "workload.yaml"])
def test_pods_round_trip(tmp_path, source, suffix):
    """Write then read: the same pods table, detected as native."""
    original = load_trace(source)
    out = tmp_path / f"trace{suffix}"
    assert write_native(original, out) == [out]
    assert detect_format(out) == "native"
    back = load_trace(out)
    assert back.format == "native" and back.bad_rows == 0 and back.nodes is None
    assert list(back.pods.columns) == list(POD_COLUMNS)
    assert back.pods.equals(original.pods)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_nodes_only_trace(tmp_path, suffix):
    """A node list is written to the path itself and reads back as nodes."""
    original = load_trace(TRACES / "openb_node_list_all_node.csv.gz")
    out = tmp_path / f"nodes{suffix}"
    assert write_native(original, out) == [out]
    back = load_trace(out)
    assert len(back.pods) == 0 and list(back.nodes.columns) == list(NODE_COLUMNS)
    assert back.nodes.equals(original.nodes)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_companion_tables(tmp_path, suffix):
    """Pods plus requests (an audit log) go to two files; reading the pods file finds both."""
    original = load_trace(FIXTURES / "audit.log")
    out = tmp_path / f"audit{suffix}"
    written = write_native(original, out)
    assert written == [out, tmp_path / f"audit.requests{suffix}"]
    back = load_trace(out)
    assert back.pods.equals(original.pods) and back.requests.equals(original.requests)


def test_parquet_metadata(tmp_path):
    """Parquet files say which table they hold and where it came from."""
    out = tmp_path / "t.parquet"
    write_native(load_trace(TRACES / "openb_pod_list_default.csv.gz"), out)
    meta = json.loads(pq.read_schema(out).metadata[b"kbench.native"])
    assert meta == {"version": 1, "table": "pods", "format": "openb-pods",
                    "source": str(TRACES / "openb_pod_list_default.csv.gz")}


def test_csv_format_is_plain(tmp_path):
    """Header = the columns; empty field = NaN / ""."""
    out = tmp_path / "t.csv"
    write_native(load_trace(TRACES / "openb_pod_list_multigpu20.csv.gz"), out)
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(POD_COLUMNS)
    assert lines[1] == "openb-pod-0000,0.0,,,12000.0,17179869184.0,1,1000,,0,,,,-1,"


def _set(line: int, column: str, value: str):
    """An edit of the native CSV lines: field ``column`` of 1-based ``line`` becomes ``value``."""
    def edit(lines: list[str]) -> None:
        fields = lines[line - 1].split(",")
        fields[list(POD_COLUMNS).index(column)] = value
        lines[line - 1] = ",".join(fields)
    return edit


@pytest.mark.parametrize(("edit", "line", "message"), [
    (lambda lines: lines.__setitem__(0, lines[0].replace("cpu_milli", "cpu")), 1, "expected the native"),
    (_set(3, "cpu_milli", "abc"), 3, "expected a number >= 0 in column cpu_milli, got 'abc'"),
    (_set(4, "gpu_milli", "1500"), 4, "expected gpu_milli <= 1000, got '1500'"),
    (_set(3, "arrival_s", "-1"), 3, "expected a number >= 0 in column arrival_s, got '-1'"),
    (_set(5, "gpu_count", "1.5"), 5, "expected a whole number >= 0 in column gpu_count, got '1.5'"),
])
def test_malformed_native_csv(tmp_path, edit, line, message):
    """Errors name the CSV line; skip_bad_rows drops the row."""
    out = tmp_path / "t.csv"
    write_native(load_trace(FIXTURES / "workload.yaml"), out)
    lines = out.read_text().splitlines()
    edit(lines)
    out.write_text("\n".join(lines) + "\n")
    with pytest.raises(TraceError) as err:
        load_trace(out, "native")
    assert err.value.one_line().startswith(f"{out}:{line}: {message}")
    if line > 1:
        assert load_trace(out, "native", skip_bad_rows=True).bad_rows == 1


def test_unwritable_suffix(tmp_path):
    """Only .parquet and .csv are native files."""
    with pytest.raises(TraceError, match="expected an output file ending in .parquet or .csv"):
        write_native(load_trace(FIXTURES / "workload.yaml"), tmp_path / "t.json")


def test_damaged_parquet(tmp_path):
    """A truncated Parquet file is a TraceError, not a pyarrow traceback."""
    out = tmp_path / "t.parquet"
    write_native(load_trace(FIXTURES / "workload.yaml"), out)
    out.write_bytes(out.read_bytes()[:40])
    with pytest.raises(TraceError, match="expected a readable Parquet file"):
        load_trace(out)
