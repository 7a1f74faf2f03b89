"""The Google cluster-data 2019 importers (instance_events, machine_events; CSV and JSON lines).

The fixtures under tests/fixtures/traces/ are hand-made in the exact published schema
(google/cluster-data clusterdata_trace_format_v3.proto, field names as in the BigQuery tables):
``*.json`` as the JSON-lines downloads write rows (64-bit integers as strings, nested
``resource_request`` / ``capacity``), ``*.csv`` as BigQuery exports a flattened query of the same
rows. No sample of this trace ships in workloads/traces.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kbench.errors import TraceError
from kbench.workload.traces import detect_format, load_trace
from kbench.workload.traces.google2019 import MACHINE_CPU_MILLI, MACHINE_MEMORY_BYTES, load_instance_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
GIB = 2**30


@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_instance_events(suffix):
    """One pod per instance: SUBMIT -> arrival, first SCHEDULE -> start, end event -> deletion (µs -> s)."""
    path = FIXTURES / f"instance_events.{suffix}"
    assert detect_format(path) == "google2019-instance-events"
    trace = load_trace(path)
    p = trace.pods.set_index("name")
    # 400-0 runs inside alloc set 300: left out, the alloc instance 300-0 reserves its resources
    assert list(p.index) == ["200-0", "100-0", "300-0", "100-1", "500-0"]
    done = p.loc["100-0"]
    assert (done.arrival_s, done.deletion_s, done.duration_s) == (600.0, 900.0, 298.5)
    assert done.cpu_milli == pytest.approx(0.0206298828125 * 96_000)
    assert done.memory_bytes == pytest.approx(0.0059604644775390625 * 512 * GIB)
    assert (done.priority, done.qos, done.owner, done.phase) == (200, "MOST_SENSITIVE", "100", "FINISH")
    # the request in effect when first scheduled: UPDATE_PENDING raised cpus from 0.03125 to 0.0625
    running = p.loc["100-1"]
    assert running.cpu_milli == 0.0625 * 96_000
    assert math.isnan(running.deletion_s) and running.phase == "SCHEDULE"
    before = p.loc["200-0"]                    # time 0: already running when the window opened
    assert math.isnan(before.arrival_s) and before.deletion_s == 1000 and before.phase == "KILL"
    evicted = p.loc["500-0"]
    assert (evicted.deletion_s, evicted.duration_s, evicted.phase, evicted.qos) == (850, 49, "EVICT", "INSENSITIVE")


def test_csv_and_json_agree():
    """Both exports of the same rows give the same table."""
    a = load_trace(FIXTURES / "instance_events.csv").pods
    b = load_trace(FIXTURES / "instance_events.json").pods
    assert a.equals(b)


@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_machine_events(suffix):
    """One node per machine with its latest capacity; a machine never given one is left out."""
    path = FIXTURES / f"machine_events.{suffix}"
    assert detect_format(path) == "google2019-machine-events"
    n = load_trace(path).nodes
    assert list(n.name) == ["1", "2"]
    assert list(n.cpu_milli) == [MACHINE_CPU_MILLI, 0.5 * MACHINE_CPU_MILLI]
    assert list(n.memory_bytes) == [MACHINE_MEMORY_BYTES, 0.5 * MACHINE_MEMORY_BYTES]


def test_machine_size_assumption():
    """Normalized 1.0 = 96 cores and 512 GiB unless told otherwise."""
    assert (MACHINE_CPU_MILLI, MACHINE_MEMORY_BYTES) == (96_000, 512 * GIB)
    p = load_instance_events(FIXTURES / "instance_events.json", machine_cpu_milli=1000,
                             machine_memory_bytes=GIB).pods.set_index("name")
    assert (p.loc["500-0", "cpu_milli"], p.loc["500-0", "memory_bytes"]) == (500, 0.25 * GIB)


def test_csv_column_aliases(tmp_path):
    """A nested field may be exported as resource_request.cpus, resource_request_cpus or cpus."""
    path = tmp_path / "events.csv"
    path.write_text("time,type,collection_id,instance_index,resource_request.cpus,resource_request.memory\n"
                    "1000000000,0,7,0,0.5,0.25\n")
    p = load_trace(path).pods
    assert (p.name[0], p.arrival_s[0], p.cpu_milli[0]) == ("7-0", 1000.0, 48_000)


def test_after_the_window_is_not_a_deletion(tmp_path):
    """Time 2^63 - 1 marks an event after the window: no deletion time."""
    path = tmp_path / "events.csv"
    path.write_text("time,type,collection_id,instance_index,cpus,memory\n"
                    "1000000000,0,7,0,0.5,0.25\n9223372036854775807,6,7,0,0.5,0.25\n")
    p = load_trace(path).pods
    assert math.isnan(p.deletion_s[0]) and p.phase[0] == "FINISH"


@pytest.mark.parametrize(("text", "line", "message"), [
    ("time,type,collection_id,cpus,memory\n1,0,7,0.5,0.25\n", 1,
     "expected the Google 2019 instance_events header"),
    ("time,type,collection_id,instance_index,cpus,memory\n-5,0,7,0,0.5,0.25\n", 2,
     "expected a time >= 0 (microseconds) in column time, got '-5'"),
    ("time,type,collection_id,instance_index,cpus,memory\n5,11,7,0,0.5,0.25\n", 2,
     "expected an event type 0-10 in column type, got '11'"),
    ('{"time":"5","type":"0","collection_id":"7","instance_index":"0"}\n{"time":"6","type":"0"}\n', 2,
     "expected the field 'collection_id' in every line"),
    ('{"time":"5","type":"0","collection_id":"7","instance_index":"0"}\n{oops\n', 2,
     "expected a JSON object per line, got '{oops'"),
    ('{"time":"abc","type":"0","collection_id":"7","instance_index":"0"}\n', 1,
     "expected a time >= 0 (microseconds) in column time, got 'abc'"),
])
def test_malformed_instance_events(tmp_path, text, line, message):
    """Errors name the line; JSON lines count from 1, CSV from the header."""
    path = tmp_path / "instance_events.txt"
    path.write_text(text)
    with pytest.raises(TraceError) as err:
        load_trace(path, "google2019-instance-events")
    assert err.value.one_line().startswith(f"{path}:{line}: {message}")
