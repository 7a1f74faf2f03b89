"""Callbacks put straight into SimPy's event queue, without a Timeout (the watch path's events).

SimPy's ``Environment.step`` pops ``(time, priority, event id, event)`` from ``env._queue``, sets
the clock, calls each of ``event.callbacks`` with the event and checks ``event._ok``. A Timeout
also runs its constructor, builds a callbacks list and calls ``Environment.schedule``, and kbench
added a closure to carry the arguments. Where one commit becomes several watch deliveries that
overhead was a large part of the cost, so the watch cache schedules small slotted objects that
carry their arguments and share a one-element callback tuple. An entry takes the next event id
exactly as ``Environment.schedule`` would, so it is processed where a Timeout created at the same
moment would be: results do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush

import simpy
from simpy.events import NORMAL


def _call(ev: Call) -> None:
    ev.fn(ev.arg)


class Call:
    """A scheduled ``fn(arg)`` (see :func:`call_later`)."""

    __slots__ = ("callbacks", "fn", "arg")
    _ok = True  # read by Environment.step: never fails
    CALLBACKS = (_call,)


def call_later(env: simpy.Environment, delay: float, fn: Callable[[object], None], arg: object) -> None:
    """Call ``fn(arg)`` after ``delay`` seconds, ordered as ``env.timeout(delay)`` made now would be."""
    ev = Call.__new__(Call)
    ev.callbacks = Call.CALLBACKS
    ev.fn = fn
    ev.arg = arg
    heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), ev))
