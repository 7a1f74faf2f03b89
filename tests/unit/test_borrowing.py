"""APF borrowing (A10, A27, I15) and Retry-After (A28): exact allocations, upstream's own test,
and the two properties the issue asks for (idle levels lend; a flood cannot take a busy level's
nominal seats)."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from kbench.cluster.apiserver.borrowing import (
    DroppedRequests,
    Item,
    LevelDemand,
    allocate,
    go_round,
    update_limits,
)
from kbench.cluster.apiserver.flowcontrol import FlowControl
from kbench.cluster.apiserver.request import Request
from kbench.config import FlowControlConfig, FlowSchemaConfig, PriorityLevelConfig

SA = dict(user="system:serviceaccount:x:app", groups=("system:serviceaccounts",))
NODE = dict(user="system:node:n1", groups=("system:nodes",))


def test_go_round_is_half_away_from_zero():
    assert [go_round(x) for x in (24.5, 220.5, 0.49, 116.67)] == [25, 221, 0, 117]


def test_zero_demand_allocation_of_the_default_levels():
    """At config digestion (t = 0) every level's demand is 0: the nominal sum (602) is shared in
    proportion to the lower bounds minCL = nominal - round(nominal x lendable%) (A8, A10):
    system 50, node-high 73, leader-election 25, workload-high 49, workload-low 24, global-default 24,
    catch-all 13 (sum 258) -> fairProp 602/258 = 2.333 -> 116.7, 170.3, 58.3, 114.3, 56, 56, 30.3."""
    env = simpy.Environment()
    fc = FlowControl(env, FlowControlConfig(), np.random.default_rng(0))
    got = {lv: fc.current_cl(lv) for lv in fc.levels() if lv != "exempt"}
    assert got == {"system": 117, "node-high": 170, "leader-election": 58, "workload-high": 114,
                   "workload-low": 56, "global-default": 56, "catch-all": 30}
    assert fc.nominal_sum == 602  # the ceil()s overshoot ServerCL 600
    assert {lv: fc.nominal_cl(lv) for lv in got} == {"system": 74, "node-high": 98, "leader-election": 25,
                                                      "workload-high": 98, "workload-low": 245,
                                                      "global-default": 49, "catch-all": 13}


def _upstream_levels(exempt_hw: float, high_hw: float, mid_hw: float, low_hw: float) -> dict[str, LevelDemand]:
    # TestUpdateBorrowing: serverCL = (40 + 100 + 5) x 6 = 870; nominal 240 / 600 / 30,
    # lendable 50 % / 90 % / 0 % -> minCL 120 / 60 / 30; maxCL = nominal + serverCL
    return {"exempt": LevelDemand(True, 0, 0, 870, exempt_hw, exempt_hw),
            "workload-high": LevelDemand(False, 240, 120, 1110, high_hw, high_hw),
            "workload-low": LevelDemand(False, 600, 60, 1470, mid_hw, mid_hw),
            "catch-all": LevelDemand(False, 30, 30, 900, low_hw, low_hw)}


@pytest.mark.parametrize("demand,expected", [
    # Scenario 1: everybody wants 970 > serverCL: exempt takes it, the others fall to minCL
    ((970, 970, 970, 970), {"exempt": 970, "workload-high": 120, "workload-low": 60, "catch-all": 30}),
    # Scenario 2: exempt wants 330: the others get halfway between minCL and nominal
    ((330, 970, 970, 970), {"exempt": 330, "workload-high": 180, "workload-low": 330, "catch-all": 30}),
    # Scenario 3: only the middle level lends (demand 1); exempt borrows all of it
    ((540, 970, 1, 970), {"exempt": 540, "workload-high": 240, "workload-low": 60, "catch-all": 30}),
])
def test_upstream_test_update_borrowing(demand, expected):
    """The three scenarios of upstream's TestUpdateBorrowing (apf exempt_borrowing_test.go, 2024;
    code index id 588211044), with the high watermarks and smoothed demands they set."""
    assert update_limits(_upstream_levels(*demand), 870) == expected


def test_allocate_finds_the_fair_proportion():
    items = [Item(10, 100, 20), Item(10, 30, 50), Item(5, 200, 5)]
    got = allocate(100, items)
    assert sum(got) == pytest.approx(100)
    assert got[1] == 30  # clamped at its upper bound
    assert got[0] / 20 == pytest.approx(got[2] / 5)  # the others at the same fraction of their target
    with pytest.raises(ValueError):
        allocate(20, items)  # below the sum of lower bounds


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 100), st.integers(0, 100), st.floats(0, 500)), min_size=2, max_size=7),
       st.floats(0, 1000))
def test_limits_respect_bounds_and_never_exceed_the_nominal_sum(levels, exempt_demand):
    """Property: every non-exempt limit stays in [minCL, maxCL]; no level below min(nominal, demand)
    when there is room for the lower bounds; the limits add up to at most the nominal sum (+ rounding)."""
    demand = {"exempt": LevelDemand(True, 0, 0, 10_000, exempt_demand, exempt_demand)}
    total = 0
    for i, (nominal, lend_pct, hw) in enumerate(levels):
        lendable = go_round(nominal * lend_pct / 100)
        demand[f"l{i}"] = LevelDemand(False, nominal, nominal - lendable, nominal + 600, hw, hw)
        total += nominal
    out = update_limits(demand, total)
    room = total - out["exempt"]
    lbs = {n: max(d.min_cl, min(d.nominal, d.high_watermark)) for n, d in demand.items() if not d.exempt}
    for n, d in demand.items():
        if d.exempt:
            continue
        assert d.min_cl <= out[n] <= d.max_cl
        if room >= sum(lbs.values()):
            assert out[n] >= int(lbs[n])
    if room >= sum(d.min_cl for d in demand.values() if not d.exempt):
        assert sum(v for n, v in out.items() if n != "exempt") <= room + len(levels)


def test_retry_after_doubles_on_drops_and_decays():
    """dropped_requests_tracker.go (A28): 3 drops in second 0 -> at the first drop of second 1,
    3 >= 3 x 1: Retry-After 2; no drops in [2, 4): the drop at 4.1 sees 0 < 2 -> back to 1."""
    d = DroppedRequests()
    assert [d.record(t) for t in (0.1, 0.2, 0.3)] == [1, 1, 1]
    assert d.record(1.1) == 2
    assert d.record(4.1) == 1
    big = DroppedRequests(max_s=32)
    t = 0.0
    for _sec in range(200):  # a sustained flood of 200 drops/s doubles up to the cap
        for _ in range(200):
            big.record(t)
        t += 1.0
    assert big.retry_after == 32


def _two_levels(borrowing: bool) -> FlowControlConfig:
    """A 'flood' level (nominal 50, lends 90 %) and a 'busy' level (nominal 50, lends 50 %)."""
    levels = {"flood": PriorityLevelConfig(shares=1, lendable_percent=90, queues=16, hand_size=4,
                                           queue_length_limit=10**6),
              "busy": PriorityLevelConfig(shares=1, lendable_percent=50, queues=16, hand_size=4,
                                          queue_length_limit=10**6)}
    schemas = {"sa": FlowSchemaConfig("flood", 10, groups=["system:serviceaccounts"]),
               "nodes": FlowSchemaConfig("busy", 20, groups=["system:nodes"])}
    return FlowControlConfig(max_requests_inflight=100, max_mutating_requests_inflight=0, levels=levels,
                             flow_schemas=schemas, queue_wait_limit_s=1e9, borrowing=borrowing)


def test_a_flood_borrows_idle_seats_but_not_a_busy_levels_nominal():
    """'busy' keeps 40 requests in flight all the time; 'flood' sends 1000 requests of 5 s each at
    once. After the first adjustments 'flood' has borrowed what 'busy' does not use, and 'busy'
    never drops below min(its nominal 50, its demand 40) = 40, so it never queues (A10, I15)."""
    env = simpy.Environment()
    fc = FlowControl(env, _two_levels(True), np.random.default_rng(0))
    fc.start()
    limits = []

    def hold(who, dur):
        r = Request("get", "pods", client=who, **(NODE if who == "busy" else SA))
        ok = yield fc.admit(r)
        assert ok
        yield env.timeout(dur)
        fc.release(r)

    def busy():
        while True:
            yield from hold("busy", 0.5)

    def watch():
        while True:
            yield env.timeout(10.0)
            limits.append((fc.current_cl("flood"), fc.current_cl("busy"), fc.seats_in_use("busy")))

    for _ in range(40):
        env.process(busy())
    for _ in range(1000):
        env.process(hold("flood", 5.0))
    env.process(watch())
    env.run(until=95)
    assert all(b >= 40 for _f, b, _u in limits)
    assert max(f for f, _b, _u in limits) > 50  # the flood borrowed beyond its nominal
    assert fc.queue_length("busy") == 0
    assert all(f + b <= 100 for f, b, _u in limits)


def test_without_borrowing_the_limits_stay_nominal():
    env = simpy.Environment()
    fc = FlowControl(env, _two_levels(False), np.random.default_rng(0))
    fc.start()
    env.run(until=30)
    assert (fc.current_cl("flood"), fc.current_cl("busy")) == (50, 50)
