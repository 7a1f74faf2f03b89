"""kbench/simkernel.py: the only module that touches SimPy's private state, and its loud check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import simpy

from kbench import simkernel
from kbench.simkernel import (
    Fanout,
    SimpyInternalsChanged,
    call_later,
    check_internals,
    events_scheduled,
    trigger_in,
)

ROOT = Path(__file__).resolve().parents[2]
# attribute reads or writes of SimPy's private state (Environment._queue/_eid/_now, Event._ok/_value/_defused)
PRIVATE = re.compile(r"\benv\._(queue|eid|now)\b|\._(eid|now|ok|defused)\b|(?<!self)\._value\b(?![s(])")


def test_internals_hold_on_the_installed_simpy():
    check_internals()


def test_a_changed_simpy_fails_loudly(monkeypatch):
    class Renamed(simpy.Environment):  # a SimPy whose id counter moved
        def __init__(self, initial_time=0):
            super().__init__(initial_time)
            self._ids = self.__dict__.pop("_eid")

    monkeypatch.setattr(simkernel.simpy, "Environment", Renamed)
    with pytest.raises(SimpyInternalsChanged, match=r"_eid is not an id counter.*simpy>=4.1,<5"):
        check_internals()


def test_no_other_module_touches_simpy_private_state():
    offenders = []
    for path in sorted((ROOT / "kbench").rglob("*.py")) + sorted((ROOT / "policies").rglob("*.py")):
        if path.name == "simkernel.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if PRIVATE.search(code) and "``" not in code:
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_call_later_and_trigger_in_order_as_timeouts_made_at_the_same_moment():
    env = simpy.Environment()
    order: list = []
    env.timeout(1.0).callbacks.append(lambda _e: order.append("timeout-a"))
    call_later(env, 1.0, order.append, "call")
    ev = simpy.Event(env)
    ev.callbacks.append(lambda e: order.append(e.value))
    trigger_in(env, ev, 1.0, True, "triggered")
    env.timeout(1.0).callbacks.append(lambda _e: order.append("timeout-b"))
    env.run()
    assert order == ["timeout-a", "call", "triggered", "timeout-b"] and env.now == 1.0


class _Watcher:
    def __init__(self, name, log):
        self.name, self.log, self.pending, self.open, self.rv = name, log, 0, True, 0

    def on_event(self, rec):
        self.log.append((self.name, rec.revision, self.env.now))


class _Rec:
    revision = 7


@pytest.mark.parametrize("times", [[0.1, 0.2, 0.3], [0.3, 0.1, 0.2], [0.2, 0.2, 0.05]])
def test_fanout_delivers_as_one_timeout_per_watcher_would(times):
    def run(fanout: bool):
        env = simpy.Environment()
        log: list = []
        ws = [_Watcher(f"w{i}", log) for i in range(len(times))]
        for w in ws:
            w.env = env
        env.timeout(0.15).callbacks.append(lambda _e: log.append(("other", 0, env.now)))
        if fanout:
            f = Fanout(env, _Rec())
            for w, t in zip(ws, times, strict=True):
                w.pending += 1
                f.add(w, t)
            f.sort_by_time()
            f.start()
        else:
            for w, t in zip(ws, times, strict=True):
                env.timeout(t).callbacks.append(lambda _e, w=w: w.on_event(_Rec()))
        env.timeout(0.25).callbacks.append(lambda _e: log.append(("later", 0, env.now)))
        ids_taken = events_scheduled(env)
        env.run()
        assert all(w.pending == 0 for w in ws) if fanout else True
        return log, ids_taken

    assert run(True) == run(False)
