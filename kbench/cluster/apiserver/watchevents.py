"""The watch path's SimPy events: arrivals and deliveries put straight into SimPy's event queue.

SimPy's ``Environment.step`` pops ``(time, priority, event id, event)`` from ``env._queue``, sets
the clock, calls each of ``event.callbacks`` with the event and checks ``event._ok``. A Timeout
also runs its constructor, builds a callbacks list and calls ``Environment.schedule``, and kbench
added a closure per event to carry the arguments. One commit becomes several watch deliveries, so
that overhead was a large part of the watch path's cost. Here:

* :func:`call_later` schedules a small slotted object that carries ``fn`` and its argument and
  shares a one-element callback tuple (a cache arrival, a batch delivery);
* :class:`Fanout` is one event delivered to several watchers at increasing times. It takes one
  event id per delivery when it is made, exactly as one timeout per delivery would, but only its
  next delivery is in the queue: when one is processed the next is queued under its own reserved
  id, or, when nothing in the queue comes before it, processed at once (the clock moved to its
  time, as ``Environment.step`` would).

Either way every callback runs at the time and in the order one ``env.timeout`` per callback,
created at the same moment, would give: results do not change.
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


def _run_fanout(f: Fanout) -> None:
    env, rec, ws, entries = f.env, f.rec, f.watchers, f.entries
    queue = env._queue
    rev = rec.revision
    i, n = f.i, len(entries)
    while True:
        w = ws[i]
        w.pending -= 1
        if w.open:
            w.rv = rev
            w.on_event(rec)
        i += 1
        if i == n:
            return
        nxt = entries[i]
        if queue and queue[0] < nxt:  # (time, priority, id) decide: ids are unique
            f.i = i
            f.callbacks = Fanout.CALLBACKS
            heappush(queue, nxt)
            return
        env._now = nxt[0]


class Fanout:
    """One watch event on its way to several active watchers (``w.on_event(rec)`` at increasing times).

    Build with :meth:`add` per watcher in dispatch order, then :meth:`start`.
    """

    __slots__ = ("callbacks", "env", "rec", "watchers", "entries", "i")
    _ok = True
    CALLBACKS = (_run_fanout,)

    def __init__(self, env: simpy.Environment, rec) -> None:
        self.env = env
        self.rec = rec
        self.watchers: list = []
        self.entries: list[tuple] = []
        self.i = 0

    def start(self) -> None:
        """Queue the first delivery (call once, after the last :meth:`add`)."""
        self.callbacks = Fanout.CALLBACKS
        heappush(self.env._queue, self.entries[0])
