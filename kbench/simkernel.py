"""Every use kbench makes of SimPy's private state, in one module (issue 21, item 6).

kbench drives SimPy through its public API (``Environment.schedule``, ``Event.callbacks``,
``Event.ok``/``value``/``defused``, ``env.now``) everywhere but here. The few hot paths that need
more (an event fired without being scheduled, an event triggered at a delay or with urgent
priority, a queue entry reserved now and pushed later) call the functions below, which rely on
SimPy 4's internals (``simpy/core.py`` and ``simpy/events.py`` of SimPy 4.1):

* ``Environment._queue`` is a heap of ``(time, priority, event id, event)``; ``Environment.step``
  pops it, sets ``_now``, calls each of ``event.callbacks`` with the event, then checks ``event._ok``
  (a failed event that is not defused crashes the run);
* ``Environment._eid`` is the ``itertools.count`` the ids come from (ties in time and priority are
  broken by it, so an id taken now orders an entry as an event scheduled now would be);
* ``Event._ok`` and ``Event._value`` hold the outcome (``Event.succeed`` sets them and schedules
  the event at once, with normal priority; kbench also needs a delay, urgent priority, or no
  scheduling at all).

:func:`check_internals` verifies those facts on a fresh environment; it runs when this module is
imported, so a SimPy release that changes them fails loudly at start-up (``SimpyInternalsChanged``)
instead of giving wrong event orders silently, and ``tests/unit/test_simkernel.py`` runs it too.
``pyproject.toml`` pins ``simpy<5`` for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush

import simpy
from simpy.events import NORMAL, URGENT

__all__ = ["NORMAL", "URGENT", "Call", "Fanout", "SimpyInternalsChanged", "call_later", "check_internals",
           "events_scheduled", "fire", "first_step", "trigger_in"]


class SimpyInternalsChanged(RuntimeError):
    """SimPy's private state is not what this module relies on (a SimPy upgrade)."""


def fire(event: simpy.Event, value: object) -> None:
    """Succeed ``event`` with ``value`` in place: its callbacks run now, inside the caller's step,
    and it is never put in the queue (a reply that resumes its waiter where the request ends)."""
    event._ok = True
    event._value = value
    callbacks, event.callbacks = event.callbacks, None
    for cb in callbacks:
        cb(event)


def trigger_in(env: simpy.Environment, event: simpy.Event, delay: float, ok: bool = True, value: object = None,
               priority=NORMAL) -> None:
    """Trigger ``event`` (succeeded with ``value``, or failed with the exception ``value`` when
    ``ok`` is False) ``delay`` seconds from now, without a helper event, as ``Timeout`` does for
    itself; ``URGENT`` with delay 0 is where a process created now would take its first step."""
    event._ok = ok
    event._value = value
    env.schedule(event, priority, delay)


def first_step(env: simpy.Environment, step: Callable[[simpy.Event], None]) -> None:
    """Call ``step(event)`` where a process created now would take its first step.

    ``env.process`` schedules an initialising event at once with urgent priority; this schedules
    the same kind of event with ``step`` as its callback, so whatever ``step`` does happens at the
    same point of the event order as the body of such a process (a callback chain started this
    way gives identical results to the process, without the process's end event).
    """
    ev = simpy.Event(env)
    ev.callbacks.append(step)
    trigger_in(env, ev, 0.0, priority=URGENT)


def events_scheduled(env: simpy.Environment) -> int:
    """Events the environment has scheduled so far (SimPy's id counter; takes one id)."""
    return int(next(env._eid))


def _call(ev: Call) -> None:
    ev.fn(ev.arg)


class Call:
    """A scheduled ``fn(arg)`` (see :func:`call_later`): a slotted stand-in for an event."""

    __slots__ = ("callbacks", "fn", "arg")
    _ok = True  # read by Environment.step: never fails
    CALLBACKS = (_call,)


def call_later(env: simpy.Environment, delay: float, fn: Callable[[object], None], arg: object) -> None:
    """Call ``fn(arg)`` after ``delay`` seconds, ordered as ``env.timeout(delay)`` made now would be,
    without building a Timeout, its callback list or a closure (a cache arrival, a batch delivery)."""
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
        if i == n:  # done: drop the entries, which refer back to f (a cycle only the GC would free)
            f.entries = None
            return
        nxt = entries[i]
        if queue and queue[0] < nxt:  # (time, priority, id) decide: ids are unique
            f.i = i
            f.callbacks = Fanout.CALLBACKS
            heappush(queue, nxt)
            return
        env._now = nxt[0]


