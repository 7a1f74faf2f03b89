"""Go's scheduler trace (kbench/calibrate/gosched.py): spinning threads over a stretch of time."""

from __future__ import annotations

import math
import os
import time

import pytest

from kbench.calibrate.gosched import SchedTrace

LINE = ("SCHED {ms}ms: gomaxprocs=2 idleprocs=1 threads=13 spinningthreads={spin} idlethreads=4 "
        "runqueue=0 [0 1]\n")


def test_mean_spinning_over_a_window_with_the_latest_line_as_now(tmp_path):
    log = tmp_path / "etcd.log"
    lines = ['{"level":"warn","msg":"not a trace line"}\n']
    # 1 s of lines every 100 ms: 0 spinning for the first half, 2 for the second
    lines += [LINE.format(ms=1000 + 100 * i, spin=0 if i < 5 else 2) for i in range(10)]
    log.write_text("".join(lines))
    trace = SchedTrace(log)
    now, samples = trace.samples()
    assert len(samples) == 10 and samples[-1][0] == pytest.approx(now)
    assert samples[0][0] == pytest.approx(now - 0.9)
    assert trace.spinning(now - 0.45, now + 0.01) == pytest.approx(2.0)  # the last five lines
    assert trace.spinning(now - 1.0, now + 0.01) == pytest.approx(1.0)
    assert trace.spinning(now - 0.95, now - 0.5) == pytest.approx(0.0)


def test_no_trace_gives_nan(tmp_path):
    assert math.isnan(SchedTrace(tmp_path / "missing.log").spinning(0.0, time.perf_counter()))
    empty = tmp_path / "empty.log"
    empty.write_text('{"level":"warn"}\n')
    assert math.isnan(SchedTrace(empty).spinning(0.0, time.perf_counter()))


def test_a_stale_log_gives_no_samples(tmp_path):
    """A log nobody writes to any more (etcd stopped, or restarted without GODEBUG) is not mapped onto now."""
    log = tmp_path / "etcd.log"
    log.write_text("".join(LINE.format(ms=100 * i, spin=1) for i in range(10)))
    assert SchedTrace(log).spinning(0.0, time.perf_counter() + 1) == pytest.approx(1.0)
    old = time.time() - 60
    os.utime(log, (old, old))
    assert SchedTrace(log).samples()[1] == []
    assert math.isnan(SchedTrace(log).spinning(0.0, time.perf_counter() + 1))


def test_only_the_tail_of_a_long_log_is_read(tmp_path, monkeypatch):
    import kbench.calibrate.gosched as gosched

    log = tmp_path / "etcd.log"
    log.write_text("".join(LINE.format(ms=100 * i, spin=i % 3) for i in range(1000)))
    whole = SchedTrace(log).samples()[1]
    monkeypatch.setattr(gosched, "TAIL_BYTES", 50 * len(LINE.format(ms=99_900, spin=0)) + 7)  # cuts a line
    tail = SchedTrace(log).samples()[1]
    assert 49 <= len(tail) <= 51
    assert [s for _, s in tail] == [s for _, s in whole[-len(tail):]]
    assert tail[-1][0] == pytest.approx(whole[-1][0], abs=0.05)
