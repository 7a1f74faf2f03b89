"""APF borrowing: how priority levels lend and borrow seats (A10, A27, I15), and Retry-After (A28).

Every ``borrowing_period_s`` (10 s, upstream's ``borrowingAdjustmentPeriod``) the config controller
reads each level's seat demand (seats in use + seats waiting, integrated over the period: average,
standard deviation, high watermark), smooths it (``smoothed = max(avg + std, 0.977 smoothed +
0.023 (avg + std))``) and recomputes every level's current concurrency limit:

* per level: ``minCL = NominalCL - LendableCL``, ``maxCL = NominalCL + BorrowingCL``;
  ``lb = max(minCL, min(NominalCL, high watermark))``, ``ub = maxCL``, ``target = max(lb, smoothed)``;
* the exempt level takes ``max(minCL, high watermark)`` first; what remains of the sum of nominal
  limits is shared: at the lower bounds (or proportionally between minCL and lb) when it does not
  cover them, otherwise by :func:`allocate`, the fair-proportion solver of ``conc_alloc.go``:
  the one ``fairProp`` with ``sum_i clamp(fairProp x target_i, lb_i, ub_i) = required``.

Limits are rounded as Go's ``math.Round`` (half away from zero). So a level whose neighbours are
idle borrows their lendable seats, and a flooded level cannot take a busy level's nominal seats
(its lower bound is ``min(NominalCL, its demand)``). Not verified upstream: whether the allocation
is asked for the whole nominal sum or what remains after the exempt level; kbench uses what
remains (the sum of limits never exceeds the nominal sum).

:class:`DroppedRequests` is ``dropped_requests_tracker.go``: the Retry-After of a level's 429s.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from kbench.cluster.apiserver.workestimate import EXEMPT, QUEUE
from kbench.simkernel import call_later


def go_round(x: float) -> int:
    """Go's ``math.Round`` for the non-negative values used here (half away from zero)."""
    return int(math.floor(x + 0.5))


@dataclass(slots=True)
class Item:
    """One level's allocation problem: lower bound, upper bound and target, seats."""

    lb: float
    ub: float
    target: float


def allocate(required: float, items: list[Item]) -> list[float]:
    """``clamp(fp x target_i, lb_i, ub_i)`` for the ``fp`` whose sum is ``required``.

    Targets below 0.001 count as 0.001 (conc_alloc.go).

    Raises:
        ValueError: ``required`` is outside ``[sum lb, sum ub]``.
    """
    lo_sum = sum(it.lb for it in items)
    hi_sum = sum(it.ub for it in items)
    if required < lo_sum - 1e-9 or required > hi_sum + 1e-9:
        raise ValueError(f"cannot allocate {required} between {lo_sum} and {hi_sum}")
    targets = [max(it.target, 0.001) for it in items]

    def total(fp: float) -> float:
        return sum(min(max(fp * t, it.lb), it.ub) for t, it in zip(targets, items, strict=True))

    # The sum is piecewise linear in fp with breakpoints at lb/target and ub/target (as upstream
    # walks them): find the segment that reaches ``required`` and interpolate in it.
    points = sorted({it.lb / t for t, it in zip(targets, items, strict=True)}
                    | {it.ub / t for t, it in zip(targets, items, strict=True)})
    fp, prev_fp, prev_sum = 0.0, 0.0, total(0.0)
    for p in points:
        cur = total(p)
        if cur >= required:
            fp = p if cur == prev_sum else prev_fp + (required - prev_sum) * (p - prev_fp) / (cur - prev_sum)
            break
        prev_fp, prev_sum = p, cur
    else:
        fp = points[-1] if points else 0.0
    return [min(max(fp * t, it.lb), it.ub) for t, it in zip(targets, items, strict=True)]


@dataclass(slots=True)
class LevelDemand:
    """What the borrowing update needs of one level (seats).

    Attributes:
        exempt: The exempt level (served first).
        nominal: NominalCL.
        min_cl: NominalCL - LendableCL.
        max_cl: NominalCL + BorrowingCL.
        high_watermark: Largest seat demand of the period.
        smoothed: Smoothed demand envelope.
    """

    exempt: bool
    nominal: int
    min_cl: int
    max_cl: int
    high_watermark: float
    smoothed: float


