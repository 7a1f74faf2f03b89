"""Malformed trace input: `path:line: what was expected`, never a traceback, never a hang.

Hand-made inputs in the published schemas (openb headers as shipped in workloads/traces; the
Alibaba 2018, Google 2019, audit and manifest rows as in the fixtures under tests/fixtures/traces).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kbench.errors import KbenchError, TraceError
from kbench.workload.traces import FORMATS, POD_COLUMNS, detect_format, load_trace
from kbench.workload.traces.dlrm import HEADER as DLRM_HEADER
from kbench.workload.traces.openb import NODE_HEADER, POD_HEADER

POD_ROW = "openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061"
HEADER = ",".join(POD_HEADER)


def _file(tmp_path: Path, text: str | bytes, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "line", "message"), [
    # missing column
    ("name,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n", 1,
     f"expected the openb pod list header '{HEADER}' or 'name,cpu_milli,memory_mib,num_gpu,gpu_milli', got "
     "'name,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time' "
     "(missing column cpu_milli)"),
    # wrong header: a node list read as a pod list
    (",".join(NODE_HEADER) + "\nopenb-node-0000,32000,262144,0,\n", 1, "expected the openb pod list header"),
    # non-numeric value
    (f"{HEADER}\n{POD_ROW}\nopenb-pod-0002,abc,12288,1,460,,LS,Running,427061,12902960,427061\n", 3,
     "expected a number >= 0 in column cpu_milli, got 'abc'"),
    # negative time
    (f"{HEADER}\n{POD_ROW}\n{POD_ROW.replace(',427061,12902960', ',-3,12902960')}\n", 3,
     "expected a time >= 0 (seconds) in column creation_time, got '-3'"),
    # a fractional GPU count
    (f"{HEADER}\n{POD_ROW.replace(',1,460,', ',1.5,460,')}\n", 2,
     "expected a whole number >= 0 in column num_gpu, got '1.5'"),
    # too few / too many fields
    (f"{HEADER}\n{POD_ROW}\n\n{POD_ROW},extra\n", 4, f"expected 11 comma-separated fields ({HEADER}), got 12"),
    (f"{HEADER}\n{POD_ROW.rsplit(',', 1)[0]}\n", 2, f"expected 11 comma-separated fields ({HEADER}), got 10"),
    # an empty required field
    (f"{HEADER}\n{POD_ROW.replace(',6000,', ',,')}\n", 2, "expected a number >= 0 in column cpu_milli, got ''"),
])
def test_openb_errors_name_file_and_line(tmp_path, text, line, message):
    """Each kind of malformed input gives `path:line: message` (the header is line 1)."""
    path = _file(tmp_path, text)
    with pytest.raises(TraceError) as err:
        load_trace(path, "openb-pods")
    assert err.value.one_line().startswith(f"{path}:{line}: {message}")


def test_first_bad_line_wins_and_skipping_counts(tmp_path):
    """With several bad rows the error names the first; skip_bad_rows keeps the good rows."""
    bad_time = POD_ROW.replace(",427061,12902960", ",-3,12902960")
    bad_cpu = POD_ROW.replace(",6000,", ",x,")
    text = f"{HEADER}\n{POD_ROW}\n{bad_cpu}\n{POD_ROW}\n{bad_time}\n{POD_ROW},9\n{POD_ROW}\n"
    path = _file(tmp_path, text.replace("openb-pod-0001", "p"))
    with pytest.raises(TraceError, match=r":3: expected a number >= 0 in column cpu_milli, got 'x'"):
        load_trace(path)
    trace = load_trace(path, skip_bad_rows=True)
    assert (len(trace.pods), trace.bad_rows) == (3, 3)


def test_unknown_format_name(tmp_path):
    """An unknown format name lists the formats and suggests the closest."""
    path = _file(tmp_path, f"{HEADER}\n{POD_ROW}\n")
    with pytest.raises(TraceError) as err:
        load_trace(path, "openb-pod")
    text = err.value.one_line()
    assert text.startswith(f"{path}:1: unknown trace format 'openb-pod' (did you mean 'openb-pods'?)")
    assert all(f in text for f in FORMATS)


def test_undetectable_format(tmp_path):
    """A header no format has: an error that lists the formats."""
    path = _file(tmp_path, "a,b,c\n1,2,3\n")
    with pytest.raises(TraceError) as err:
        detect_format(path)
    assert err.value.one_line().startswith(f"{path}:1: cannot tell the trace format from 'a,b,c'")
    assert "pass the format explicitly" in err.value.message and "native" in err.value.message


def test_missing_file_and_directory(tmp_path):
    """Files that are not there or are directories are TraceErrors."""
    with pytest.raises(TraceError, match="cannot read the trace file"):
        load_trace(tmp_path / "nope.csv")
    with pytest.raises(TraceError, match="expected a trace file"):
        load_trace(tmp_path, "openb-pods")


def test_not_utf8_and_nul(tmp_path):
    """Binary content names the line it is on."""
    path = _file(tmp_path, (HEADER + "\n" + POD_ROW + "\n").encode() + b"openb-pod-\xff\n")
    with pytest.raises(TraceError) as err:
        load_trace(path, "openb-pods")
    assert err.value.one_line() == f"{path}:3: expected UTF-8 text, got byte 0xff"
    path = _file(tmp_path, (HEADER + "\n\x00\n").encode())
    with pytest.raises(TraceError, match=r":2: expected text, got a NUL byte"):
        load_trace(path, "openb-pods")


def test_empty_files(tmp_path):
    """An empty file is an error for header formats and an empty trace for headerless ones."""
    path = _file(tmp_path, "")
    with pytest.raises(TraceError, match=r":1: expected the openb pod list header"):
        load_trace(path, "openb-pods")
    with pytest.raises(TraceError, match="cannot tell the trace format"):
        load_trace(path)
    assert len(load_trace(path, "alibaba2018-batch-task").pods) == 0


def test_header_only_is_an_empty_trace(tmp_path):
    """A header with no rows reads as zero pods."""
    trace = load_trace(_file(tmp_path, HEADER + "\n"))
    assert len(trace.pods) == 0 and list(trace.pods.columns) == list(POD_COLUMNS)


# ---- fuzzing: random lines and bytes either load or raise a KbenchError -------------------------

CSV_FORMATS = {
    "openb-pods": (HEADER, POD_ROW),
    "openb-nodes": (",".join(NODE_HEADER), "openb-node-0001,64000,262144,2,P100"),
    "dlrm": (",".join(DLRM_HEADER), "instance_0,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,"),
    "alibaba2018-batch-task": (None, "M4_2_3,3.0,j_3,1,Terminated,157322,157328,50.0,0.39"),
    "alibaba2018-batch-instance": (None, "ins_74901674,M1,j_3,1,Failed,157214,157240,m_1216,1,2,50.0,95.0,0.1,0.3"),
    "alibaba2018-container-meta": (None, "c_1,m_2556,0,app_5052,started,400,400,1.56"),
    "alibaba2018-machine-meta": (None, "m_1,0,65,65_1,96,100,USING"),
    "google2019-instance-events": ("time,type,collection_id,instance_index,resource_request_cpus,"
                                   "resource_request_memory", "600000000,0,100,0,0.02,0.006"),
    "google2019-machine-events": ("time,machine_id,type,switch_id,cpus,memory,platform_id",
                                  "0,2,1,Cq5PGq5,0.5,0.25,Uw5iBaC"),
    "native": (",".join(POD_COLUMNS), "p,0.0,,,12000.0,17179869184.0,1,1000,,0,,,,-1,"),
}
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_FIELD = st.one_of(_TEXT, st.sampled_from(["", "-1", "nan", "inf", "1e400", "0.5", "3", "-0", " 7 ", '"', "1,2",
                                           "9223372036854775807", "\r", "\t"]))


@st.composite
def _lines(draw, row: str) -> list[str]:
    """Valid rows, rows with a field replaced, dropped or added, and random text."""
    out = []
    for _ in range(draw(st.integers(0, 6))):
        fields = row.split(",")
        kind = draw(st.sampled_from(["good", "replace", "drop", "add", "text"]))
        if kind == "replace":
            fields[draw(st.integers(0, len(fields) - 1))] = draw(_FIELD)
        elif kind == "drop":
            fields.pop(draw(st.integers(0, len(fields) - 1)))
        elif kind == "add":
            fields.append(draw(_FIELD))
        out.append(draw(_TEXT) if kind == "text" else ",".join(fields))
    return out


def _load_or_error(path: Path, fmt: str | None, skip: bool) -> None:
    try:
        trace = load_trace(path, fmt, skip_bad_rows=skip)
    except KbenchError as e:
        assert e.one_line()
        return
    assert trace.bad_rows >= 0


_FUZZ = settings(max_examples=int(os.environ.get("KBENCH_FUZZ_EXAMPLES", "20")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("fmt", sorted(CSV_FORMATS))
@_FUZZ
@given(data=st.data(), skip=st.booleans(), header_ok=st.booleans())
def test_random_lines_load_or_raise(tmp_path, fmt, data, skip, header_ok):
    """Random and damaged rows never escape as anything but a KbenchError."""
    header, row = CSV_FORMATS[fmt]
    lines = data.draw(_lines(row))
    if header is not None:
        lines.insert(0, header if header_ok else data.draw(_TEXT))
    path = _file(tmp_path, "\n".join(lines) + data.draw(st.sampled_from(["", "\n", "\r\n"])))
    _load_or_error(path, fmt, skip)
    _load_or_error(path, None, skip)


@pytest.mark.parametrize("fmt", [*sorted(CSV_FORMATS), "k8s-audit", "k8s-manifests", None])
@_FUZZ
@given(blob=st.binary(max_size=300), skip=st.booleans())
def test_random_bytes_load_or_raise(tmp_path, fmt, blob, skip):
    """Arbitrary bytes either read as a (possibly empty) trace or raise a KbenchError."""
    _load_or_error(_file(tmp_path, blob, "blob.txt"), fmt, skip)


@pytest.mark.parametrize("fmt", ["k8s-audit", "k8s-manifests", "google2019-instance-events",
                                 "google2019-machine-events"])
@_FUZZ
@given(text=st.text(st.sampled_from('{}[]":,- \n\tabc019kindEvntPoapiVersio'), max_size=200), skip=st.booleans())
def test_random_json_and_yaml_load_or_raise(tmp_path, fmt, text, skip):
    """Random JSON- and YAML-looking text never escapes as anything but a KbenchError."""
    _load_or_error(_file(tmp_path, text, "t.txt"), fmt, skip)
