"""Booking watch fan-out on the apiserver's core pool and its shared NIC, without a SimPy event
per watcher (I17, I18).

Upstream's cacher dispatches each event serially (non-blocking channel sends, I18), but the work
per watcher (filtering, conversion, framing, the TLS write of the once-encoded bytes) runs in
per-watcher goroutines on every core, beside request handlers. kbench books that work on the same
FCFS pool of cores the handlers use (a heap of core free times):

* a few jobs (``k <= small``): one heap operation each, exactly as k requests would be booked;
* many jobs: **water-filling** in numpy. From ``start``, the pool's cumulative capacity is
  ``F(t) = sum_c max(0, t - max(free_c, start))``, piecewise linear; job ``j`` (0-based) of
  ``k`` equal jobs of ``s`` seconds ends at ``F^-1((j + 1) s)`` and every core free before the
  water level ``F^-1(k s)`` becomes free at it. That is processor sharing of identical small jobs
  over the pool, the fluid limit of FCFS on C cores, at O(C + k) numpy work and no Python loop.

The shared NIC (:func:`nic_times`) is a fluid FIFO of the apiserver's egress: the ``j``-th of ``k``
transfers of ``b`` bytes starting at ``start`` leaves at ``max(start, nic_free) + (j + 1) b / rate``.
"""

from __future__ import annotations

import heapq

import numpy as np

_RANGES: dict[int, np.ndarray] = {}


def _arange1(k: int) -> np.ndarray:
    """``[1, 2, ..., k]`` as float64 (cached: fan-outs repeat the same sizes)."""
    a = _RANGES.get(k)
    if a is None:
        a = np.arange(1, k + 1, dtype=np.float64)
        if len(_RANGES) < 4096:
            _RANGES[k] = a
    return a


def book_scalar(cores: list[float], start: float, s: float, k: int) -> list[float]:
    """Book ``k`` jobs of ``s`` seconds on the heap ``cores``, none starting before ``start``;
    return their end times (non-decreasing), seconds."""
    out = []
    for _ in range(k):
        free = cores[0]
        end = (start if start > free else free) + s
        heapq.heapreplace(cores, end)
        out.append(end)
    return out


def book_fill(cores: list[float], start: float, s: float, k: int) -> np.ndarray:
    """Water-fill ``k`` jobs of ``s`` seconds on ``cores`` from ``start`` (module docstring);
    return the jobs' end times (non-decreasing, seconds) and update ``cores`` in place."""
    n = len(cores)
    if max(cores) <= start:  # every core free: the water rises evenly from ``start``
        rate = s / n
        level = start + k * rate
        cores[:] = [level] * n
        return start + rate * _arange1(k)
    c = np.sort(np.maximum(np.asarray(cores, dtype=np.float64), start))
    # F at each breakpoint c[m]: sum over the m cores already free of (c[m] - c[i])
    cum = np.concatenate(([0.0], np.cumsum(c[:-1])))
    f_at = np.arange(n) * c - cum
    work = s * _arange1(k)
    total = k * s
    # extrapolate past the last breakpoint with slope n
    xs = np.append(c, c[-1] + total)
    fs = np.append(f_at, f_at[-1] + n * total)
    ends = np.interp(work, fs, xs)
    level = float(ends[-1])
    new = np.where(c < level, level, c)
    cores[:] = sorted(new.tolist())  # a sorted list is a valid heap
    return ends


def book(cores: list[float], start: float, s: float, k: int, small: int):
    """:func:`book_scalar` for ``k <= small`` (a list), :func:`book_fill` otherwise (an array)."""
    if k <= small:
        return book_scalar(cores, start, s, k)
    return book_fill(cores, start, s, k)


def nic_times(api, start: float, nbytes: float, k: int) -> np.ndarray:
    """When each of ``k`` transfers of ``nbytes`` bytes queued at ``start`` has left the shared
    NIC, seconds; advances ``api.nic_free_s``."""
    rate = api.cfg.nic_bytes_per_s
    t0 = start if start > api.nic_free_s else api.nic_free_s
    step = nbytes / rate
    api.nic_free_s = t0 + k * step
    return t0 + step * _arange1(k)
