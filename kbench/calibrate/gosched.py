"""Go's idle spinning in a live etcd, read from its scheduler trace (``GODEBUG=schedtrace=<ms>``).

An idle Go runtime does not simply sleep: when a goroutine becomes runnable and a P is idle, the
scheduler wakes an M that *spins* looking for work before it parks (``runtime/proc.go`` in Go,
``wakep`` and ``findRunnable``; at most GOMAXPROCS/2 spinning Ms). That CPU is in etcd's
``process_cpu_seconds_total`` but is not work a request needs: it is taken from cores that would
otherwise be idle and it vanishes under load. Measured on etcd 3.4.23 (Go 1.19.8, 2 cores, puts
through the JSON gateway): 0.25-0.41 cores spinning at 1 client, 0.09-0.28 at 4, under 0.09 at 16,
0-0.02 at 64 (docs/CALIBRATE.md). Counted as write CPU it makes the fitted CPU per put too large,
and the prediction under load too slow.

With ``GODEBUG=schedtrace=100`` the runtime prints a line every 100 ms (kbench's local etcd uses 50)::

    SCHED 26800ms: gomaxprocs=2 idleprocs=0 threads=13 spinningthreads=0 idlethreads=4 runqueue=2 [28 5]

(milliseconds since the runtime started). :class:`SchedTrace` reads such a log and gives the mean
number of spinning threads over a stretch of this process's clock (``time.perf_counter``): the
latest line of the log is taken as "now" when it is read, so no start time is needed. A log not
written to for :data:`STALE_S` seconds is not a trace of the running etcd (it stopped, or was
started without the variable since): it gives no samples. Only the log's last :data:`TAIL_BYTES`
are read (a long-running etcd's log grows by ~2 KB/s at a 50 ms period; a window is seconds to minutes).
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

STALE_S = 5.0
"""A log whose last write is older than this many seconds gives no samples."""
TAIL_BYTES = 8 * 2**20
"""Bytes read from the end of the log (about an hour of lines at a 50 ms period)."""
_LINE = re.compile(rb"^SCHED (\d+)ms: .*?spinningthreads=(\d+)", re.MULTILINE)


class SchedTrace:
    """A Go scheduler trace being written to ``path`` (``GODEBUG=schedtrace=<period>``).

    Args:
        path: The log file that receives the runtime's stderr.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def samples(self) -> tuple[float, list[tuple[float, int]]]:
        """(the ``time.perf_counter`` of the latest line, [(its time, spinning threads), ...])."""
        now = time.perf_counter()
        try:
            if time.time() - self.path.stat().st_mtime > STALE_S:
                return now, []
            with self.path.open("rb") as f:
                f.seek(max(0, f.seek(0, 2) - TAIL_BYTES))
                data = f.read()
        except OSError:
            return now, []
        got = [(int(ms) / 1000.0, int(spin)) for ms, spin in _LINE.findall(data)]
        if not got:
            return now, []
        offset = now - got[-1][0]
        return now, [(t + offset, s) for t, s in got]

    def spinning(self, start: float, end: float) -> float:
        """Mean spinning threads (cores) between ``start`` and ``end`` (``time.perf_counter``), or NaN."""
        _, got = self.samples()
        vals = [s for t, s in got if start <= t <= end]
        return sum(vals) / len(vals) if vals else math.nan