def update_limits(levels: dict[str, LevelDemand], nominal_sum: int) -> dict[str, int]:
    """Every level's new current concurrency limit (module docstring)."""
    remaining = float(nominal_sum)
    out: dict[str, int] = {}
    names, items = [], []
    for name, lv in levels.items():
        if lv.exempt:
            cl = max(lv.min_cl, go_round(lv.high_watermark))
            out[name] = cl
            remaining -= cl
            continue
        lb = max(lv.min_cl, min(lv.nominal, lv.high_watermark))
        names.append(name)
        items.append(Item(lb, lv.max_cl, max(lb, lv.smoothed)))
    min_sum = sum(levels[n].min_cl for n in names)
    lb_sum = sum(it.lb for it in items)
    if remaining <= min_sum:
        for n in names:
            out[n] = levels[n].min_cl
    elif remaining <= lb_sum:
        f = (remaining - min_sum) / (lb_sum - min_sum)
        for n, it in zip(names, items, strict=True):
            out[n] = levels[n].min_cl + go_round((it.lb - levels[n].min_cl) * f)
    else:
        allocs = allocate(min(remaining, sum(it.ub for it in items)), items)
        for n, a in zip(names, allocs, strict=True):
            out[n] = go_round(a)
    return out


def schedule_adjustments(fc) -> None:
    """Recompute ``fc``'s limits every ``borrowing_period_s`` (one event per period)."""
    call_later(fc.env, fc.cfg.borrowing_period_s, _adjust, fc)


def _adjust(fc) -> None:
    """One borrowing period ends: reset each level's demand integrator, smooth, recompute limits."""
    now = fc.env.now
    c = fc.cfg.demand_smoothing
    for lv in fc._levels.values():
        fc._dm(lv, now)
        dur = now - lv.d_t0
        x = lv.seats_in_use + lv.seats_waiting
        lv.hw = max(lv.d_max, x)  # the demand at the period's start counts too
        if dur > 0:
            avg = lv.d_area / dur
            std = max(lv.d_area2 / dur - avg * avg, 0.0) ** 0.5
            envelope = avg + std
            lv.smoothed = max(envelope, c * lv.smoothed + (1 - c) * envelope)
        lv.d_t0 = lv.d_t = now
        lv.d_area = lv.d_area2 = 0.0
        lv.d_max = x
    apply_limits(fc, now)
    schedule_adjustments(fc)


def apply_limits(fc, now: float) -> None:
    """Set every level's current limit from its demand statistics (:func:`update_limits`); a
    queuing level whose limit grew dispatches what now fits."""
    demand = {n: LevelDemand(lv.kind == EXEMPT, lv.nominal, lv.min_cl, lv.max_cl, lv.hw, lv.smoothed)
              for n, lv in fc._levels.items()}
    for name, cl in update_limits(demand, fc.nominal_sum).items():
        lv = fc._levels[name]
        if lv.kind == EXEMPT:
            continue
        if lv.kind == QUEUE:
            fc._sync(lv, now)
        grew = cl > lv.cl
        lv.cl = cl
        lv.cl_max = max(lv.cl_max, cl)
        lv.cl_min = min(lv.cl_min, cl)
        if grew and lv.kind == QUEUE and lv.n_waiting:
            fc._dispatch(lv, now)


class DroppedRequests:
    """The Retry-After of one priority level's 429s (A28, dropped_requests_tracker.go).

    It starts at 1 s; at the first drop of each (whole, virtual) second, the drops of the last
    ``retry_after`` seconds are counted: at least 3 x retry_after (and retry_after seconds since the
    last increase) doubles it, up to ``max_s``; fewer than retry_after lowers it by 1 s.
    """

    def __init__(self, max_s: float = 32.0):
        self.retry_after = 1
        self.max_s = int(max_s)
        self.history: deque[list[int]] = deque()  # [second, drops]
        self.last_increase = 0

    def record(self, now: float) -> int:
        """A request was dropped at ``now`` (seconds); return the Retry-After it gets, seconds."""
        sec = int(now)
        h = self.history
        if h and h[-1][0] == sec:
            h[-1][1] += 1
            return self.retry_after
        h.append([sec, 1])
        while h and sec - h[0][0] > 32:
            h.popleft()
        ra = self.retry_after
        drops = sum(n for s, n in h if s < sec and sec - s <= ra)
        if sec - self.last_increase >= ra and drops >= 3 * ra:
            self.retry_after = min(2 * ra, self.max_s)
            self.last_increase = sec
        elif drops < ra and ra > 1:
            self.retry_after = ra - 1
        return self.retry_after