class Fanout:
    """One watch event on its way to several active watchers: ``w.on_event(rec)`` at increasing times.

    Each :meth:`add` takes one event id when it is made, exactly as one timeout per delivery
    would, but only the next delivery is in the queue: when one is processed the next is queued
    under its reserved id, or, when nothing in the queue comes before it, processed at once (the
    clock moved to its time, as ``Environment.step`` would). Every delivery runs at the time and
    in the order one ``env.timeout`` per delivery, made at the same moment, would give. A watcher
    is any object with ``pending``, ``open``, ``rv`` and ``on_event`` (the apiserver's watchers).

    Build with :meth:`add` per watcher in dispatch order, optionally :meth:`sort_by_time`, then
    :meth:`start`.
    """

    __slots__ = ("callbacks", "env", "rec", "watchers", "entries", "i", "_ids")
    _ok = True
    CALLBACKS = (_run_fanout,)

    def __init__(self, env: simpy.Environment, rec) -> None:
        self.env = env
        self.rec = rec
        self.watchers: list = []
        self.entries: list[tuple] = []
        self.i = 0
        self._ids = env._eid

    def add(self, watcher, at_s: float) -> None:
        """Deliver to ``watcher`` at ``at_s`` (absolute virtual seconds; not before the previous)."""
        self.watchers.append(watcher)
        self.entries.append((at_s, NORMAL, next(self._ids), self))

    def sort_by_time(self) -> None:
        """Reorder the deliveries by time, keeping the reserved ids in increasing order (a slow
        client's processing time can put a later watcher's delivery first)."""
        ws, entries = self.watchers, self.entries
        order = sorted(range(len(ws)), key=lambda i: entries[i][0])
        ids = sorted(e[2] for e in entries)
        self.watchers = [ws[i] for i in order]
        self.entries = [(entries[i][0], NORMAL, ids[n], self) for n, i in enumerate(order)]

    def start(self) -> None:
        """Queue the first delivery (call once, after the last :meth:`add`)."""
        self.callbacks = Fanout.CALLBACKS
        heappush(self.env._queue, self.entries[0])


def check_internals() -> None:
    """Verify, on a fresh environment, every SimPy internal this module relies on.

    Raises:
        SimpyInternalsChanged: One of them differs (the message says which).
    """
    def need(cond: bool, what: str) -> None:
        if not cond:
            raise SimpyInternalsChanged(
                f"SimPy {getattr(simpy, '__version__', '?')}: {what}; kbench/simkernel.py relies on SimPy 4's "
                "internals (install simpy>=4.1,<5)")

    env = simpy.Environment(initial_time=1.0)
    need(isinstance(getattr(env, "_queue", None), list), "Environment._queue is not a list")
    need(getattr(env, "_now", None) == 1.0, "Environment._now does not hold the clock")
    need(hasattr(getattr(env, "_eid", None), "__next__"), "Environment._eid is not an id counter")
    seen: list = []
    t = env.timeout(0.5, value="v")
    t.callbacks.append(seen.append)
    entry = env._queue[0] if env._queue else None
    need(isinstance(entry, tuple) and len(entry) == 4 and entry[0] == 1.5 and entry[1] == NORMAL and entry[3] is t,
         "queue entries are not (time, priority, id, event)")
    need(t._ok is True and t._value == "v", "Event._ok/_value do not hold a timeout's outcome")
    ev = simpy.Event(env)
    trigger_in(env, ev, 0.25, True, "w")
    need(ev.triggered and ev.ok and ev.value == "w", "an event triggered through _ok/_value is not seen as such")
    order: list = []
    ev.callbacks.append(lambda e: order.append(("event", env.now)))
    call_later(env, 0.25, lambda a: order.append((a, env.now)), "call")
    env.run()
    need(seen == [t] and order == [("event", 1.25), ("call", 1.25)],
         "Environment.step does not pop (time, priority, id, event) and call event.callbacks in id order")
    r = simpy.Event(env)
    got: list = []
    r.callbacks.append(lambda e: got.append(e.value))
    fire(r, 7)
    need(got == [7] and r.processed, "an event fired in place is not processed")


check_internals()
